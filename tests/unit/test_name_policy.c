/* test_name_policy.c: unit tests of which names a client may ask for (src/server/name_policy.h):
 * the reserved list's syntax, UUID-shaped names, and the reasons given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "name_policy.h"

static void
test_name_policy_parse(void **state)
{
    char out[128];
    struct ngr_err err;

    (void)state;
    assert_int_equal(name_policy_parse(" Blog , www,API ", out, sizeof(out), &err), 0);
    assert_string_equal(out, "blog,www,api");
    assert_int_equal(name_policy_parse("", out, sizeof(out), &err), 0);
    assert_string_equal(out, "");
    assert_int_equal(name_policy_parse("  ", out, sizeof(out), &err), 0);
    assert_string_equal(out, "");
    assert_int_equal(name_policy_parse(NAME_POLICY_DEFAULT_RESERVED, out, sizeof(out), &err), 0);
    assert_string_equal(out, NAME_POLICY_DEFAULT_RESERVED);
    assert_int_equal(name_policy_parse("a,,b", out, sizeof(out), &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "an empty name"));
    assert_int_equal(name_policy_parse("a,", out, sizeof(out), &err), NGR_EINVAL);
    assert_int_equal(name_policy_parse("my_app", out, sizeof(out), &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "\"my_app\" is not a name"));
    assert_int_equal(name_policy_parse("-lead", out, sizeof(out), &err), NGR_EINVAL);
    assert_int_equal(name_policy_parse("aaaa,bbbb", out, 8, &err), NGR_ELIMIT);
}

static void
test_name_is_uuid(void **state)
{
    (void)state;
    assert_true(name_is_uuid("3f2c0e9a-1b2c-4d5e-8f90-123456789abc"));
    assert_true(name_is_uuid("3F2C0E9A-1B2C-4D5E-8F90-123456789ABC"));
    assert_false(name_is_uuid("3f2c0e9a-1b2c-4d5e-8f90-123456789ab"));
    assert_false(name_is_uuid("3f2c0e9a-1b2c-4d5e-8f90-123456789abcd"));
    assert_false(name_is_uuid("3f2c0e9a1b2c-4d5e-8f90-123456789abcd"));
    assert_false(name_is_uuid("3f2c0e9g-1b2c-4d5e-8f90-123456789abc"));
    assert_false(name_is_uuid("3f2c0e9a-1b2c-4d5e-8f90"));
    assert_false(name_is_uuid(""));
    assert_false(name_is_uuid("myapp"));
}

static void
test_name_policy_check(void **state)
{
    char why[256];

    (void)state;
    assert_int_equal(name_policy_check("www,api", "myapp", why, sizeof(why)), 0);
    assert_int_equal(name_policy_check("www,api", "ww", why, sizeof(why)), 0);
    assert_int_equal(name_policy_check("www,api", "wwww", why, sizeof(why)), 0);
    assert_int_equal(name_policy_check("www,api", "api", why, sizeof(why)), -1);
    assert_string_equal(why, "name 'api' is reserved on this gateway; choose another");
    assert_int_equal(name_policy_check("www,api", "www", why, sizeof(why)), -1);
    assert_int_equal(name_policy_check("", "www", why, sizeof(why)), 0);
    assert_int_equal(
        name_policy_check("", "3f2c0e9a-1b2c-4d5e-8f90-123456789abc", why, sizeof(why)), -1);
    assert_non_null(strstr(why, "shaped like the gateway's random names"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_policy_parse),
        cmocka_unit_test(test_name_is_uuid),
        cmocka_unit_test(test_name_policy_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
