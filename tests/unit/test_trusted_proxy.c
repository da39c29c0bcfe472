/* test_trusted_proxy.c: unit tests of the visitor's address and scheme behind a trusted reverse
 * proxy (src/server/trusted_proxy.h): the right-most untrusted X-Forwarded-For address, chains
 * of proxies, several fields, X-Forwarded-Proto, and hostile values (garbage, blanks, IPv6
 * forms, ports, NUL bytes, long chains) from a trusted peer and from any other. Each value is
 * an exact-size allocation, so AddressSanitizer sees a read past either end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trusted_proxy.h"

#define TEST_MAX_FIELDS 8

struct test_req {
    struct frame_field f[TEST_MAX_FIELDS];
    size_t n;
};

static void
test_add_n(struct test_req *r, const char *name, const char *value, size_t len)
{
    char *v = malloc(len > 0 ? len : 1);

    assert_non_null(v);
    memcpy(v, value, len);
    assert_true(r->n < TEST_MAX_FIELDS);
    r->f[r->n].name = frame_str_c(name);
    r->f[r->n].value.p = v;
    r->f[r->n].value.len = len;
    r->n++;
}

static void
test_add(struct test_req *r, const char *name, const char *value)
{
    test_add_n(r, name, value, strlen(value));
}

static void
test_clear(struct test_req *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free((void *)r->f[i].value.p);
    r->n = 0;
}

static struct cidr_list
test_list(const char *ranges)
{
    struct cidr_list l;
    struct ngr_err err;
    const char *p = ranges;

    memset(&l, 0, sizeof(l));
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        assert_int_equal(cidr_list_add(&l, p, len, &err), 0);
        p += len + (p[len] == ',');
    }
    return l;
}

/* The client address that peer's one X-Forwarded-For field xff gives (NULL: no field). */
static void
test_xff(const char *trusted, const char *peer, const char *xff, const char *want)
{
    struct cidr_list l = test_list(trusted);
    struct trusted_proxy_view v;
    struct test_req r = {.n = 0};

    test_add(&r, "Host", "myapp.example.com");
    if (xff != NULL)
        test_add(&r, "X-Forwarded-For", xff);
    trusted_proxy_resolve(&l, peer, "http", r.f, r.n, &v);
    if (strcmp(v.client_ip, want) != 0)
        fail_msg("trusted %s, peer %s, X-Forwarded-For \"%s\": got %s, want %s", trusted, peer,
                 xff ? xff : "(none)", v.client_ip, want);
    test_clear(&r);
}

static void
test_untrusted_peer(void **state)
{
    struct cidr_list none = test_list(""), l = test_list("127.0.0.1/32");
    struct trusted_proxy_view v;
    struct test_req r = {.n = 0};

    (void)state;
    test_add(&r, "X-Forwarded-For", "203.0.113.7");
    test_add(&r, "X-Forwarded-Proto", "https");
    /* No trusted proxy at all, or a peer outside the list: the socket's word only. */
    trusted_proxy_resolve(&none, "127.0.0.1", "http", r.f, r.n, &v);
    assert_string_equal(v.client_ip, "127.0.0.1");
    assert_string_equal(v.scheme, "http");
    assert_false(v.via_proxy);
    trusted_proxy_resolve(&l, "127.0.0.2", "http", r.f, r.n, &v);
    assert_string_equal(v.client_ip, "127.0.0.2");
    assert_string_equal(v.scheme, "http");
    assert_false(v.via_proxy);
    trusted_proxy_resolve(&l, "198.51.100.1", "https", r.f, r.n, &v);
    assert_string_equal(v.scheme, "https");
    /* From the trusted peer both count. */
    trusted_proxy_resolve(&l, "127.0.0.1", "http", r.f, r.n, &v);
    assert_string_equal(v.client_ip, "203.0.113.7");
    assert_string_equal(v.scheme, "https");
    assert_true(v.via_proxy);
    test_clear(&r);
}

static void
test_right_most_untrusted(void **state)
{
    (void)state;
    test_xff("127.0.0.1/32", "127.0.0.1", "203.0.113.7", "203.0.113.7");
    /* What the visitor wrote itself is left of what nginx appended: never believed. */
    test_xff("127.0.0.1/32", "127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7");
    test_xff("127.0.0.1/32", "127.0.0.1", "127.0.0.1, 127.0.0.2", "127.0.0.2");
    /* A chain of trusted proxies is walked past. */
    test_xff("127.0.0.1/32,10.0.0.0/8", "127.0.0.1",
             "198.51.100.1, 203.0.113.7, 10.0.0.2, 10.1.2.3", "203.0.113.7");
    /* All trusted: the left-most. No field, or an empty one: the peer. */
    test_xff("127.0.0.1/32,10.0.0.0/8", "127.0.0.1", "10.0.0.5, 10.0.0.6", "10.0.0.5");
    test_xff("127.0.0.1/32", "127.0.0.1", NULL, "127.0.0.1");
    test_xff("127.0.0.1/32", "127.0.0.1", "", "127.0.0.1");
    test_xff("127.0.0.1/32", "127.0.0.1", " , ,", "127.0.0.1");
    /* Blanks and empty elements around the addresses. */
    test_xff("127.0.0.1/32", "127.0.0.1", "  203.0.113.7\t,\t 198.51.100.2  ", "198.51.100.2");
    test_xff("127.0.0.1/32", "127.0.0.1", "203.0.113.7,,  ,", "203.0.113.7");
    test_xff("127.0.0.1/32", "127.0.0.1", ",203.0.113.7", "203.0.113.7");
}

