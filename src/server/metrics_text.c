/* metrics_text.c: GET /metrics, the counters of metrics.h in Prometheus' text format (0.0.4),
 * built at scrape time from the tunnel table and the counters (nothing is kept for it), with
 * open_memstream: a scrape's size follows the tunnels, which the limits bound. */
#include "metrics_text.h"
#include "control.h"
#include "err.h"
#include "frame.h"
#include "latency_hist.h"
#include "metrics.h"
#include "server.h"
#include "tunnel_table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metrics_class_names[METRICS_CLASSES] = {"none", "1xx", "2xx",
                                                                  "3xx",  "4xx", "5xx"};

static const char *const metrics_limit_names[METRICS_LIMIT_KINDS] = {
    [METRICS_LIMIT_BODY] = "max_body_size",
    [METRICS_LIMIT_STREAMS] = "max_streams_per_tunnel",
    [METRICS_LIMIT_ADDRESS] = "address",
    [METRICS_LIMIT_AUTH] = "basic_auth",
    [METRICS_LIMIT_RATE] = "rate_limit",
    [METRICS_LIMIT_CONNS_PER_IP] = "max_conns_per_ip",
    [METRICS_LIMIT_TUNNELS] = "max_tunnels",
    [METRICS_LIMIT_TUNNELS_PER_TOKEN] = "max_tunnels_per_token",
    [METRICS_LIMIT_HEAD_TIMEOUT] = "request_head_timeout",
    [METRICS_LIMIT_BUDGET] = "gateway_budget",
    [METRICS_LIMIT_HOLD] = "held_requests",
};

/* A label value: '\\', '"' and newlines escaped, as the text format asks. Our label values
 * (names, ids, addresses) never hold them, but a wrong one must not break the exposition. */
static void
metrics_label(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

/* The labels naming a tunnel: its name (tcp:PORT for TCP), its id, its protocol. */
static void
metrics_tunnel_labels(FILE *f, const struct tunnel *t)
{
    fputs("tunnel=\"", f);
    if (t->proto == FRAME_PROTO_TCP)
        metrics_label(f, t->slot[0] ? t->slot : t->public_url);
    else
        metrics_label(f, t->subdomain);
    fputs("\",id=\"", f);
    metrics_label(f, t->id);
    fprintf(f, "\",proto=\"%s\"", t->proto == FRAME_PROTO_TCP ? "tcp" : "http");
}

static void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_hist(FILE *f, const char *name, const struct tunnel *t, const struct latency_hist *h)
{
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= LATENCY_HIST_BOUNDS; i++) {
        cum += h->bucket[i];
        fprintf(f, "%s_bucket{", name);
        metrics_tunnel_labels(f, t);
        if (i < LATENCY_HIST_BOUNDS)
            fprintf(f, ",le=\"%g\"} %" PRIu64 "\n", (double)latency_hist_bound_us(i) / 1e6, cum);
        else
            fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
    }
    fprintf(f, "%s_sum{", name);
    metrics_tunnel_labels(f, t);
    fprintf(f, "} %.6f\n%s_count{", (double)h->sum_us / 1e6, name);
    metrics_tunnel_labels(f, t);
    fprintf(f, "} %" PRIu64 "\n", h->count);
}

static uint64_t metrics_streams_total(const struct tunnel *t) { return t->requests; }
static uint64_t metrics_streams_open(const struct tunnel *t) { return t->streams; }
static uint64_t metrics_bytes_in(const struct tunnel *t) { return t->bytes_in; }
static uint64_t metrics_bytes_out(const struct tunnel *t) { return t->bytes_out; }

static void
metrics_control_rtt(void *arg, const struct control_view *v)
{
    FILE *f = arg;

    if (v->srtt_us == 0)
        return; /* no sample yet: no value rather than a false 0 */
    fprintf(f, "ngrnotok_control_rtt_seconds{conn=\"%" PRIu64 "\",peer=\"", v->serial);
    metrics_label(f, v->peer);
    fprintf(f, "\"} %.6f\n", (double)v->srtt_us / 1e6);
}

