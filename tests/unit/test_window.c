/* test_window.c: unit tests of receive-window sizing and budgets (window.h): when a window
 * grows, by how much, where it stops, and how an idle one gives back what it grew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "limits.h"
#include "window.h"

#define RTT 100000 /* us: a 100 ms round trip */
#define BASE (256 * 1024)

/* Drains size/4 bytes (one verdict) taking us microseconds; returns the verdict. */
static uint32_t
test_window_quarter(struct recv_window *w, uint64_t *now, uint64_t us, uint32_t room)
{
    uint32_t q = w->size / 4, g;

    *now += us;
    g = recv_window_on_drain(w, q - 1, *now, RTT, room);
    assert_int_equal(g, 0); /* no verdict before a quarter */
    return recv_window_on_drain(w, 1, *now, RTT, room);
}

/* A reader that drains a quarter window in under half a round trip is faster than the window
 * lets it be: the window doubles, once per verdict, up to NGR_STREAM_WINDOW_MAX. */
static void
test_window_grows_while_reader_keeps_up(void **state)
{
    struct recv_window w;
    uint64_t now = 1000000;
    uint32_t g;
    int rounds = 0;

    (void)state;
    recv_window_init(&w, BASE, now);
    while (w.size < NGR_STREAM_WINDOW_MAX) {
        /* The window over a quarter of the round trip per quarter window: the window's rate. */
        g = test_window_quarter(&w, &now, RTT / 4, UINT32_MAX);
        assert_int_equal(g, w.size < NGR_STREAM_WINDOW_MAX / 2 ? w.size
                                                                 : NGR_STREAM_WINDOW_MAX - w.size);
        w.size += g;
        assert_true(++rounds < 20);
    }
    assert_int_equal(w.size, NGR_STREAM_WINDOW_MAX);
    assert_int_equal(rounds, 7); /* 256 KiB to 32 MiB */
    assert_int_equal(test_window_quarter(&w, &now, 0, UINT32_MAX), 0);
}

/* A reader much faster than the window: the window becomes what the measured rate needs over
 * two round trips in one step, up to NGR_WINDOW_GROWTH times its size. */
static void
test_window_grows_to_the_rate_in_one_step(void **state)
{
    struct recv_window w;
    uint64_t now = 0;

    (void)state;
    recv_window_init(&w, BASE, now);
    /* A quarter window in a fortieth of the round trip: ten windows per round trip, so twenty
     * over two. */
    assert_int_equal(test_window_quarter(&w, &now, RTT / 40, UINT32_MAX), 19 * BASE);
    /* All at once: as much as one step allows. */
    recv_window_init(&w, BASE, now);
    assert_int_equal(test_window_quarter(&w, &now, 0, UINT32_MAX),
                     (NGR_WINDOW_GROWTH - 1) * BASE);
}

/* A reader slower than half the window per round trip does not make the window grow. */
static void
test_window_slow_reader_does_not_grow(void **state)
{
    struct recv_window w;
    uint64_t now = 5;
    int i;

    (void)state;
    recv_window_init(&w, BASE, now);
    /* A quarter window per half round trip (and a bit): half the window per round trip. */
    for (i = 0; i < 10; i++)
        assert_int_equal(test_window_quarter(&w, &now, RTT / 2 + 1, UINT32_MAX), 0);
    assert_int_equal(w.size, BASE);
    /* No round trip measured yet: nothing to compare with, no growth. */
    now += 1;
    assert_int_equal(recv_window_on_drain(&w, BASE, now, 0, UINT32_MAX), 0);
}

/* Growth never passes the room the budgets leave. */
static void
test_window_growth_within_room(void **state)
{
    struct recv_window w;
    uint64_t now = 0;

    (void)state;
    recv_window_init(&w, BASE, now);
    assert_int_equal(test_window_quarter(&w, &now, 1, 1000), 1000);
    assert_int_equal(test_window_quarter(&w, &now, 1, 0), 0);
}

/* An idle window gives back what it grew, out of the bytes that would have been returned,
 * and grows again only once it is back at its base. */
