/* live_view.c: the client's stdout while tunnels run: Forwarding lines, a line (or a JSON
 * object) per finished request, and on a terminal a header redrawn in place in the rows above
 * a scroll region (DECSTBM); see live_view.h. */
#include "live_view.h"
#include "json_escape.h"
#include "client.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define LIVE_FWD_ROWS 4 /* tunnels named in the header; more are counted on one row */
#define LIVE_LABEL "%-18s"

struct live_view {
    struct client *cl;
    enum cli_output mode;
    int fd;
    int header;                     /* the header is drawn (a terminal) */
    int broken;                     /* stdout failed (EPIPE, ...): nothing more is written */
    int stopping;                   /* live_view_free: the header's last word */
    unsigned rows, cols, head_rows; /* the terminal's size, the header's height */
    struct buf out;                 /* waiting for stdout */
    uint64_t dropped;               /* request lines lost to a stdout that did not read */
    struct loop_defer flush;
    struct loop_timer retry;           /* stdout was not writable */
    struct loop_timer redraw;          /* the header's */
    uint64_t probe_ms;                 /* when the round trip was last measured for the header */
    char last_head[NGR_LIVE_LINE * 4]; /* what the header showed: redrawn only when it changes */
    time_t clock_sec;                  /* the second clock_text/iso_sec are for */
    char clock_text[16];               /* "HH:MM:SS", local time */
    char iso_sec[32];                  /* "YYYY-MM-DDTHH:MM:SS", UTC */
    struct live_stats stats;           /* the header's; last, since it is large */
};

/* -- pure formatting ---------------------------------------------------------------------- */

size_t
live_view_json_escape(char *out, size_t cap, const char *s)
{
    return json_escape(out, cap, s, strlen(s));
}

/* A line built by appending, without printf's formatting: a request's line is written for
 * every request, and snprintf of it cost 4% of the client's instructions per small request.
 * cap leaves room for the '\n' and the NUL live_view_end_line adds; what does not fit is cut. */
struct live_view_w {
    char *p;
    size_t cap, len;
};

