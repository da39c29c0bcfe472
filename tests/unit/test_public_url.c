/* test_public_url.c: unit tests of the public URLs' template (src/server/public_url.h): what
 * --public-url takes and what it refuses with which words, the config key, and the URLs made
 * from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "public_url.h"

/* c with domain and public_url set through config_set, as the flags and the file set them. */
static int
test_check(const char *domain, const char *url, struct ngr_err *err)
{
    struct server_config c;

    config_defaults(&c);
    assert_int_equal(config_set(&c, "domain", domain, err), 0);
    assert_int_equal(config_set(&c, "public_url", url, err), 0);
    memset(err, 0, sizeof(*err));
    return public_url_check(&c, err);
}

static void
test_ok(const char *domain, const char *url)
{
    struct ngr_err err;

    if (test_check(domain, url, &err) != 0)
        fail_msg("\"%s\" for %s refused: %s", url, domain, err.msg);
}

static void
test_refused(const char *domain, const char *url, const char *want)
{
    struct ngr_err err;

    if (test_check(domain, url, &err) != NGR_EINVAL)
        fail_msg("\"%s\" for %s taken", url, domain);
    if (strstr(err.msg, want) == NULL || strstr(err.msg, "public_url") == NULL)
        fail_msg("\"%s\": \"%s\" does not say \"%s\"", url, err.msg, want);
}

static void
test_public_url_check(void **state)
{
    struct server_config c;
    struct ngr_err err;

    (void)state;
    test_ok("example.com", "");
    test_ok("example.com", "https://{name}.example.com");
    test_ok("example.com", "http://{name}.example.com");
    test_ok("example.com", "HTTPS://{name}.Example.COM:8443");
    test_ok("tunnel.example.com", "https://{name}.tunnel.example.com/");
    test_ok("example.com", "https://{name}.example.com:1");
    test_ok("example.com", "https://{name}.example.com:65535");

    test_refused("example.com", "ftp://{name}.example.com", "http:// or https://");
    test_refused("example.com", "{name}.example.com", "http:// or https://");
    test_refused("example.com", "https://www.example.com", "needs {name} once");
    test_refused("example.com", "https://{name}.{name}.example.com", "needs {name} once");
    test_refused("example.com", "https://{NAME}.example.com", "needs {name} once");
    test_refused("example.com", "https://{name}.example.org", "host must be {name}.example.com");
    test_refused("example.com", "https://{name}.example.comx", "host must be {name}.example.com");
    test_refused("example.com", "https://{name}-x.example.com", "host must be {name}.example.com");
    test_refused("example.com", "https://x.{name}.example.com", "host must be {name}.example.com");
    test_refused("example.com", "https://user@{name}.example.com",
                 "host must be {name}.example.com");
    test_refused("tunnel.example.com", "https://{name}.example.com", "set --domain");
    test_refused("example.com", "https://{name}.example.com:0", "port must be 1-65535");
    test_refused("example.com", "https://{name}.example.com:65536", "port must be 1-65535");
    test_refused("example.com", "https://{name}.example.com:", "port must be 1-65535");
    test_refused("example.com", "https://{name}.example.com:443x", "nothing may follow");
    test_refused("example.com", "https://{name}.example.com/app", "nothing may follow");
    test_refused("example.com", "https://{name}.example.com//", "nothing may follow");
    test_refused("example.com", "https://{name}.example.com?x", "nothing may follow");

    /* With public_port as well: one of the two says the port. */
    config_defaults(&c);
    assert_int_equal(config_set(&c, "domain", "example.com", &err), 0);
    assert_int_equal(config_set(&c, "public_url", "https://{name}.example.com", &err), 0);
    assert_int_equal(config_set(&c, "public_port", "80", &err), 0);
    assert_int_equal(public_url_check(&c, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "drop public_port"));
}

static void
test_public_url_config(void **state)
{
    struct server_config c;
    struct ngr_err err;
    char longer[sizeof(c.public_url) + 8];

    (void)state;
    config_defaults(&c);
    assert_string_equal(c.public_url, "");
    assert_int_equal(config_parse(&c, "public_url = https://{name}.localhost/\n", 39, &err), 0);
    assert_string_equal(c.public_url, "https://{name}.localhost");
    assert_int_equal(config_set(&c, "public-url", "", &err), 0);
    assert_string_equal(c.public_url, "");
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(config_set(&c, "public_url", longer, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "public_url: longer than"));
}

static void
test_public_url_format(void **state)
{
    char out[NGR_URL_LEN];

    (void)state;
    public_url_format("https://{name}.example.com", "myapp", out, sizeof(out));
    assert_string_equal(out, "https://myapp.example.com");
    public_url_format("http://{name}.example.com:8080", "5b0e7d9a-2c4f-4e81-83a0-7c1d2e3f4a5b", out,
                      sizeof(out));
    assert_string_equal(out, "http://5b0e7d9a-2c4f-4e81-83a0-7c1d2e3f4a5b.example.com:8080");
    /* Cut, never overrun. */
    memset(out, 'x', sizeof(out));
    public_url_format("https://{name}.example.com", "myapp", out, 12);
    assert_string_equal(out, "https://mya");
    assert_int_equal(out[12], 'x');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_url_check),
        cmocka_unit_test(test_public_url_config),
        cmocka_unit_test(test_public_url_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
