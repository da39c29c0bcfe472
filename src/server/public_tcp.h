/* public_tcp.h: TCP tunnels on the gateway. Each gets a public port from --tcp-ports (the
 * tunnels of a pool share one); each connection to it becomes a stream to the client of one
 * of them, carried as raw bytes (pipe.h). */
#ifndef NGR_PUBLIC_TCP_H
#define NGR_PUBLIC_TCP_H

#include "err.h"
#include "server.h"
#include "tunnel_table.h"

/* Allocates a port in the configured range, listens on it and sets t->tcp, t->slot and
 * t->public_url: want_port if it is t->holder's or free (0: none wanted), else the next free
 * port that no other client's reservation holds. Returns 0, or NGR_EINVAL (TCP tunnels off) or
 * NGR_ELIMIT (range exhausted) with a message for the client. */
NGR_MUST_CHECK int public_tcp_bind(struct server *srv, struct tunnel *t, unsigned want_port,
                                   struct ngr_err *err);
/* t joins pool's port: it shares its listener, slot and URL. */
void public_tcp_share(struct tunnel *t, struct tunnel *pool);
/* t gives up its port: its connections close (their streams are reset). heir NULL: the port
 * closes too; else heir, another tunnel of t's pool, keeps it open for the rest. */
void public_tcp_unbind(struct tunnel *t, struct tunnel *heir);

#endif
