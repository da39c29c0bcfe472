/* test_rate_limit.c: unit tests of a tunnel's request rate (src/server/rate_limit.h): the N/s
 * syntax, the bucket's burst and refill, and the seconds a refused request is told to wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rate_limit.h"

static void
test_rate_parse(void **state)
{
    uint32_t r;
    struct ngr_err err;

    (void)state;
    assert_int_equal(rate_limit_parse("10/s", 4, &r, &err), 0);
    assert_int_equal(r, 10);
    assert_int_equal(rate_limit_parse("7", 1, &r, &err), 0);
    assert_int_equal(r, 7);
    assert_int_equal(rate_limit_parse("90/m", 4, &r, &err), 0);
    assert_int_equal(r, 2); /* 1.5 a second, rounded up */
    assert_int_equal(rate_limit_parse("0/s", 3, &r, &err), NGR_EINVAL);
    assert_int_equal(rate_limit_parse("10/h", 4, &r, &err), NGR_EINVAL);
    assert_int_equal(rate_limit_parse("/s", 2, &r, &err), NGR_EINVAL);
    assert_int_equal(rate_limit_parse("1000001/s", 9, &r, &err), NGR_EINVAL);
    assert_int_equal(rate_limit_parse("99999999999999999999/s", 22, &r, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "N/s"));
}

static void
test_rate_bucket(void **state)
{
    struct rate_limit r;
    int i;

    (void)state;
    /* 2 a second, 5 at once: five pass, the sixth waits a second. */
    rate_limit_init(&r, 2, 5, 1000);
    for (i = 0; i < 5; i++)
        assert_int_equal(rate_limit_take(&r, 1000), 0);
    assert_int_equal(rate_limit_take(&r, 1000), 1);
    /* Half a second later one token is back, then none again. */
    assert_int_equal(rate_limit_take(&r, 1500), 0);
    assert_int_equal(rate_limit_take(&r, 1500), 1);
    /* A long pause refills to the burst, not beyond. */
    for (i = 0; i < 5; i++)
        assert_int_equal(rate_limit_take(&r, 100000), 0);
    assert_int_equal(rate_limit_take(&r, 100000), 1);
    /* A clock that stands still or goes back adds nothing. */
    assert_int_equal(rate_limit_take(&r, 90000), 1);
    /* Burst 0 is a second's worth; rate 0 is no limit. */
    rate_limit_init(&r, 3, 0, 0);
    assert_int_equal(r.burst, 3);
    rate_limit_init(&r, 0, 0, 0);
    for (i = 0; i < 1000; i++)
        assert_int_equal(rate_limit_take(&r, 0), 0);
    /* 1 a second, drained: the wait is rounded up to whole seconds. */
    rate_limit_init(&r, 1, 1, 0);
    assert_int_equal(rate_limit_take(&r, 0), 0);
    assert_int_equal(rate_limit_take(&r, 10), 1);
    assert_int_equal(rate_limit_take(&r, 999), 1);
    assert_int_equal(rate_limit_take(&r, 1000), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_parse),
        cmocka_unit_test(test_rate_bucket),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
