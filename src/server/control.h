/* control.h: the control plane of the gateway: accepting client connections (over TLS when
 * the control port has a certificate), the handshake (HELLO, BIND) and the tunnels they
 * register. docs/protocol.md has the rules. */
#ifndef NGR_CONTROL_H
#define NGR_CONTROL_H

#include "err.h"
#include "server.h"
#include "session.h"

/* Listens on cfg.control_addr (port written back) and accepts on the loop. */
NGR_MUST_CHECK int control_start(struct server *srv, struct ngr_err *err);
/* Sends GOAWAY to every client and closes the listener; sessions end at the turn's end, and
 * connections still in TLS's handshake at once. */
void control_stop(struct server *srv);
/* SIGTERM's drain: closes the listener, drops connections still in their handshake, and
 * sends GOAWAY to every session, which stays open for its streams to finish. */
void control_drain(struct server *srv);
/* The streams open on every session, for the drain. */
size_t control_streams(struct server *srv);
/* Frees the control port's TLS credentials, once every session is gone (after the loop's last
 * deferrals). */
void control_free(struct server *srv);
/* SIGHUP: re-reads the tokens file (kept as it was if the file is bad, with a warning), and
 * closes, telling each client why, the sessions whose token is gone or no longer allows their
 * tunnel's name. */
void control_reload_tokens(struct server *srv);

/* What GET /metrics shows of one control connection whose session is up. */
struct control_view {
    uint64_t serial;  /* 1, 2, ... in the order of their arrival */
    const char *peer; /* its address */
    uint64_t srtt_us; /* smoothed round trip, from heartbeats; 0: not measured yet */
    size_t ntunnels;
};
/* Calls fn for each such connection, oldest first. */
void control_foreach(const struct server *srv, void (*fn)(void *arg, const struct control_view *v),
                     void *arg);

#endif