static void
test_window_idle_shrinks_back(void **state)
{
    struct recv_window w;
    uint64_t now = 0;

    (void)state;
    recv_window_init(&w, BASE, now);
    w.size += test_window_quarter(&w, &now, RTT / 4, UINT32_MAX);
    w.size += test_window_quarter(&w, &now, RTT / 4, UINT32_MAX);
    assert_int_equal(w.size, 4 * BASE);
    recv_window_idle(&w, now);
    assert_int_equal(w.excess, 3 * BASE);
    assert_int_equal(recv_window_forfeit(&w, BASE), BASE); /* all of it kept back */
    assert_int_equal(w.size, 3 * BASE);
    /* Still shrinking: a fast reader does not grow it. */
    assert_int_equal(test_window_quarter(&w, &now, 1, UINT32_MAX), 0);
    assert_int_equal(recv_window_forfeit(&w, 3 * BASE), 2 * BASE); /* the rest goes back */
    assert_int_equal(w.size, BASE);
    assert_int_equal(w.excess, 0);
    assert_int_equal(recv_window_forfeit(&w, BASE), 0);
    assert_int_equal(test_window_quarter(&w, &now, RTT / 4, UINT32_MAX), BASE);
    /* Idle at its base: nothing to give back. */
    recv_window_init(&w, BASE, now);
    recv_window_idle(&w, now);
    assert_int_equal(w.excess, 0);
}

/* What a new stream starts with: the lesson, halved per NGR_WINDOW_LEARNED_HALF_MS of age,
 * never under the initial window nor over NGR_STREAM_WINDOW_OPEN_MAX. */
static void
test_window_open_size(void **state)
{
    const uint32_t base = NGR_STREAM_WINDOW;

    (void)state;
    assert_int_equal(window_open_size(base, 0, 0), base);
    assert_int_equal(window_open_size(base, base / 2, 0), base);
    assert_int_equal(window_open_size(base, 3 * base, 0), 3 * base);
    assert_int_equal(window_open_size(base, 3 * base, NGR_WINDOW_LEARNED_HALF_MS - 1), 3 * base);
    assert_int_equal(window_open_size(base, 4 * base, NGR_WINDOW_LEARNED_HALF_MS), 2 * base);
    assert_int_equal(window_open_size(base, 4 * base, 3 * NGR_WINDOW_LEARNED_HALF_MS), base);
    assert_int_equal(window_open_size(base, NGR_STREAM_WINDOW_MAX, 0), NGR_STREAM_WINDOW_OPEN_MAX);
    assert_int_equal(window_open_size(base, UINT32_MAX, UINT64_MAX), base);
    assert_int_equal(window_open_size(0, 8 * base, 40 * (uint64_t)NGR_WINDOW_LEARNED_HALF_MS), 0);
}

static void
test_window_budget(void **state)
{
    struct window_budget b;

    (void)state;
    window_budget_init(&b, 100);
    assert_int_equal(window_budget_take(&b, 60), 0);
    assert_int_equal(window_budget_take(&b, 41), NGR_ELIMIT);
    assert_int_equal(b.used, 60);
    assert_int_equal(window_budget_room(&b), 40);
    assert_int_equal(window_budget_take(&b, 40), 0);
    assert_int_equal(window_budget_room(&b), 0);
    assert_int_equal(window_budget_take(&b, UINT64_MAX), NGR_ELIMIT);
    window_budget_give(&b, 30);
    assert_int_equal(b.used, 70);
    window_budget_give(&b, 1000); /* never below zero */
    assert_int_equal(b.used, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_grows_while_reader_keeps_up),
        cmocka_unit_test(test_window_grows_to_the_rate_in_one_step),
        cmocka_unit_test(test_window_slow_reader_does_not_grow),
        cmocka_unit_test(test_window_growth_within_room),
        cmocka_unit_test(test_window_idle_shrinks_back),
        cmocka_unit_test(test_window_open_size),
        cmocka_unit_test(test_window_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
