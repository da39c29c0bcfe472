/* access_log.c: the access log; see access_log.h. A line is built in one buffer and written
 * with one write(2) on an O_APPEND descriptor, so lines from one process never interleave and a
 * rotated file is picked up by reopening it on SIGHUP. */
#include "access_log.h"
#include "json_escape.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

void
access_log_init(struct access_log *a)
{
    memset(a, 0, sizeof(*a));
    a->fd = -1;
}

static int
access_log_is_off(const char *spec)
{
    return spec == NULL || spec[0] == '\0' || strcmp(spec, "off") == 0;
}

void
access_log_close(struct access_log *a)
{
    if (a->owned && a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    a->owned = 0;
    a->path[0] = '\0';
}

int
access_log_open(struct access_log *a, const char *spec, enum access_log_format format,
                struct ngr_err *err)
{
    int fd;

    if (access_log_is_off(spec)) {
        access_log_close(a);
        a->format = format;
        return 0;
    }
    if (strlen(spec) >= sizeof(a->path))
        return err_set(err, NGR_EINVAL, "access_log: path too long");
    if (strcmp(spec, "-") == 0) {
        struct stat st;
        int fl;

        access_log_close(a);
        a->fd = STDOUT_FILENO;
        /* A pipe or a socket (the journal's, under systemd) nobody reads fast enough must not
         * stop the gateway's loop: its writes do not block, and a line it cannot take is
         * counted as lost. A terminal or a file is left as it is. */
        if (fstat(a->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) &&
            (fl = fcntl(a->fd, F_GETFL)) >= 0)
            (void)fcntl(a->fd, F_SETFL, fl | O_NONBLOCK);
    } else {
        fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
            return err_set(err, NGR_ESYS,
                           "access_log %s: %s (the directory must exist and be writable by "
                           "the gateway's user; or --access-log - for stdout)",
                           spec, strerror(errno));
        access_log_close(a);
        a->fd = fd;
        a->owned = 1;
    }
    /* A file opened again on SIGHUP ends inside a line only if it was not rotated. */
    if (a->torn && lseek(a->fd, 0, SEEK_END) == 0)
        a->torn = 0;
    snprintf(a->path, sizeof(a->path), "%s", spec);
    a->format = format;
    return 0;
}

int
access_log_reopen(struct access_log *a, const char *spec, enum access_log_format format,
                  struct ngr_err *err)
{
    return access_log_open(a, spec, format, err);
}

/* A bounded writer into one line. Each value is bounded (the escaped target by
 * NGR_ACCESS_TARGET_LEN, the rest by the sizes below), so a whole line always fits in
 * NGR_ACCESS_LINE_LEN; the bound here is a second guard. */
struct line {
    char *p;
    size_t cap, len; /* cap excludes the room kept for the final '\n' */
};

static void line_printf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
line_printf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->len >= l->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->p + l->len, l->cap - l->len + 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    l->len = l->len + (size_t)n > l->cap ? l->cap : l->len + (size_t)n;
}

/* A JSON string's contents (json_escape.h), at most max bytes of s. */
static void
line_json_str(struct line *l, const char *s, size_t max)
{
    if (l->len < l->cap)
        l->len += json_escape(l->p + l->len, l->cap - l->len + 1, s, strnlen(s, max));
}

static int
present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void
access_log_text(struct line *l, const struct access_record *r)
{
    char esc[NGR_ACCESS_TARGET_LEN];

    line_printf(l, " tunnel=%s", present(r->tunnel) ? log_escape(esc, 256, r->tunnel,
                                                                 strlen(r->tunnel))
                                                    : "-");
    line_printf(l, " client=%s",
                present(r->client_ip) ? log_escape(esc, 128, r->client_ip, strlen(r->client_ip))
                                      : "-");
    if (r->method != NULL) {
        line_printf(l, " method=%s", log_escape(esc, 64, r->method, strlen(r->method)));
        line_printf(l, " path=\"%s\"",
                    present(r->target) ? log_escape(esc, sizeof(esc), r->target, strlen(r->target))
                                       : "");
        line_printf(l, " host=\"%s\"",
                    present(r->host) ? log_escape(esc, 512, r->host, strlen(r->host)) : "");
        line_printf(l, " scheme=%s status=%d", r->tls ? "https" : "http", r->status);
    } else {
        line_printf(l, " proto=tcp");
    }
    line_printf(l, " duration_ms=%.3f", (double)r->duration_us / 1000.0);
    if (r->service_us > 0)
        line_printf(l, " service_ms=%.3f", (double)r->service_us / 1000.0);
    line_printf(l, " bytes_in=%" PRIu64 " bytes_out=%" PRIu64, r->bytes_in, r->bytes_out);
    if (present(r->error))
        line_printf(l, " error=\"%s\"", log_escape(esc, 1024, r->error, strlen(r->error)));
}

