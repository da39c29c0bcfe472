/* test_usage_count.c: unit tests of counts per key (src/server/usage_count.h): adding, dropping
 * to zero frees the key, keys of different lengths and bytes stay apart, a key too long is
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "usage_count.h"

static void
test_usage_count(void **state)
{
    struct usage_count *t = NULL;
    uint8_t d1[32], d2[32], big[USAGE_KEY_MAX + 1];
    int i;

    (void)state;
    memset(d1, 1, sizeof(d1));
    memset(d2, 1, sizeof(d2));
    d2[31] = 2;
    memset(big, 0, sizeof(big));
    assert_int_equal(usage_get(&t, "127.0.0.1", 9), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(usage_add(&t, "127.0.0.1", 9), 0);
    assert_int_equal(usage_add(&t, "127.0.0.10", 10), 0);
    assert_int_equal(usage_add(&t, d1, sizeof(d1)), 0);
    assert_int_equal(usage_get(&t, "127.0.0.1", 9), 3);
    assert_int_equal(usage_get(&t, "127.0.0.10", 10), 1);
    assert_int_equal(usage_get(&t, "127.0.0.1", 8), 0);
    assert_int_equal(usage_get(&t, d1, sizeof(d1)), 1);
    assert_int_equal(usage_get(&t, d2, sizeof(d2)), 0);
    assert_int_equal(usage_add(&t, big, sizeof(big)), NGR_EINVAL);
    assert_int_equal(usage_get(&t, big, sizeof(big)), 0);
    usage_drop(&t, "127.0.0.1", 9);
    assert_int_equal(usage_get(&t, "127.0.0.1", 9), 2);
    usage_drop(&t, "127.0.0.1", 9);
    usage_drop(&t, "127.0.0.1", 9);
    assert_int_equal(usage_get(&t, "127.0.0.1", 9), 0);
    usage_drop(&t, "127.0.0.1", 9); /* none left: nothing */
    assert_int_equal(HASH_COUNT(t), 2); /* the freed key is gone from the table */
    usage_clear(&t);
    assert_null(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_count),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