static void
test_address_forms(void **state)
{
    (void)state;
    test_xff("127.0.0.1/32", "127.0.0.1", "2001:db8::7", "2001:db8::7");
    test_xff("127.0.0.1/32", "127.0.0.1", "2001:DB8:0:0::7", "2001:db8::7");
    test_xff("127.0.0.1/32", "127.0.0.1", "[2001:db8::7]", "2001:db8::7");
    test_xff("127.0.0.1/32", "127.0.0.1", "[2001:db8::7]:443", "2001:db8::7");
    test_xff("127.0.0.1/32", "127.0.0.1", "203.0.113.7:51234", "203.0.113.7");
    test_xff("127.0.0.1/32", "127.0.0.1", "::ffff:203.0.113.7", "203.0.113.7");
    /* IPv6 proxies, and a v4-mapped element matching an IPv4 range. */
    test_xff("::1/128", "::1", "203.0.113.7", "203.0.113.7");
    test_xff("::1/128,10.0.0.0/8", "::1", "2001:db8::7, ::ffff:10.0.0.9", "2001:db8::7");
    test_xff("2001:db8:1::/48", "2001:db8:1::2", "[2001:db8:1::3]:80, 2001:db8:2::9",
             "2001:db8:2::9");
}

/* Garbage stops the walk at the last address read: what lies left of it is not believed. */
static void
test_garbage(void **state)
{
    static const char *const bad[] = {
        "garbage",
        "unknown",
        "_hidden",
        "203.0.113.7 198.51.100.1",
        "999.1.1.1",
        "1.2.3",
        "01.2.3.4",
        "1.2.3.4:99999",
        "1.2.3.4:",
        "1.2.3.4:x",
        "[::1",
        "::1]",
        "[1.2.3.4]",
        "[::1]:",
        "[::1]x",
        "fe80::1%eth0",
        "2001:db8::7:80:90:1:2:3:4",
        "\"203.0.113.7\"",
        "for=203.0.113.7",
        "203.0.113.7;proto=https",
        "-",
        "::ffff:999.0.0.1",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    char xff[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_xff("127.0.0.1/32", "127.0.0.1", bad[i], "127.0.0.1");
        snprintf(xff, sizeof(xff), "203.0.113.7, %s", bad[i]);
        test_xff("127.0.0.1/32", "127.0.0.1", xff, "127.0.0.1");
        snprintf(xff, sizeof(xff), "%s, 203.0.113.7", bad[i]);
        test_xff("127.0.0.1/32", "127.0.0.1", xff, "203.0.113.7");
        snprintf(xff, sizeof(xff), "203.0.113.7, %s, 10.0.0.2", bad[i]);
        test_xff("127.0.0.1/32,10.0.0.0/8", "127.0.0.1", xff, "10.0.0.2");
    }
}

static void
test_nul_and_many(void **state)
{
    struct cidr_list l = test_list("127.0.0.1/32,10.0.0.0/8");
    struct trusted_proxy_view v;
    struct test_req r = {.n = 0};
    char xff[NGR_FORWARDED_HOPS * 16 + 64];
    size_t i, at;

    (void)state;
    /* A NUL byte inside an element (libmicrohttpd gives lengths; the value is not cut). */
    test_add_n(&r, "X-Forwarded-For", "203.0.113.7\0 198.51.100.1", 25);
    trusted_proxy_resolve(&l, "127.0.0.1", "http", r.f, r.n, &v);
    assert_string_equal(v.client_ip, "127.0.0.1");
    test_clear(&r);

    /* NGR_FORWARDED_HOPS - 1 trusted hops, then the visitor: found. One more hop: the walk
     * gives up at a trusted address instead of reading further left. */
    at = (size_t)snprintf(xff, sizeof(xff), "203.0.113.7");
    for (i = 0; i < NGR_FORWARDED_HOPS - 1; i++)
        at += (size_t)snprintf(xff + at, sizeof(xff) - at, ", 10.0.0.%zu", i + 1);
    test_xff("127.0.0.1/32,10.0.0.0/8", "127.0.0.1", xff, "203.0.113.7");
    snprintf(xff + at, sizeof(xff) - at, ", 10.0.1.1");
    test_xff("127.0.0.1/32,10.0.0.0/8", "127.0.0.1", xff, "10.0.0.1");
    /* Thousands of untrusted addresses: only the right-most is read. */
    {
        size_t len = 20000 * 12, k;
        char *big = malloc(len + 1);

        assert_non_null(big);
        for (k = 0; k < 20000; k++)
            memcpy(big + k * 12, "203.0.113.7,", 12);
        memcpy(big + len - 12, "198.51.10.9 ", 12);
        big[len] = '\0';
        test_xff("127.0.0.1/32", "127.0.0.1", big, "198.51.10.9");
        free(big);
    }
}

/* Several fields are one list, in order; other spellings of the name are not the field. */
static void
test_fields(void **state)
{
    struct cidr_list l = test_list("127.0.0.1/32,10.0.0.0/8");
    struct trusted_proxy_view v;
    struct test_req r = {.n = 0};

    (void)state;
    test_add(&r, "X-Forwarded-For", "198.51.100.1");
    test_add(&r, "Accept", "*/*");
    test_add(&r, "x-FORWARDED-for", "203.0.113.7, 10.0.0.2");
    trusted_proxy_resolve(&l, "127.0.0.1", "http", r.f, r.n, &v);
    assert_string_equal(v.client_ip, "203.0.113.7");
    test_clear(&r);

    test_add(&r, "X-Forwarded-For", "198.51.100.1");
    test_add(&r, "X-Forwarded-For", "10.0.0.2");
    trusted_proxy_resolve(&l, "127.0.0.1", "http", r.f, r.n, &v);
    assert_string_equal(v.client_ip, "198.51.100.1");
    test_clear(&r);

    test_add(&r, "X-Forwarded-For", "198.51.100.1");
    test_add(&r, "X_Forwarded_For", "203.0.113.7");
    test_add(&r, "Forwarded", "for=192.0.2.60");
    test_add(&r, "X-Real-IP", "192.0.2.61");
    trusted_proxy_resolve(&l, "127.0.0.1", "http", r.f, r.n, &v);
    assert_string_equal(v.client_ip, "198.51.100.1");
    test_clear(&r);
}

/* X-Forwarded-Proto from the trusted peer: its last field's right-most element, if http or
 * https; anything else leaves the scheme the gateway saw. */
static void
test_proto(void **state)
{
    static const struct {
        const char *value, *own, *want;
    } cases[] = {
        {"https", "http", "https"},
        {"HTTPS", "http", "https"},
        {" https\t", "http", "https"},
        {"http", "https", "http"},
        {"http, https", "http", "https"},
        {"https, http", "http", "http"},
        {"ftp", "http", "http"},
        {"ftp", "https", "https"},
        {"", "http", "http"},
        {"https2", "http", "http"},
        {"httpss", "https", "https"},
        {"ws", "http", "http"},
        {"h t t p s", "http", "http"},
    };
    struct cidr_list l = test_list("127.0.0.1/32");
    struct trusted_proxy_view v;
    struct test_req r = {.n = 0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_add(&r, "X-Forwarded-Proto", cases[i].value);
        trusted_proxy_resolve(&l, "127.0.0.1", cases[i].own, r.f, r.n, &v);
        if (strcmp(v.scheme, cases[i].want) != 0)
            fail_msg("X-Forwarded-Proto \"%s\" over %s: got %s, want %s", cases[i].value,
                     cases[i].own, v.scheme, cases[i].want);
        test_clear(&r);
    }
    /* The last field counts. */
    test_add(&r, "X-Forwarded-Proto", "http");
    test_add(&r, "X-Forwarded-Proto", "https");
    trusted_proxy_resolve(&l, "127.0.0.1", "http", r.f, r.n, &v);
    assert_string_equal(v.scheme, "https");
    test_clear(&r);
    /* No field: the gateway's own. */
    trusted_proxy_resolve(&l, "127.0.0.1", "https", r.f, 0, &v);
    assert_string_equal(v.scheme, "https");
}

static void
test_parse_addr(void **state)
{
    char out[NGR_PEER_LEN];

    (void)state;
    assert_int_equal(trusted_proxy_parse_addr("203.0.113.7", 11, out, sizeof(out)), 0);
    assert_string_equal(out, "203.0.113.7");
    /* Only len bytes are read. */
    assert_int_equal(trusted_proxy_parse_addr("203.0.113.77", 11, out, sizeof(out)), 0);
    assert_string_equal(out, "203.0.113.7");
    assert_int_equal(trusted_proxy_parse_addr("", 0, out, sizeof(out)), NGR_EINVAL);
    /* Too small an output: refused, not cut. */
    memset(out, 'x', sizeof(out));
    assert_int_equal(trusted_proxy_parse_addr("203.0.113.7", 11, out, 8), NGR_EINVAL);
    assert_int_equal(out[0], 'x');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untrusted_peer), cmocka_unit_test(test_right_most_untrusted),
        cmocka_unit_test(test_address_forms),  cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_nul_and_many),   cmocka_unit_test(test_fields),
        cmocka_unit_test(test_proto),          cmocka_unit_test(test_parse_addr),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
