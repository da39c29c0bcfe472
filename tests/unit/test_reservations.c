/* test_reservations.c: unit tests of what lets a client take its names back
 * (src/server/reconnect_secret.h, reservations.h, state_store.h): secrets made under one key
 * pass and nothing else does; a slot is free, its holder's or another's, stays its holder's
 * for the grace once lost and is free after; with a state file the key and the reservations
 * outlive a "crash" (the table dropped without losing its slots), whose slots count as lost at
 * the next start, and expired ones are gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconnect_secret.h"
#include "reservations.h"
#include "state_dir.h"

static void
test_secrets(void **state)
{
    uint8_t key[RECONNECT_KEY_LEN], other[RECONNECT_KEY_LEN];
    char s[RECONNECT_SECRET_LEN + 1], t[RECONNECT_SECRET_LEN + 1];
    char h1[RECONNECT_HOLDER_LEN + 1], h2[RECONNECT_HOLDER_LEN + 1];

    (void)state;
    assert_int_equal(reconnect_key_new(key), 0);
    assert_int_equal(reconnect_key_new(other), 0);
    assert_int_equal(reconnect_secret_new(key, s), 0);
    assert_int_equal(reconnect_secret_new(key, t), 0);
    assert_int_equal(strlen(s), RECONNECT_SECRET_LEN);
    assert_string_not_equal(s, t);
    assert_true(reconnect_secret_valid(key, s, strlen(s)));
    assert_false(reconnect_secret_valid(other, s, strlen(s)));
    assert_false(reconnect_secret_valid(key, s, strlen(s) - 1));
    s[RECONNECT_SECRET_LEN - 1] = s[RECONNECT_SECRET_LEN - 1] == '0' ? '1' : '0';
    assert_false(reconnect_secret_valid(key, s, strlen(s)));
    s[0] = 'G';
    assert_false(reconnect_secret_valid(key, s, strlen(s)));
    reconnect_secret_holder(t, strlen(t), h1);
    reconnect_secret_holder(t, strlen(t), h2);
    assert_int_equal(strlen(h1), RECONNECT_HOLDER_LEN);
    assert_string_equal(h1, h2);
    assert_null(strstr(t, h1)); /* the id is a digest, not a part of the secret */
}

static void
test_in_memory(void **state)
{
    struct reservations r;
    struct ngr_err err;
    int64_t left = -1;

    (void)state;
    assert_int_equal(reservations_open(&r, NULL, 60000, 1000, &err), 0);
    assert_int_equal(reservations_owner(&r, "http:a", "alice", 1000, NULL), RESERVATION_FREE);
    reservations_take(&r, "http:a", "alice");
    assert_int_equal(reservations_owner(&r, "http:a", "alice", 1000, NULL), RESERVATION_MINE);
    assert_int_equal(reservations_owner(&r, "http:a", "bob", 1000, &left), RESERVATION_OTHER);
    assert_int_equal(left, 0); /* in use */
    assert_int_equal(reservations_owner(&r, "http:a", NULL, 1000, NULL), RESERVATION_OTHER);
    reservations_lose(&r, "http:a", 2000);
    assert_int_equal(reservations_owner(&r, "http:a", "bob", 2500, &left), RESERVATION_OTHER);
    assert_int_equal(left, 59500);
    assert_int_equal(reservations_owner(&r, "http:a", "alice", 61999, NULL), RESERVATION_MINE);
    assert_int_equal(reservations_owner(&r, "http:a", "bob", 62000, NULL), RESERVATION_FREE);
    assert_int_equal(r.n, 0);
    reservations_close(&r);

    assert_int_equal(reservations_open(&r, NULL, 0, 1000, &err), 0);
    reservations_take(&r, "tcp:40001", "alice");
    reservations_lose(&r, "tcp:40001", 1000);
    assert_int_equal(reservations_owner(&r, "tcp:40001", "bob", 1000, NULL), RESERVATION_FREE);
    reservations_close(&r);
}

