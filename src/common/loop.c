/* loop.c: epoll, a binary heap of timers, an end-of-turn hook and deferred work; see loop.h. */
#include "loop.h"
#include "err.h"
#include "limits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct loop {
    int epfd;
    int stopping;
    uint64_t now;
    struct loop_timer **heap;
    size_t nheap;
    size_t capheap;
    loop_turn_cb turn_cb;
    void *turn_arg;
    int woken;
    uint64_t wait_limit; /* UINT64_MAX: none */
    TAILQ_HEAD(, loop_defer) deferred;
};

uint64_t
loop_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
loop_clock_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct loop *
loop_new(void)
{
    struct loop *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->now = loop_clock_ms();
    l->wait_limit = UINT64_MAX;
    TAILQ_INIT(&l->deferred);
    return l;
}

void
loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    loop_run_deferred(l); /* what closed last is freed, not leaked */
    close(l->epfd);
    free(l->heap);
    free(l);
}

int
loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_cb cb, void *arg)
{
    struct epoll_event ev;

    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->arg = arg;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = io;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return NGR_ESYS;
    return 0;
}

int
loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct epoll_event ev;

    if (io->events == events)
        return 0;
    io->events = events;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = io;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return NGR_ESYS;
    return 0;
}

void
loop_io_del(struct loop *l, struct loop_io *io)
{
    if (io->fd >= 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
}

void
loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg)
{
    t->when_ms = 0;
    t->heap_index = -1;
    t->cb = cb;
    t->arg = arg;
}

static void
loop_heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->heap_index = (long)i;
}

static void
loop_heap_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->when_ms <= t->when_ms)
            break;
        loop_heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    loop_heap_set(l, i, t);
}

static void
loop_heap_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && l->heap[c + 1]->when_ms < l->heap[c]->when_ms)
            c++;
        if (t->when_ms <= l->heap[c]->when_ms)
            break;
        loop_heap_set(l, i, l->heap[c]);
        i = c;
    }
    loop_heap_set(l, i, t);
}

void
loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    size_t i;
    struct loop_timer *last;

    if (t->heap_index < 0)
        return;
    i = (size_t)t->heap_index;
    t->heap_index = -1;
    last = l->heap[--l->nheap];
    if (i == l->nheap)
        return;
    loop_heap_set(l, i, last);
    loop_heap_up(l, i);
    loop_heap_down(l, (size_t)last->heap_index);
}

int
loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms)
{
    loop_timer_stop(l, t);
    if (l->nheap == l->capheap) {
        size_t ncap = l->capheap ? l->capheap * 2 : 64;
        struct loop_timer **h = realloc(l->heap, ncap * sizeof(*h));
        if (h == NULL)
            return NGR_ENOMEM;
        l->heap = h;
        l->capheap = ncap;
    }
    /* At least 1 ms: a timer re-armed for "now" inside its own callback fires next turn. */
    t->when_ms = loop_clock_ms() + (ms > 0 ? ms : 1); /* the clock, not the cached turn time:
                                                       * a timer armed at startup or after a
                                                       * slow callback must not fire early */
    l->nheap++;
    loop_heap_set(l, l->nheap - 1, t);
    loop_heap_up(l, l->nheap - 1);
    return 0;
}

void
loop_set_turn_hook(struct loop *l, loop_turn_cb cb, void *arg)
{
    l->turn_cb = cb;
    l->turn_arg = arg;
}

void
loop_defer_init(struct loop_defer *d, loop_defer_cb cb, void *arg)
{
    d->cb = cb;
    d->arg = arg;
    d->queued = 0;
}

void
loop_defer(struct loop *l, struct loop_defer *d)
{
    if (d->queued)
        return;
    d->queued = 1;
    TAILQ_INSERT_TAIL(&l->deferred, d, entry);
}

void
loop_defer_cancel(struct loop *l, struct loop_defer *d)
{
    if (!d->queued)
        return;
    d->queued = 0;
    TAILQ_REMOVE(&l->deferred, d, entry);
}

void
loop_run_deferred(struct loop *l)
{
    struct loop_defer *d;

    /* Off the queue before the call: the callback may free d's owner, or queue d again. */
    while ((d = TAILQ_FIRST(&l->deferred)) != NULL) {
        TAILQ_REMOVE(&l->deferred, d, entry);
        d->queued = 0;
        d->cb(d->arg);
    }
}

void
loop_wake(struct loop *l)
{
    l->woken = 1;
}

void
loop_limit_wait(struct loop *l, uint64_t ms)
{
    if (ms < l->wait_limit)
        l->wait_limit = ms;
}

uint64_t
loop_now(struct loop *l)
{
    return l->now;
}

void
loop_stop(struct loop *l)
{
    l->stopping = 1;
}

static int
loop_wait_ms(struct loop *l)
{
    uint64_t wait = l->wait_limit;

    if (l->woken)
        return 0;
    if (l->nheap > 0) {
        uint64_t when = l->heap[0]->when_ms;
        uint64_t t = when > l->now ? when - l->now : 0;
        if (t < wait)
            wait = t;
    }
    if (wait == UINT64_MAX)
        return -1;
    return wait > NGR_LOOP_MAX_WAIT_MS ? NGR_LOOP_MAX_WAIT_MS : (int)wait;
}

static void
loop_run_timers(struct loop *l)
{
    uint64_t now = l->now;

    while (l->nheap > 0 && l->heap[0]->when_ms <= now) {
        struct loop_timer *t = l->heap[0];
        loop_timer_stop(l, t);
        t->cb(t->arg);
    }
}

int
loop_run(struct loop *l)
{
    struct epoll_event evs[NGR_LOOP_EVENTS];
    int n, i;

    /* Timers armed before the first turn count from now, not from loop_new. */
    l->now = loop_clock_ms();
    while (!l->stopping) {
        int wait = loop_wait_ms(l);

        l->woken = 0;
        l->wait_limit = UINT64_MAX;
        n = epoll_wait(l->epfd, evs, NGR_LOOP_EVENTS, wait);
        if (n < 0 && errno != EINTR)
            return NGR_ESYS;
        l->now = loop_clock_ms();
        for (i = 0; i < n; i++) {
            struct loop_io *io = evs[i].data.ptr;
            /* The io may have been removed by an earlier callback of this turn; owners that
             * free an io during a turn defer the free (loop_defer). */
            if (io->fd < 0)
                continue;
            io->cb(io->arg, evs[i].events);
        }
        loop_run_timers(l);
        if (l->turn_cb != NULL)
            l->turn_cb(l->turn_arg);
        loop_run_deferred(l);
    }
    return 0;
}
