/* test_access_rules.c: unit tests of a tunnel's protections (src/server/access_rules.h) and of
 * address ranges (src/common/cidr.h): CIDR syntax and matching (IPv4, IPv6, v4-mapped), the
 * options a BIND carries, basic-auth checks, and that no password is kept in clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

#include "access_rules.h"

static struct cidr_list
test_list(const char *const *ranges)
{
    struct cidr_list l;
    struct ngr_err err;

    memset(&l, 0, sizeof(l));
    for (; *ranges != NULL; ranges++)
        assert_int_equal(cidr_list_add(&l, *ranges, strlen(*ranges), &err), 0);
    return l;
}

static void
test_cidr(void **state)
{
    static const char *const v4[] = {"10.0.0.0/8", "192.0.2.7", NULL};
    static const char *const v6[] = {"2001:db8::/32", "::1/128", NULL};
    static const char *const odd[] = {"10.1.2.3/13", "0.0.0.0/0", NULL};
    struct cidr_list l = test_list(v4);
    struct cidr c;
    struct ngr_err err;

    (void)state;
    assert_true(cidr_list_match(&l, "10.200.3.4"));
    assert_true(cidr_list_match(&l, "192.0.2.7"));
    assert_false(cidr_list_match(&l, "192.0.2.8"));
    assert_false(cidr_list_match(&l, "11.0.0.1"));
    assert_true(cidr_list_match(&l, "::ffff:10.1.1.1")); /* v4-mapped */
    assert_false(cidr_list_match(&l, "2001:db8::1"));
    assert_false(cidr_list_match(&l, "not an address"));
    l = test_list(v6);
    assert_true(cidr_list_match(&l, "2001:db8:ffff::1"));
    assert_true(cidr_list_match(&l, "::1"));
    assert_false(cidr_list_match(&l, "2001:db9::1"));
    assert_false(cidr_list_match(&l, "127.0.0.1"));
    l = test_list(odd);
    assert_true(cidr_list_match(&l, "8.8.8.8")); /* /0: everything IPv4 */
    l = test_list((const char *const[]){"10.1.2.3/13", NULL});
    assert_true(cidr_list_match(&l, "10.7.255.255"));  /* 10.0.0.0 - 10.7.255.255 */
    assert_false(cidr_list_match(&l, "10.8.0.0"));
    assert_int_equal(cidr_parse("10.0.0.0/33", 11, &c, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "0-32"));
    assert_int_equal(cidr_parse("::/129", 6, &c, &err), NGR_EINVAL);
    assert_int_equal(cidr_parse("10.0.0.0/", 9, &c, &err), NGR_EINVAL);
    assert_int_equal(cidr_parse("10.0.0.0/8x", 11, &c, &err), NGR_EINVAL);
    assert_int_equal(cidr_parse("example.com", 11, &c, &err), NGR_EINVAL);
    assert_int_equal(cidr_parse("", 0, &c, &err), NGR_EINVAL);
}

static void
test_access_rules_bind(void **state)
{
    struct frame_bind b;
    struct access_rules r;
    struct ngr_err err;

    (void)state;
    memset(&b, 0, sizeof(b));
    b.opts[0].name = frame_str_c("allow_cidr");
    b.opts[0].value = frame_str_c("127.0.0.0/8");
    b.opts[1].name = frame_str_c("deny_cidr");
    b.opts[1].value = frame_str_c("127.0.0.9");
    b.opts[2].name = frame_str_c("basic_auth");
    b.opts[2].value = frame_str_c("alice:s3cret-pass");
    b.nopts = 3;
    assert_int_equal(access_rules_init(&r, &err), 0);
    assert_int_equal(access_rules_from_bind(&r, &b, &err), 0);
    assert_true(access_rules_address_ok(&r, "127.0.0.1"));
    assert_false(access_rules_address_ok(&r, "127.0.0.9"));
    assert_false(access_rules_address_ok(&r, "10.0.0.1"));
    assert_int_equal(r.ncreds, 1);
    /* Only a salted hash is kept: the password is nowhere in the rules. */
    assert_null(memmem(&r, sizeof(r), "s3cret-pass", 11));
    assert_null(memmem(&r, sizeof(r), "alice", 5));

    b.opts[3].name = frame_str_c("rate");
    b.opts[3].value = frame_str_c("1");
    b.nopts = 4;
    assert_int_equal(access_rules_init(&r, &err), 0);
    assert_int_equal(access_rules_from_bind(&r, &b, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "does not know the tunnel option \"rate\""));
    b.opts[0].value = frame_str_c("127.0.0.0/40");
    assert_int_equal(access_rules_init(&r, &err), 0);
    assert_int_equal(access_rules_from_bind(&r, &b, &err), NGR_EINVAL);
    b.opts[0].name = frame_str_c("basic_auth");
    b.opts[0].value = frame_str_c(":nouser");
    assert_int_equal(access_rules_init(&r, &err), 0);
    assert_int_equal(access_rules_from_bind(&r, &b, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "USER:PASSWORD"));
}

/* "Basic " + base64(s). */
static const char *
test_basic(const char *s)
{
    static char out[256];
    gnutls_datum_t in = {(unsigned char *)s, (unsigned)strlen(s)}, b64;

    assert_int_equal(gnutls_base64_encode2(&in, &b64), 0);
    snprintf(out, sizeof(out), "Basic %.*s", (int)b64.size, b64.data);
    gnutls_free(b64.data);
    return out;
}

static void
test_access_rules_auth(void **state)
{
    struct frame_bind b;
    struct access_rules r, other;
    struct ngr_err err;

    (void)state;
    memset(&b, 0, sizeof(b));
    b.opts[0].name = frame_str_c("basic_auth");
    b.opts[0].value = frame_str_c("alice:pw:with:colons");
    b.opts[1].name = frame_str_c("basic_auth");
    b.opts[1].value = frame_str_c("bob:hunter2");
    b.nopts = 2;
    assert_int_equal(access_rules_init(&r, &err), 0);
    assert_int_equal(access_rules_from_bind(&r, &b, &err), 0);
    assert_true(access_rules_auth_ok(&r, test_basic("alice:pw:with:colons")));
    assert_true(access_rules_auth_ok(&r, test_basic("bob:hunter2")));
    assert_false(access_rules_auth_ok(&r, test_basic("bob:hunter3")));
    assert_false(access_rules_auth_ok(&r, test_basic("alice:hunter2")));
    assert_false(access_rules_auth_ok(&r, NULL));
    assert_false(access_rules_auth_ok(&r, "Bearer x"));
    assert_false(access_rules_auth_ok(&r, "Basic"));
    assert_false(access_rules_auth_ok(&r, "Basic !!!not-base64"));
    /* The scheme in any case (RFC 9110 section 11.1). */
    {
        char lower[256];

        snprintf(lower, sizeof(lower), "basic %s", test_basic("bob:hunter2") + 6);
        assert_true(access_rules_auth_ok(&r, lower));
    }
    /* Each tunnel has its own salt: the same password hashes differently. */
    assert_int_equal(access_rules_init(&other, &err), 0);
    assert_int_equal(access_rules_from_bind(&other, &b, &err), 0);
    assert_memory_not_equal(r.creds[1].digest, other.creds[1].digest, 32);
    /* No credentials: anyone. */
    assert_int_equal(access_rules_init(&other, &err), 0);
    assert_true(access_rules_auth_ok(&other, NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_access_rules_bind),
        cmocka_unit_test(test_access_rules_auth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
