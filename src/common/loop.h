/* loop.h: the one event loop of a process: epoll for descriptors, a heap of timers on
 * CLOCK_MONOTONIC, a hook run at the end of every turn (run libmicrohttpd and libcurl), and
 * deferred work run after the hook (write queued output, free what closed this turn).
 *
 * Callbacks run on the loop's thread and must not block. A callback may add, change or remove
 * any watch or timer, its own included. */
#ifndef NGR_LOOP_H
#define NGR_LOOP_H

#include <stdint.h>
#include <sys/queue.h>

struct loop;

/* Events, a subset of epoll's. */
#define LOOP_READ 0x1
#define LOOP_WRITE 0x4
#define LOOP_ERR 0x8      /* EPOLLERR: reported whether asked for or not */
#define LOOP_HUP_ALL 0x10 /* EPOLLHUP: both directions closed; reported always */
#define LOOP_HUP 0x2000   /* EPOLLRDHUP: the peer shut its side */

typedef void (*loop_io_cb)(void *arg, uint32_t events);
typedef void (*loop_timer_cb)(void *arg);
typedef void (*loop_turn_cb)(void *arg);
typedef void (*loop_defer_cb)(void *arg);

/* A watch on one descriptor; embedded in its owner, which outlives the watch. */
struct loop_io {
    int fd;
    uint32_t events;
    loop_io_cb cb;
    void *arg;
};

/* A timer; embedded in its owner. heap_index is -1 while not armed. */
struct loop_timer {
    uint64_t when_ms;
    long heap_index;
    loop_timer_cb cb;
    void *arg;
};

/* Work deferred to the end of the turn; embedded in its owner, which outlives it. The one way
 * to free an object that an event of the current epoll batch may still name: close it now,
 * defer its free. */
struct loop_defer {
    TAILQ_ENTRY(loop_defer) entry;
    loop_defer_cb cb;
    void *arg;
    int queued;
};

/* Returns a new loop; free with loop_free, which first runs the deferrals still queued (the
 * last frees of what closed). NULL if epoll_create1 fails. */
struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Starts, changes or stops watching io->fd. events 0 keeps the fd registered but quiet.
 * Return 0 or NGR_ESYS. */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_cb cb,
                void *arg);
int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events);
void loop_io_del(struct loop *l, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg);
/* Arms (or re-arms) t to fire once, after ms milliseconds. Returns 0 or NGR_ENOMEM. */
int loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
static inline int
loop_timer_armed(const struct loop_timer *t)
{
    return t->heap_index >= 0;
}

/* Called once at the end of every turn, after all events and timers. */
void loop_set_turn_hook(struct loop *l, loop_turn_cb cb, void *arg);

void loop_defer_init(struct loop_defer *d, loop_defer_cb cb, void *arg);
/* Queues d to run once after this turn's hook, in the order queued; a deferral queued while
 * deferrals run runs in the same turn. Does nothing if d is queued already. */
void loop_defer(struct loop *l, struct loop_defer *d);
/* Takes d off the queue if it is there (its owner is freed another way). */
void loop_defer_cancel(struct loop *l, struct loop_defer *d);
/* Runs every queued deferral now: at shutdown, after the loop stopped, and in tests. */
void loop_run_deferred(struct loop *l);
/* Makes the next wait return at once (the turn hook has work to redo). */
void loop_wake(struct loop *l);
/* A further limit on the next wait, in ms (libmicrohttpd's and libcurl's timeouts). */
void loop_limit_wait(struct loop *l, uint64_t ms);

/* Milliseconds on CLOCK_MONOTONIC, cached at the start of each turn. */
uint64_t loop_now(struct loop *l);
uint64_t loop_clock_ms(void);
/* Microseconds on CLOCK_MONOTONIC, read now (not cached): round trips on a fast link. */
uint64_t loop_clock_us(void);

/* Runs until loop_stop; returns 0, or NGR_ESYS if epoll_wait fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
