/* test_session_preface.c: unit tests of the gateway's check of a control connection's first
 * bytes (src/common/session_preface.h): the preface whole and in pieces, and what each other
 * kind of visitor is told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "frame.h"
#include "session_preface.h"

static void
test_preface_pieces(void **state)
{
    const uint8_t *p = (const uint8_t *)NGR_PREFACE "HELLO...";
    struct preface_refusal r;

    (void)state;
    assert_int_equal(preface_check(0, p, 16, &r), NGR_PREFACE_LEN); /* frames follow */
    assert_int_equal(preface_check(0, p, 3, &r), 3);
    assert_int_equal(preface_check(3, p + 3, 13, &r), NGR_PREFACE_LEN - 3);
    assert_int_equal(preface_check(3, (const uint8_t *)"X", 1, &r), -1);
    assert_string_equal(r.why, "not an ngrnotok client (bad preface)");
}

static void
test_preface_visitors(void **state)
{
    struct preface_refusal r;

    (void)state;
    assert_int_equal(preface_check(0, (const uint8_t *)"\x16\x03\x01", 3, &r), -1);
    assert_non_null(strstr(r.why, "TLS client"));
    assert_null(r.reply);
    assert_int_equal(preface_check(0, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, &r), -1);
    assert_string_equal(r.why, "HTTP client on the control port");
    assert_non_null(r.reply);
    assert_int_equal(strncmp(r.reply, "HTTP/1.1 400 ", 13), 0);
    assert_int_equal(r.reply_len, strlen(r.reply));
    assert_int_equal(preface_check(0, (const uint8_t *)"PROXY TCP4 1.2.3.4", 18, &r), -1);
    assert_non_null(strstr(r.why, "not in --trusted-proxy"));
    assert_int_equal(preface_check(0, (const uint8_t *)"\r\n\r\n\0\r\nQUIT\n", 12, &r), -1);
    assert_non_null(strstr(r.why, "PROXY protocol header"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preface_pieces),
        cmocka_unit_test(test_preface_visitors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
