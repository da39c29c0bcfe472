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

/* One counter or gauge line per tunnel: get(t). */
static void
metrics_per_tunnel(FILE *f, const struct server *srv, const char *name,
                   uint64_t (*get)(const struct tunnel *))
{
    const struct tunnel *t;

    for (t = tunnel_table_first(&srv->tunnels); t != NULL;
         t = tunnel_table_next((struct tunnel *)t)) {
        fprintf(f, "%s{", name);
        metrics_tunnel_labels(f, t);
        fprintf(f, "} %" PRIu64 "\n", get(t));
    }
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

static void
metrics_tunnels(FILE *f, const struct server *srv)
{
    const struct tunnel *t;
    size_t i;

    metrics_head(f, "ngrnotok_tunnel_requests_total", "counter",
                 "A tunnel's finished public HTTP requests, by status class.");
    for (t = tunnel_table_first(&srv->tunnels); t != NULL;
         t = tunnel_table_next((struct tunnel *)t)) {
        if (t->proto == FRAME_PROTO_TCP)
            continue;
        for (i = 0; i < METRICS_CLASSES; i++) {
            fputs("ngrnotok_tunnel_requests_total{", f);
            metrics_tunnel_labels(f, t);
            fprintf(f, ",class=\"%s\"} %" PRIu64 "\n", metrics_class_names[i], t->by_class[i]);
        }
    }
    metrics_head(f, "ngrnotok_tunnel_streams_total", "counter",
                 "A tunnel's public requests or TCP connections opened toward its client.");
    metrics_per_tunnel(f, srv, "ngrnotok_tunnel_streams_total", metrics_streams_total);
    metrics_head(f, "ngrnotok_tunnel_open_streams", "gauge",
                 "A tunnel's public requests or TCP connections open now.");
    metrics_per_tunnel(f, srv, "ngrnotok_tunnel_open_streams", metrics_streams_open);
    metrics_head(f, "ngrnotok_tunnel_received_bytes_total", "counter",
                 "Body bytes from public clients toward a tunnel's local service.");
    metrics_per_tunnel(f, srv, "ngrnotok_tunnel_received_bytes_total", metrics_bytes_in);
    metrics_head(f, "ngrnotok_tunnel_sent_bytes_total", "counter",
                 "Body bytes from a tunnel's local service toward public clients.");
    metrics_per_tunnel(f, srv, "ngrnotok_tunnel_sent_bytes_total", metrics_bytes_out);
    metrics_head(f, "ngrnotok_tunnel_request_duration_seconds", "histogram",
                 "A public HTTP request's whole time at the gateway, first byte to last.");
    for (t = tunnel_table_first(&srv->tunnels); t != NULL;
         t = tunnel_table_next((struct tunnel *)t))
        if (t->proto != FRAME_PROTO_TCP)
            metrics_hist(f, "ngrnotok_tunnel_request_duration_seconds", t, &t->latency);
    metrics_head(f, "ngrnotok_tunnel_service_duration_seconds", "histogram",
                 "The local service's time to its response head, as the tunnel's client "
                 "measured it.");
    for (t = tunnel_table_first(&srv->tunnels); t != NULL;
         t = tunnel_table_next((struct tunnel *)t))
        if (t->proto != FRAME_PROTO_TCP)
            metrics_hist(f, "ngrnotok_tunnel_service_duration_seconds", t, &t->service_latency);
}

int
metrics_render(const struct server *srv, char **out, size_t *len)
{
    FILE *f;

    *out = NULL;
    *len = 0;
    f = open_memstream(out, len);
    if (f == NULL)
        return NGR_ENOMEM;
    metrics_gateway(f, srv);
    metrics_tunnels(f, srv);
    if (ferror(f)) {
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
