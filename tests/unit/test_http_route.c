/* test_http_route.c: unit tests of Host -> tunnel label (src/server/http_route.h): accepted
 * names (case, trailing dot, ports), every refusal with its status and sentence, the bare
 * domain, other domains, overlong names and invalid labels. Every Host ends at a guard page
 * (its NUL the last readable byte), and the label is written against one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "http_route.h"
#include "limits.h"

#define TEST_ROUTE_CAP (NGR_DOMAIN_LEN + 1)

/* Parses host (NULL: none), placed with its NUL right before the guard page, against domain.
 * The label buffer ends at the guard page too, so writing past cap crashes. */
static int
test_route(const char *host, const char *domain, char *label, struct error_page *why)
{
    static char copy[GUARD_AREA];
    const char *h = NULL;
    char *out;
    int n;

    memset(why, 0, sizeof(*why));
    if (host != NULL) {
        size_t len = strlen(host) + 1;
        assert_true(len <= sizeof(copy));
        h = (const char *)guard_place(host, len);
        memcpy(copy, h, len); /* guard_out below reuses the area: keep a copy */
        h = copy;
    }
    out = (char *)guard_out(TEST_ROUTE_CAP);
    n = http_route_parse(h, domain, out, TEST_ROUTE_CAP, why);
    memcpy(label, out, TEST_ROUTE_CAP);
    return n;
}

/* The same Host read straight from the guard page (the label goes to an ordinary buffer). */
static int
test_route_guarded(const char *host, const char *domain, char *label, struct error_page *why)
{
    size_t len = strlen(host) + 1;

    memset(why, 0, sizeof(*why));
    return http_route_parse((const char *)guard_place(host, len), domain, label, TEST_ROUTE_CAP,
                            why);
}

struct test_route_ok {
    const char *host, *domain, *label;
};

static void
test_http_route_accepted(void **state)
{
    static const struct test_route_ok cases[] = {
        {"myapp.localhost", "localhost", "myapp"},
        {"MyApp.LocalHost", "localhost", "myapp"},
        {"myapp.localhost.", "localhost", "myapp"},
        {"myapp.localhost:8081", "localhost", "myapp"},
        {"myapp.localhost.:80", "localhost", "myapp"},
        {"myapp.localhost:65535", "localhost", "myapp"},
        {"myapp.localhost:99999", "localhost", "myapp"}, /* five digits: libmicrohttpd's business */
        {"a.tunnel.example.com", "tunnel.example.com", "a"},
        {"x-1.example.com", "example.com", "x-1"},
        {"0.example.com", "example.com", "0"},
        {"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc.localhost", "localhost",
         "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"},
    };
    char label[TEST_ROUTE_CAP];
    struct error_page why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = test_route(cases[i].host, cases[i].domain, label, &why);
        if (n != (int)strlen(cases[i].label) || strcmp(label, cases[i].label) != 0)
            fail_msg("%s: got %d \"%s\" (%s), want \"%s\"", cases[i].host, n, n > 0 ? label : "",
                     why.text, cases[i].label);
        assert_int_equal(why.status, 0);
        n = test_route_guarded(cases[i].host, cases[i].domain, label, &why);
        assert_int_equal(n, (int)strlen(cases[i].label));
    }
}

struct test_route_refused {
    const char *host, *domain;
    int status;
    const char *text; /* the sentence a person reads, whole */
};

