/* test_latency_hist.c: unit tests of the latency histogram (src/server/latency_hist.h): which
 * bucket a time lands in (bounds are inclusive, as Prometheus' "le" says), and quantiles
 * estimated within buckets the way PromQL's histogram_quantile does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "latency_hist.h"

static void
test_latency_hist_buckets(void **state)
{
    struct latency_hist h;
    size_t i;

    (void)state;
    memset(&h, 0, sizeof(h));
    latency_hist_add(&h, 0);       /* first bucket */
    latency_hist_add(&h, 1000);    /* le 1 ms: still the first */
    latency_hist_add(&h, 1001);    /* the second */
    latency_hist_add(&h, 300000000);  /* le 300 s: the last finite */
    latency_hist_add(&h, 300000001);  /* +Inf */
    assert_int_equal(h.bucket[0], 2);
    assert_int_equal(h.bucket[1], 1);
    assert_int_equal(h.bucket[LATENCY_HIST_BOUNDS - 1], 1);
    assert_int_equal(h.bucket[LATENCY_HIST_BOUNDS], 1);
    assert_int_equal(h.count, 5);
    assert_true(h.sum_us == 0 + 1000 + 1001 + 300000000ULL + 300000001ULL);
    for (i = 1; i < LATENCY_HIST_BOUNDS; i++)
        assert_true(latency_hist_bound_us(i) > latency_hist_bound_us(i - 1));
    assert_true(latency_hist_bound_us(LATENCY_HIST_BOUNDS) == UINT64_MAX);
}

static void
test_latency_hist_quantiles(void **state)
{
    struct latency_hist h;
    int i;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(latency_hist_quantile_us(&h, 0.5), 0); /* empty */
    /* 90 requests in (5, 10] ms and 10 in (100, 250] ms. */
    for (i = 0; i < 90; i++)
        latency_hist_add(&h, 8000);
    for (i = 0; i < 10; i++)
        latency_hist_add(&h, 200000);
    /* p50: rank 50 of the 90 in (5000, 10000]: 5000 + 5000 * 50/90. */
    assert_int_equal(latency_hist_quantile_us(&h, 0.5), 5000 + 5000 * 50 / 90);
    assert_int_equal(latency_hist_quantile_us(&h, 0.9), 10000);
    /* p99: rank 99, the 9th of 10 in (100000, 250000]. */
    assert_int_equal(latency_hist_quantile_us(&h, 0.99), 100000 + 150000 * 9 / 10);
    /* All in +Inf: the highest finite bound. */
    memset(&h, 0, sizeof(h));
    latency_hist_add(&h, 900000000);
    assert_int_equal(latency_hist_quantile_us(&h, 0.5), latency_hist_bound_us(LATENCY_HIST_BOUNDS - 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_hist_buckets),
        cmocka_unit_test(test_latency_hist_quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