static void
test_stored(void **state)
{
    char dir[] = "/tmp/ngr-test-state-XXXXXX", sub[128], path[NGR_STATE_PATH_LEN];
    char path2[NGR_STATE_PATH_LEN], secret[RECONNECT_SECRET_LEN + 1];
    struct reservations r;
    struct ngr_err err;
    int64_t left = -1;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    assert_int_equal(state_dir_make(sub, &err), 0);
    assert_int_equal(state_dir_make(sub, &err), 0); /* already there */
    assert_int_equal(state_store_path(sub, "control=127.0.0.1:8080", path, sizeof(path)), 0);
    assert_int_equal(state_store_path(sub, "control=127.0.0.1:9090", path2, sizeof(path2)), 0);
    assert_string_not_equal(path, path2); /* other addresses, other files */

    assert_int_equal(reservations_open(&r, path, 60000, 1000, &err), 0);
    assert_int_equal(reconnect_secret_new(r.key, secret), 0);
    reservations_take(&r, "http:live", "alice");  /* in use when the gateway "crashes" */
    reservations_take(&r, "http:lost", "bob");
    reservations_lose(&r, "http:lost", 1000);     /* lost, kept until 61000 */
    reservations_take(&r, "http:short", "carol");
    reservations_lose(&r, "http:short", -100000); /* expired by the next start */
    reservations_close(&r);

    assert_int_equal(reservations_open(&r, path, 60000, 5000, &err), 0);
    assert_true(reconnect_secret_valid(r.key, secret, strlen(secret))); /* the same key */
    assert_int_equal(r.n, 2);
    assert_int_equal(reservations_owner(&r, "http:live", "alice", 5000, NULL), RESERVATION_MINE);
    assert_int_equal(reservations_owner(&r, "http:live", "bob", 5000, &left), RESERVATION_OTHER);
    assert_int_equal(left, 60000); /* lost at the start, a whole grace from then */
    assert_int_equal(reservations_owner(&r, "http:lost", "x", 5000, &left), RESERVATION_OTHER);
    assert_int_equal(left, 56000);
    assert_int_equal(reservations_owner(&r, "http:short", "x", 5000, NULL), RESERVATION_FREE);
    reservations_close(&r);

    /* A file that is not a database: refused with SQLite's reason, and the table still
     * works in memory. */
    {
        FILE *f = fopen(path2, "w");
        assert_non_null(f);
        fputs("this is not a database, but it is long enough to be read as one's header...\n",
              f);
        fclose(f);
    }
    assert_int_not_equal(reservations_open(&r, path2, 60000, 1000, &err), 0);
    assert_non_null(strstr(err.msg, path2));
    reservations_take(&r, "http:a", "alice");
    assert_int_equal(reservations_owner(&r, "http:a", "bob", 1000, NULL), RESERVATION_OTHER);
    reservations_close(&r);

    snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
    assert_int_equal(system(sub), 0);
}

/* Names whose clients never come back go at the next sweep (at most once a grace), not only
 * when someone asks for that very name. */
static void
test_sweep(void **state)
{
    struct reservations r;
    struct ngr_err err;
    char slot[32];
    int i;

    (void)state;
    assert_int_equal(reservations_open(&r, NULL, 1000, 0, &err), 0);
    for (i = 0; i < 100; i++) {
        snprintf(slot, sizeof(slot), "http:gone-%d", i);
        reservations_take(&r, slot, "h");
        reservations_lose(&r, slot, 10 + i);
    }
    assert_int_equal(r.n, 100);
    reservations_take(&r, "http:kept", "k");
    reservations_take(&r, "http:late", "k");
    reservations_lose(&r, "http:late", 500); /* too soon for the next sweep: nothing goes */
    assert_int_equal(r.n, 102);
    reservations_lose(&r, "http:kept", 3000); /* the sweep: every expired one is gone */
    assert_int_equal(r.n, 1);
    assert_int_equal(reservations_owner(&r, "http:kept", "x", 3000, NULL), RESERVATION_OTHER);
    assert_int_equal(reservations_owner(&r, "http:gone-5", "x", 3000, NULL), RESERVATION_FREE);
    reservations_close(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_in_memory),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