static void
test_http_route_refused(void **state)
{
    static const struct test_route_refused cases[] = {
        {NULL, "localhost", 400, "The request has no Host header."},
        {"", "localhost", 400, "The request has no Host header."},
        {"my app.localhost", "localhost", 400, "The Host header is malformed."},
        {"my_app.localhost", "localhost", 400, "The Host header is malformed."},
        {"myapp.localhost/x", "localhost", 400, "The Host header is malformed."},
        {"[::1]:8081", "localhost", 400, "The Host header is malformed."},
        {"caf\xc3\xa9.localhost", "localhost", 400, "The Host header is malformed."},
        {"a.localhost\r\nX: y", "localhost", 400, "The Host header is malformed."},
        {"myapp.localhost:", "localhost", 400, "The Host header has a malformed port."},
        {"myapp.localhost:80a", "localhost", 400, "The Host header has a malformed port."},
        {"myapp.localhost:123456", "localhost", 400, "The Host header has a malformed port."},
        {"myapp.localhost:-1", "localhost", 400, "The Host header has a malformed port."},
        {"myapp.localhost:80:80", "localhost", 400, "The Host header has a malformed port."},
        {":8081", "localhost", 400, "The Host header is empty."},
        {".", "localhost", 400, "The Host header is empty."},
        {".:80", "localhost", 400, "The Host header is empty."},
        {"localhost", "localhost", 404,
         "This is an ngrnotok gateway for localhost. Tunnels live at <name>.localhost."},
        {"LOCALHOST.:8081", "localhost", 404,
         "This is an ngrnotok gateway for localhost. Tunnels live at <name>.localhost."},
        {"example.com", "localhost", 404, "This gateway does not serve example.com."},
        {"a.example.com", "localhost", 404, "This gateway does not serve a.example.com."},
        {"alocalhost", "localhost", 404, "This gateway does not serve alocalhost."},
        {".localhost", "localhost", 404, "This gateway does not serve .localhost."},
        {"host", "localhost", 404, "This gateway does not serve host."},
        {"a.b.localhost", "localhost", 404,
         "No tunnel is online under the name \"a.b\" at a.b.localhost."
         " If it is yours, start it with ngrnotok http PORT and open the URL it prints."},
        {"-a.localhost", "localhost", 404,
         "No tunnel is online under the name \"-a\" at -a.localhost."
         " If it is yours, start it with ngrnotok http PORT and open the URL it prints."},
        {"a-.localhost", "localhost", 404,
         "No tunnel is online under the name \"a-\" at a-.localhost."
         " If it is yours, start it with ngrnotok http PORT and open the URL it prints."},
        {"..localhost", "localhost", 404,
         "No tunnel is online under the name \".\" at ..localhost."
         " If it is yours, start it with ngrnotok http PORT and open the URL it prints."},
        {"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd.localhost", "localhost",
         404,
         "No tunnel is online under the name "
         "\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd\" at "
         "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd.localhost."
         " If it is yours, start it with ngrnotok http PORT and open the URL it prints."},
    };
    char label[TEST_ROUTE_CAP];
    struct error_page why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = test_route(cases[i].host, cases[i].domain, label, &why);
        if (n != -1 || why.status != cases[i].status || strcmp(why.text, cases[i].text) != 0)
            fail_msg("case %zu (%s): got %d, %d \"%s\"; want %d \"%s\"", i,
                     cases[i].host ? cases[i].host : "(none)", n, why.status, why.text,
                     cases[i].status, cases[i].text);
        assert_non_null(why.title);
        if (cases[i].host != NULL && cases[i].host[0] != '\0')
            assert_int_equal(test_route_guarded(cases[i].host, cases[i].domain, label, &why), -1);
    }
}

/* Names at and past NGR_DOMAIN_LEN: the longest passes the parser, one more is malformed; a
 * long port does not count toward the name. */
static void
test_http_route_overlong(void **state)
{
    char host[NGR_DOMAIN_LEN + 64], label[TEST_ROUTE_CAP];
    struct error_page why;
    size_t fill = NGR_DOMAIN_LEN - strlen(".localhost");

    (void)state;
    memset(host, 'a', fill);
    strcpy(host + fill, ".localhost");
    assert_int_equal(strlen(host), NGR_DOMAIN_LEN);
    /* The name fits, but its label is longer than a DNS label. */
    assert_int_equal(test_route(host, "localhost", label, &why), -1);
    assert_int_equal(why.status, 404);
    strcat(host, ":8081");
    assert_int_equal(test_route(host, "localhost", label, &why), -1);
    assert_int_equal(why.status, 404);

    memset(host, 'a', fill + 1);
    strcpy(host + fill + 1, ".localhost");
    assert_int_equal(test_route(host, "localhost", label, &why), -1);
    assert_int_equal(why.status, 400);
    assert_string_equal(why.text, "The Host header is malformed.");

    /* A small label buffer refuses what does not fit, and writes nothing past it. */
    {
        char *out = (char *)guard_out(8);
        assert_int_equal(http_route_parse("abcdefgh.localhost", "localhost", out, 8, &why), -1);
        assert_int_equal(why.status, 400);
        out = (char *)guard_out(8);
        assert_int_equal(http_route_parse("ab.lo", "lo", out, 8, &why), 2);
        assert_string_equal(out, "ab");
    }
}

static void
test_http_route_not_found(void **state)
{
    struct error_page why;

    (void)state;
    http_route_not_found(&why, "myapp", "localhost");
    assert_int_equal(why.status, 404);
    assert_string_equal(why.title, "Tunnel not found");
    assert_string_equal(why.text, "No tunnel is online under the name \"myapp\" at "
                                  "myapp.localhost. If it is yours, start it with ngrnotok "
                                  "http PORT and open the URL it prints.");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_route_accepted),
        cmocka_unit_test(test_http_route_refused),
        cmocka_unit_test(test_http_route_overlong),
        cmocka_unit_test(test_http_route_not_found),
    };
    return cmocka_run_group_tests_name("http_route", tests, guard_setup, guard_teardown);
}
