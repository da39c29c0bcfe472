/* public_tcp.c: public ports of TCP tunnels. Accepting a connection opens a stream (OPEN with
 * method CONNECT, docs/protocol.md) and pipes the socket's bytes through it; the client connects
 * to its local port and pipes the other end. */
#include "public_tcp.h"
#include "access_log.h"
#include "access_rules.h"
#include "metrics.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "pipe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

struct tcp_conn {
    struct stream st;
    struct pipe_end pipe;
    struct tcp_listener *l; /* NULL once closed */
    struct tunnel *t;       /* the tunnel (of the port's pool) whose client carries it */
    int fd;
    char peer[NGR_PEER_LEN];
    uint64_t started_us;         /* accepted then (the access log's duration) */
    TAILQ_ENTRY(tcp_conn) entry; /* on its listener */
    struct loop_defer free;
};

struct tcp_listener {
    struct server *srv;
    struct tunnel *t; /* the port's tunnel; of a pool, the one that opened it (or took it on) */
    struct listener listen;
    uint16_t port;
    TAILQ_HEAD(, tcp_conn) conns;
};

static void
public_tcp_free(void *arg)
{
    free(arg);
}

/* The connection's line in the access log: its tunnel ("tcp:PORT"), its bytes and, when it did
 * not end by a close from either side, why. */
static void
public_tcp_record(struct tcp_conn *tc, uint32_t code, const char *why)
{
    struct access_record r;
    char name[24];

    if (tc->l->srv->access_log.fd < 0)
        return;
    memset(&r, 0, sizeof(r));
    snprintf(name, sizeof(name), "tcp:%u", (unsigned)tc->l->port);
    r.tunnel = name;
    r.client_ip = tc->peer;
    r.duration_us = loop_clock_us() - tc->started_us;
    r.bytes_in = tc->pipe.bytes_read;
    r.bytes_out = tc->pipe.bytes_written;
    r.error = code != FRAME_CODE_NONE ? why : NULL;
    access_log_write(&tc->l->srv->access_log, &r);
}

/* Ends a connection: stream reset (if code) or detached, socket closed, freed later. */
static void
public_tcp_close(struct tcp_conn *tc, uint32_t code, const char *why)
{
    if (tc->l == NULL)
        return;
    session_stream_end(&tc->st, code, why);
    pipe_stop(&tc->pipe);
    close(tc->fd);
    public_tcp_record(tc, code, why);
    tunnel_stream_end(tc->t);
    TAILQ_REMOVE(&tc->l->conns, tc, entry);
    /* An event for the socket may wait in this epoll batch: free at the end of the turn. */
    loop_defer(tc->l->srv->loop, &tc->free);
    tc->l = NULL;
    log_debug("tcp %s: closed (%s)", tc->peer, why);
}

static void
public_tcp_on_pipe_done(void *owner, struct pipe_end *p, int error)
{
    struct tcp_conn *tc = owner;

    /* On a reset the local service refused or the client went away: this connection ends. */
    public_tcp_close(tc, error > 0 ? FRAME_CODE_CANCEL : FRAME_CODE_NONE, pipe_done_reason(error));
}

/* Where the connection comes from and where it arrived, with ports: what a client's PROXY
 * protocol header tells its local service (docs/protocol.md, OPEN). */
static void
public_tcp_endpoints(int fd, const struct sockaddr *sa, char from[NGR_PEER_LEN],
                     char to[NGR_PEER_LEN])
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);

    net_format_endpoint(sa, from, NGR_PEER_LEN);
    if (getsockname(fd, (struct sockaddr *)&local, &len) != 0)
        snprintf(to, NGR_PEER_LEN, "unknown");
    else
        net_format_endpoint((const struct sockaddr *)&local, to, NGR_PEER_LEN);
}

static void
public_tcp_open(struct tcp_listener *l, int fd, const struct sockaddr *sa)
{
    struct tcp_conn *tc = calloc(1, sizeof(*tc));
    struct frame_head h;
    char from[NGR_PEER_LEN], to[NGR_PEER_LEN]; /* OPEN's target and host */
    /* The port's tunnel, or the next of its pool. */
    struct tunnel *t = tunnel_table_route(&l->srv->tunnels, l->t->slot, strlen(l->t->slot));

    if (tc == NULL) {
        close(fd);
        return;
    }
    net_format_ip(sa, tc->peer, sizeof(tc->peer));
    if (cidr_list_match(&l->srv->cfg.deny_cidr, tc->peer) ||
        (t->rules != NULL && !access_rules_address_ok(t->rules, tc->peer))) {
        t->hit_address += t->rules != NULL;
        l->srv->metrics.limit_hits[METRICS_LIMIT_ADDRESS]++;
        log_info("tcp: refusing a connection from %s to tunnel %s: its address is denied",
                 tc->peer, t->id);
        close(fd);
        free(tc);
        return;
    }
    if (rate_limit_take(&t->rate, loop_now(l->srv->loop)) != 0) {
        t->hit_rate++;
        l->srv->metrics.limit_hits[METRICS_LIMIT_RATE]++;
        log_info("tcp: refusing a connection from %s to tunnel %s: over its rate of %u/s",
                 tc->peer, t->id, t->rate.per_s);
        close(fd);
        free(tc);
        return;
    }
    if (t->streams >= l->srv->cfg.max_streams_per_tunnel) {
        t->hit_streams++;
        l->srv->metrics.limit_hits[METRICS_LIMIT_STREAMS]++;
        log_warn("tcp: refusing a connection to tunnel %s: %u connections open, its limit "
                 "(max_streams_per_tunnel)",
                 t->id, l->srv->cfg.max_streams_per_tunnel);
        close(fd);
        free(tc);
        return;
    }
    tc->fd = fd;
    tc->l = l;
    tc->t = t;
    tc->started_us = loop_clock_us();
    loop_defer_init(&tc->free, public_tcp_free, tc);
    net_tune_stream(fd);
    if (session_stream_open(t->sess, &tc->st, &pipe_stream_ops, &tc->pipe) != 0) {
        log_warn("tcp: refusing a connection from %s: the tunnel is closing or the gateway's "
                 "memory budget for streams (gateway_budget) is spent",
                 tc->peer);
        close(fd);
        free(tc);
        return;
    }
    TAILQ_INSERT_TAIL(&l->conns, tc, entry);
    t->streams++;
    t->requests++;
    l->srv->metrics.tcp_conns++;
    public_tcp_endpoints(fd, sa, from, to); /* OPEN copies them */
    memset(&h, 0, sizeof(h));
    h.tunnel = t->handle;
    h.body = FRAME_BODY_UNKNOWN;
    h.method = frame_str_c("CONNECT");
    h.target = frame_str_c(from);
    h.client_addr = frame_str_c(tc->peer);
    h.scheme = frame_str_c("tcp");
    h.host = frame_str_c(to);
    pipe_init(&tc->pipe, l->srv->loop, &tc->st, public_tcp_on_pipe_done, tc);
    tc->pipe.read_counter = &t->bytes_in;
    tc->pipe.write_counter = &t->bytes_out;
    if (session_send_open(&tc->st, 0, &h) != 0 || pipe_start(&tc->pipe, fd) != 0) {
        public_tcp_close(tc, FRAME_CODE_INTERNAL, "cannot start");
        return;
    }
    log_debug("tcp %s: connection to port %u", tc->peer, l->port);
}

