/* window.c: receive-window sizing and memory budgets; see window.h. */
#include "window.h"
#include "limits.h"

void
window_budget_init(struct window_budget *b, uint64_t limit)
{
    b->limit = limit;
    b->used = 0;
}

int
window_budget_take(struct window_budget *b, uint64_t n)
{
    if (n > b->limit || b->used > b->limit - n)
        return NGR_ELIMIT;
    b->used += n;
    return 0;
}

void
window_budget_give(struct window_budget *b, uint64_t n)
{
    b->used = n < b->used ? b->used - n : 0;
}

uint64_t
window_budget_room(const struct window_budget *b)
{
    return b->used < b->limit ? b->limit - b->used : 0;
}

void
recv_window_init(struct recv_window *w, uint32_t base, uint64_t now_us)
{
    w->size = w->base = base;
    w->excess = 0;
    w->epoch_us = now_us;
    w->drained = 0;
}

uint32_t
recv_window_on_drain(struct recv_window *w, uint32_t n, uint64_t now_us, uint64_t rtt_us,
                     uint32_t room)
{
    uint64_t elapsed, grow;

    w->drained += n;
    /* One verdict per quarter window drained: over less, one read's burst would decide. */
    if (w->drained < w->size / 4)
        return 0;
    elapsed = now_us - w->epoch_us;
    grow = 0;
    /* Rate above size / (2 rtt): drained * 2 * rtt > size * elapsed. A shrinking window
     * (excess) does not grow until it is back at its base. */
    if (w->excess == 0 && rtt_us > 0 && w->drained * 2 * rtt_us > (uint64_t)w->size * elapsed) {
        /* Then the window becomes what the measured rate needs over two round trips (the
         * bandwidth-delay product, twice), so a fast link is reached in one step rather than
         * by doublings a round trip apart: at least twice, at most NGR_WINDOW_GROWTH times
         * its size (a quarter drained at once says little about the rate). */
        uint64_t want = elapsed > 0 ? w->drained * 2 * rtt_us / elapsed : UINT64_MAX;
        uint64_t lo = 2 * (uint64_t)w->size, hi = NGR_WINDOW_GROWTH * (uint64_t)w->size;
        want = want < lo ? lo : want > hi ? hi : want;
        grow = want - w->size;
    }
    w->epoch_us = now_us;
    w->drained = 0;
    if (grow > NGR_STREAM_WINDOW_MAX - (uint64_t)w->size)
        grow = NGR_STREAM_WINDOW_MAX - (uint64_t)w->size;
    if (grow > room)
        grow = room;
    return (uint32_t)grow;
}

void
recv_window_idle(struct recv_window *w, uint64_t now_us)
{
    w->excess = w->size > w->base ? w->size - w->base : 0;
    w->epoch_us = now_us;
    w->drained = 0;
}

uint32_t
recv_window_forfeit(struct recv_window *w, uint32_t n)
{
    uint32_t cut = n < w->excess ? n : w->excess;

    w->excess -= cut;
    w->size -= cut;
    return cut;
}

uint32_t
window_open_size(uint32_t base, uint32_t learned, uint64_t age_ms)
{
    uint64_t halvings = age_ms / NGR_WINDOW_LEARNED_HALF_MS;
    uint32_t w = halvings >= 32 ? 0 : learned >> halvings;

    if (w > NGR_STREAM_WINDOW_OPEN_MAX)
        w = NGR_STREAM_WINDOW_OPEN_MAX;
    return w > base ? w : base;
}
