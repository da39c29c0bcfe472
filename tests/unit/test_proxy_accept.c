/* test_proxy_accept.c: unit tests of the PROXY header reader (src/server/proxy_accept.h): v1
 * and v2 headers as nginx and HAProxy send them, what may follow them, every prefix asking for
 * more, and the malformed and the too long refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "proxy_accept.h"

static void
test_v1(void **state)
{
    static const char h[] = "PROXY TCP4 198.51.100.7 192.0.2.1 51234 4443\r\nNGR";
    struct proxy_accept a;
    size_t i, len = strlen(h) - 3;

    (void)state;
    assert_int_equal(proxy_accept_parse((const uint8_t *)h, strlen(h), &a), 0);
    assert_int_equal(a.consumed, len);
    assert_true(a.has_addr);
    assert_string_equal(a.addr, "198.51.100.7");
    for (i = 0; i < len; i++) /* every prefix: not yet */
        assert_int_equal(proxy_accept_parse((const uint8_t *)h, i, &a), NGR_EAGAIN);
    assert_int_equal(proxy_accept_parse((const uint8_t *)"PROXY TCP6 2001:db8::1 ::1 1 2\r\n", 32,
                                        &a), 0);
    assert_string_equal(a.addr, "2001:db8::1");
    assert_int_equal(proxy_accept_parse((const uint8_t *)"PROXY UNKNOWN\r\n", 15, &a), 0);
    assert_false(a.has_addr);
    assert_int_equal(a.consumed, 15);
    assert_int_equal(proxy_accept_parse((const uint8_t *)"PROXY UNKNOWN a b c d\r\n", 23, &a), 0);
    assert_false(a.has_addr);
}

static void
test_v1_refused(void **state)
{
    static const char *const bad[] = {
        "PROXY TCP4 198.51.100.7 192.0.2.1 51234\r\n",        /* a port missing */
        "PROXY TCP4 198.51.100.7 192.0.2.1 51234 4443 9\r\n", /* one more word */
        "PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n",           /* v6 in TCP4 */
        "PROXY TCP4 198.51.100.777 192.0.2.1 1 2\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 65536 2\r\n",
        "PROXY TCP4 198.51.100.7 192.0.2.1 01 2\r\n",
        "PROXY TCP5 198.51.100.7 192.0.2.1 1 2\r\n",
        "PROXY TCP4  198.51.100.7 192.0.2.1 1 2\r\n",       /* two spaces */
        "PROXY TCP6  x 2\r\n",                             /* two spaces, then too few */
        "PROXY TCP4 198.51.100.7 192.0.2.1 1 2\rX",
        "PROXI TCP4 198.51.100.7 192.0.2.1 1 2\r\n",
        "\x89NGRNOK\n",
    };
    char longer[200];
    struct proxy_accept a;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (proxy_accept_parse((const uint8_t *)bad[i], strlen(bad[i]), &a) != NGR_EPROTO)
            fail_msg("accepted: %s", bad[i]);
    /* No CRLF within v1's 107 bytes. */
    memset(longer, 'x', sizeof(longer));
    memcpy(longer, "PROXY TCP4 ", 11);
    assert_int_equal(proxy_accept_parse((const uint8_t *)longer, sizeof(longer), &a), NGR_EPROTO);
    assert_int_equal(proxy_accept_parse((const uint8_t *)longer, 100, &a), NGR_EAGAIN);
}

static size_t
test_v2_header(uint8_t *out, uint8_t cmd, uint8_t fam, const uint8_t *addrs, size_t len)
{
    static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

    memcpy(out, sig, 12);
    out[12] = (uint8_t)(0x20 | cmd);
    out[13] = fam;
    out[14] = (uint8_t)(len >> 8);
    out[15] = (uint8_t)len;
    memcpy(out + 16, addrs, len);
    return 16 + len;
}

static void
test_v2(void **state)
{
    static const uint8_t v4[12] = {198, 51, 100, 7, 192, 0, 2, 1, 0xc8, 0x22, 0x11, 0x5b};
    uint8_t v6[36 + 8] = {0x20, 0x01, 0x0d, 0xb8}; /* 2001:db8::, then a TLV's 8 bytes */
    uint8_t h[700];
    struct proxy_accept a;
    size_t n, i;

    (void)state;
    n = test_v2_header(h, 1, 0x11, v4, sizeof(v4));
    memcpy(h + n, "\x89NGR", 4);
    assert_int_equal(proxy_accept_parse(h, n + 4, &a), 0);
    assert_int_equal(a.consumed, n);
    assert_true(a.has_addr);
    assert_string_equal(a.addr, "198.51.100.7");
    for (i = 0; i < n; i++)
        assert_int_equal(proxy_accept_parse(h, i, &a), NGR_EAGAIN);
    v6[15] = 9;
    n = test_v2_header(h, 1, 0x21, v6, sizeof(v6));
    assert_int_equal(proxy_accept_parse(h, n, &a), 0);
    assert_string_equal(a.addr, "2001:db8::9");
    assert_int_equal(a.consumed, n);
    /* LOCAL (a health check) and AF_UNSPEC: no address; the peer's is kept. */
    n = test_v2_header(h, 0, 0x00, v4, 0);
    assert_int_equal(proxy_accept_parse(h, n, &a), 0);
    assert_false(a.has_addr);
    n = test_v2_header(h, 1, 0x00, v4, 0);
    assert_int_equal(proxy_accept_parse(h, n, &a), 0);
    assert_false(a.has_addr);
    /* Refused: a short address block, version 1 of the binary form, a command past PROXY, a
     * header longer than NGR_PROXY_ACCEPT_MAX. */
    n = test_v2_header(h, 1, 0x11, v4, 8);
    assert_int_equal(proxy_accept_parse(h, n, &a), NGR_EPROTO);
    n = test_v2_header(h, 1, 0x11, v4, sizeof(v4));
    h[12] = 0x11;
    assert_int_equal(proxy_accept_parse(h, n, &a), NGR_EPROTO);
    h[12] = 0x22;
    assert_int_equal(proxy_accept_parse(h, n, &a), NGR_EPROTO);
    memset(h + 16, 0, 600);
    n = test_v2_header(h, 1, 0x11, h + 16, NGR_PROXY_ACCEPT_MAX - 16 + 1);
    assert_int_equal(proxy_accept_parse(h, n, &a), NGR_EPROTO);
    h[3] = 0x0b; /* a broken signature */
    assert_int_equal(proxy_accept_parse(h, 16, &a), NGR_EPROTO);
}

static void
test_starts(void **state)
{
    (void)state;
    assert_true(proxy_accept_starts('P'));
    assert_true(proxy_accept_starts(0x0d));
    assert_false(proxy_accept_starts(0x89)); /* our preface */
    assert_false(proxy_accept_starts(0x16)); /* TLS */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_v1_refused),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_starts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
