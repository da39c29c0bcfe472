/* diagnose_report.h: what `ngrnotok diagnose` found, and how it is said: the statistics of each
 * hop's samples, the verdict naming the hop that costs most, and the report as a table or as
 * one JSON object. Pure: no I/O, no clock; diagnose.c measures and fills the result. */
#ifndef NGR_DIAGNOSE_REPORT_H
#define NGR_DIAGNOSE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

/* The median and the least of one hop's samples, in ms. n = 0: not measured. */
struct diagnose_stats {
    double median_ms, min_ms;
    size_t n;
};

/* Sorts the n samples (ms) in place and fills st from them; n = 0 leaves it unmeasured. */
void diagnose_stats_of(struct diagnose_stats *st, double *samples, size_t n);

struct diagnose_result {
    char gateway[NGR_ADDR_LEN + 8]; /* the control address, "host:port" */
    unsigned count;                 /* samples asked for each hop */
    /* The control connection: PING round trips, and one body pulled through the tunnel. */
    struct diagnose_stats rtt;
    uint64_t tput_bytes; /* 0: not measured */
    double tput_ms;
    /* The local service measured directly; has_local 0: no TARGET, the built-in responder. */
    int has_local;
    char local_url[NGR_URL_LEN + NGR_DIAGNOSE_PATH_LEN];
    struct diagnose_stats local_total, local_first;
    long local_status; /* the last answer's status */
    /* The whole public path: requests to the public URL, through the tunnel. */
    char public_url[NGR_URL_LEN + NGR_DIAGNOSE_PATH_LEN];
    int public_reachable;
    char public_error[NGR_MAX_MESSAGE]; /* why not, when not reachable */
    struct diagnose_stats public_total, public_first;
    long public_status;
};

/* The hop that costs most of a request through the public URL. */
enum diagnose_hop { DIAGNOSE_HOP_LOCAL, DIAGNOSE_HOP_CONTROL, DIAGNOSE_HOP_PUBLIC };

struct diagnose_verdict {
    enum diagnose_hop hop;
    double ms;      /* what it takes */
    double of_ms;   /* of the whole public path; < 0 when that was not measured */
    int percent;    /* of of_ms, 0..100; -1 without of_ms */
    char text[384]; /* "the local service takes 180 ms of the 200 ms (90%)" */
};

/* The whole public path splits into the local service (its own median), the round trip
 * between the gateway and this machine (the PING median) and the rest (the visitor's hop to
 * the gateway, the gateway and this client's handling), whichever is largest. Without the
 * public path, the larger of the two others. */
void diagnose_verdict(const struct diagnose_result *r, struct diagnose_verdict *v);

/* A duration as people read it: "180 ms", "12.3 ms", "0.21 ms". Returns out. */
const char *diagnose_format_ms(char *out, size_t cap, double ms);

/* The report into out (cap bytes, cut to fit and NUL-terminated); returns its length. Text: a
 * table (hop, median, min, note) and the verdict line. JSON: one object and '\n' (fields in
 * docs/man/ngrnotok.1). */
size_t diagnose_format_text(char *out, size_t cap, const struct diagnose_result *r);
size_t diagnose_format_json(char *out, size_t cap, const struct diagnose_result *r);

#endif
