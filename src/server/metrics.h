/* metrics.h: what the gateway counts for its operator, shown by GET /metrics on the admin
 * listener (metrics_text.h). Gateway-wide counters live in struct server (struct
 * gateway_metrics), per-tunnel ones in struct tunnel (tunnel_table.h), each control
 * connection's round trip in its session. Labels are only the gateway's own names (tunnels, ids,
 * limits, status classes, control connections' serial numbers and addresses), never request data,
 * so a scrape's size is bounded by the tunnels and connections the limits allow. */
#ifndef NGR_METRICS_H
#define NGR_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct tunnel;

/* The limits whose refusals are counted, by kind (the label "limit"). */
enum metrics_limit {
    METRICS_LIMIT_BODY,              /* max_body_size: 413 */
    METRICS_LIMIT_STREAMS,           /* max_streams_per_tunnel: 503, TCP closed */
    METRICS_LIMIT_ADDRESS,           /* a tunnel's allow/deny_cidr, or --deny-cidr: 403 */
    METRICS_LIMIT_AUTH,              /* a tunnel's basic auth: 401 */
    METRICS_LIMIT_RATE,              /* a tunnel's rate limit: 429, TCP closed */
    METRICS_LIMIT_CONNS_PER_IP,      /* max_conns_per_ip: a control connection refused */
    METRICS_LIMIT_TUNNELS,           /* max_tunnels: a BIND refused */
    METRICS_LIMIT_TUNNELS_PER_TOKEN, /* max_tunnels_per_token: a BIND refused */
    METRICS_LIMIT_HEAD_TIMEOUT,      /* request_head_timeout: 408 */
    METRICS_LIMIT_BUDGET,            /* gateway_budget: 503 */
    METRICS_LIMIT_HOLD,              /* the room for held requests is full: 503 */
    METRICS_LIMIT_KINDS
};

/* Status classes (the label "class"): 0 for a request that got no status (its public client
 * left first), then 1xx to 5xx. */
#define METRICS_CLASSES 6

struct gateway_metrics {
    uint64_t limit_hits[METRICS_LIMIT_KINDS];
    uint64_t requests[METRICS_CLASSES]; /* every public request, routed or not */
    uint64_t tcp_conns;                 /* public TCP connections to a tunnel */
    uint64_t control_conns;             /* control connections accepted: their serial numbers */
    uint64_t frames_refused;            /* malformed or forbidden frames (protocol errors) */
    uint64_t held;                      /* requests that waited for a reconnecting tunnel */
};

/* The class index of a status (0: none). */
size_t metrics_class(int status);
/* One finished public request: the gateway's counters, and t's (NULL: none was routed, or it is
 * gone). duration_us: the whole request at the gateway; service_us: the local service's time to
 * its head as the client reported it (0: not reported). */
void metrics_request(struct server *srv, struct tunnel *t, int status, uint64_t duration_us,
                     uint32_t service_us);

#endif
