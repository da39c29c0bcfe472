/* test_loop.c: unit tests of the event loop (loop.h): timer order, stop and restart, re-arming,
 * fd watches on pipes and sockets, the turn hook, deferrals, loop_wake and loop_stop. A watchdog
 * ends a test that stops making progress and says what it was waiting for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "loop.h"

#define TEST_LOOP_DEADLINE_S 10

static const char *volatile test_loop_awaiting = "nothing";

static void
test_loop_watchdog(int sig)
{
    char msg[256];
    int n;

    (void)sig;
    n = snprintf(msg, sizeof(msg), "test_loop: no progress in %d s while waiting for %s\n",
                 TEST_LOOP_DEADLINE_S, test_loop_awaiting);
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n);
    _exit(1);
}

/* Arms the watchdog for one loop_run. */
static void
test_loop_await(const char *what)
{
    test_loop_awaiting = what;
    alarm(TEST_LOOP_DEADLINE_S);
}

static int
test_loop_setup(void **state)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = test_loop_watchdog;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return -1;
    *state = loop_new();
    return *state == NULL ? -1 : 0;
}

static int
test_loop_teardown(void **state)
{
    alarm(0);
    loop_free(*state);
    return 0;
}

/* A timer that records the order it fired in and stops the loop after the last. */
struct test_loop_rec {
    struct loop *l;
    struct loop_timer t;
    int id;
    uint64_t when;      /* when_ms as armed */
    uint64_t fired_now; /* loop_now() in the callback */
    int fired;
    int *order;
    int *norder;
    int stop_after;            /* stop the loop once *norder reaches this */
    struct loop_timer *victim; /* stopped by this timer's callback, if set */
};

static void
test_loop_rec_cb(void *arg)
{
    struct test_loop_rec *r = arg;

    r->fired++;
    r->fired_now = loop_now(r->l);
    if (loop_timer_armed(&r->t))
        fail_msg("timer %d still armed inside its callback", r->id);
    r->order[(*r->norder)++] = r->id;
    if (r->victim != NULL)
        loop_timer_stop(r->l, r->victim);
    if (*r->norder == r->stop_after)
        loop_stop(r->l);
}

static void
test_loop_timers_in_order(void **state)
{
    static const uint64_t ms[] = {30, 10, 20, 1, 15, 5, 25, 2};
    enum { N = sizeof(ms) / sizeof(ms[0]) };
    struct loop *l = *state;
    struct test_loop_rec r[N];
    int order[N], norder = 0, i;
    uint64_t start = loop_now(l);

    memset(r, 0, sizeof(r));
    for (i = 0; i < N; i++) {
        r[i].l = l;
        r[i].id = i;
        r[i].order = order;
        r[i].norder = &norder;
        r[i].stop_after = N;
        loop_timer_init(&r[i].t, test_loop_rec_cb, &r[i]);
        assert_false(loop_timer_armed(&r[i].t));
        assert_int_equal(loop_timer_start(l, &r[i].t, ms[i]), 0);
        assert_true(loop_timer_armed(&r[i].t));
        r[i].when = r[i].t.when_ms;
    }
    test_loop_await("8 timers of 1 to 30 ms");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(norder, N);
    for (i = 1; i < N; i++)
        if (ms[order[i - 1]] > ms[order[i]])
            fail_msg("timer of %u ms fired before one of %u ms", (unsigned)ms[order[i - 1]],
                     (unsigned)ms[order[i]]);
    for (i = 0; i < N; i++) {
        assert_int_equal(r[i].fired, 1);
        assert_false(loop_timer_armed(&r[i].t));
        /* Never early: the loop's clock had reached the deadline. */
        assert_true(r[i].fired_now >= start + ms[i]);
    }
}

