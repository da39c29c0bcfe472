/* public_hold.c: the waiting room for reconnecting tunnels; see public_hold.h. */
#include "public_hold.h"
#include "pub_req.h"

#include "log.h"
#include "reservations.h"

#include <stdio.h>
#include <string.h>

void
public_hold_leave(struct pub_req *req)
{
    if (!req->held)
        return;
    req->held = 0;
    TAILQ_REMOVE(&req->srv->held, req, hold_entry);
    req->srv->nheld--;
}

void
public_hold_page(const struct pub_req *req, const char *why, struct error_page *page)
{
    error_page_set(page, 503, "Tunnel Reconnecting",
                   "The tunnel %s is reconnecting: its client lost its connection to this "
                   "gateway and %s. Try again in a few seconds; if it is yours, see the "
                   "terminal where ngrnotok runs.",
                   req->label, why);
}

enum public_hold_verdict
public_hold_admit(struct pub_req *req, const char *label, size_t len, int closing,
                  uint64_t *wait_ms)
{
    struct server *srv = req->srv;
    struct pub_req *o;
    char slot[NGR_SLOT_LEN];
    int64_t left = 0;
    size_t same = 0;

    if (srv->cfg.hold_requests_ms == 0 || len >= sizeof(req->label))
        return PUBLIC_HOLD_NONE;
    snprintf(slot, sizeof(slot), "http:%.*s", (int)len, label);
    if (closing) /* in use until the end of this turn, then kept for the grace */
        left = (int64_t)srv->cfg.reconnect_grace_ms;
    else if (reservations_owner(&srv->res, slot, NULL, reservations_now(), &left) !=
             RESERVATION_OTHER)
        return PUBLIC_HOLD_NONE;
    if (left <= 0)
        return PUBLIC_HOLD_NONE;
    memcpy(req->label, label, len);
    req->label[len] = '\0';
    TAILQ_FOREACH(o, &srv->held, hold_entry)
        same += strcmp(o->label, req->label) == 0;
    if (srv->nheld >= NGR_HOLD_MAX || same >= NGR_HOLD_PER_TUNNEL)
        return PUBLIC_HOLD_FULL;
    if (same == 0)
        log_info("http: %s: requests held for its reconnecting client (up to %.1f s)", req->label,
                 (double)srv->cfg.hold_requests_ms / 1000);
    req->held = 1;
    TAILQ_INSERT_TAIL(&srv->held, req, hold_entry);
    srv->nheld++;
    srv->metrics.held++;
    /* Not past the reservation: a client that cannot come back any more will not. */
    *wait_ms = (uint64_t)left < srv->cfg.hold_requests_ms ? (uint64_t)left
                                                          : srv->cfg.hold_requests_ms;
    return PUBLIC_HOLD_WAIT;
}

struct pub_req *
public_hold_take(struct server *srv, const char *name)
{
    struct pub_req *req;

    TAILQ_FOREACH(req, &srv->held, hold_entry)
        if (name == NULL || strcmp(req->label, name) == 0) {
            public_hold_leave(req);
            return req;
        }
    return NULL;
}
