/* test_tunnel_table.c: unit tests of the gateway's tunnel table (src/server/tunnel_table.h):
 * fresh ids, lookups by subdomain and by id, a taken subdomain, removal, count and iteration,
 * tunnels without a subdomain, pools sharing a slot in turn, a retired tunnel kept for its
 * streams.
 * One table for the whole file, as the gateway has one: each test leaves it empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "session.h"
#include "tunnel_table.h"

#define TEST_TUNNEL_MANY 1000

static struct tunnel_table test_tunnels;

/* Every tunnel a test made, so teardown can empty the table even after a failed assertion. */
static struct tunnel *test_tunnel_made[TEST_TUNNEL_MANY + 16];
static int test_tunnel_added[TEST_TUNNEL_MANY + 16];
static size_t test_tunnel_nmade;

static int
test_tunnel_setup(void **state)
{
    (void)state;
    test_tunnel_nmade = 0;
    return tunnel_table_count(&test_tunnels) == 0 && tunnel_table_first(&test_tunnels) == NULL ? 0 : -1;
}

static int
test_tunnel_teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < test_tunnel_nmade; i++) {
        if (test_tunnel_added[i])
            tunnel_table_remove(&test_tunnels, test_tunnel_made[i]);
        tunnel_free(test_tunnel_made[i]);
    }
    test_tunnel_nmade = 0;
    return tunnel_table_count(&test_tunnels) == 0 ? 0 : -1;
}

/* A new tunnel named subdomain, remembered for teardown; not added. */
static struct tunnel *
test_tunnel_new(const char *subdomain)
{
    struct tunnel *t = tunnel_new();

    assert_non_null(t);
    assert_true(test_tunnel_nmade < sizeof(test_tunnel_made) / sizeof(test_tunnel_made[0]));
    assert_true(strlen(subdomain) < sizeof(t->subdomain));
    snprintf(t->subdomain, sizeof(t->subdomain), "%s", subdomain);
    if (subdomain[0] != '\0')
        snprintf(t->slot, sizeof(t->slot), "http:%s", subdomain);
    test_tunnel_added[test_tunnel_nmade] = 0;
    test_tunnel_made[test_tunnel_nmade++] = t;
    return t;
}

static void
test_tunnel_mark(struct tunnel *t, int added)
{
    size_t i;

    for (i = 0; i < test_tunnel_nmade; i++)
        if (test_tunnel_made[i] == t)
            test_tunnel_added[i] = added;
}

static int
test_tunnel_add(struct tunnel *t)
{
    int rc = tunnel_table_add(&test_tunnels, t);

    if (rc == 0)
        test_tunnel_mark(t, 1);
    return rc;
}

static void
test_tunnel_remove(struct tunnel *t)
{
    tunnel_table_remove(&test_tunnels, t);
    test_tunnel_mark(t, 0);
}

static struct tunnel *
test_tunnel_by_name(const char *name)
{
    return tunnel_table_find_subdomain(&test_tunnels, name, strlen(name));
}

static struct tunnel *
test_tunnel_by_id(const char *id)
{
    return tunnel_table_find_id(&test_tunnels, id, strlen(id));
}

