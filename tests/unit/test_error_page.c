/* test_error_page.c: unit tests of the gateway's error pages (src/server/error_page.h): HTML
 * escaping of hostile text, output cut safely at every capacity (written against a guard page),
 * the page template, the status -> code map, and the reason's own cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_page.h"
#include "guard.h"

static void
test_error_page_escape(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain text", "plain text"},
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a & b", "a &amp; b"},
        {"\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;"},
        {"&amp;", "&amp;amp;"},
        {"line\r\nbreak\ttab\x01\x1f\x7f", "line??break?tab???"},
        {"<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"},
        {"caf\xc3\xa9", "caf\xc3\xa9"}, /* UTF-8 passes: the page says charset=utf-8 */
    };
    char out[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = error_page_html_escape(out, sizeof(out), cases[i].in);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
}

/* At every capacity the output ends in a NUL within cap, never cuts an entity in half, and is
 * a prefix of the whole escaping. */
static void
test_error_page_escape_truncation(void **state)
{
    const char *in = "<a href=\"x\">&'</a> and more text after it";
    char whole[256];
    size_t cap, full = error_page_html_escape(whole, sizeof(whole), in);

    (void)state;
    for (cap = 1; cap <= full + 8; cap++) {
        char *out = (char *)guard_out(cap);
        size_t n = error_page_html_escape(out, cap, in);
        assert_true(n < cap);
        assert_int_equal(out[n], '\0');
        assert_int_equal(strlen(out), n);
        assert_memory_equal(out, whole, n);
        /* cut only between whole characters or entities: what follows in whole starts one */
        if (n > 0 && n < full) {
            const char *amp = strrchr(out, '&');
            if (amp != NULL)
                assert_non_null(strchr(amp, ';'));
        }
    }
}

static void
test_error_page_code(void **state)
{
    static const struct {
        int status;
        const char *code;
    } cases[] = {
        {400, "bad-request"},
        {404, "tunnel-not-found"},
        {308, "use-https"},
        {408, "request-timeout"},
        {413, "body-too-large"},
        {429, "too-many-requests"},
        {401, "auth-required"},
        {403, "forbidden"},
        {431, "headers-too-large"},
        {502, "bad-gateway"},
        {503, "unavailable"},
        {504, "gateway-timeout"},
        {500, "error"},
        {200, "error"},
        {0, "error"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(error_page_code(cases[i].status), cases[i].code);
}

static void
test_error_page_format(void **state)
{
    struct error_page e;
    char page[NGR_ERROR_PAGE_LEN];
    size_t n;

    (void)state;
    error_page_set(&e, 404, "Tunnel not found", "Tunnel %s.%s not found.", "<b>x</b>", "localhost");
    assert_int_equal(e.status, 404);
    assert_string_equal(e.text, "Tunnel <b>x</b>.localhost not found.");
    n = error_page_format(page, sizeof(page), &e);
    assert_int_equal(n, strlen(page));
    assert_non_null(strstr(page, "<title>404 Tunnel not found</title>"));
    assert_non_null(strstr(page, "<h1>Tunnel not found</h1>"));
    assert_non_null(
        strstr(page, "<p id=\"message\">Tunnel &lt;b&gt;x&lt;/b&gt;.localhost not found.</p>"));
    assert_non_null(strstr(page, "ngrnotok gateway &middot; 404"));
    assert_null(strstr(page, "<b>"));
    assert_int_equal(strncmp(page, "<!DOCTYPE html>\n", 16), 0);
    assert_int_equal(page[n - 1], '\n');
}

/* The longest reason, every byte one that escapes to the longest entity: the page still fits
 * NGR_ERROR_PAGE_LEN whole, and smaller buffers get a terminated prefix. */
static void
test_error_page_worst_case(void **state)
{
    struct error_page e;
    char hostile[NGR_ERROR_REASON_LEN * 2], page[NGR_ERROR_PAGE_LEN], *out;
    size_t n, cap;

    (void)state;
    memset(hostile, '"', sizeof(hostile) - 1);
    hostile[sizeof(hostile) - 1] = '\0';
    error_page_set(&e, 502, "<Bad> & \"Gateway\"", "%s", hostile);
    assert_int_equal(strlen(e.text), NGR_ERROR_REASON_LEN - 1);
    n = error_page_format(page, sizeof(page), &e);
    assert_true(n < sizeof(page));
    assert_non_null(strstr(page, "</body></html>\n"));
    assert_non_null(strstr(page, "&lt;Bad&gt; &amp; &quot;Gateway&quot;"));
    assert_null(strchr(strstr(page, "<p id=\"message\">") + 16, '"'));
    for (cap = 1; cap < n + 2; cap += 97) {
        out = (char *)guard_out(cap);
        assert_true(error_page_format(out, cap, &e) < cap);
        assert_memory_equal(out, page, strlen(out));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_page_escape),
        cmocka_unit_test(test_error_page_escape_truncation),
        cmocka_unit_test(test_error_page_code),
        cmocka_unit_test(test_error_page_format),
        cmocka_unit_test(test_error_page_worst_case),
    };
    return cmocka_run_group_tests_name("error_page", tests, guard_setup, guard_teardown);
}
