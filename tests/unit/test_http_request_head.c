/* test_http_request_head.c: unit tests of request head -> OPEN head and of the REPLY field
 * filter (src/server/http_request_head.h), on frame_field arrays as public_http.c collects
 * them from libmicrohttpd: hop-by-hop removal (fixed names and those a Connection field names),
 * Expect and the client's forwarding fields (X-Forwarded-*, Forwarded, X-Real-IP) dropped for the
 * gateway's own, upgrade detection, the body kind from Content-Length and
 * Transfer-Encoding, and each 400 and 431. Field bytes lie right before a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "http_request_head.h"

#define TEST_HEAD_MAX (NGR_MAX_HEADERS + 8)

static struct http_request_scratch test_head_scratch;
static struct frame_field test_head_fields[TEST_HEAD_MAX];

/* fields as "Name: value" lines joined by "\n" -> test_head_fields, whose bytes are placed at
 * the guard page (no NULs: every read stays within each field's length). Returns the count. */
static size_t
test_head_place(const char *lines)
{
    size_t len = strlen(lines), n = 0, i = 0;
    const char *p;

    if (len == 0)
        return 0;
    p = (const char *)guard_place(lines, len);
    while (i < len) {
        size_t end = i, colon, v;
        while (end < len && p[end] != '\n')
            end++;
        colon = i;
        while (colon < end && p[colon] != ':')
            colon++;
        assert_true(colon < end);
        v = colon + 1;
        while (v < end && p[v] == ' ')
            v++;
        assert_true(n < TEST_HEAD_MAX);
        test_head_fields[n].name.p = p + i;
        test_head_fields[n].name.len = colon - i;
        test_head_fields[n].value.p = p + v;
        test_head_fields[n].value.len = end - v;
        n++;
        i = end + 1;
    }
    return n;
}

static int
test_head_build(const char *lines, struct frame_head *h, struct error_page *why)
{
    struct http_request rq = {"GET", "http", "/path?q=1", "myapp.localhost:8081", "192.0.2.7",
                              NULL, 0, 0};

    rq.fields = test_head_fields;
    rq.nfields = test_head_place(lines);
    memset(why, 0, sizeof(*why));
    return http_request_head_build(&rq, &test_head_scratch, h, why);
}

/* The head's fields as "Name: value" lines, for comparing whole. */
static const char *
test_head_lines(const struct frame_head *h)
{
    static char out[16384];
    size_t i, o = 0;

    out[0] = '\0';
    for (i = 0; i < h->nfields; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s: %.*s", i ? "\n" : "",
                              (int)h->fields[i].name.len, h->fields[i].name.p,
                              (int)h->fields[i].value.len, h->fields[i].value.p);
    return out;
}

static void
test_http_request_head_plain(void **state)
{
    struct frame_head h;
    struct error_page why;

    (void)state;
    assert_int_equal(
        test_head_build("Host: myapp.localhost:8081\nAccept: */*\nUser-Agent: t", &h, &why), 0);
    assert_string_equal(test_head_lines(&h),
                        "Host: myapp.localhost:8081\nAccept: */*\nUser-Agent: t\n"
                        "X-Forwarded-For: 192.0.2.7\nX-Forwarded-Proto: http\n"
                        "X-Forwarded-Host: myapp.localhost:8081");
    assert_true(frame_str_eq(h.method, "GET"));
    assert_true(frame_str_eq(h.target, "/path?q=1"));
    assert_true(frame_str_eq(h.client_addr, "192.0.2.7"));
    assert_true(frame_str_eq(h.scheme, "http"));
    assert_true(frame_str_eq(h.host, "myapp.localhost:8081"));
    assert_int_equal(h.body, FRAME_BODY_NONE);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.tunnel, 0);

    /* No fields at all: ours alone. */
    assert_int_equal(test_head_build("", &h, &why), 0);
    assert_int_equal(h.nfields, 3);
}

static void
test_http_request_head_hops(void **state)
{
    struct frame_head h;
    struct error_page why;

    (void)state;
    assert_int_equal(test_head_build("Connection: keep-alive, X-Secret\nKeep-Alive: 5\nTE: "
                                     "trailers\nProxy-Connection: x\nTrailer: y\nX-Secret: "
                                     "s\nx-secret: s2\nUpgrade: h2c\nExpect: 100-continue\n"
                                     "X-Forwarded-Proto: https\nX-Forwarded-Host: evil\nA: 1\n"
                                     "Connection: B\nB: 2\nX-Secret-Not: 3",
                                     &h, &why),
                     0);
    assert_string_equal(test_head_lines(&h),
                        "A: 1\nX-Secret-Not: 3\nX-Forwarded-For: 192.0.2.7\n"
                        "X-Forwarded-Proto: http\nX-Forwarded-Host: myapp.localhost:8081");
    assert_int_equal(h.flags & FRAME_HEAD_UPGRADE, 0);
}