static void
access_log_json_field(struct line *l, const char *key, const char *value, size_t max)
{
    if (!present(value))
        return;
    line_printf(l, ",\"%s\":\"", key);
    line_json_str(l, value, max);
    line_printf(l, "\"");
}

static void
access_log_json(struct line *l, const struct access_record *r)
{
    access_log_json_field(l, "tunnel", r->tunnel, 64);
    access_log_json_field(l, "client", r->client_ip, 64);
    if (r->method != NULL) {
        access_log_json_field(l, "method", r->method, 32);
        line_printf(l, ",\"path\":\"");
        line_json_str(l, r->target != NULL ? r->target : "", NGR_ACCESS_TARGET_LEN / 6);
        line_printf(l, "\"");
        access_log_json_field(l, "host", r->host, 128);
        line_printf(l, ",\"scheme\":\"%s\",\"status\":%d", r->tls ? "https" : "http", r->status);
    } else {
        line_printf(l, ",\"proto\":\"tcp\"");
    }
    line_printf(l, ",\"duration_ms\":%.3f", (double)r->duration_us / 1000.0);
    if (r->service_us > 0)
        line_printf(l, ",\"service_ms\":%.3f", (double)r->service_us / 1000.0);
    line_printf(l, ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64, r->bytes_in, r->bytes_out);
    access_log_json_field(l, "error", r->error, NGR_ERROR_REASON_LEN);
    line_printf(l, "}");
}

size_t
access_log_format_line(char *out, size_t cap, enum access_log_format format,
                       const struct access_record *r, const struct timespec *now)
{
    struct line l = {out, cap > 1 ? cap - 2 : 0, 0}; /* room for '\n' and the NUL */
    char when[40];
    struct tm tm;

    if (cap < 2) {
        if (cap == 1)
            out[0] = '\0';
        return 0;
    }
    gmtime_r(&now->tv_sec, &tm);
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             now->tv_nsec / 1000000);
    if (format == ACCESS_LOG_JSON) {
        line_printf(&l, "{\"time\":\"%s\"", when);
        access_log_json(&l, r);
    } else {
        line_printf(&l, "%s", when);
        access_log_text(&l, r);
    }
    out[l.len++] = '\n';
    out[l.len] = '\0';
    return l.len;
}

void
access_log_write(struct access_log *a, const struct access_record *r)
{
    char line[NGR_ACCESS_LINE_LEN];
    struct timespec now;
    struct iovec iov[2];
    size_t n;
    ssize_t w;
    int e;

    if (a->fd < 0)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    n = access_log_format_line(line, sizeof(line), a->format, r, &now);
    iov[0].iov_base = "\n";
    iov[0].iov_len = a->torn ? 1 : 0;
    iov[1].iov_base = line;
    iov[1].iov_len = n;
    do
        w = writev(a->fd, iov, 2);
    while (w < 0 && errno == EINTR);
    e = errno;
    if (w == (ssize_t)(iov[0].iov_len + n)) {
        a->lines++;
        a->torn = 0;
        if (a->failing)
            log_info("access log %s: written again (%" PRIu64 " lines lost so far)", a->path,
                     a->dropped);
        a->failing = 0;
        return;
    }
    a->dropped++;
    if (w > 0)
        a->torn = 1;
    if (!a->failing)
        log_warn("access log %s: %s; lines are lost (ngrnotok_access_log_lines_dropped_total) "
                 "until a write succeeds",
                 a->path,
                 w < 0 && (e == EAGAIN || e == EWOULDBLOCK)
                     ? "its reader does not keep up"
                     : w < 0 ? strerror(e) : "short write (a full disk, or the file-size limit)");
    a->failing = 1;
}
