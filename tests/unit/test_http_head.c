/* test_http_head.c: unit tests of splitting a response head's field lines (http_head.h). Each
 * head is placed so that it ends at a guard page: reading past its length crashes the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "http_head.h"
#include "limits.h"

static struct frame_field fields[NGR_MAX_HEADERS + 1];
static struct http_head_framing fr;

/* Splits s, placed writable right before the guard page (folds rewrite it). */
static int
split(const char *s, size_t max)
{
    size_t len = strlen(s);
    char *p = (char *)guard_out(len);

    memcpy(p, s, len);
    return http_head_fields(p, len, fields, max, &fr);
}

static void
assert_field(size_t i, const char *name, const char *value)
{
    char got[256], want[256];

    snprintf(got, sizeof(got), "%.*s: %.*s", (int)fields[i].name.len, fields[i].name.p,
             (int)fields[i].value.len, fields[i].value.p);
    snprintf(want, sizeof(want), "%s: %s", name, value);
    assert_string_equal(got, want);
}

static void
test_http_head_plain(void **state)
{
    (void)state;
    assert_int_equal(split("Server: nginx\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
                           "ETag: \"6b0f-d\"\r\n\r\n",
                           NGR_MAX_HEADERS),
                     3);
    assert_field(0, "Server", "nginx");
    assert_field(1, "Content-Type", "text/plain");
    assert_field(2, "ETag", "\"6b0f-d\"");
    assert_true(fr.has_length);
    assert_true(fr.length == 13);
    assert_false(fr.chunked);
}

/* LF alone ends a line too; blanks around a value go, blanks inside stay; an empty value is
 * a field; repeats keep their order; the name keeps its case. */
static void
test_http_head_lines_and_values(void **state)
{
    (void)state;
    assert_int_equal(split("Set-Cookie: a=1\nX-Empty:\r\nX-Spaces: \t a  b \t\r\n"
                           "set-cookie:b=2\n",
                           NGR_MAX_HEADERS),
                     4);
    assert_field(0, "Set-Cookie", "a=1");
    assert_field(1, "X-Empty", "");
    assert_field(2, "X-Spaces", "a  b");
    assert_field(3, "set-cookie", "b=2");
    assert_false(fr.has_length);
}

/* Framing fields are reported, not returned; what follows the blank line is not read. */
static void
test_http_head_framing_and_end(void **state)
{
    (void)state;
    assert_int_equal(split("Transfer-Encoding: chunked\r\nX-A: 1\r\n\r\nX-B: 2\r\n", 8), 1);
    assert_field(0, "X-A", "1");
    assert_true(fr.chunked);
    assert_false(fr.has_length);
    assert_int_equal(split("content-length: 0\r\n\r\n", 8), 0);
    assert_true(fr.has_length);
    assert_true(fr.length == 0);
    /* No blank line, no final LF: the last line still counts. */
    assert_int_equal(split("X-A: 1\r\nX-B: 2", 8), 2);
    assert_field(1, "X-B", "2");
    assert_int_equal(split("", 8), 0);
}

/* obs-fold: a line starting with a blank continues the previous value, joined by one space. */
static void
test_http_head_folds(void **state)
{
    (void)state;
    assert_int_equal(split("X-A: one\r\n two\r\n\t three \r\nX-B: b\r\n\r\n", 8), 2);
    assert_field(0, "X-A", "one two three");
    assert_field(1, "X-B", "b");
    assert_int_equal(split("X-A:\n  v\nX-B: b\n", 8), 2);
    assert_field(0, "X-A", "v");
    /* A fold of a framing field goes with it; a blank-only fold adds nothing. */
    assert_int_equal(split("Content-Length: 5\r\n  6\r\nX-A: a\r\n   \r\nX-B: b\r\n", 8), 2);
    assert_true(fr.length == 5);
    assert_field(0, "X-A", "a");
    assert_field(1, "X-B", "b");
}

/* The tightest folds: LF-only lines (one byte of room for the space), a fold as the last line
 * with no LF, ending at the guard page; a trailing CR alone; a CR inside a value. */
static void
test_http_head_edges(void **state)
{
    (void)state;
    assert_int_equal(split("X-A: a\n b\n c\nX-B: d\n e", 8), 2);
    assert_field(0, "X-A", "a b c");
    assert_field(1, "X-B", "d e");
    assert_int_equal(split("X-A: a\r", 8), 1);
    assert_field(0, "X-A", "a");
    assert_int_equal(split("X-A: a\rb\r\n c\rd\r\n", 8), 1);
    assert_field(0, "X-A", "a b c d");
    assert_int_equal(split("X-A: 1\r\n\r", 8), 1);
    assert_int_equal(split("X-A: \r\tb\r\n", 8), 1); /* a CR among the leading blanks */
    assert_field(0, "X-A", "b");
}

static void
test_http_head_malformed(void **state)
{
    static const char *const bad[] = {
        " folded: nothing\r\n",
        " \r\nX-A: 1\r\n",
        "X-A: 1\r\nno colon here\r\n",
        ": no name\r\n",
        /* A name is a token: no blank before the colon, no CR, nothing outside tchar. */
        "X-A : 1\r\n",
        "X\rA: 1\r\n",
        "X(A): 1\r\n",
        /* Content-Length: digits only, below 2^64. */
        "Content-Length:\r\n",
        "Content-Length: 12a\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: 18446744073709551616\r\n",
        "Content-Length: 99999999999999999999\r\n",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (split(bad[i], 8) != HTTP_HEAD_MALFORMED)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
    assert_int_equal(split("X-A~!#$%&'*+.^_`|: 1\r\n", 8), 1);
    assert_int_equal(split("Content-Length: 18446744073709551615\r\n", 8), 0);
    assert_true(fr.length == UINT64_MAX);
}

static void
test_http_head_too_many(void **state)
{
    static char text[NGR_MAX_HEADERS * 16 + 32];
    size_t i, off = 0;

    (void)state;
    for (i = 0; i < NGR_MAX_HEADERS; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "X-%zu: v\r\n", i);
    assert_int_equal(split(text, NGR_MAX_HEADERS), NGR_MAX_HEADERS);
    assert_field(NGR_MAX_HEADERS - 1, "X-199", "v");
    snprintf(text + off, sizeof(text) - off, "X-last: v\r\n");
    assert_int_equal(split(text, NGR_MAX_HEADERS), HTTP_HEAD_TOO_MANY);
}

/* What a refused head resets its stream with. */
static void
test_http_head_refusals(void **state)
{
    struct http_head_refusal r;

    (void)state;
    r = http_head_refused(HTTP_HEAD_TOO_MANY);
    assert_int_equal(r.code, FRAME_CODE_TOO_LARGE);
    assert_string_equal(r.message, "the local service sent more than 200 header fields");
    r = http_head_refused(HTTP_HEAD_MALFORMED);
    assert_int_equal(r.code, FRAME_CODE_UPSTREAM);
    assert_string_equal(r.message, "the local service's response head is malformed");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_head_plain),
        cmocka_unit_test(test_http_head_lines_and_values),
        cmocka_unit_test(test_http_head_framing_and_end),
        cmocka_unit_test(test_http_head_folds),
        cmocka_unit_test(test_http_head_edges),
        cmocka_unit_test(test_http_head_malformed),
        cmocka_unit_test(test_http_head_too_many),
        cmocka_unit_test(test_http_head_refusals),
    };

    return cmocka_run_group_tests_name("http_head", tests, guard_setup, guard_teardown);
}
