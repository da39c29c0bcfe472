/* test_json_escape.c: unit tests of the JSON string escaper (src/common/json_escape.h): quotes
 * and backslashes, control and non-ASCII bytes, and the cut before an escape that would not
 * fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "json_escape.h"

static void
test_json_escape_bytes(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(json_escape(out, sizeof(out), "a\"b\\c", 5), 7);
    assert_string_equal(out, "a\\\"b\\\\c");
    json_escape(out, sizeof(out), "\x01\x7f\xff\n", 4);
    assert_string_equal(out, "\\u0001\\u007f\\u00ff\\u000a");
    json_escape(out, sizeof(out), "x\0y", 3); /* a NUL byte is a byte like another */
    assert_string_equal(out, "x\\u0000y");
}

static void
test_json_escape_cut(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(json_escape(out, sizeof(out), "abc\x01", 4), 3); /* no half escape */
    assert_string_equal(out, "abc");
    assert_int_equal(json_escape(out, 1, "abc", 3), 0);
    assert_string_equal(out, "");
    assert_int_equal(json_escape(out, 0, "abc", 3), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape_bytes),
        cmocka_unit_test(test_json_escape_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
