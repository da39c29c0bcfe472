/* public_hold.c: requests held for a reconnecting tunnel; see public_hold.h. */
#include "public_hold.h"
#include "pub_req.h"

#include "log.h"
#include "reservations.h"

#include <stdio.h>
#include <string.h>

static void
public_hold_off(struct pub_req *req)
{
    if (!req->held)
        return;
    req->held = 0;
    loop_timer_stop(req->srv->loop, &req->hold_timer);
    TAILQ_REMOVE(&req->srv->held, req, hold_entry);
    req->srv->nheld--;
}

/* The 503 of a request whose tunnel is not back (in time, or room to wait). */
static void
public_hold_refuse(struct pub_req *req, const char *why)
{
    struct error_page page;

    error_page_set(&page, 503, "Tunnel Reconnecting",
                   "The tunnel %s is reconnecting: its client lost its connection to this "
                   "gateway and %s. Try again in a few seconds.",
                   req->label, why);
    req->retry_after = NGR_HOLD_RETRY_AFTER_S;
    public_http_abort(req, FRAME_CODE_NONE, NULL, &page);
}

static void
public_hold_on_timeout(void *arg)
{
    struct pub_req *req = arg;
    char why[64];

    public_hold_off(req);
    snprintf(why, sizeof(why), "was not back within %.1f s",
             (double)req->srv->cfg.hold_requests_ms / 1000);
    log_info("http: %s: a held request timed out", req->label);
    public_hold_refuse(req, why);
}

int
public_hold_try(struct pub_req *req, const char *label, size_t len)
{
    struct server *srv = req->srv;
    struct pub_req *o;
    char slot[NGR_SLOT_LEN];
    int64_t left = 0;
    size_t same = 0;

    if (srv->cfg.hold_requests_ms == 0 || len >= sizeof(req->label))
        return 0;
    snprintf(slot, sizeof(slot), "http:%.*s", (int)len, label);
    if (reservations_owner(&srv->res, slot, NULL, reservations_now(), &left) !=
            RESERVATION_OTHER ||
        left <= 0)
        return 0;
    memcpy(req->label, label, len);
    req->label[len] = '\0';
    TAILQ_FOREACH(o, &srv->held, hold_entry)
        same += strcmp(o->label, req->label) == 0;
    if (srv->nheld >= NGR_HOLD_MAX || same >= NGR_HOLD_PER_TUNNEL) {
        public_hold_refuse(req, "too many requests already wait for it");
        return 1;
    }
    if (same == 0)
        log_info("http: %s: requests held for its reconnecting client (up to %.1f s)", req->label,
                 (double)srv->cfg.hold_requests_ms / 1000);
    req->held = 1;
    TAILQ_INSERT_TAIL(&srv->held, req, hold_entry);
    srv->nheld++;
    loop_timer_init(&req->hold_timer, public_hold_on_timeout, req);
    /* Not past the reservation: a client that cannot come back any more will not. */
    loop_timer_start(srv->loop, &req->hold_timer,
                     (uint64_t)left < srv->cfg.hold_requests_ms ? (uint64_t)left
                                                                : srv->cfg.hold_requests_ms);
    public_http_suspend(req);
    return 1;
}

void
public_hold_release(struct server *srv, const char *name)
{
    struct pub_req *req, *next;

    for (req = TAILQ_FIRST(&srv->held); req != NULL; req = next) {
        next = TAILQ_NEXT(req, hold_entry);
        if (strcmp(req->label, name) != 0)
            continue;
        /* Suspended in its first call, it gets a first call again (libmicrohttpd keeps it in
         * HEADERS_PROCESSED), still PUB_REQ_NEW: routed anew, it finds the tunnel. */
        public_hold_off(req);
        public_http_wake(req);
    }
}

void
public_hold_refuse_all(struct server *srv)
{
    struct pub_req *req;

    while ((req = TAILQ_FIRST(&srv->held)) != NULL) {
        public_hold_off(req);
        public_hold_refuse(req, "this gateway is restarting");
    }
}

void
public_hold_forget(struct pub_req *req)
{
    public_hold_off(req);
}
