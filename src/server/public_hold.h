/* public_hold.h: public requests held while their tunnel's client reconnects. A request for a
 * name that is kept for its client (reservations.h: the tunnel was lost, its grace runs) waits
 * instead of getting 404: up to --hold-requests, within NGR_HOLD_MAX requests in all and
 * NGR_HOLD_PER_TUNNEL per name (each holds one suspended connection, whose memory
 * libmicrohttpd bounds). When the client binds the name again they are forwarded; otherwise
 * they get 503 with Retry-After and a page that says the tunnel is reconnecting. A request
 * already forwarded when the link broke is not held: it got 502 (it may not be idempotent). */
#ifndef NGR_PUBLIC_HOLD_H
#define NGR_PUBLIC_HOLD_H

#include <stddef.h>

#include "server.h"

struct pub_req;

/* For a request whose Host names label (len bytes) and no tunnel: 1 if it is held (or, over
 * the limits, refused with 503), 0 if no client is reconnecting to that name. */
int public_hold_try(struct pub_req *req, const char *label, size_t len);
/* A tunnel bound name: its held requests are resumed, to be routed to it. */
void public_hold_release(struct server *srv, const char *name);
/* SIGTERM's drain: every held request gets its 503 now (no client comes back to this
 * gateway). */
void public_hold_refuse_all(struct server *srv);
/* The request ends (its client went, the gateway stops) while held. */
void public_hold_forget(struct pub_req *req);

#endif
