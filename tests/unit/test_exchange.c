/* test_exchange.c: unit tests of the consumers of finished requests (src/client/exchange.h):
 * each hears every exchange, in the order added, and the list is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "exchange.h"

struct test_exchange_seen {
    char order[16];
    size_t n;
    const struct exchange *last;
};

static struct test_exchange_seen test_exchange_seen;

static void
test_exchange_a(void *arg, const struct exchange *x)
{
    test_exchange_seen.order[test_exchange_seen.n++] = *(const char *)arg;
    test_exchange_seen.last = x;
}

static void
test_exchange_order_and_limit(void **state)
{
    struct exchange_observers o;
    struct exchange x;
    static const char names[] = "abcdefgh";
    size_t i;

    (void)state;
    memset(&o, 0, sizeof(o));
    memset(&x, 0, sizeof(x));
    memset(&test_exchange_seen, 0, sizeof(test_exchange_seen));
    exchange_publish(&o, &x); /* nobody listens: nothing happens */
    assert_int_equal(test_exchange_seen.n, 0);
    for (i = 0; i < NGR_EXCHANGE_OBSERVERS; i++)
        assert_int_equal(exchange_observe(&o, test_exchange_a, (void *)&names[i]), 0);
    assert_int_equal(exchange_observe(&o, test_exchange_a, (void *)&names[i]), NGR_ELIMIT);
    x.status = 200;
    exchange_publish(&o, &x);
    assert_int_equal(test_exchange_seen.n, NGR_EXCHANGE_OBSERVERS);
    assert_memory_equal(test_exchange_seen.order, names, NGR_EXCHANGE_OBSERVERS);
    assert_ptr_equal(test_exchange_seen.last, &x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_order_and_limit),
    };

    return cmocka_run_group_tests_name("exchange", tests, NULL, NULL);
}