static void
test_tunnel_assert_id(const char *id)
{
    size_t i;

    assert_int_equal(strlen(id), 3 + 16);
    assert_memory_equal(id, "tn_", 3);
    for (i = 3; i < 3 + 16; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            fail_msg("id \"%s\": byte %zu is not a lowercase hex digit", id, i);
}

/* tunnel_new: "tn_" and 16 hex digits, a creation time, nothing else set; ids differ. */
static void
test_tunnel_new_ids(void **state)
{
    struct tunnel *t[TEST_TUNNEL_MANY];
    size_t i, j;

    (void)state;
    for (i = 0; i < TEST_TUNNEL_MANY; i++) {
        t[i] = test_tunnel_new("");
        test_tunnel_assert_id(t[i]->id);
        assert_true(t[i]->created_at > 0);
    }
    assert_string_equal(t[0]->subdomain, "");
    assert_int_equal(t[0]->requests, 0);
    assert_int_equal(t[0]->bytes_in, 0);
    assert_int_equal(t[0]->bytes_out, 0);
    assert_int_equal(t[0]->streams, 0);
    assert_null(t[0]->sess);
    assert_string_equal(t[0]->public_url, "");
    for (i = 0; i < TEST_TUNNEL_MANY; i++)
        for (j = i + 1; j < TEST_TUNNEL_MANY; j++)
            if (strcmp(t[i]->id, t[j]->id) == 0)
                fail_msg("tunnels %zu and %zu share the id %s", i, j, t[i]->id);
    /* Nothing was added. */
    assert_int_equal(tunnel_table_count(&test_tunnels), 0);
    assert_null(tunnel_table_first(&test_tunnels));
    tunnel_free(NULL);
}

/* Add, then find by subdomain and by id; lookups take a length and compare exactly. */
static void
test_tunnel_add_find(void **state)
{
    struct tunnel *a, *b;
    char key[64];

    (void)state;
    a = test_tunnel_new("myapp");
    b = test_tunnel_new("other-app");
    assert_null(test_tunnel_by_name("myapp"));
    assert_null(test_tunnel_by_id(a->id));
    assert_int_equal(test_tunnel_add(a), 0);
    assert_int_equal(test_tunnel_add(b), 0);
    assert_int_equal(tunnel_table_count(&test_tunnels), 2);

    assert_ptr_equal(test_tunnel_by_name("myapp"), a);
    assert_ptr_equal(test_tunnel_by_name("other-app"), b);
    assert_ptr_equal(test_tunnel_by_id(a->id), a);
    assert_ptr_equal(test_tunnel_by_id(b->id), b);
    /* The length decides, not a NUL: "myappX" cut to 5 is "myapp". */
    assert_ptr_equal(tunnel_table_find_subdomain(&test_tunnels, "myappX", 5), a);
    assert_null(tunnel_table_find_subdomain(&test_tunnels, "myapp", 4));
    assert_null(tunnel_table_find_subdomain(&test_tunnels, "myapp", 0));
    snprintf(key, sizeof(key), "%s/extra", b->id);
    assert_ptr_equal(tunnel_table_find_id(&test_tunnels, key, strlen(b->id)), b);
    assert_null(tunnel_table_find_id(&test_tunnels, a->id, strlen(a->id) - 1));
    /* Exact: no case folding, no prefixes, no mixing the two indexes. */
    assert_null(test_tunnel_by_name("MyApp"));
    assert_null(test_tunnel_by_name("myap"));
    assert_null(test_tunnel_by_name("myapp2"));
    assert_null(test_tunnel_by_name(a->id));
    assert_null(test_tunnel_by_id("myapp"));
    assert_null(test_tunnel_by_id("tn_0000000000000000"));
}

/* A taken subdomain is NGR_EEXIST and leaves the table as it was. */
static void
test_tunnel_duplicate(void **state)
{
    struct tunnel *a, *dup;

    (void)state;
    a = test_tunnel_new("taken");
    dup = test_tunnel_new("taken");
    assert_int_equal(test_tunnel_add(a), 0);
    assert_int_equal(test_tunnel_add(dup), NGR_EEXIST);
    assert_int_equal(tunnel_table_count(&test_tunnels), 1);
    assert_ptr_equal(test_tunnel_by_name("taken"), a);
    assert_ptr_equal(test_tunnel_by_id(a->id), a);
    assert_null(test_tunnel_by_id(dup->id));
    assert_ptr_equal(tunnel_table_first(&test_tunnels), a);
    assert_null(tunnel_table_next(a));
    /* Once the first is gone, the name is free again. */
    test_tunnel_remove(a);
    assert_int_equal(test_tunnel_add(dup), 0);
    assert_ptr_equal(test_tunnel_by_name("taken"), dup);
    assert_null(test_tunnel_by_id(a->id));
    assert_int_equal(tunnel_table_count(&test_tunnels), 1);
}

/* Remove from the front, the middle and the end: both indexes forget it, the rest stay. */
static void
test_tunnel_remove_each(void **state)
{
    static const char *const names[] = {"a", "b", "c", "d", "e"};
    struct tunnel *t[5];
    size_t i;

    (void)state;
    for (i = 0; i < 5; i++) {
        t[i] = test_tunnel_new(names[i]);
        assert_int_equal(test_tunnel_add(t[i]), 0);
        assert_int_equal(tunnel_table_count(&test_tunnels), i + 1);
    }
    test_tunnel_remove(t[2]);
    test_tunnel_remove(t[0]);
    test_tunnel_remove(t[4]);
    assert_int_equal(tunnel_table_count(&test_tunnels), 2);
    for (i = 0; i < 5; i++) {
        int kept = i == 1 || i == 3;
        assert_ptr_equal(test_tunnel_by_name(names[i]), kept ? t[i] : NULL);
        assert_ptr_equal(test_tunnel_by_id(t[i]->id), kept ? t[i] : NULL);
    }
    assert_ptr_equal(tunnel_table_first(&test_tunnels), t[1]);
    assert_ptr_equal(tunnel_table_next(t[1]), t[3]);
    assert_null(tunnel_table_next(t[3]));
    test_tunnel_remove(t[1]);
    test_tunnel_remove(t[3]);
    assert_int_equal(tunnel_table_count(&test_tunnels), 0);
    assert_null(tunnel_table_first(&test_tunnels));
    assert_null(test_tunnel_by_name("b"));
}

/* Many tunnels (the hash grows): iteration visits each exactly once, in insertion order, also
 * after every third one is removed; every lookup still works. */
static void
test_tunnel_iterate(void **state)
{
    static struct tunnel *t[TEST_TUNNEL_MANY];
    static int seen[TEST_TUNNEL_MANY];
    struct tunnel *it;
    char name[32];
    size_t i, n, want;

    (void)state;
    for (i = 0; i < TEST_TUNNEL_MANY; i++) {
        snprintf(name, sizeof(name), "app-%zu", i);
        t[i] = test_tunnel_new(name);
        t[i]->requests = i; /* which one it is */
        assert_int_equal(test_tunnel_add(t[i]), 0);
    }
    assert_int_equal(tunnel_table_count(&test_tunnels), TEST_TUNNEL_MANY);
    memset(seen, 0, sizeof(seen));
    n = 0;
    for (it = tunnel_table_first(&test_tunnels); it != NULL; it = tunnel_table_next(it)) {
        assert_true(it->requests < TEST_TUNNEL_MANY);
        assert_ptr_equal(it, t[it->requests]);
        if (it->requests != n)
            fail_msg("iteration step %zu visited tunnel %llu", n, (unsigned long long)it->requests);
        seen[it->requests]++;
        n++;
        assert_true(n <= TEST_TUNNEL_MANY);
    }
    assert_int_equal(n, TEST_TUNNEL_MANY);
    for (i = 0; i < TEST_TUNNEL_MANY; i++) {
        assert_int_equal(seen[i], 1);
        snprintf(name, sizeof(name), "app-%zu", i);
        assert_ptr_equal(test_tunnel_by_name(name), t[i]);
        assert_ptr_equal(test_tunnel_by_id(t[i]->id), t[i]);
    }

    for (i = 0; i < TEST_TUNNEL_MANY; i += 3)
        test_tunnel_remove(t[i]);
    want = TEST_TUNNEL_MANY - (TEST_TUNNEL_MANY + 2) / 3;
    assert_int_equal(tunnel_table_count(&test_tunnels), want);
    memset(seen, 0, sizeof(seen));
    n = 0;
    for (it = tunnel_table_first(&test_tunnels); it != NULL; it = tunnel_table_next(it)) {
        assert_true(it->requests % 3 != 0);
        seen[it->requests]++;
        n++;
        assert_true(n <= want);
    }
    assert_int_equal(n, want);
    for (i = 0; i < TEST_TUNNEL_MANY; i++) {
        snprintf(name, sizeof(name), "app-%zu", i);
        assert_int_equal(seen[i], i % 3 != 0);
        assert_ptr_equal(test_tunnel_by_name(name), i % 3 != 0 ? t[i] : NULL);
        assert_ptr_equal(test_tunnel_by_id(t[i]->id), i % 3 != 0 ? t[i] : NULL);
    }
}

/* The longest label fits; subdomains that differ in one byte are different tunnels. */
static void
test_tunnel_long_names(void **state)
{
    char name[NGR_MAX_SUBDOMAIN + 1];
    struct tunnel *a, *b;

    (void)state;
    memset(name, 'x', NGR_MAX_SUBDOMAIN);
    name[NGR_MAX_SUBDOMAIN] = '\0';
    a = test_tunnel_new(name);
    name[NGR_MAX_SUBDOMAIN - 1] = 'y';
    b = test_tunnel_new(name);
    assert_int_equal(test_tunnel_add(a), 0);
    assert_int_equal(test_tunnel_add(b), 0);
    assert_ptr_equal(test_tunnel_by_name(name), b);
    name[NGR_MAX_SUBDOMAIN - 1] = 'x';
    assert_ptr_equal(test_tunnel_by_name(name), a);
    assert_int_equal(tunnel_table_count(&test_tunnels), 2);
}

/* A tunnel without a subdomain (TCP) is kept by id only: any number of them, never found by
 * name, counted and iterated with the rest. */
static void
test_tunnel_empty_subdomain(void **state)
{
    struct tunnel *a, *b, *named, *it;
    size_t n = 0;

    (void)state;
    a = test_tunnel_new("");
    b = test_tunnel_new("");
    named = test_tunnel_new("web");
    assert_int_equal(test_tunnel_add(a), 0);
    assert_int_equal(test_tunnel_add(named), 0);
    assert_int_equal(test_tunnel_add(b), 0);
    assert_int_equal(tunnel_table_count(&test_tunnels), 3);
    assert_null(tunnel_table_find_subdomain(&test_tunnels, "", 0));
    assert_ptr_equal(test_tunnel_by_name("web"), named);
    assert_ptr_equal(test_tunnel_by_id(a->id), a);
    assert_ptr_equal(test_tunnel_by_id(b->id), b);
    for (it = tunnel_table_first(&test_tunnels); it != NULL; it = tunnel_table_next(it)) {
        assert_true(it == a || it == b || it == named);
        n++;
        assert_true(n <= 3);
    }
    assert_int_equal(n, 3);
    test_tunnel_remove(a);
    assert_null(test_tunnel_by_id(a->id));
    assert_ptr_equal(test_tunnel_by_id(b->id), b);
    assert_ptr_equal(test_tunnel_by_name("web"), named);
    assert_int_equal(tunnel_table_count(&test_tunnels), 2);
    test_tunnel_remove(named);
    assert_null(test_tunnel_by_name("web"));
    assert_ptr_equal(tunnel_table_first(&test_tunnels), b);
    assert_null(tunnel_table_next(b));
}

/* A pooled tunnel named subdomain, of holder. */
static struct tunnel *
test_tunnel_pooled(const char *subdomain, const char *holder)
{
    struct tunnel *t = test_tunnel_new(subdomain);

    t->pool = 1;
    snprintf(t->holder, sizeof(t->holder), "%s", holder);
    return t;
}

static struct tunnel *
test_tunnel_route(const char *name)
{
    char slot[NGR_SLOT_LEN];

    snprintf(slot, sizeof(slot), "http:%s", name);
    return tunnel_table_route(&test_tunnels, slot, strlen(slot));
}

/* Pools of one holder share a slot and are routed to in turn; a tunnel without --pool, or a
 * pool of another holder, cannot join; nor can a pool join a tunnel without --pool. */
static void
test_tunnel_pool_turns(void **state)
{
    struct tunnel *a, *b, *c, *lone, *other, *solo, *late;
    size_t i;

    (void)state;
    a = test_tunnel_pooled("web", "h1");
    b = test_tunnel_pooled("web", "h1");
    c = test_tunnel_pooled("web", "h1");
    lone = test_tunnel_new("web");
    other = test_tunnel_pooled("web", "h2");
    assert_int_equal(test_tunnel_add(a), 0);
    assert_int_equal(tunnel_pool_size(a), 1);
    assert_ptr_equal(test_tunnel_route("web"), a);
    assert_ptr_equal(test_tunnel_route("web"), a);
    assert_int_equal(test_tunnel_add(b), 0);
    assert_int_equal(test_tunnel_add(c), 0);
    assert_int_equal(test_tunnel_add(lone), NGR_EEXIST);
    assert_int_equal(test_tunnel_add(other), NGR_EEXIST);
    assert_int_equal(tunnel_table_count(&test_tunnels), 3);
    assert_int_equal(tunnel_pool_size(b), 3);
    assert_int_equal(tunnel_pool_size(lone), 0);
    assert_ptr_equal(test_tunnel_by_name("web"), a);
    for (i = 0; i < 9; i++) {
        struct tunnel *want = i % 3 == 0 ? a : i % 3 == 1 ? b : c;
        assert_ptr_equal(test_tunnel_route("web"), want);
    }
    assert_null(test_tunnel_route("we"));
    /* A member whose session is closing is passed over, while another is left. */
    {
        static struct session closing;

        closing.closing = 1;
        b->sess = &closing;
        for (i = 0; i < 6; i++)
            assert_ptr_equal(test_tunnel_route("web"), i % 2 == 0 ? a : c);
        a->sess = c->sess = &closing;
        assert_non_null(test_tunnel_route("web")); /* all closing: one of them, as before */
        a->sess = b->sess = c->sess = NULL;
    }
    /* A name held without --pool stays exclusive. */
    solo = test_tunnel_new("api");
    late = test_tunnel_pooled("api", "h1");
    assert_int_equal(test_tunnel_add(solo), 0);
    assert_int_equal(test_tunnel_add(late), NGR_EEXIST);
    assert_ptr_equal(test_tunnel_route("api"), solo);
    assert_ptr_equal(test_tunnel_route("api"), solo);
}

/* Members leave in any order, the one in the index too: the rest keep their turns, the slot
 * stays found until the last one leaves, and each removal says how many are left. */
static void
test_tunnel_pool_leave(void **state)
{
    struct tunnel *a, *b, *c, *d;

    (void)state;
    a = test_tunnel_pooled("web", "h");
    b = test_tunnel_pooled("web", "h");
    c = test_tunnel_pooled("web", "h");
    d = test_tunnel_pooled("web", "h");
    assert_int_equal(test_tunnel_add(a), 0);
    assert_int_equal(test_tunnel_add(b), 0);
    assert_int_equal(test_tunnel_add(c), 0);
    assert_ptr_equal(test_tunnel_route("web"), a);
    /* b is next in turn and leaves: c is next. */
    assert_int_equal(tunnel_table_remove(&test_tunnels, b), 2);
    test_tunnel_mark(b, 0);
    assert_int_equal(tunnel_pool_size(b), 0);
    assert_ptr_equal(test_tunnel_route("web"), c);
    assert_ptr_equal(test_tunnel_route("web"), a);
    /* The indexed one leaves: c stands for the slot, and turns go on. */
    assert_int_equal(tunnel_table_remove(&test_tunnels, a), 1);
    test_tunnel_mark(a, 0);
    assert_ptr_equal(test_tunnel_by_name("web"), c);
    assert_int_equal(tunnel_pool_size(c), 1);
    assert_int_equal(test_tunnel_add(d), 0);
    assert_ptr_equal(test_tunnel_route("web"), c);
    assert_ptr_equal(test_tunnel_route("web"), d);
    assert_ptr_equal(test_tunnel_route("web"), c);
    assert_int_equal(tunnel_table_remove(&test_tunnels, c), 1);
    test_tunnel_mark(c, 0);
    assert_ptr_equal(test_tunnel_route("web"), d);
    assert_ptr_equal(test_tunnel_by_id(d->id), d);
    assert_null(test_tunnel_by_id(c->id));
    assert_int_equal(tunnel_table_remove(&test_tunnels, d), 0);
    test_tunnel_mark(d, 0);
    assert_null(test_tunnel_route("web"));
    assert_null(test_tunnel_by_name("web"));
    assert_int_equal(tunnel_table_count(&test_tunnels), 0);
    /* Back in: a pool of one again. */
    assert_int_equal(test_tunnel_add(a), 0);
    assert_ptr_equal(test_tunnel_route("web"), a);
    assert_int_equal(tunnel_pool_size(a), 1);
}

/* A retired tunnel lives on while streams hold it, and goes with the last one (the sanitizers
 * see a leak or a double free). */
static void
test_tunnel_retire(void **state)
{
    struct tunnel *t = tunnel_new(), *idle = tunnel_new();

    (void)state;
    assert_non_null(t);
    assert_non_null(idle);
    t->streams = 2;
    tunnel_retire(t);
    assert_true(t->retired);
    assert_int_equal(t->streams, 2);
    t->bytes_out += 10; /* still its own memory */
    tunnel_stream_end(t);
    assert_int_equal(t->streams, 1);
    tunnel_stream_end(t); /* freed here */
    tunnel_retire(idle);  /* and this one at once */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tunnel_new_ids, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_add_find, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_duplicate, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_remove_each, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_iterate, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_long_names, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_empty_subdomain, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_pool_turns, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_pool_leave, test_tunnel_setup,
                                        test_tunnel_teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_retire, test_tunnel_setup,
                                        test_tunnel_teardown),
    };

    return cmocka_run_group_tests_name("tunnel_table", tests, NULL, NULL);
}