static void
live_view_wput(struct live_view_w *w, const char *s, size_t n)
{
    if (n > w->cap - w->len)
        n = w->cap - w->len;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void
live_view_puts(struct live_view_w *w, const char *s)
{
    live_view_wput(w, s, strlen(s));
}

static void
live_view_putu(struct live_view_w *w, uint64_t v)
{
    char b[24];
    size_t i = sizeof(b);

    do
        b[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    live_view_wput(w, b + i, sizeof(b) - i);
}

static void
live_view_duration(struct live_view_w *w, uint64_t ms)
{
    char b[24];

    if (ms < 10000) {
        live_view_putu(w, ms);
        live_view_puts(w, " ms");
        return;
    }
    snprintf(b, sizeof(b), "%.1f s", (double)ms / 1000);
    live_view_puts(w, b);
}

static void
live_view_bytes(struct live_view_w *w, uint64_t n)
{
    char b[24];

    if (n < 1024) {
        live_view_putu(w, n);
        live_view_puts(w, " B");
        return;
    }
    if (n < 1024 * 1024)
        snprintf(b, sizeof(b), "%.1f KiB", (double)n / 1024);
    else if (n < 1024ULL * 1024 * 1024)
        snprintf(b, sizeof(b), "%.1f MiB", (double)n / (1024 * 1024));
    else
        snprintf(b, sizeof(b), "%.1f GiB", (double)n / (1024 * 1024 * 1024));
    live_view_puts(w, b);
}

/* snprintf's count, kept within cap - 1 (a line cut short still ends with '\n'). */
static size_t
live_view_end_line(char *out, size_t cap, int n)
{
    size_t len;

    if (cap < 2)
        return 0;
    len = n < 0 ? 0 : (size_t)n;
    if (len >= cap - 1)
        len = cap - 2;
    out[len++] = '\n';
    out[len] = '\0';
    return len;
}

size_t
live_view_format_text(char *out, size_t cap, const struct exchange *x, const char *clock,
                      const char *name)
{
    char err[NGR_MAX_MESSAGE * 4 + 8];
    uint64_t ms = x->done_ms >= x->started_ms ? x->done_ms - x->started_ms : 0;
    struct live_view_w w = {out, cap > 2 ? cap - 2 : 0, 0};
    size_t method_at;

    if (cap < 2)
        return live_view_end_line(out, cap, 0);
    live_view_puts(&w, clock);
    live_view_puts(&w, " ");
    if (name[0] != '\0') {
        live_view_puts(&w, "[");
        live_view_puts(&w, name);
        live_view_puts(&w, "] ");
    }
    method_at = w.len;
    live_view_puts(&w, x->method);
    while (w.len - method_at < 7 && w.len < w.cap) /* the method, left-aligned in 7 */
        w.p[w.len++] = ' ';
    live_view_puts(&w, " ");
    live_view_puts(&w, x->path);
    live_view_puts(&w, " ");
    if (x->status > 0)
        live_view_putu(&w, (uint64_t)x->status);
    else
        live_view_puts(&w, "---");
    live_view_puts(&w, " ");
    live_view_duration(&w, ms);
    live_view_puts(&w, " ");
    live_view_bytes(&w, x->bytes_out);
    if (x->error != NULL) {
        log_escape_text(err, sizeof(err), x->error, strlen(x->error));
        live_view_puts(&w, "  ");
        live_view_puts(&w, err);
    }
    return live_view_end_line(out, cap, (int)w.len);
}

size_t
live_view_format_json(char *out, size_t cap, const struct exchange *x, const char *clock,
                      const char *name)
{
    char method[NGR_EXCHANGE_METHOD_LEN * 2], path[NGR_LABEL_TARGET_LEN * 2];
    char jname[NGR_TUNNEL_NAME_LEN * 2], err[NGR_MAX_MESSAGE * 4 + 8] = "";
    char jerr[sizeof(err) * 2] = "";
    uint64_t ms = x->done_ms >= x->started_ms ? x->done_ms - x->started_ms : 0;
    int n;

    live_view_json_escape(method, sizeof(method), x->method);
    live_view_json_escape(path, sizeof(path), x->path);
    live_view_json_escape(jname, sizeof(jname), name);
    if (x->error != NULL) {
        /* ASCII only (\xNN for the rest), so the object is valid UTF-8 whatever the text. */
        log_escape(err, sizeof(err), x->error, strlen(x->error));
        live_view_json_escape(jerr, sizeof(jerr), err);
    }
    n = snprintf(out, cap,
                 "{\"type\":\"request\",\"time\":\"%s\",\"tunnel\":\"%s\",\"method\":\"%s\","
                 "\"path\":\"%s\",\"status\":%d,\"duration_ms\":%llu,\"head_ms\":%lld,"
                 "\"bytes_in\":%llu,\"bytes_out\":%llu,\"error\":%s%s%s}",
                 clock, jname, method, path, x->status, (unsigned long long)ms,
                 x->head_ms >= x->started_ms && x->head_ms != 0
                     ? (long long)(x->head_ms - x->started_ms)
                     : -1LL,
                 (unsigned long long)x->bytes_in, (unsigned long long)x->bytes_out,
                 x->error ? "\"" : "null", x->error ? jerr : "", x->error ? "\"" : "");
    if (n > 0 && (size_t)n >= cap - 1) /* cut: a broken object helps no script */
        n = snprintf(out, cap, "{\"type\":\"request\",\"time\":\"%s\",\"error\":\"line too long\"}",
                     clock);
    return live_view_end_line(out, cap, n);
}

/* One header row: text cut to cols, then clear to the end of the row. */
static size_t live_view_row(char *out, size_t cap, unsigned cols, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
live_view_row(char *out, size_t cap, unsigned cols, const char *fmt, ...)
{
    char line[NGR_LIVE_LINE];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    if (cols > 0 && (unsigned)n > cols)
        n = (int)cols;
    n = snprintf(out, cap, "%.*s\033[K\r\n", n, line);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

size_t
live_view_format_stats(char *out, size_t cap, const struct live_header *h, unsigned cols)
{
    char p50[24], p90[24];
    size_t n = 0;

    if (h->rtt_us > 0)
        n += live_view_row(out + n, cap - n, cols, LIVE_LABEL "%.1f ms", "Round Trip",
                           (double)h->rtt_us / 1000);
    else
        n += live_view_row(out + n, cap - n, cols, LIVE_LABEL "-", "Round Trip");
    n += live_view_row(out + n, cap - n, cols, LIVE_LABEL "%zu", "Open Streams", h->streams);
    n += live_view_row(out + n, cap - n, cols, LIVE_LABEL "%.2f (last minute)", "Requests/s",
                       h->sum.per_s);
    if (h->sum.count == 0) {
        n += live_view_row(out + n, cap - n, cols, LIVE_LABEL "- / -", "Duration p50/p90");
    } else {
        struct live_view_w w50 = {p50, sizeof(p50) - 1, 0}, w90 = {p90, sizeof(p90) - 1, 0};

        live_view_duration(&w50, h->sum.p50_ms);
        live_view_duration(&w90, h->sum.p90_ms);
        p50[w50.len] = '\0';
        p90[w90.len] = '\0';
        n += live_view_row(out + n, cap - n, cols, LIVE_LABEL "%s / %s (%zu requests)",
                           "Duration p50/p90", p50, p90, h->sum.count);
    }
    return n;
}

/* -- output ------------------------------------------------------------------------------- */

static void
live_view_on_flush(void *arg)
{
    struct live_view *v = arg;
    struct pollfd p = {.fd = v->fd, .events = POLLOUT};
    unsigned turns;

    /* Bounded: at most the whole buffer, one chunk a write. */
    for (turns = 0; v->out.len > 0 && turns < NGR_LIVE_OUT_MAX / NGR_LIVE_WRITE_CHUNK + 1;
         turns++) {
        size_t n = v->out.len < NGR_LIVE_WRITE_CHUNK ? v->out.len : NGR_LIVE_WRITE_CHUNK;
        ssize_t w;

        p.revents = 0;
        if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
            if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
                goto broken;
            break;
        }
        w = write(v->fd, buf_head(&v->out), n);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (w <= 0)
            goto broken;
        buf_consume(&v->out, (size_t)w);
    }
    if (v->out.len > 0 && !loop_timer_armed(&v->retry))
        loop_timer_start(v->cl->loop, &v->retry, NGR_LIVE_RETRY_MS);
    return;
broken:
    v->broken = 1; /* the reader is gone: the tunnels go on without a display */
    buf_free(&v->out);
}

static void
live_view_on_retry(void *arg)
{
    live_view_on_flush(arg);
}

/* Queues n bytes for stdout. force: a Forwarding line or the header, kept whatever the room;
 * else a request line, dropped (and counted) when stdout has not taken the earlier ones. */
static void
live_view_put(struct live_view *v, const char *p, size_t n, int force)
{
    char note[64];
    int k;

    if (v->broken)
        return;
    /* Room again after lines were lost: say how many, where they would have been. */
    if (!force && v->dropped > 0) {
        k = snprintf(note, sizeof(note), "(%llu request lines not shown: stdout was full)\n",
                     (unsigned long long)v->dropped);
        if (buf_append(&v->out, note, (size_t)k) == 0)
            v->dropped = 0;
    }
    if (v->dropped > 0 ||
        (force ? buf_append_force(&v->out, p, n) : buf_append(&v->out, p, n)) != 0)
        v->dropped++;
    loop_defer(v->cl->loop, &v->flush);
}

/* The clock strings for now, made once a second. */
static void
live_view_clock(struct live_view *v, struct timespec *ts)
{
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, ts);
    if (ts->tv_sec == v->clock_sec && v->clock_text[0] != '\0')
        return;
    v->clock_sec = ts->tv_sec;
    if (localtime_r(&ts->tv_sec, &tm) != NULL)
        strftime(v->clock_text, sizeof(v->clock_text), "%H:%M:%S", &tm);
    if (gmtime_r(&ts->tv_sec, &tm) != NULL)
        strftime(v->iso_sec, sizeof(v->iso_sec), "%Y-%m-%dT%H:%M:%S", &tm);
}

static void
live_view_on_exchange(void *arg, const struct exchange *x)
{
    struct live_view *v = arg;
    const char *name = x->tunnel != NULL ? x->tunnel->opt->name : "";
    char line[NGR_LIVE_LINE], iso[48];
    struct timespec ts;
    size_t n;

    if (v->header && !x->raw) /* a connection's hours would drown the requests' times */
        live_stats_add(&v->stats, x->done_ms,
                       x->done_ms >= x->started_ms ? x->done_ms - x->started_ms : 0);
    if (v->mode == CLI_OUTPUT_QUIET || v->broken)
        return;
    live_view_clock(v, &ts);
    if (v->mode == CLI_OUTPUT_JSON) {
        snprintf(iso, sizeof(iso), "%s.%03ldZ", v->iso_sec, ts.tv_nsec / 1000000);
        n = live_view_format_json(line, sizeof(line), x, iso, name);
    } else {
        n = live_view_format_text(line, sizeof(line), x, v->clock_text, name);
    }
    live_view_put(v, line, n, 0);
}

/* -- the header --------------------------------------------------------------------------- */

static unsigned
live_view_head_rows(const struct client *cl)
{
    size_t fwd = cl->ntunnels < LIVE_FWD_ROWS ? cl->ntunnels : LIVE_FWD_ROWS;

    /* title, state, Forwarding rows (and "more"), four of numbers, the rule */
    return (unsigned)(2 + fwd + (cl->ntunnels > LIVE_FWD_ROWS) + 4 + 1);
}

static const char *
live_view_state(const struct live_view *v)
{
    const struct client *cl = v->cl;

    if (cl->opt_stopping || v->stopping)
        return "stopping";
    if (cl->sess_live && cl->ntunnels > 0 && cl->nbound == cl->ntunnels)
        return "online";
    return cl->ever_bound ? "reconnecting" : "connecting";
}

/* The terminal's size; 0 if it cannot say. */
static int
live_view_size(struct live_view *v, unsigned *rows, unsigned *cols)
{
    struct winsize ws;

    if (ioctl(v->fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
        return 0;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 1;
}

/* The header's rows, from the top, into out. */
static size_t
live_view_format_head(struct live_view *v, char *out, size_t cap)
{
    struct client *cl = v->cl;
    struct live_header h;
    size_t n = 0, i, fwd = cl->ntunnels < LIVE_FWD_ROWS ? cl->ntunnels : LIVE_FWD_ROWS;
    char rule[NGR_LIVE_LINE];
    unsigned w = v->cols < sizeof(rule) ? v->cols : sizeof(rule) - 1;

    memset(&h, 0, sizeof(h));
    h.state = live_view_state(v);
    h.rtt_us = cl->sess_live ? cl->sess.srtt_us : 0;
    h.streams = cl->sess_live ? cl->sess.nstreams : 0;
    live_stats_summary(&v->stats, loop_now(cl->loop), &h.sum);
    n += live_view_row(out + n, cap - n, v->cols, "ngrnotok%*s",
                       (int)(v->cols > 10 ? v->cols - 9 : 1), "(Ctrl+C to quit)");
    n += live_view_row(out + n, cap - n, v->cols, LIVE_LABEL "%s", "Session Status", h.state);
    for (i = 0; i < fwd; i++) {
        const struct client_tunnel *t = &cl->tunnels[i];

        n += live_view_row(out + n, cap - n, v->cols, LIVE_LABEL "%s -> %s", "Forwarding",
                           t->public_url[0] ? t->public_url : "(waiting for the gateway)",
                           t->target_text);
    }
    if (cl->ntunnels > LIVE_FWD_ROWS)
        n += live_view_row(out + n, cap - n, v->cols, LIVE_LABEL "and %zu more", "",
                           cl->ntunnels - LIVE_FWD_ROWS);
    n += live_view_format_stats(out + n, cap - n, &h, v->cols);
    memset(rule, '-', w);
    rule[w] = '\0';
    n += live_view_row(out + n, cap - n, v->cols, "%s", rule);
    return n;
}

/* Clears the screen, draws the header and puts the scroll region under it, the cursor at its
 * top: where request lines go. */
static void
live_view_setup_screen(struct live_view *v)
{
    char seq[64];
    int k;

    v->last_head[0] = '\0';
    k = snprintf(seq, sizeof(seq), "\033[H\033[2J\033[%u;%ur\033[%u;1H", v->head_rows + 1, v->rows,
                 v->head_rows + 1);
    live_view_put(v, seq, (size_t)k, 1);
}

static void
live_view_draw(struct live_view *v)
{
    char head[sizeof(v->last_head)];
    size_t n;

    n = live_view_format_head(v, head, sizeof(head));
    if (strcmp(head, v->last_head) == 0)
        return;
    memcpy(v->last_head, head, n + 1);
    /* Save the cursor (in the scroll region), draw from the top, restore it. */
    live_view_put(v, "\0337\033[H", 5, 1);
    live_view_put(v, head, n, 1);
    live_view_put(v, "\0338", 2, 1);
}

static void
live_view_on_redraw(void *arg)
{
    struct live_view *v = arg;
    struct client *cl = v->cl;
    unsigned rows = v->rows, cols = v->cols;
    uint64_t now = loop_now(cl->loop);

    loop_timer_start(cl->loop, &v->redraw, NGR_LIVE_REDRAW_MS);
    if (v->broken || v->out.len > NGR_LIVE_OUT_MAX / 2)
        return; /* the terminal is not keeping up: no more redraws for it */
    /* An idle session measures its round trip rarely (the heartbeat's PING is the peer's as
     * often as ours): ask for a sample while the header shows it. */
    if (cl->sess_live && cl->nbound > 0 && now - v->probe_ms >= NGR_LIVE_RTT_PROBE_MS) {
        v->probe_ms = now;
        session_probe_rtt(&cl->sess);
    }
    if (live_view_size(v, &rows, &cols) && (rows != v->rows || cols != v->cols)) {
        v->rows = rows;
        v->cols = cols;
        live_view_setup_screen(v); /* resized: the old rows are in the wrong places */
    }
    live_view_draw(v);
}

/* -- life --------------------------------------------------------------------------------- */

struct live_view *
live_view_new(struct client *cl, int fd, enum cli_output mode)
{
    struct live_view *v = calloc(1, sizeof(*v));
    const char *term = getenv("TERM");

    if (v == NULL)
        return NULL;
    v->cl = cl;
    v->fd = fd;
    v->mode = mode;
    buf_init(&v->out, NGR_LIVE_OUT_MAX);
    loop_defer_init(&v->flush, live_view_on_flush, v);
    loop_timer_init(&v->retry, live_view_on_retry, v);
    loop_timer_init(&v->redraw, live_view_on_redraw, v);
    v->head_rows = live_view_head_rows(cl);
    if (mode == CLI_OUTPUT_TEXT && isatty(fd) && term != NULL && term[0] != '\0' &&
        strcmp(term, "dumb") != 0 && live_view_size(v, &v->rows, &v->cols) &&
        v->rows >= v->head_rows + 4 && v->cols >= 40) {
        v->header = 1;
        live_stats_init(&v->stats, loop_now(cl->loop));
        live_view_setup_screen(v);
        live_view_draw(v);
        loop_timer_start(cl->loop, &v->redraw, NGR_LIVE_REDRAW_MS);
    }
    if (exchange_observe(&cl->exchanges, live_view_on_exchange, v) != 0) {
        live_view_free(v);
        return NULL;
    }
    return v;
}

int
live_view_has_header(const struct live_view *v)
{
    return v->header;
}

void
live_view_forwarding(struct live_view *v, const struct client_tunnel *t)
{
    char line[NGR_LIVE_LINE], url[NGR_URL_LEN * 2], target[sizeof(t->target_text) * 2];
    char name[NGR_TUNNEL_NAME_LEN * 2];
    int n;

    if (v->mode == CLI_OUTPUT_QUIET)
        n = snprintf(line, sizeof(line), "%s\n", t->public_url);
    else if (v->mode == CLI_OUTPUT_JSON) {
        live_view_json_escape(url, sizeof(url), t->public_url);
        live_view_json_escape(target, sizeof(target), t->target_text);
        live_view_json_escape(name, sizeof(name), t->opt->name);
        n = snprintf(line, sizeof(line),
                     "{\"type\":\"tunnel\",\"url\":\"%s\",\"target\":\"%s\",\"tunnel\":\"%s\"}\n",
                     url, target, name);
    } else if (t->opt->name[0] != '\0')
        n = snprintf(line, sizeof(line), "Forwarding %s -> %s (%s)\n", t->public_url,
                     t->target_text, t->opt->name);
    else
        n = snprintf(line, sizeof(line), "Forwarding %s -> %s\n", t->public_url, t->target_text);
    if (n < 0)
        return;
    live_view_put(v, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1, 1);
    if (v->header)
        live_view_draw(v);
}

void
live_view_inspector(struct live_view *v, const char *url)
{
    char line[NGR_LIVE_LINE];
    int n;

    if (v->mode == CLI_OUTPUT_QUIET)
        return; /* the tunnels' URLs alone */
    if (v->mode == CLI_OUTPUT_JSON)
        n = snprintf(line, sizeof(line), "{\"type\":\"inspector\",\"url\":\"%s\"}\n", url);
    else
        n = snprintf(line, sizeof(line), "Inspector %s\n", url);
    if (n < 0)
        return;
    live_view_put(v, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1, 1);
}

void
live_view_free(struct live_view *v)
{
    struct pollfd p;
    uint64_t until;
    unsigned turns;

    if (v == NULL)
        return;
    loop_timer_stop(v->cl->loop, &v->redraw);
    loop_timer_stop(v->cl->loop, &v->retry);
    if (v->header) {
        v->stopping = 1;
        v->last_head[0] = '\0';
        live_view_draw(v);
        /* The whole screen scrolls again; the cursor stays below the request lines. */
        live_view_put(v, "\0337\033[r\0338\n", 8, 1);
    }
    /* What is left, within a second: a stdout that does not read keeps it. */
    until = loop_clock_ms() + 1000;
    for (turns = 0; v->out.len > 0 && !v->broken && turns < 1000; turns++) {
        uint64_t now = loop_clock_ms();

        if (now >= until)
            break;
        p.fd = v->fd;
        p.events = POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, (int)(until - now)) != 1)
            break;
        live_view_on_flush(v);
        loop_timer_stop(v->cl->loop, &v->retry);
    }
    loop_defer_cancel(v->cl->loop, &v->flush); /* queued by the last words above */
    loop_timer_stop(v->cl->loop, &v->retry);
    buf_free(&v->out);
    free(v);
}