static void
test_loop_timer_stop_restart(void **state)
{
    struct loop *l = *state;
    struct test_loop_rec a, b, c;
    int order[8], norder = 0;

    memset(&a, 0, sizeof(a));
    a.l = l;
    a.order = order;
    a.norder = &norder;
    a.stop_after = -1;
    b = a;
    c = a;
    a.id = 1;
    b.id = 2;
    c.id = 3;
    c.stop_after = 2;
    loop_timer_init(&a.t, test_loop_rec_cb, &a);
    loop_timer_init(&b.t, test_loop_rec_cb, &b);
    loop_timer_init(&c.t, test_loop_rec_cb, &c);

    /* Stopped before it fires: never fires. Stopping twice, or an unarmed timer, is harmless. */
    loop_timer_stop(l, &a.t);
    assert_int_equal(loop_timer_start(l, &a.t, 2), 0);
    loop_timer_stop(l, &a.t);
    loop_timer_stop(l, &a.t);
    assert_false(loop_timer_armed(&a.t));
    /* Re-armed sooner: fires once, at the new time. */
    assert_int_equal(loop_timer_start(l, &b.t, 5000), 0);
    assert_int_equal(loop_timer_start(l, &c.t, 30), 0);
    assert_int_equal(loop_timer_start(l, &b.t, 3), 0);
    test_loop_await("a timer re-armed from 5 s to 3 ms, then one of 30 ms");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(a.fired, 0);
    assert_int_equal(b.fired, 1);
    assert_int_equal(c.fired, 1);
    assert_int_equal(norder, 2);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 3);
}

/* Two timers due in the same turn, each stopping the other: only the first runs. */
static void
test_loop_timer_stops_other(void **state)
{
    struct loop *l = *state;
    struct test_loop_rec a, b, c;
    int order[8], norder = 0;

    memset(&a, 0, sizeof(a));
    a.l = l;
    a.order = order;
    a.norder = &norder;
    a.stop_after = -1;
    b = a;
    c = a;
    a.id = 1;
    b.id = 2;
    c.id = 3;
    loop_timer_init(&a.t, test_loop_rec_cb, &a);
    loop_timer_init(&b.t, test_loop_rec_cb, &b);
    loop_timer_init(&c.t, test_loop_rec_cb, &c);
    a.victim = &b.t;
    b.victim = &a.t;
    c.stop_after = 2;
    assert_int_equal(loop_timer_start(l, &a.t, 5), 0);
    assert_int_equal(loop_timer_start(l, &b.t, 5), 0);
    assert_int_equal(loop_timer_start(l, &c.t, 25), 0);
    test_loop_await("two timers of 5 ms and one of 25 ms");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(a.fired + b.fired, 1);
    assert_int_equal(c.fired, 1);
}

/* Many timers at random (fixed seed) times, a third of them stopped: the rest fire once each,
 * in deadline order. Exercises removal from the middle of the heap. */
static void
test_loop_timer_heap(void **state)
{
    enum { N = 600 };
    struct loop *l = *state;
    static struct test_loop_rec r[N + 1];
    static int order[N + 1];
    int norder = 0, i, want = 0;
    uint32_t x = 2463534242u;
    uint64_t last = 0;

    memset(r, 0, sizeof(r));
    for (i = 0; i <= N; i++) {
        r[i].l = l;
        r[i].id = i;
        r[i].order = order;
        r[i].norder = &norder;
        r[i].stop_after = -1;
        loop_timer_init(&r[i].t, test_loop_rec_cb, &r[i]);
    }
    for (i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        assert_int_equal(loop_timer_start(l, &r[i].t, 1 + x % 40), 0);
        /* now and then re-arm an earlier one */
        if (i > 0 && x % 7 == 0)
            assert_int_equal(loop_timer_start(l, &r[x % i].t, 1 + (x >> 8) % 40), 0);
    }
    for (i = 0; i < N; i++)
        if ((i * 2654435761u) % 3 == 0)
            loop_timer_stop(l, &r[i].t);
    for (i = 0; i < N; i++)
        want += loop_timer_armed(&r[i].t);
    r[N].stop_after = want + 1;
    assert_int_equal(loop_timer_start(l, &r[N].t, 80), 0);
    test_loop_await("600 timers of up to 40 ms");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(norder, want + 1);
    for (i = 0; i < norder; i++) {
        struct test_loop_rec *f = &r[order[i]];
        if (f->t.when_ms < last)
            fail_msg("timer due at %llu fired after one due at %llu",
                     (unsigned long long)f->t.when_ms, (unsigned long long)last);
        last = f->t.when_ms;
        assert_int_equal(f->fired, 1);
    }
    for (i = 0; i < N; i++)
        if ((i * 2654435761u) % 3 == 0)
            assert_int_equal(r[i].fired, 0);
}

