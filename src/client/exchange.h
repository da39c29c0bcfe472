/* exchange.h: one finished request as the client saw it (struct exchange), and the consumers
 * that hear of each: the live view (live_view.h) and the local inspector (inspect.h). replay.c
 * fills one on the stack when a request ends, answered or not, and publishes it; consumers copy
 * what they keep, since every pointer in it is borrowed for the call (but the capture: see
 * below). */
#ifndef NGR_EXCHANGE_H
#define NGR_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

struct capture;
struct client_tunnel;

struct exchange {
    const struct client_tunnel *tunnel; /* the tunnel it came on */
    const char *method;                 /* "GET", escaped as log_escape does */
    const char *path;                   /* the request target, escaped as log_escape does */
    /* What the visitor got: the local service's status, or the gateway's page for a failure
     * before the head (502, 504); 0 when nobody got an answer (the visitor went away). */
    int status;
    const char *error;   /* NULL: answered in full; else why not, as a person reads it */
    uint64_t started_ms; /* the loop's clock (loop_now) when the OPEN arrived */
    uint64_t head_ms;    /* when the response head went back; 0: it never did */
    uint64_t done_ms;    /* when the request ended */
    uint64_t bytes_in;   /* request body bytes from the visitor */
    uint64_t bytes_out;  /* response body bytes sent back */
    /* The request's heads and bodies while the inspector runs (capture.h): *capture is NULL
     * when there is none. The one consumer that keeps it sets *capture to NULL and owns it;
     * otherwise the request frees it after the call. NULL when nothing was captured. */
    struct capture **capture;
    /* An upgraded connection (a WebSocket: method and path are the request's, status 101 or
     * the service's answer) or a TCP tunnel's connection (method "TCP", path the visitor's
     * address, status 0), reported when it closes: its duration is the connection's, which the
     * request statistics leave out. */
    int raw;
};

/* A consumer: called on the loop's thread, once per finished request. It must not block and
 * must not end the request's stream (the request is already over). */
typedef void (*exchange_cb)(void *arg, const struct exchange *x);

struct exchange_observers {
    struct {
        exchange_cb cb;
        void *arg;
    } list[NGR_EXCHANGE_OBSERVERS];
    size_t n;
};

/* Adds a consumer, heard after those added before it. Returns 0, or NGR_ELIMIT past
 * NGR_EXCHANGE_OBSERVERS. */
NGR_MUST_CHECK int exchange_observe(struct exchange_observers *o, exchange_cb cb, void *arg);
/* Hands x to every consumer, in order. Cheap when there are none. */
void exchange_publish(const struct exchange_observers *o, const struct exchange *x);

#endif
