/* test_inspect_ring.c: unit tests of the inspector's kept exchanges (src/client/inspect_ring.h):
 * the count and the byte budget drop the oldest first, ids are never reused, an entry larger
 * than the budget is refused, clear frees all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "inspect_ring.h"

/* A capture with a body of n bytes. */
static struct capture *
test_inspect_ring_cap(size_t n)
{
    static char body[8192];
    struct capture *c = capture_new(sizeof(body));

    assert_non_null(c);
    capture_request_raw_head(c, "GET / HTTP/1.1\r\n\r\n", 18);
    capture_request_body(c, body, n);
    return c;
}

static void
test_inspect_ring_count(void **state)
{
    struct inspect_ring g;
    struct inspect_record rec;
    struct inspect_entry *e;
    size_t i;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    inspect_ring_init(&g, 3, 1 << 20);
    for (i = 0; i < 5; i++) {
        rec.status = 200 + (int)i;
        rec.error = i == 4 ? "reset by the gateway" : NULL;
        e = inspect_ring_add(&g, &rec, test_inspect_ring_cap(10));
        assert_non_null(e);
        assert_int_equal(e->id, i + 1);
    }
    assert_int_equal(g.n, 3);
    assert_int_equal(g.dropped, 2);
    assert_null(inspect_ring_find(&g, 1));
    assert_null(inspect_ring_find(&g, 2));
    assert_int_equal(inspect_ring_find(&g, 3)->rec.status, 202);
    e = inspect_ring_find(&g, 5);
    assert_string_equal(e->rec.error, "reset by the gateway");
    assert_int_equal(TAILQ_FIRST(&g.list)->id, 3); /* oldest first */
    inspect_ring_clear(&g);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.bytes, 0);
    /* Ids go on after a clear: an old id never names a new exchange. */
    e = inspect_ring_add(&g, &rec, NULL);
    assert_int_equal(e->id, 6);
    inspect_ring_clear(&g);
}

static void
test_inspect_ring_budget(void **state)
{
    struct inspect_ring g;
    struct inspect_record rec;
    struct inspect_entry *e;
    size_t i, one;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    /* What one entry with a body of 4000 bytes costs, measured. */
    inspect_ring_init(&g, 100, 1 << 20);
    e = inspect_ring_add(&g, &rec, test_inspect_ring_cap(4000));
    one = e->cost;
    assert_true(one >= 4000 + 18);
    assert_true(one < 4000 + 18 + 1024); /* shrunk to what it holds */
    inspect_ring_clear(&g);

    inspect_ring_init(&g, 100, 3 * one);
    for (i = 0; i < 10; i++) {
        assert_non_null(inspect_ring_add(&g, &rec, test_inspect_ring_cap(4000)));
        assert_true(g.bytes <= g.budget);
    }
    assert_int_equal(g.n, 3);
    assert_int_equal(TAILQ_FIRST(&g.list)->id, 8);
    /* Small ones fit more in the same budget. */
    for (i = 0; i < 10; i++)
        assert_non_null(inspect_ring_add(&g, &rec, test_inspect_ring_cap(1)));
    assert_true(g.n > 3);
    assert_true(g.bytes <= g.budget);
    inspect_ring_clear(&g);

    /* Larger than the whole budget: refused, the capture freed (ASan would see a leak). */
    inspect_ring_init(&g, 100, one / 2);
    assert_null(inspect_ring_add(&g, &rec, test_inspect_ring_cap(4000)));
    assert_int_equal(g.n, 0);
    inspect_ring_clear(&g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_ring_count),
        cmocka_unit_test(test_inspect_ring_budget),
    };

    return cmocka_run_group_tests_name("inspect_ring", tests, NULL, NULL);
}