/* A timer that re-arms itself for "now" runs once per turn, not in a loop inside one turn. */
struct test_loop_rearm {
    struct loop *l;
    struct loop_timer t;
    int fired;
    int turns;
    int turn_of_last_fire;
};

static void
test_loop_rearm_cb(void *arg)
{
    struct test_loop_rearm *r = arg;

    if (r->fired > 0 && r->turn_of_last_fire == r->turns)
        fail_msg("re-armed timer fired twice in turn %d", r->turns);
    r->turn_of_last_fire = r->turns;
    if (++r->fired == 5) {
        loop_stop(r->l);
        return;
    }
    assert_int_equal(loop_timer_start(r->l, &r->t, 0), 0);
}

static void
test_loop_rearm_turn(void *arg)
{
    struct test_loop_rearm *r = arg;

    r->turns++;
}

static void
test_loop_timer_rearm(void **state)
{
    struct loop *l = *state;
    struct test_loop_rearm r;

    memset(&r, 0, sizeof(r));
    r.l = l;
    loop_timer_init(&r.t, test_loop_rearm_cb, &r);
    loop_set_turn_hook(l, test_loop_rearm_turn, &r);
    assert_int_equal(loop_timer_start(l, &r.t, 0), 0);
    test_loop_await("a timer re-arming itself 5 times");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(r.fired, 5);
    assert_false(loop_timer_armed(&r.t));
    assert_true(r.turns >= 5);
}

/* fd watches. */
struct test_loop_io {
    struct loop *l;
    struct loop_io io;
    int fd;
    int calls;
    uint32_t events;
    char got[16];
    size_t ngot;
    int stop;               /* stop the loop on the first call */
    struct loop_io *victim; /* deleted by this watch's callback */
};

static void
test_loop_io_cb(void *arg, uint32_t events)
{
    struct test_loop_io *w = arg;
    ssize_t n;

    w->calls++;
    w->events |= events;
    if (events & LOOP_READ) {
        n = read(w->fd, w->got + w->ngot, sizeof(w->got) - w->ngot);
        if (n > 0)
            w->ngot += (size_t)n;
    }
    if (w->victim != NULL)
        loop_io_del(w->l, w->victim);
    if (w->stop)
        loop_stop(w->l);
}

struct test_loop_writer {
    struct loop *l;
    struct loop_timer t;
    int fd;
    const char *bytes;
};

static void
test_loop_writer_cb(void *arg)
{
    struct test_loop_writer *w = arg;

    assert_int_equal(write(w->fd, w->bytes, strlen(w->bytes)), (ssize_t)strlen(w->bytes));
}

static void
test_loop_stop_cb(void *arg)
{
    loop_stop(arg);
}

