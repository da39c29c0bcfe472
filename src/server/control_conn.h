/* control_conn.h: one control connection of the gateway (struct ctl_conn), as the files of
 * the control plane share it: control.c (its life: accept, TLS, handshake, frames, close) and
 * control_bind.c (its BIND: the name or port, its pool, its reservation, the tunnel). Not for
 * the rest of the gateway: control.h is. */
#ifndef NGR_CONTROL_CONN_H
#define NGR_CONTROL_CONN_H

#include <stdint.h>
#include <sys/queue.h>

#include "auth_tokens.h"
#include "frame.h"
#include "loop.h"
#include "reconnect_secret.h"
#include "server.h"
#include "session.h"

struct tls_io;

struct ctl_conn {
    struct session sess;
    struct server *srv;
    TAILQ_ENTRY(ctl_conn) entry;
    char peer[NGR_PEER_LEN];
    uint64_t serial;        /* 1, 2, ...: which connection it is, in metrics' labels */
    /* Before the session: on a TLS port, the first byte is awaited, then TLS's handshake. */
    int fd;
    int live;               /* sess is initialised (the handshake before it, if any, done) */
    struct loop_io pre_io;  /* the socket until then */
    struct tls_io *tls;     /* the handshake under way (the session's once done) */
    struct loop_defer drop; /* closed before its session started: freed at the turn's end */
    int plain_on_tls;       /* a plain client on the TLS port: HELLO gets the ERROR saying so */
    /* From a --trusted-proxy peer, a PROXY header may come first (proxy_accept.h): what of it
     * was read so far, until it is whole. NULL: none expected, or done. */
    uint8_t *proxy_buf;
    size_t proxy_have;
    char via[NGR_PEER_LEN]; /* the proxy it came through, or "" */
    int hello_done;
    struct tunnel *tunnels[NGR_TUNNELS_PER_SESSION]; /* its BINDs' tunnels, in bind order */
    size_t ntunnels;
    struct loop_timer bind_deadline;  /* HELLO and BIND must both arrive in time */
    int has_token;                    /* the gateway asked for a token and this one was valid */
    int ip_counted;                   /* in srv->conns_by_ip */
    uint8_t token[AUTH_TOKEN_DIGEST]; /* its digest: a reload looks it up again */
    char token_id[sizeof(((struct auth_token *)0)->id)]; /* for logs */
    char secret[RECONNECT_SECRET_LEN + 1];               /* its reconnect secret (WELCOME) */
    char holder[RECONNECT_HOLDER_LEN + 1]; /* that secret's id: what its names are kept for */
    int leaving; /* the client said GOAWAY: its tunnels are gone, its streams finish */
};

/* BIND on c: checks, the name or port (and its pool), the tunnel registered and BOUND sent, or
 * the BIND refused with ERROR. Returns 0, or NGR_EPROTO for a malformed BIND. */
int control_bind_handle(struct ctl_conn *c, const struct frame *f);
/* Tunnel t of c ends: it leaves the table and its port closes (a pool's port stays with the
 * rest). Public requests it still carries go on until they end (tunnel_retire). keep: the
 * name (or port) stays its client's for the reconnect grace once no tunnel of its pool is
 * left; else a new session of that client holds it now. */
void control_bind_end(struct ctl_conn *c, struct tunnel *t, const char *reason, int keep);
/* Every tunnel of c ends so (the session closed, or the client is leaving). */
void control_bind_end_all(struct ctl_conn *c, const char *reason, int keep);

#endif