static void
public_tcp_on_accept(void *arg, int fd, const struct sockaddr *peer)
{
    public_tcp_open(arg, fd, peer);
}

/* Listens on port unless another client's reservation holds it. Returns the socket or -1. */
static int
public_tcp_try_port(struct server *srv, const struct tunnel *t, unsigned port)
{
    struct net_addr a;
    char slot[NGR_SLOT_LEN];

    snprintf(slot, sizeof(slot), "tcp:%u", port);
    if (reservations_owner(&srv->res, slot, t->holder, reservations_now(), NULL) ==
        RESERVATION_OTHER)
        return -1;
    snprintf(a.host, sizeof(a.host), "%s", srv->cfg.tcp_host);
    a.port = (uint16_t)port;
    return net_listen(&a, NGR_LISTEN_BACKLOG, NULL);
}

int
public_tcp_bind(struct server *srv, struct tunnel *t, unsigned want_port, struct ngr_err *err)
{
    const struct server_config *cfg = &srv->cfg;
    unsigned span, i;
    struct tcp_listener *l;
    int fd, rc;

    if (cfg->tcp_port_low == 0)
        return err_set(
            err, NGR_EINVAL,
            "TCP tunnels are not enabled on this gateway (it needs --tcp-ports LOW-HIGH)");
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return err_set(err, NGR_ENOMEM, "gateway out of memory");
    TAILQ_INIT(&l->conns);
    l->srv = srv;
    l->t = t;
    fd = -1;
    span = cfg->tcp_port_high - cfg->tcp_port_low + 1;
    if (want_port >= cfg->tcp_port_low && want_port <= cfg->tcp_port_high) {
        fd = public_tcp_try_port(srv, t, want_port);
        if (fd >= 0)
            l->port = (uint16_t)want_port;
    }
    for (i = 0; i < span && fd < 0; i++) {
        unsigned port = cfg->tcp_port_low + (srv->tcp_cursor + i) % span;

        fd = public_tcp_try_port(srv, t, port);
        if (fd >= 0) {
            l->port = (uint16_t)port;
            srv->tcp_cursor = (srv->tcp_cursor + i + 1) % span;
        }
    }
    if (fd < 0) {
        free(l);
        return err_set(err, NGR_ELIMIT, "no free TCP port left in %u-%u on this gateway",
                       cfg->tcp_port_low, cfg->tcp_port_high);
    }
    rc = listener_start(&l->listen, srv->loop, fd, "tcp port", public_tcp_on_accept, l, err);
    if (rc != 0) {
        free(l);
        return rc;
    }
    t->tcp = l;
    snprintf(t->slot, sizeof(t->slot), "tcp:%u", l->port);
    snprintf(t->public_url, sizeof(t->public_url), "tcp://%s:%u", cfg->domain, l->port);
    return 0;
}

void
public_tcp_share(struct tunnel *t, struct tunnel *pool)
{
    t->tcp = pool->tcp;
    snprintf(t->slot, sizeof(t->slot), "%s", pool->slot);
    snprintf(t->public_url, sizeof(t->public_url), "%s", pool->public_url);
}

void
public_tcp_unbind(struct tunnel *t, struct tunnel *heir)
{
    struct tcp_listener *l = t->tcp;
    struct tcp_conn *tc, *next;

    if (l == NULL)
        return;
    for (tc = TAILQ_FIRST(&l->conns); tc != NULL; tc = next) {
        next = TAILQ_NEXT(tc, entry);
        if (heir == NULL || tc->t == t)
            public_tcp_close(tc, FRAME_CODE_CANCEL, "tunnel closed");
    }
    t->tcp = NULL;
    if (heir != NULL) { /* the pool keeps the port */
        if (l->t == t)
            l->t = heir;
        return;
    }
    listener_stop(&l->listen);
    free(l);
}