static void
test_loop_io_pipe(void **state)
{
    struct loop *l = *state;
    struct test_loop_io rd, wr;
    struct test_loop_writer w;
    struct loop_timer stop;
    int p[2];

    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    memset(&rd, 0, sizeof(rd));
    rd.l = l;
    rd.fd = p[0];
    rd.stop = 1;
    assert_int_equal(loop_io_add(l, &rd.io, p[0], LOOP_READ, test_loop_io_cb, &rd), 0);
    assert_int_equal(rd.io.fd, p[0]);
    /* Nothing to read yet: a timer writes, from inside the loop. */
    memset(&w, 0, sizeof(w));
    w.fd = p[1];
    w.bytes = "ab";
    loop_timer_init(&w.t, test_loop_writer_cb, &w);
    assert_int_equal(loop_timer_start(l, &w.t, 2), 0);
    test_loop_await("the pipe to become readable");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(rd.calls, 1);
    assert_true(rd.events & LOOP_READ);
    assert_int_equal(rd.ngot, 2);
    assert_memory_equal(rd.got, "ab", 2);
    loop_free(l);

    /* Events 0: registered but quiet, though there is data. Then back on. */
    l = *state = loop_new();
    assert_non_null(l);
    rd.l = l;
    rd.calls = 0;
    rd.stop = 0;
    assert_int_equal(loop_io_add(l, &rd.io, p[0], 0, test_loop_io_cb, &rd), 0);
    assert_int_equal(write(p[1], "c", 1), 1);
    loop_timer_init(&stop, test_loop_stop_cb, l);
    assert_int_equal(loop_timer_start(l, &stop, 20), 0);
    test_loop_await("20 ms with a quiet watch");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(rd.calls, 0);
    loop_free(l);

    l = *state = loop_new();
    assert_non_null(l);
    rd.l = l;
    rd.stop = 1;
    assert_int_equal(loop_io_add(l, &rd.io, p[0], 0, test_loop_io_cb, &rd), 0);
    assert_int_equal(loop_io_mod(l, &rd.io, LOOP_READ), 0);
    assert_int_equal(loop_io_mod(l, &rd.io, LOOP_READ), 0); /* no change is fine */
    test_loop_await("the pipe's pending byte after loop_io_mod");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(rd.calls, 1);
    assert_int_equal(rd.ngot, 3);
    assert_int_equal(rd.got[2], 'c');

    /* The write end is writable at once. */
    memset(&wr, 0, sizeof(wr));
    loop_io_del(l, &rd.io);
    assert_int_equal(rd.io.fd, -1);
    loop_io_del(l, &rd.io); /* twice is harmless */
    loop_free(l);
    l = *state = loop_new();
    assert_non_null(l);
    wr.l = l;
    wr.fd = p[1];
    wr.stop = 1;
    assert_int_equal(loop_io_add(l, &wr.io, p[1], LOOP_WRITE, test_loop_io_cb, &wr), 0);
    test_loop_await("the pipe's write end to be writable");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(wr.calls, 1);
    assert_true(wr.events & LOOP_WRITE);
    loop_io_del(l, &wr.io);
    close(p[0]);
    close(p[1]);

    /* A closed descriptor cannot be added. */
    assert_int_equal(loop_io_add(l, &rd.io, p[0], LOOP_READ, test_loop_io_cb, &rd), NGR_ESYS);
}

/* The peer shutting its side is reported as LOOP_HUP. */
static void
test_loop_io_hup(void **state)
{
    struct loop *l = *state;
    struct test_loop_io s;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    memset(&s, 0, sizeof(s));
    s.l = l;
    s.fd = sv[0];
    s.stop = 1;
    assert_int_equal(loop_io_add(l, &s.io, sv[0], LOOP_READ | LOOP_HUP, test_loop_io_cb, &s), 0);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    test_loop_await("LOOP_HUP after the peer's shutdown");
    assert_int_equal(loop_run(l), 0);
    assert_true(s.events & LOOP_HUP);
    loop_io_del(l, &s.io);
    close(sv[0]);
    close(sv[1]);
}

