/* public_hold.h: the waiting room of public requests held while their tunnel's client
 * reconnects. A request for a name that is kept for its client (reservations.h: the tunnel was
 * lost, its grace runs) waits instead of getting 404: up to --hold-requests, within
 * NGR_HOLD_MAX requests in all and NGR_HOLD_PER_TUNNEL per name (each holds one suspended
 * connection, whose memory libmicrohttpd bounds). When the client binds the name again they
 * are forwarded; otherwise they get 503 with Retry-After and a page that says the tunnel is
 * reconnecting. A request already forwarded when the link broke is not held: it got 502 (it
 * may not be idempotent). This file keeps the room (which requests wait, for which name, how
 * long); public_http.c suspends, wakes and answers them. */
#ifndef NGR_PUBLIC_HOLD_H
#define NGR_PUBLIC_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "error_page.h"
#include "server.h"

struct pub_req;

enum public_hold_verdict {
    PUBLIC_HOLD_NONE, /* no client is reconnecting to that name: 404 */
    PUBLIC_HOLD_FULL, /* one is, but the room is full: 503 (public_hold_page) */
    PUBLIC_HOLD_WAIT, /* held: suspend it, and give up after *wait_ms */
};

/* For a request whose Host names label (len bytes) and no tunnel, or only one whose client is
 * going away this instant (closing: its session closed, the teardown that keeps its name not
 * yet run): the verdict; with PUBLIC_HOLD_WAIT the request is in the room, and *wait_ms says
 * how long it may wait. */
enum public_hold_verdict public_hold_admit(struct pub_req *req, const char *label, size_t len,
                                           int closing, uint64_t *wait_ms);
/* Takes req out of the room (no-op if it is not in it). */
void public_hold_leave(struct pub_req *req);
/* The first held request for name (NULL: any name), taken out of the room; NULL when none. */
struct pub_req *public_hold_take(struct server *srv, const char *name);
/* The 503 page of a held request whose tunnel is not back: why ("was not back within 10 s"). */
void public_hold_page(const struct pub_req *req, const char *why, struct error_page *page);

#endif
