/* access_log.h: the gateway's access log (--access-log FILE|-|off, --access-log-format
 * text|json): one line per public request and per TCP tunnel connection, with the tunnel, the
 * public client's address, what was asked, the status, the time, the bytes and why it failed.
 * Every value that comes from the request is escaped, so hostile input cannot forge a line; no
 * header is logged, so neither tokens nor credentials reach it. Off by default. */
#ifndef NGR_ACCESS_LOG_H
#define NGR_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "limits.h"

/* One finished request (or TCP connection: method NULL). Borrowed strings; NULL or "" are
 * written as "-" (text) or left out (JSON). */
struct access_record {
    const char *tunnel;    /* its name ("tcp:PORT" for a TCP tunnel); NULL: none was routed */
    const char *client_ip; /* the public client (as --trusted-proxy lets it be seen) */
    const char *method;    /* NULL: a TCP connection */
    const char *target;    /* the raw request target */
    const char *host;      /* the Host field */
    int status;            /* sent; 0: none (the public client left first, or TCP) */
    uint64_t duration_us;  /* from the request's first byte to its end */
    uint32_t service_us;   /* the local service's time to its head, as the client reported; 0:
                            * not reported */
    uint64_t bytes_in;     /* body bytes from the public client toward the local service */
    uint64_t bytes_out;    /* body bytes from the local service toward the public client */
    const char *error;     /* why it failed, for a person; NULL: it did not */
    int tls;               /* it came over HTTPS */
};

enum access_log_format { ACCESS_LOG_TEXT, ACCESS_LOG_JSON };

struct access_log {
    int fd; /* -1: off */
    int owned; /* fd is a file of ours (not stdout) */
    enum access_log_format format;
    char path[NGR_ACCESS_PATH_LEN]; /* "-": stdout; "": off */
    uint64_t lines, dropped; /* written; lost to a failed or short write */
    /* The last write was short (a full disk, the file-size limit): the file ends inside a
     * line, which the next write ends first so that it does not run into the next line. */
    int torn;
    int failing; /* writes fail: said once in the log, and again when they work */
};

/* All off. */
void access_log_init(struct access_log *a);
/* Opens spec ("off" or "": none; "-": stdout; else a file, appended to, created 0640) in the
 * format. On failure a keeps what it had and err names the path. */
int access_log_open(struct access_log *a, const char *spec, enum access_log_format format,
                    struct ngr_err *err);
/* SIGHUP: the same file opened again (after logrotate moved it), or a new spec. */
int access_log_reopen(struct access_log *a, const char *spec, enum access_log_format format,
                      struct ngr_err *err);
void access_log_close(struct access_log *a);
/* Formats r as one line, '\n' included, at wall-clock time now. Returns its length (a line
 * longer than cap is cut, still ending in '\n'). */
size_t access_log_format_line(char *out, size_t cap, enum access_log_format format,
                              const struct access_record *r, const struct timespec *now);
/* Writes r's line with one write(2), if the log is on. */
void access_log_write(struct access_log *a, const struct access_record *r);

#endif
