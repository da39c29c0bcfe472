/* test_proxy_header.c: unit tests of the PROXY protocol headers a TCP tunnel's client writes
 * to its local service (src/client/proxy_header.h): the exact bytes of versions 1 and 2 for
 * IPv4 and IPv6 and for an unknown origin, and the parsing of a TCP OPEN's "ADDRESS:PORT"
 * strings, placed against a guard page since they come unterminated from the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "guard.h"
#include "proxy_header.h"

static int
test_parse(const char *s, struct proxy_endpoint *e)
{
    size_t n = strlen(s);

    return proxy_endpoint_parse((const char *)guard_place(s, n), n, e);
}

static void
test_endpoint(const char *s, struct proxy_endpoint *e)
{
    if (test_parse(s, e) != 0)
        fail_msg("\"%s\" not parsed", s);
}

/* The header into a buffer of exactly NGR_PROXY_HEADER_MAX bytes before the guard page. */
static size_t
test_build(enum proxy_header_version v, const char *src, const char *dst, uint8_t **out)
{
    struct proxy_endpoint s, d;

    if (src != NULL)
        test_endpoint(src, &s);
    if (dst != NULL)
        test_endpoint(dst, &d);
    *out = guard_out(NGR_PROXY_HEADER_MAX);
    return proxy_header_build(v, src ? &s : NULL, dst ? &d : NULL, *out);
}

static void
test_expect(enum proxy_header_version v, const char *src, const char *dst, const void *want,
            size_t wantlen)
{
    uint8_t *out;
    size_t n = test_build(v, src, dst, &out);

    assert_int_equal(n, wantlen);
    assert_memory_equal(out, want, wantlen);
}

#define SIG "\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"

static void
test_v1(void **state)
{
    static const char tcp4[] = "PROXY TCP4 203.0.113.9 198.51.100.1 51234 20001\r\n";
    static const char tcp6[] = "PROXY TCP6 2001:db8::9 2001:db8::1 51234 443\r\n";
    static const char longest[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

    (void)state;
    test_expect(PROXY_HEADER_V1, "203.0.113.9:51234", "198.51.100.1:20001", tcp4, sizeof(tcp4) - 1);
    test_expect(PROXY_HEADER_V1, "[2001:db8::9]:51234", "[2001:db8:0:0::1]:443", tcp6,
                sizeof(tcp6) - 1);
    test_expect(PROXY_HEADER_V1, "0.0.0.0:0", "255.255.255.255:65535",
                "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", 44);
    test_expect(PROXY_HEADER_V1, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", longest, sizeof(longest) - 1);
    assert_true(sizeof(longest) - 1 <= NGR_PROXY_HEADER_MAX);
}

static void
test_v2(void **state)
{
    static const uint8_t v4[] = SIG "\x21\x11\x00\x0c"
                                    "\xcb\x00\x71\x09"  /* 203.0.113.9 */
                                    "\xc6\x33\x64\x01"  /* 198.51.100.1 */
                                    "\xc8\x22\x4e\x21"; /* 51234, 20001 */
    static const uint8_t v6[] =
        SIG "\x21\x21\x00\x24"
            "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09"
            "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
            "\xc8\x22\x01\xbb"; /* 51234, 443 */

    (void)state;
    test_expect(PROXY_HEADER_V2, "203.0.113.9:51234", "198.51.100.1:20001", v4, sizeof(v4) - 1);
    test_expect(PROXY_HEADER_V2, "[2001:db8::9]:51234", "[2001:db8::1]:443", v6, sizeof(v6) - 1);
    assert_int_equal(sizeof(v4) - 1, 28);
    assert_int_equal(sizeof(v6) - 1, 52);
}

/* No addresses, or addresses of two families: the origin is unknown, in both versions. */
static void
test_unknown(void **state)
{
    static const uint8_t local[] = SIG "\x20\x00\x00\x00";

    (void)state;
    test_expect(PROXY_HEADER_V1, NULL, NULL, "PROXY UNKNOWN\r\n", 15);
    test_expect(PROXY_HEADER_V2, NULL, NULL, local, sizeof(local) - 1);
    test_expect(PROXY_HEADER_V1, "203.0.113.9:1", NULL, "PROXY UNKNOWN\r\n", 15);
    test_expect(PROXY_HEADER_V2, NULL, "203.0.113.9:1", local, sizeof(local) - 1);
    test_expect(PROXY_HEADER_V1, "203.0.113.9:1", "[::1]:2", "PROXY UNKNOWN\r\n", 15);
    test_expect(PROXY_HEADER_V2, "[::1]:2", "203.0.113.9:1", local, sizeof(local) - 1);
}

static void
test_parse_endpoints(void **state)
{
    static const char *const bad[] = {
        "",
        "203.0.113.9",
        "203.0.113.9:",
        ":80",
        "[::1]",
        "[::1]:",
        "::1:80",
        "[::1:80",
        "::1]:80",
        "[]:80",
        "[1.2.3.4]:80",
        "1.2.3.4:65536",
        "1.2.3.4:123456",
        "1.2.3.4:8a",
        "1.2.3.4:-1",
        "1.2.3.4:+1",
        " 1.2.3.4:80",
        "1.2.3.4 :80",
        "1.2.3.4: 80",
        "01.2.3.4:80",
        "1.2.3:80",
        "1.2.3.4.5:80",
        "unknown",
        "localhost:80",
        "[fe80::1%lo]:80",
        "[::1]x:80",
        "1.2.3.4:80:90",
    };
    struct proxy_endpoint e;
    size_t i;

    (void)state;
    test_endpoint("203.0.113.9:51234", &e);
    assert_int_equal(e.family, AF_INET);
    assert_memory_equal(e.addr, "\xcb\x00\x71\x09", 4);
    assert_int_equal(e.port, 51234);
    test_endpoint("[::1]:0", &e);
    assert_int_equal(e.family, AF_INET6);
    assert_memory_equal(e.addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
    assert_int_equal(e.port, 0);
    test_endpoint("[::ffff:198.51.100.7]:65535", &e);
    assert_int_equal(e.family, AF_INET6);
    assert_int_equal(e.port, 65535);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (test_parse(bad[i], &e) != -1)
            fail_msg("\"%s\" parsed", bad[i]);
        assert_int_equal(e.family, 0);
    }
    /* A NUL inside is not the end of the string. */
    assert_int_equal(proxy_endpoint_parse((const char *)guard_place("1.2.3.4\0:80", 11), 11, &e),
                     -1);
    /* Only len bytes are read: a longer buffer's tail is not part of it. */
    assert_int_equal(proxy_endpoint_parse("1.2.3.4:8080", 10, &e), 0);
    assert_int_equal(e.port, 80);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_parse_endpoints),
    };

    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
