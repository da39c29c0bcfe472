/* test_mhd_head_lines.c: unit tests of bare LF and obs-fold found in a parsed head
 * (src/server/mhd_head_lines.h). Each head is parsed here in place the way libmicrohttpd 0.9.75
 * does it (CRLF or a bare LF ends a line and becomes NULs, a field's colon becomes NUL, blanks
 * before a value are skipped, a folded line is copied over the end of the field's name), then
 * checked: CRLF heads pass, whatever their blanks; a bare LF anywhere, a fold, a NUL in a value
 * or fields that do not match the head are refused with a 400 that says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mhd_head_lines.h"

#define TEST_LINES_MAX 8
#define TEST_LINES_BUF 512

struct test_head {
    char buf[TEST_LINES_BUF];
    size_t len;        /* the head, up to and with its empty line */
    const char *version;
    struct frame_field f[TEST_LINES_MAX];
    size_t n;
};

/* The next line of h->buf from *at, as libmicrohttpd 0.9.75's get_next_header_line reads it:
 * its line end overwritten with NUL. Returns its start, or NULL at the end of the input. */
static char *
test_next_line(struct test_head *h, size_t len, size_t *at)
{
    size_t i;

    for (i = *at; i < len; i++) {
        char *line = h->buf + *at;
        if (h->buf[i] == '\r' && i + 1 < len && h->buf[i + 1] == '\n') {
            h->buf[i] = h->buf[i + 1] = '\0';
            *at = i + 2;
            return line;
        }
        if (h->buf[i] == '\n') {
            h->buf[i] = '\0';
            *at = i + 1;
            return line;
        }
    }
    return NULL;
}

static void
test_parse(struct test_head *h, const char *raw, size_t len)
{
    size_t at = 0;
    char *line, *sp, *colon;

    assert_true(len < TEST_LINES_BUF);
    memcpy(h->buf, raw, len);
    h->n = 0;
    line = test_next_line(h, len, &at);
    assert_non_null(line);
    sp = strchr(line, ' ');
    assert_non_null(sp);
    *sp = '\0';
    sp = strrchr(sp + 1, ' ');
    h->version = sp != NULL ? sp + 1 : "";
    if (sp != NULL)
        *sp = '\0';
    while ((line = test_next_line(h, len, &at)) != NULL && line[0] != '\0') {
        if ((line[0] == ' ' || line[0] == '\t') && h->n > 0) {
            /* obs-fold: the continuation, blanks skipped, copied over the name's end. */
            struct frame_field *f = &h->f[h->n - 1];
            char *cont = line;
            while (*cont == ' ' || *cont == '\t')
                cont++;
            memmove((char *)f->name.p + f->name.len, cont, strlen(cont) + 1);
            f->name.len = strlen(f->name.p);
            continue;
        }
        colon = strchr(line, ':');
        assert_non_null(colon);
        assert_true(h->n < TEST_LINES_MAX);
        *colon++ = '\0';
        while (*colon == ' ' || *colon == '\t')
            colon++;
        h->f[h->n].name = frame_str_c(line);
        h->f[h->n].value = frame_str_c(colon);
        h->n++;
    }
    assert_non_null(line); /* every head here ends with its empty line */
    h->len = at;
}

static int
test_check(const char *raw, struct error_page *why)
{
    static struct test_head h;

    memset(&h, 0, sizeof(h));
    test_parse(&h, raw, strlen(raw));
    memset(why, 0, sizeof(*why));
    return mhd_head_lines_check(h.buf, h.len, h.version, h.f, h.n, why);
}

static void
test_accepts_crlf_heads(void **state)
{
    static const char *const ok[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET /x?y=1 HTTP/1.1\r\nHost:a\r\nX-A:\t\t v \r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
    };
    struct error_page why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(test_check(ok[i], &why), 0);
        assert_int_equal(why.status, 0);
    }
}

static void
test_refuses_bare_lf_and_folds(void **state)
{
    static const struct {
        const char *raw, *why;
    } bad[] = {
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", "The request line ends in a bare LF"},
        {"GET / HTTP/1.1\nHost: a\nX: b\n\n", "The request line ends in a bare LF"},
        {"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", "A header field line ends in a bare LF"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\n", "The request head ends in a bare LF"},
        {"GET / HTTP/1.0\r\n\n", "The request head ends in a bare LF"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\nY: 1\r\n\r\n",
         "A header field line ends in a bare LF"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n folded\r\n\r\n", "A header field"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tfolded\r\nY: 1\r\n\r\n", "A header field"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
         "A header field"},
    };
    struct error_page why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(test_check(bad[i].raw, &why), NGR_EPROTO);
        assert_int_equal(why.status, 400);
        if (strstr(why.text, bad[i].why) == NULL)
            fail_msg("case %zu: %s", i, why.text);
        assert_non_null(strstr(why.text, "CR LF"));
    }
}

/* Fields that do not lie where the head says: a value holding a NUL (libmicrohttpd's strlen
 * stops there), a name moved out of the head (as its pool does when a fold cannot grow in
 * place), a value outside it, a version that is not in it, and fields left out. */
static void
test_refuses_fields_the_head_does_not_explain(void **state)
{
    static const char raw[] = "GET / HTTP/1.1\r\nHost: a\r\nX: b\0c\r\n\r\n";
    static struct test_head h;
    struct frame_field moved;
    struct error_page why;
    char elsewhere[8] = "Host";

    (void)state;
    test_parse(&h, raw, sizeof(raw) - 1);
    assert_int_equal(h.n, 2);
    assert_int_equal(mhd_head_lines_check(h.buf, h.len, h.version, h.f, h.n, &why), NGR_EPROTO);
    assert_non_null(strstr(why.text, "holds a NUL"));

    test_parse(&h, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27);
    assert_int_equal(mhd_head_lines_check(h.buf, h.len, h.version, h.f, h.n, &why), 0);
    moved = h.f[0];
    h.f[0].name = frame_str_c(elsewhere);
    assert_int_equal(mhd_head_lines_check(h.buf, h.len, h.version, h.f, h.n, &why), NGR_EPROTO);
    h.f[0] = moved;
    h.f[0].value = frame_str_c("a");
    assert_int_equal(mhd_head_lines_check(h.buf, h.len, h.version, h.f, h.n, &why), NGR_EPROTO);
    h.f[0] = moved;
    assert_int_equal(mhd_head_lines_check(h.buf, h.len, "HTTP/1.1", h.f, h.n, &why), NGR_EPROTO);
    assert_non_null(strstr(why.text, "no HTTP version"));
    assert_int_equal(mhd_head_lines_check(h.buf, h.len, h.version, h.f, 0, &why), NGR_EPROTO);
    assert_int_equal(mhd_head_lines_check(h.buf, h.len - 1, h.version, h.f, h.n, &why),
                     NGR_EPROTO);
    assert_int_equal(mhd_head_lines_check(NULL, 0, NULL, NULL, 0, &why), NGR_EPROTO);
    assert_int_equal(mhd_head_lines_check(h.buf, h.len, h.version, h.f, h.n, &why), 0);
}

static void
test_known_versions(void **state)
{
    (void)state;
    assert_true(mhd_head_lines_known("0.9.75"));
    assert_false(mhd_head_lines_known("0.9.77"));
    assert_false(mhd_head_lines_known("1.0.1"));
    assert_false(mhd_head_lines_known(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_crlf_heads),
        cmocka_unit_test(test_refuses_bare_lf_and_folds),
        cmocka_unit_test(test_refuses_fields_the_head_does_not_explain),
        cmocka_unit_test(test_known_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
