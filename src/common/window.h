/* window.h: how large a receive window is. A stream's window grows while its reader keeps up
 * with the link and shrinks back once the stream is idle, and every window is paid for from
 * memory budgets: one per session and one for the whole process. The session applies what
 * these functions decide (session.c); docs/protocol.md section 13 has the rules.
 *
 * The model is QUIC's window auto-tuning (Chromium's QuicFlowController): when the reader
 * drains more than half the window per round trip, the window, not the reader or the link,
 * limits the rate, and it grows: to what the measured rate needs over two round trips, as an
 * HTTP/2 BDP estimator would size it, 2 to NGR_WINDOW_GROWTH times. Pure arithmetic: no clock,
 * no I/O. */
#ifndef NGR_WINDOW_H
#define NGR_WINDOW_H

#include <stdint.h>

#include "err.h"

/* Bytes that peers may have sent toward this process's buffers, and the most they may. */
struct window_budget {
    uint64_t limit;
    uint64_t used;
};

void window_budget_init(struct window_budget *b, uint64_t limit);
/* Takes n bytes; returns 0, or NGR_ELIMIT (nothing taken) if that passes the limit. */
NGR_MUST_CHECK int window_budget_take(struct window_budget *b, uint64_t n);
void window_budget_give(struct window_budget *b, uint64_t n);
/* Bytes still free (0 when spent). */
uint64_t window_budget_room(const struct window_budget *b);

/* The window a new stream of a session starts with, in bytes: learned (what earlier streams
 * needed: the size a window grew to, or toward a near peer the body a stream received),
 * halved for every NGR_WINDOW_LEARNED_HALF_MS of age_ms, at least base and at most
 * NGR_STREAM_WINDOW_OPEN_MAX. */
uint32_t window_open_size(uint32_t base, uint32_t learned, uint64_t age_ms);

/* The receive side of one stream's window. */
struct recv_window {
    uint32_t size;     /* bytes the peer may have sent and not had returned */
    uint32_t base;     /* the initial size, where an idle window goes back to */
    uint32_t excess;   /* bytes of size still to give up: drained bytes not returned */
    uint64_t epoch_us; /* start of the current measurement */
    uint64_t drained;  /* bytes drained since epoch_us */
};

void recv_window_init(struct recv_window *w, uint32_t base, uint64_t now_us);
/* The reader drained n bytes at now_us, with rtt_us the session's round trip (0: unknown).
 * Returns how many bytes the window should grow by (0: none), at most room. The caller takes
 * them from its budgets and adds them to size. */
uint32_t recv_window_on_drain(struct recv_window *w, uint32_t n, uint64_t now_us, uint64_t rtt_us,
                              uint32_t room);
/* The stream was idle: from now on the window gives up what it grew (see excess). */
void recv_window_idle(struct recv_window *w, uint64_t now_us);
/* Of n drained bytes about to be returned as credit, how many are kept back to shrink the
 * window instead; size and excess are already lowered by the result. */
uint32_t recv_window_forfeit(struct recv_window *w, uint32_t n);

#endif