/* Two watches ready in the same turn, each removing the other: only the first runs. */
static void
test_loop_io_del_in_turn(void **state)
{
    struct loop *l = *state;
    struct test_loop_io a, b;
    struct loop_timer stop;
    int p[2], q[2];

    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.l = b.l = l;
    a.fd = p[0];
    b.fd = q[0];
    a.victim = &b.io;
    b.victim = &a.io;
    assert_int_equal(loop_io_add(l, &a.io, p[0], LOOP_READ, test_loop_io_cb, &a), 0);
    assert_int_equal(loop_io_add(l, &b.io, q[0], LOOP_READ, test_loop_io_cb, &b), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(write(q[1], "y", 1), 1);
    loop_timer_init(&stop, test_loop_stop_cb, l);
    assert_int_equal(loop_timer_start(l, &stop, 20), 0);
    test_loop_await("two readable pipes, then a 20 ms timer");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(a.calls + b.calls, 1);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

/* The turn hook runs after the timers of its turn; loop_wake makes the next wait return at once,
 * so a hook with more to do is not stuck behind an idle epoll_wait. */
struct test_loop_turns {
    struct loop *l;
    struct loop_timer t;
    int turns;
    int timer_fired;
    int timer_seen_by_hook;
    int limit_wait;
};

static void
test_loop_turns_timer(void *arg)
{
    struct test_loop_turns *s = arg;

    s->timer_fired = s->turns + 1;
}

static void
test_loop_turns_hook(void *arg)
{
    struct test_loop_turns *s = arg;

    s->turns++;
    if (s->timer_fired == s->turns)
        s->timer_seen_by_hook = 1;
    if (s->turns == 5) {
        loop_stop(s->l);
        return;
    }
    if (s->limit_wait)
        loop_limit_wait(s->l, 1);
    else
        loop_wake(s->l);
}

static void
test_loop_turn_hook_wake(void **state)
{
    struct loop *l = *state;
    struct test_loop_turns s;

    memset(&s, 0, sizeof(s));
    s.l = l;
    loop_timer_init(&s.t, test_loop_turns_timer, &s);
    assert_int_equal(loop_timer_start(l, &s.t, 1), 0);
    loop_set_turn_hook(l, test_loop_turns_hook, &s);
    test_loop_await("5 turns kept going by loop_wake");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(s.turns, 5);
    assert_true(s.timer_seen_by_hook);
}

static void
test_loop_limit_wait(void **state)
{
    struct loop *l = *state;
    struct test_loop_turns s;

    memset(&s, 0, sizeof(s));
    s.l = l;
    s.limit_wait = 1;
    loop_set_turn_hook(l, test_loop_turns_hook, &s);
    /* No fd, no timer: without the 1 ms limit each wait would never end. The hook sets it for
     * the turns after the first; the first is limited here, as an owner does at startup. */
    loop_limit_wait(l, 1);
    test_loop_await("5 turns kept going by loop_limit_wait(1)");
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(s.turns, 5);
}

/* loop_stop from a callback ends loop_run after that turn, with the hook run once more. */
static void
test_loop_stop(void **state)
{
    struct loop *l = *state;
    struct loop_timer stop;
    struct test_loop_turns s;
    uint64_t t0 = loop_clock_ms();

    memset(&s, 0, sizeof(s));
    s.l = l;
    s.turns = -1000; /* the hook only counts */
    loop_set_turn_hook(l, test_loop_turns_hook, &s);
    loop_timer_init(&stop, test_loop_stop_cb, l);
    assert_int_equal(loop_timer_start(l, &stop, 3), 0);
    test_loop_await("loop_stop from a 3 ms timer");
    assert_int_equal(loop_run(l), 0);
    assert_true(s.turns > -1000);
    /* The turn that stopped was the timer's: the loop's clock is past its 3 ms. */
    assert_true(loop_now(l) >= t0 + 3);
    /* Freeing a loop with armed timers and no hook is fine; so is NULL. */
    loop_free(NULL);
}

/* A timer counts from when it is armed (loop_timer_start reads the clock), not from the loop's
 * cached time, which before the first loop_run is the time of loop_new: startup that took 60 ms
 * must not make a 100 ms timer armed after it fire early. (A timer never fires before its time,
 * so the lower bound checked here cannot fail by chance.) */
struct test_loop_stale {
    struct loop *l;
    struct loop_timer t;
    uint64_t fired;
    int stop;
};

static void
test_loop_stale_cb(void *arg)
{
    struct test_loop_stale *s = arg;

    s->fired = loop_clock_ms();
    if (s->stop)
        loop_stop(s->l);
}

static void
test_loop_timer_armed_before_run(void **state)
{
    struct loop *l = *state;
    struct test_loop_stale a, b;
    uint64_t t0 = loop_clock_ms(), armed;

    /* Startup work that takes 60 ms (a blocking resolve, say). */
    while (loop_clock_ms() < t0 + 60)
        (void)poll(NULL, 0, (int)(t0 + 60 - loop_clock_ms()));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.l = b.l = l;
    b.stop = 1;
    loop_timer_init(&a.t, test_loop_stale_cb, &a);
    loop_timer_init(&b.t, test_loop_stale_cb, &b);
    armed = loop_clock_ms();
    assert_int_equal(loop_timer_start(l, &a.t, 5), 0);
    assert_int_equal(loop_timer_start(l, &b.t, 100), 0);
    test_loop_await("timers of 5 and 100 ms armed before loop_run");
    assert_int_equal(loop_run(l), 0);
    if (b.fired < armed + 100)
        fail_msg("100 ms timer fired after %llu ms", (unsigned long long)(b.fired - armed));
}

/* Deferrals: after the turn hook, in the order queued, each once however often it was queued;
 * one queued while deferrals run runs in the same turn; a cancelled one never runs; one may free
 * the object it is embedded in (ASan watches); loop_run_deferred runs what is left. */
struct test_loop_deferred {
    struct loop *l;
    struct loop_defer d;
    char name;
    char *log; /* the order the deferrals ran in, with the hook as 'H' and turns as '|' */
    struct test_loop_deferred *queue_next; /* queued by this one when it runs */
    int free_self;
};

static void
test_loop_log(char *log, char c)
{
    size_t n = strlen(log);

    assert_true(n + 1 < 64);
    log[n] = c;
    log[n + 1] = '\0';
}

static void
test_loop_deferred_cb(void *arg)
{
    struct test_loop_deferred *x = arg;

    test_loop_log(x->log, x->name);
    if (x->queue_next != NULL)
        loop_defer(x->l, &x->queue_next->d);
    if (x->free_self)
        free(x);
}

struct test_loop_defer_env {
    struct loop *l;
    struct test_loop_deferred a, b, c, cancelled;
    char log[64];
    int turns;
};

static void
test_loop_defer_hook(void *arg)
{
    struct test_loop_defer_env *e = arg;

    if (e->turns++ > 0) {
        test_loop_log(e->log, '|');
        loop_stop(e->l);
        return;
    }
    test_loop_log(e->log, 'H');
    /* Queued in the hook: they run after it, before the next wait. */
    loop_defer(e->l, &e->b.d);
    loop_defer(e->l, &e->a.d);
    loop_defer(e->l, &e->b.d); /* already queued: no second run */
    loop_defer(e->l, &e->cancelled.d);
    loop_defer_cancel(e->l, &e->cancelled.d);
    loop_defer_cancel(e->l, &e->cancelled.d); /* not queued: nothing happens */
    loop_wake(e->l);
}

static void
test_loop_defer_init(struct test_loop_defer_env *e, struct test_loop_deferred *x, char name)
{
    x->l = e->l;
    x->name = name;
    x->log = e->log;
    loop_defer_init(&x->d, test_loop_deferred_cb, x);
}

static void
test_loop_defer(void **state)
{
    struct test_loop_defer_env e;
    struct test_loop_deferred *owned = calloc(1, sizeof(*owned));

    memset(&e, 0, sizeof(e));
    e.l = *state;
    test_loop_defer_init(&e, &e.a, 'a');
    test_loop_defer_init(&e, &e.b, 'b');
    test_loop_defer_init(&e, &e.c, 'c');
    test_loop_defer_init(&e, &e.cancelled, 'x');
    assert_non_null(owned);
    test_loop_defer_init(&e, owned, 'o');
    owned->free_self = 1;
    e.a.queue_next = &e.c; /* a queues c while the deferrals run */
    e.c.queue_next = owned;
    loop_set_turn_hook(e.l, test_loop_defer_hook, &e);
    loop_wake(e.l); /* nothing to wait for: the first turn starts at once */
    test_loop_await("a turn with deferrals, then one more");
    assert_int_equal(loop_run(e.l), 0);
    assert_string_equal(e.log, "Hbaco|");
    assert_false(e.a.d.queued);
    assert_false(e.cancelled.d.queued);

    /* After the loop stopped, loop_run_deferred runs what is still queued, in order. */
    e.log[0] = '\0';
    e.a.queue_next = NULL;
    loop_defer(e.l, &e.c.d);
    e.c.queue_next = &e.a; /* and what they queue */
    loop_defer(e.l, &e.b.d);
    loop_run_deferred(e.l);
    assert_string_equal(e.log, "cba");
    loop_run_deferred(e.l); /* nothing left */
    assert_string_equal(e.log, "cba");

    /* Freeing the loop runs what is still queued: a last free is never lost. */
    e.log[0] = '\0';
    e.c.queue_next = NULL;
    loop_defer(e.l, &e.c.d);
    loop_free(e.l);
    *state = loop_new();
    assert_non_null(*state);
    assert_string_equal(e.log, "c");
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loop_timers_in_order, test_loop_setup,
                                        test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_timer_stop_restart, test_loop_setup,
                                        test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_timer_stops_other, test_loop_setup,
                                        test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_timer_heap, test_loop_setup, test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_timer_rearm, test_loop_setup, test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_io_pipe, test_loop_setup, test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_io_hup, test_loop_setup, test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_io_del_in_turn, test_loop_setup,
                                        test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_turn_hook_wake, test_loop_setup,
                                        test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_limit_wait, test_loop_setup, test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_stop, test_loop_setup, test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_timer_armed_before_run, test_loop_setup,
                                        test_loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_defer, test_loop_setup, test_loop_teardown),
    };

    return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
