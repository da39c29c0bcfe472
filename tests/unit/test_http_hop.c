/* test_http_hop.c: unit tests of hop-by-hop header detection (http_hop.h). Names and values are
 * placed against a guard page, since they come length-bounded and unterminated from the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <string.h>

#include "guard.h"
#include "http_hop.h"

static int
test_http_hop_fixed(const char *name)
{
    size_t n = strlen(name);

    return http_hop_is_fixed((const char *)guard_place(name, n), n);
}

/* The value goes to the guard page; the name stays where it is. */
static int
test_http_hop_conn(const char *name, const char *value)
{
    size_t vlen = strlen(value);

    return http_hop_in_connection(name, strlen(name), (const char *)guard_place(value, vlen), vlen);
}

static void
test_http_hop_fixed_names(void **state)
{
    static const char *const hop[] = {"connection", "proxy-connection",  "keep-alive",
                                      "te",         "transfer-encoding", "upgrade",
                                      "trailer",    "content-length"};
    char name[64];
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++) {
        size_t n = strlen(hop[i]);

        /* lower, UPPER, and alternating case */
        memcpy(name, hop[i], n + 1);
        if (!test_http_hop_fixed(name))
            fail_msg("%s not hop-by-hop", name);
        for (j = 0; j < n; j++)
            name[j] = (char)toupper((unsigned char)hop[i][j]);
        if (!test_http_hop_fixed(name))
            fail_msg("%s not hop-by-hop", name);
        for (j = 0; j < n; j++)
            name[j] = (char)(j % 2 ? toupper((unsigned char)hop[i][j]) : hop[i][j]);
        if (!test_http_hop_fixed(name))
            fail_msg("%s not hop-by-hop", name);
        /* One byte short or long is another name. */
        if (http_hop_is_fixed((const char *)guard_place(name, n - 1), n - 1))
            fail_msg("prefix of %s is hop-by-hop", name);
        name[n] = 's';
        if (http_hop_is_fixed((const char *)guard_place(name, n + 1), n + 1))
            fail_msg("%.*s is hop-by-hop", (int)n + 1, name);
    }
    assert_true(test_http_hop_fixed("Connection"));
    assert_true(test_http_hop_fixed("Transfer-Encoding"));
    assert_true(test_http_hop_fixed("TE"));
    assert_true(test_http_hop_fixed("Keep-Alive"));
    assert_true(test_http_hop_fixed("Content-Length"));
}

static void
test_http_hop_end_to_end_names(void **state)
{
    static const char *const e2e[] = {"",
                                      "Host",
                                      "Content-Type",
                                      "Cookie",
                                      "Set-Cookie",
                                      "Authorization",
                                      "Trailers",
                                      "T",
                                      "Connectio",
                                      "Connections",
                                      "Upgrade-Insecure-Requests",
                                      "X-Connection",
                                      "Proxy-Authorization",
                                      "content_length",
                                      "te ",
                                      " te",
                                      "Keep-Alive:"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(e2e) / sizeof(e2e[0]); i++)
        if (test_http_hop_fixed(e2e[i]))
            fail_msg("\"%s\" taken for hop-by-hop", e2e[i]);
    /* Only len bytes of the name count. */
    assert_true(http_hop_is_fixed("Connection: close", 10));
    assert_false(http_hop_is_fixed("Connection: close", 11));
    assert_true(http_hop_is_fixed("te\0xyz", 2));
    assert_false(http_hop_is_fixed("te\0", 3));
}

static void
test_http_hop_connection_tokens(void **state)
{
    (void)state;
    assert_true(test_http_hop_conn("close", "close"));
    assert_true(test_http_hop_conn("close", "Close"));
    assert_true(test_http_hop_conn("keep-alive", "keep-alive, Upgrade"));
    assert_true(test_http_hop_conn("upgrade", "keep-alive, Upgrade"));
    assert_true(test_http_hop_conn("upgrade", "keep-alive,Upgrade"));
    assert_true(test_http_hop_conn("x-foo", " , X-Foo ,, x-bar  , "));
    assert_true(test_http_hop_conn("x-bar", " , X-Foo ,, x-bar  , "));
    assert_true(test_http_hop_conn("x-bar", "x-bar,"));
    assert_true(test_http_hop_conn("x-bar", ",x-bar"));
    assert_true(test_http_hop_conn("x-bar", "\tx-bar\t"));
    assert_true(test_http_hop_conn("x-bar", "a,\t x-bar \t,b"));
    assert_true(test_http_hop_conn("x-bar", "a,b,c,d,e,f,x-bar"));
    assert_true(test_http_hop_conn("X-Private", "x-private"));

    assert_false(test_http_hop_conn("x-bar", ""));
    assert_false(test_http_hop_conn("x-bar", ","));
    assert_false(test_http_hop_conn("x-bar", " , ,, "));
    assert_false(test_http_hop_conn("x-bar", "x-ba"));
    assert_false(test_http_hop_conn("x-bar", "x-bar2"));
    assert_false(test_http_hop_conn("x-bar", "xx-bar"));
    assert_false(test_http_hop_conn("x-bar", "x-ba,r"));
    assert_false(test_http_hop_conn("x-bar", "x-ba r"));
    assert_false(test_http_hop_conn("x-bar", "x-bar-baz, close"));
    assert_false(test_http_hop_conn("close", "keep-alive"));
    /* An empty name is in no list, not even an empty one. */
    assert_false(test_http_hop_conn("", ""));
    assert_false(test_http_hop_conn("", ", ,"));
    assert_false(test_http_hop_conn("", "close"));
}

/* Only vlen bytes of the value count, and only len bytes of the name. */
static void
test_http_hop_connection_lengths(void **state)
{
    const char *v = "close, x-secret";

    (void)state;
    assert_true(http_hop_in_connection("x-secret", 8, v, strlen(v)));
    assert_false(http_hop_in_connection("x-secret", 8, v, strlen(v) - 1));
    assert_false(http_hop_in_connection("x-secret", 8, v, 5));
    assert_true(http_hop_in_connection("close", 5, v, 5));
    assert_true(http_hop_in_connection("close", 5, v, 6));
    assert_false(http_hop_in_connection("close", 5, v, 4));
    assert_true(http_hop_in_connection("closed", 5, v, strlen(v)));
    assert_false(http_hop_in_connection("clos", 4, v, strlen(v)));
    assert_false(http_hop_in_connection("close", 5, v, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_hop_fixed_names),
        cmocka_unit_test(test_http_hop_end_to_end_names),
        cmocka_unit_test(test_http_hop_connection_tokens),
        cmocka_unit_test(test_http_hop_connection_lengths),
    };

    return cmocka_run_group_tests_name("http_hop", tests, guard_setup, guard_teardown);
}