static void
metrics_gateway(FILE *f, const struct server *srv)
{
    const struct gateway_metrics *m = &srv->metrics;
    size_t i;

    metrics_head(f, "ngrnotok_build_info", "gauge", "The gateway's version.");
    fprintf(f, "ngrnotok_build_info{version=\"%s\",protocol=\"%d\"} 1\n", NGR_VERSION,
            NGR_PROTOCOL_VERSION);
    metrics_head(f, "ngrnotok_control_connections", "gauge", "Control connections open.");
    fprintf(f, "ngrnotok_control_connections %zu\n", srv->nconns);
    metrics_head(f, "ngrnotok_control_connections_total", "counter",
                 "Control connections accepted.");
    fprintf(f, "ngrnotok_control_connections_total %" PRIu64 "\n", m->control_conns);
    metrics_head(f, "ngrnotok_tunnels", "gauge", "Tunnels bound.");
    fprintf(f, "ngrnotok_tunnels %zu\n", tunnel_table_count(&srv->tunnels));
    metrics_head(f, "ngrnotok_public_requests", "gauge",
                 "Public HTTP requests in progress (held ones included).");
    fprintf(f, "ngrnotok_public_requests %zu\n", srv->npub);
    metrics_head(f, "ngrnotok_http_requests_total", "counter",
                 "Public HTTP requests finished, routed to a tunnel or not, by status class "
                 "(none: the public client left before a status).");
    for (i = 0; i < METRICS_CLASSES; i++)
        fprintf(f, "ngrnotok_http_requests_total{class=\"%s\"} %" PRIu64 "\n",
                metrics_class_names[i], m->requests[i]);
    metrics_head(f, "ngrnotok_tcp_connections_total", "counter",
                 "Public TCP connections passed to a tunnel.");
    fprintf(f, "ngrnotok_tcp_connections_total %" PRIu64 "\n", m->tcp_conns);
    metrics_head(f, "ngrnotok_limit_hits_total", "counter",
                 "Requests, connections or tunnels refused by a limit or a protection, by kind.");
    for (i = 0; i < METRICS_LIMIT_KINDS; i++)
        fprintf(f, "ngrnotok_limit_hits_total{limit=\"%s\"} %" PRIu64 "\n",
                metrics_limit_names[i], m->limit_hits[i]);
    metrics_head(f, "ngrnotok_frames_refused_total", "counter",
                 "Control frames refused as malformed or forbidden (protocol errors).");
    fprintf(f, "ngrnotok_frames_refused_total %" PRIu64 "\n", m->frames_refused);
    metrics_head(f, "ngrnotok_held_requests", "gauge",
                 "Public requests waiting for their tunnel's client to reconnect.");
    fprintf(f, "ngrnotok_held_requests %zu\n", srv->nheld);
    metrics_head(f, "ngrnotok_held_requests_total", "counter",
                 "Public requests that waited for a reconnecting tunnel.");
    fprintf(f, "ngrnotok_held_requests_total %" PRIu64 "\n", m->held);
    metrics_head(f, "ngrnotok_access_log_lines_dropped_total", "counter",
                 "Access log lines lost to a failed write.");
    fprintf(f, "ngrnotok_access_log_lines_dropped_total %" PRIu64 "\n", srv->access_log.dropped);
    metrics_head(f, "ngrnotok_control_rtt_seconds", "gauge",
                 "Each control connection's smoothed round trip, from its heartbeats.");
    control_foreach(srv, metrics_control_rtt, f);
}

/* One family of per-tunnel series: its head once, then its lines for each tunnel in turn. */
struct metrics_family {
    const char *name, *type, *help;
    int http_only;
    void (*write)(FILE *f, const struct metrics_family *m, const struct tunnel *t);
    uint64_t (*get)(const struct tunnel *t); /* for a plain counter or gauge */
};

static void
metrics_write_classes(FILE *f, const struct metrics_family *m, const struct tunnel *t)
{
    size_t i;

    for (i = 0; i < METRICS_CLASSES; i++) {
        fprintf(f, "%s{", m->name);
        metrics_tunnel_labels(f, t);
        fprintf(f, ",class=\"%s\"} %" PRIu64 "\n", metrics_class_names[i], t->by_class[i]);
    }
}

static void
metrics_write_value(FILE *f, const struct metrics_family *m, const struct tunnel *t)
{
    fprintf(f, "%s{", m->name);
    metrics_tunnel_labels(f, t);
    fprintf(f, "} %" PRIu64 "\n", m->get(t));
}

static void
metrics_write_latency(FILE *f, const struct metrics_family *m, const struct tunnel *t)
{
    metrics_hist(f, m->name, t, &t->latency);
}

static void
metrics_write_service(FILE *f, const struct metrics_family *m, const struct tunnel *t)
{
    metrics_hist(f, m->name, t, &t->service_latency);
}

