/* test_live_stats.c: unit tests of the header's numbers (src/client/live_stats.h): nearest-rank
 * p50/p90 over the durations of the last minute, older ones left out, the ring's bound, and
 * the rate over the window (or since start when shorter). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "live_stats.h"

#define T0 1000000 /* ms: any monotonic start */

static struct live_stats *
test_live_stats_new(void)
{
    struct live_stats *s = malloc(sizeof(*s));

    assert_non_null(s);
    live_stats_init(s, T0);
    return s;
}

static void
test_live_stats_empty(void **state)
{
    struct live_stats *s = test_live_stats_new();
    struct live_summary sum;

    (void)state;
    live_stats_summary(s, T0 + 5000, &sum);
    assert_int_equal(sum.count, 0);
    assert_int_equal(sum.p50_ms, 0);
    assert_int_equal(sum.p90_ms, 0);
    assert_true(sum.per_s == 0.0);
    free(s);
}

static void
test_live_stats_percentiles(void **state)
{
    struct live_stats *s = test_live_stats_new();
    struct live_summary sum;
    uint64_t i;

    (void)state;
    /* 1..100 ms, added out of order. */
    for (i = 0; i < 100; i++)
        live_stats_add(s, T0 + 100 + i, (i * 37) % 100 + 1);
    live_stats_summary(s, T0 + 1000, &sum);
    assert_int_equal(sum.count, 100);
    assert_int_equal(sum.p50_ms, 50);
    assert_int_equal(sum.p90_ms, 90);
    /* One sample: both are it. */
    live_stats_init(s, T0);
    live_stats_add(s, T0 + 10, 7);
    live_stats_summary(s, T0 + 20, &sum);
    assert_int_equal(sum.count, 1);
    assert_int_equal(sum.p50_ms, 7);
    assert_int_equal(sum.p90_ms, 7);
    /* Ten: p50 the 5th, p90 the 9th. */
    live_stats_init(s, T0);
    for (i = 1; i <= 10; i++)
        live_stats_add(s, T0 + i, i * 10);
    live_stats_summary(s, T0 + 20, &sum);
    assert_int_equal(sum.p50_ms, 50);
    assert_int_equal(sum.p90_ms, 90);
    free(s);
}

static void
test_live_stats_window(void **state)
{
    struct live_stats *s = test_live_stats_new();
    struct live_summary sum;
    int i;

    (void)state;
    for (i = 0; i < 10; i++)
        live_stats_add(s, T0 + 1000, 1000); /* slow, early */
    for (i = 0; i < 10; i++)
        live_stats_add(s, T0 + 50000, 5); /* fast, later */
    live_stats_summary(s, T0 + 55000, &sum);
    assert_int_equal(sum.count, 20);
    /* A minute after the slow ones, only the fast ones count. */
    live_stats_summary(s, T0 + 1000 + NGR_LIVE_WINDOW_MS + 1, &sum);
    assert_int_equal(sum.count, 10);
    assert_int_equal(sum.p90_ms, 5);
    live_stats_summary(s, T0 + 50000 + NGR_LIVE_WINDOW_MS + 1, &sum);
    assert_int_equal(sum.count, 0);
    free(s);
}

static void
test_live_stats_ring_bound(void **state)
{
    struct live_stats *s = test_live_stats_new();
    struct live_summary sum;
    size_t i;

    (void)state;
    for (i = 0; i < NGR_LIVE_DURATIONS; i++)
        live_stats_add(s, T0 + 10, 1000);
    for (i = 0; i < NGR_LIVE_DURATIONS; i++)
        live_stats_add(s, T0 + 20, 2); /* push every earlier one out */
    live_stats_summary(s, T0 + 30, &sum);
    assert_int_equal(sum.count, NGR_LIVE_DURATIONS);
    assert_int_equal(sum.p90_ms, 2);
    free(s);
}

static void
test_live_stats_rate(void **state)
{
    struct live_stats *s = test_live_stats_new();
    struct live_summary sum;
    int i;

    (void)state;
    /* 20 requests in the first 10 s: 2 a second since start. */
    for (i = 0; i < 20; i++)
        live_stats_add(s, T0 + (uint64_t)i * 500, 1);
    live_stats_summary(s, T0 + 10000, &sum);
    assert_true(sum.per_s > 1.99 && sum.per_s < 2.01);
    /* Two minutes on: a full window, with 30 more in its last seconds. */
    for (i = 0; i < 30; i++)
        live_stats_add(s, T0 + 120000 + (uint64_t)i * 10, 1);
    live_stats_summary(s, T0 + 121000, &sum);
    assert_true(sum.per_s > 0.49 && sum.per_s < 0.51); /* 30 / 60 s: the first 20 are out */
    /* Within the first second the rate is per second, not divided by a smaller span. */
    live_stats_init(s, T0);
    live_stats_add(s, T0 + 100, 1);
    live_stats_summary(s, T0 + 200, &sum);
    assert_true(sum.per_s > 0.99 && sum.per_s < 1.01);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_stats_empty),  cmocka_unit_test(test_live_stats_percentiles),
        cmocka_unit_test(test_live_stats_window), cmocka_unit_test(test_live_stats_ring_bound),
        cmocka_unit_test(test_live_stats_rate),
    };

    return cmocka_run_group_tests_name("live_stats", tests, NULL, NULL);
}