/* A public client's forwarding fields are dropped, whatever their spelling: the gateway's alone
 * reach the local service. */
static void
test_http_request_head_xff(void **state)
{
    struct frame_head h;
    struct error_page why;

    (void)state;
    assert_int_equal(test_head_build("A: 1\nX-Forwarded-For: 6.6.6.6\nB: 2\n"
                                     "x-forwarded-for: 10.0.0.2, 10.0.0.3\nX_Forwarded_For: 7.7.7.7\n"
                                     "Forwarded: for=6.6.6.6\nX-Real-IP: 6.6.6.6\n"
                                     "X-Forwarded-Port: 1\nx_forwarded_host: evil\nC: 3",
                                     &h, &why),
                     0);
    assert_string_equal(test_head_lines(&h),
                        "A: 1\nB: 2\nC: 3\nX-Forwarded-For: 192.0.2.7\n"
                        "X-Forwarded-Proto: http\nX-Forwarded-Host: myapp.localhost:8081");
    /* Names that only look alike are kept. */
    assert_int_equal(test_head_build("X-Forwarded: a\nX-ForwardedFor: b\nForwarded-By: c", &h,
                                     &why),
                     0);
    assert_string_equal(test_head_lines(&h),
                        "X-Forwarded: a\nX-ForwardedFor: b\nForwarded-By: c\n"
                        "X-Forwarded-For: 192.0.2.7\nX-Forwarded-Proto: http\n"
                        "X-Forwarded-Host: myapp.localhost:8081");
}

static void
test_http_request_head_upgrade(void **state)
{
    struct frame_head h;
    struct error_page why;

    (void)state;
    assert_int_equal(test_head_build("Host: a\nConnection: keep-alive, Upgrade\nUpgrade: "
                                     "websocket\nSec-WebSocket-Key: k",
                                     &h, &why),
                     0);
    assert_int_equal(h.flags & FRAME_HEAD_UPGRADE, FRAME_HEAD_UPGRADE);
    assert_string_equal(test_head_lines(&h),
                        "Host: a\nUpgrade: websocket\nSec-WebSocket-Key: k\n"
                        "X-Forwarded-For: 192.0.2.7\nConnection: Upgrade\n"
                        "X-Forwarded-Proto: http\nX-Forwarded-Host: myapp.localhost:8081");
    /* Upgrade without the Connection token, or the token without Upgrade: no upgrade. */
    assert_int_equal(test_head_build("Upgrade: websocket\nConnection: close", &h, &why), 0);
    assert_int_equal(h.flags & FRAME_HEAD_UPGRADE, 0);
    assert_int_equal(h.nfields, 3);
    assert_int_equal(test_head_build("Connection: upgrade", &h, &why), 0);
    assert_int_equal(h.flags & FRAME_HEAD_UPGRADE, 0);
}

static void
test_http_request_head_body(void **state)
{
    static const struct {
        const char *lines;
        int rc;
        uint8_t body;
        uint64_t length;
    } cases[] = {
        {"Keep-Alive: 1", 0, FRAME_BODY_NONE, 0},
        {"Content-Length: 0", 0, FRAME_BODY_LENGTH, 0},
        {"Content-Length: 123", 0, FRAME_BODY_LENGTH, 123},
        {"content-length: +7", 0, FRAME_BODY_LENGTH, 7},
        {"Content-Length: 18446744073709551615", 0, FRAME_BODY_LENGTH, UINT64_MAX},
        {"Content-Length: 000000000000000000000000000042", 0, FRAME_BODY_LENGTH, 42},
        {"Content-Length: ", 0, FRAME_BODY_LENGTH, 0},
        {"Transfer-Encoding: chunked", 0, FRAME_BODY_UNKNOWN, 0},
        /* Framing a smuggler could use: refused (http_request_check.c) */
        {"Content-Length: 5\nTransfer-Encoding: chunked", NGR_EPROTO, 0, 0},
        {"Content-Length: 5\nContent-Length: 5", NGR_EPROTO, 0, 0},
        {"Transfer-Encoding: gzip, chunked", NGR_EPROTO, 0, 0},
        {"Content-Length: 18446744073709551616", NGR_EINVAL, 0, 0},
        {"Content-Length: -1", NGR_EINVAL, 0, 0},
        {"Content-Length: 12a", NGR_EINVAL, 0, 0},
        {"Content-Length: 1 2", NGR_EINVAL, 0, 0},
        {"Content-Length: +", NGR_EINVAL, 0, 0},
        {"Content-Length: 5, 5", NGR_EINVAL, 0, 0},
    };
    struct frame_head h;
    struct error_page why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = test_head_build(cases[i].lines, &h, &why);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d, want %d", cases[i].lines, rc, cases[i].rc);
        if (rc != 0) {
            assert_int_equal(why.status, 400);
            if (rc == NGR_EINVAL)
                assert_string_equal(why.text, "The Content-Length header is malformed.");
            continue;
        }
        assert_int_equal(h.body, cases[i].body);
        assert_true(h.length == cases[i].length);
        /* Framing fields never go on: the OPEN's body kind says it. */
        assert_int_equal(h.nfields, 3);
    }
}