static const struct metrics_family metrics_families[] = {
    {"ngrnotok_tunnel_requests_total", "counter",
     "A tunnel's finished public HTTP requests, by status class.", 1, metrics_write_classes,
     NULL},
    {"ngrnotok_tunnel_streams_total", "counter",
     "A tunnel's public requests or TCP connections opened toward its client.", 0,
     metrics_write_value, metrics_streams_total},
    {"ngrnotok_tunnel_open_streams", "gauge",
     "A tunnel's public requests or TCP connections open now.", 0, metrics_write_value,
     metrics_streams_open},
    {"ngrnotok_tunnel_received_bytes_total", "counter",
     "Body bytes from public clients toward a tunnel's local service.", 0, metrics_write_value,
     metrics_bytes_in},
    {"ngrnotok_tunnel_sent_bytes_total", "counter",
     "Body bytes from a tunnel's local service toward public clients.", 0, metrics_write_value,
     metrics_bytes_out},
    {"ngrnotok_tunnel_request_duration_seconds", "histogram",
     "A public HTTP request's whole time at the gateway, first byte to last.", 1,
     metrics_write_latency, NULL},
    {"ngrnotok_tunnel_service_duration_seconds", "histogram",
     "The local service's time to its response head, as the tunnel's client measured it.", 1,
     metrics_write_service, NULL},
};
#define METRICS_FAMILIES (sizeof(metrics_families) / sizeof(metrics_families[0]))

/* A scrape under way: the tunnels' ids as they were when it began (each looked up again when
 * its turn comes, so a tunnel gone meanwhile is passed over and nothing dangles), where it is,
 * and the text made but not yet handed out. */
struct metrics_scrape {
    const struct server *srv;
    char (*ids)[NGR_ID_LEN];
    size_t nids;
    size_t family, next; /* family == METRICS_FAMILIES: done */
    int started;         /* the gateway-wide part is made */
    char *text;          /* open_memstream's */
    size_t len, off;
};

struct metrics_scrape *
metrics_scrape_new(const struct server *srv)
{
    struct metrics_scrape *s = calloc(1, sizeof(*s));
    const struct tunnel *t;
    size_t n = tunnel_table_count(&srv->tunnels), i = 0;

    if (s == NULL)
        return NULL;
    s->srv = srv;
    s->ids = calloc(n ? n : 1, sizeof(*s->ids));
    if (s->ids == NULL) {
        free(s);
        return NULL;
    }
    for (t = tunnel_table_first(&srv->tunnels); t != NULL && i < n;
         t = tunnel_table_next((struct tunnel *)t))
        memcpy(s->ids[i++], t->id, NGR_ID_LEN);
    s->nids = i;
    return s;
}

void
metrics_scrape_free(struct metrics_scrape *s)
{
    if (s == NULL)
        return;
    free(s->text);
    free(s->ids);
    free(s);
}

/* The next piece of text: the gateway-wide part, or a family's head and as many tunnels' lines
 * as make NGR_METRICS_PIECE bytes. 0, or NGR_ENOMEM. */
static int
metrics_scrape_fill(struct metrics_scrape *s)
{
    FILE *f;

    free(s->text);
    s->text = NULL;
    s->len = s->off = 0;
    f = open_memstream(&s->text, &s->len);
    if (f == NULL)
        return NGR_ENOMEM;
    if (!s->started) {
        metrics_gateway(f, s->srv);
        s->started = 1;
    }
    while (s->family < METRICS_FAMILIES && ftell(f) < NGR_METRICS_PIECE) {
        const struct metrics_family *m = &metrics_families[s->family];
        const struct tunnel *t;

        if (s->next == 0)
            metrics_head(f, m->name, m->type, m->help);
        if (s->next >= s->nids) {
            s->family++;
            s->next = 0;
            continue;
        }
        t = tunnel_table_find_id(&s->srv->tunnels, s->ids[s->next], strlen(s->ids[s->next]));
        s->next++;
        if (t != NULL && !(m->http_only && t->proto == FRAME_PROTO_TCP))
            m->write(f, m, t);
    }
    if (ferror(f)) {
        fclose(f);
        return NGR_ENOMEM;
    }
    return fclose(f) == 0 ? 0 : NGR_ENOMEM;
}

ssize_t
metrics_scrape_read(struct metrics_scrape *s, char *out, size_t max)
{
    size_t n;

    while (s->text == NULL || s->off == s->len) {
        if (s->started && s->family >= METRICS_FAMILIES)
            return 0;
        if (metrics_scrape_fill(s) != 0)
            return -1;
    }
    n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(out, s->text + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

int
metrics_render(const struct server *srv, char **out, size_t *len)
{
    struct metrics_scrape *s = metrics_scrape_new(srv);
    char chunk[8192];
    ssize_t n;
    FILE *f;

    *out = NULL;
    *len = 0;
    if (s == NULL)
        return NGR_ENOMEM;
    f = open_memstream(out, len);
    if (f == NULL) {
        metrics_scrape_free(s);
        return NGR_ENOMEM;
    }
    while ((n = metrics_scrape_read(s, chunk, sizeof(chunk))) > 0)
        fwrite(chunk, 1, (size_t)n, f);
    metrics_scrape_free(s);
    if (n < 0 || ferror(f)) {
        fclose(f);
        free(*out);
        *out = NULL;
        return NGR_ENOMEM;
    }
    if (fclose(f) != 0) {
        free(*out);
        *out = NULL;
        return NGR_ENOMEM;
    }
    return 0;
}
