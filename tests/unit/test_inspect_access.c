/* test_inspect_access.c: unit tests of whom the inspector serves (src/client/inspect_access.h):
 * Host naming its own address only (DNS rebinding), the token as a bearer or basic-auth
 * password, and JSON content types for calls that change state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "inspect_access.h"

static void
test_inspect_access_host_loopback(void **state)
{
    static const char *const ok[] = {"127.0.0.1:4040", "localhost:4040", "LocalHost:4040",
                                     "[::1]:4040"};
    static const char *const refused[] = {"evil.example:4040",
                                          "evil.example",
                                          "127.0.0.1:4041",
                                          "127.0.0.1",
                                          "127.0.0.1:4040x",
                                          "127.0.0.1:",
                                          ":4040",
                                          "127.0.0.1:4040.evil",
                                          "localhost.evil:4040",
                                          "::1:4040",
                                          "[::1",
                                          "[::1]x:4040",
                                          "127.0.0.2:4040",
                                          "",
                                          "10.0.0.1:4040",
                                          "localhost:+4040"};
    struct inspect_access a;
    size_t i;

    (void)state;
    inspect_access_init(&a, "127.0.0.1", 4040, NULL);
    assert_true(a.loopback);
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(inspect_access_host_ok(&a, ok[i]));
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (inspect_access_host_ok(&a, refused[i]))
            fail_msg("Host %s accepted", refused[i]);
    }
    assert_false(inspect_access_host_ok(&a, NULL));
    /* Port 80 may be left out, as browsers do. */
    inspect_access_init(&a, "127.0.0.1", 80, NULL);
    assert_true(inspect_access_host_ok(&a, "localhost"));
    assert_true(inspect_access_host_ok(&a, "127.0.0.1:80"));
    assert_false(inspect_access_host_ok(&a, "evil.example"));
}

static void
test_inspect_access_host_other(void **state)
{
    struct inspect_access a;

    (void)state;
    inspect_access_init(&a, "192.0.2.7", 4040, "t0ken");
    assert_false(a.loopback);
    assert_true(inspect_access_host_ok(&a, "192.0.2.7:4040"));
    assert_false(inspect_access_host_ok(&a, "localhost:4040"));
    assert_false(inspect_access_host_ok(&a, "evil.example:4040"));
    inspect_access_init(&a, "::1", 4040, NULL);
    assert_true(inspect_access_host_ok(&a, "[::1]:4040"));
    assert_true(inspect_access_host_ok(&a, "localhost:4040"));
    /* A wildcard address has every name of the machine: the token guards it. */
    inspect_access_init(&a, "0.0.0.0", 4040, "t0ken");
    assert_true(inspect_access_host_ok(&a, "laptop.lan:4040"));
    assert_false(inspect_access_host_ok(&a, "laptop.lan:4041"));
}

static void
test_inspect_access_token(void **state)
{
    struct inspect_access a;

    (void)state;
    inspect_access_init(&a, "127.0.0.1", 4040, NULL);
    assert_true(inspect_access_token_ok(&a, NULL));
    assert_true(inspect_access_token_ok(&a, "Bearer anything"));
    inspect_access_init(&a, "127.0.0.1", 4040, "s3cret");
    assert_false(inspect_access_token_ok(&a, NULL));
    assert_true(inspect_access_token_ok(&a, "Bearer s3cret"));
    assert_true(inspect_access_token_ok(&a, "bearer s3cret"));
    assert_false(inspect_access_token_ok(&a, "Bearer s3cre"));
    assert_false(inspect_access_token_ok(&a, "Bearer s3cret2"));
    assert_false(inspect_access_token_ok(&a, "Bearer "));
    assert_false(inspect_access_token_ok(&a, "s3cret"));
    /* "user:s3cret" and ":s3cret" in base64: any user, the token as the password. */
    assert_true(inspect_access_token_ok(&a, "Basic dXNlcjpzM2NyZXQ="));
    assert_true(inspect_access_token_ok(&a, "Basic OnMzY3JldA=="));
    assert_false(inspect_access_token_ok(&a, "Basic czNjcmV0"));         /* "s3cret": no colon */
    assert_false(inspect_access_token_ok(&a, "Basic dXNlcjp3cm9uZw==")); /* user:wrong */
    assert_false(inspect_access_token_ok(&a, "Basic !!!!"));
}

static void
test_inspect_access_json(void **state)
{
    (void)state;
    assert_true(inspect_access_json_type("application/json"));
    assert_true(inspect_access_json_type("application/json; charset=utf-8"));
    assert_true(inspect_access_json_type("Application/JSON"));
    assert_true(inspect_access_json_type(" application/json "));
    assert_false(inspect_access_json_type(NULL));
    assert_false(inspect_access_json_type(""));
    assert_false(inspect_access_json_type("text/plain"));
    assert_false(inspect_access_json_type("application/x-www-form-urlencoded"));
    assert_false(inspect_access_json_type("multipart/form-data; boundary=x"));
    assert_false(inspect_access_json_type("application/jsonp"));
    assert_false(inspect_access_json_type("text/plain; application/json"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_access_host_loopback),
        cmocka_unit_test(test_inspect_access_host_other),
        cmocka_unit_test(test_inspect_access_token),
        cmocka_unit_test(test_inspect_access_json),
    };

    return cmocka_run_group_tests_name("inspect_access", tests, NULL, NULL);
}