static void
test_http_request_head_too_many(void **state)
{
    static char lines[TEST_HEAD_MAX * 16];
    struct frame_head h;
    struct error_page why;
    size_t i, o;

    (void)state;
    /* 197 fields and our three make NGR_MAX_HEADERS; one more field is too many. */
    for (o = 0, i = 0; i < NGR_MAX_HEADERS - 3; i++)
        o += (size_t)snprintf(lines + o, sizeof(lines) - o, "%sF%zu: v", i ? "\n" : "", i);
    assert_int_equal(test_head_build(lines, &h, &why), 0);
    assert_int_equal(h.nfields, NGR_MAX_HEADERS);
    snprintf(lines + o, sizeof(lines) - o, "\nF: v");
    assert_int_equal(test_head_build(lines, &h, &why), NGR_ELIMIT);
    assert_int_equal(why.status, 431);
    assert_string_equal(why.text, "The request has too many header fields.");
    /* Dropped fields do not count. */
    snprintf(lines + o, sizeof(lines) - o, "\nKeep-Alive: 1");
    assert_int_equal(test_head_build(lines, &h, &why), 0);
    /* NGR_MAX_HEADERS fields in, an upgrade's Connection among ours: still within the array. */
    for (o = 0, i = 0; i < NGR_MAX_HEADERS; i++)
        o += (size_t)snprintf(lines + o, sizeof(lines) - o, "%sF%zu: v", i ? "\n" : "", i);
    assert_int_equal(test_head_build(lines, &h, &why), NGR_ELIMIT);
}

static void
test_http_request_head_reply_filter(void **state)
{
    struct http_request_head_hops hops;
    char longname[NGR_FIELD_NAME_LEN + 8], lines[NGR_FIELD_NAME_LEN * 2 + 64];
    size_t n;

    (void)state;
    n = test_head_place("Content-Type: text/plain\nConnection: close, X-Drop\nX-Drop: 1\n"
                        "Upgrade: websocket\nTransfer-Encoding: chunked\nContent-Length: 5\n"
                        "Set-Cookie: a=b");
    hops = http_request_head_hops(test_head_fields, n);
    assert_int_equal(hops.first, 1);
    assert_int_equal(hops.end, 2);
    assert_true(http_request_head_reply_keeps(&hops, 200, test_head_fields[0].name));
    assert_false(http_request_head_reply_keeps(&hops, 200, test_head_fields[1].name));
    assert_false(http_request_head_reply_keeps(&hops, 200, test_head_fields[2].name));
    assert_false(http_request_head_reply_keeps(&hops, 200, test_head_fields[3].name));
    assert_true(http_request_head_reply_keeps(&hops, 101, test_head_fields[3].name));
    assert_false(http_request_head_reply_keeps(&hops, 101, test_head_fields[1].name));
    assert_false(http_request_head_reply_keeps(&hops, 200, test_head_fields[4].name));
    assert_false(http_request_head_reply_keeps(&hops, 200, test_head_fields[5].name));
    assert_true(http_request_head_reply_keeps(&hops, 200, test_head_fields[6].name));
    assert_true(http_request_head_is_hop(&hops, frame_str_c("x-drop")));
    assert_false(http_request_head_is_hop(&hops, frame_str_c("x-drops")));

    /* A name libmicrohttpd would get longer than NGR_FIELD_NAME_LEN - 1: dropped. */
    memset(longname, 'n', sizeof(longname));
    snprintf(lines, sizeof(lines), "%.*s: v\n%.*s: v", NGR_FIELD_NAME_LEN - 1, longname,
             NGR_FIELD_NAME_LEN, longname);
    n = test_head_place(lines);
    hops = http_request_head_hops(test_head_fields, n);
    assert_int_equal(hops.end, 0);
    assert_true(http_request_head_reply_keeps(&hops, 200, test_head_fields[0].name));
    assert_false(http_request_head_reply_keeps(&hops, 200, test_head_fields[1].name));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_request_head_plain),
        cmocka_unit_test(test_http_request_head_hops),
        cmocka_unit_test(test_http_request_head_xff),
        cmocka_unit_test(test_http_request_head_upgrade),
        cmocka_unit_test(test_http_request_head_body),
        cmocka_unit_test(test_http_request_head_too_many),
        cmocka_unit_test(test_http_request_head_reply_filter),
    };
    return cmocka_run_group_tests_name("http_request_head", tests, guard_setup, guard_teardown);
}
