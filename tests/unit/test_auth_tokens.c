/* test_auth_tokens.c: unit tests of the gateway's client tokens (src/server/auth_tokens.h): the
 * file format, lookup by digest, the names a token may bind, and refusals that name the line
 * and keep the previous set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_tokens.h"
#include "err.h"

static const struct auth_token *
test_auth_find(const struct auth_tokens *t, const char *tok)
{
    uint8_t d[AUTH_TOKEN_DIGEST];

    auth_token_digest(tok, strlen(tok), d);
    return auth_tokens_find(t, d);
}

static void
test_auth_file_format(void **state)
{
    static const char text[] = "# the team's tokens\n"
                               "alice-7f3c  myapp,Staging-*  # two names\n"
                               "\n"
                               "   bob-91ac\t# any name\r\n"
                               "carol-0b2d web[0-9]\n"
                               "dave-5e6f";
    struct auth_tokens t;
    struct ngr_err err;
    const struct auth_token *a, *b, *c, *d;

    (void)state;
    auth_tokens_init(&t);
    assert_false(t.active);
    assert_int_equal(auth_tokens_parse(&t, text, sizeof(text) - 1, &err), 0);
    assert_true(t.active);
    assert_int_equal(t.n, 4);
    a = test_auth_find(&t, "alice-7f3c");
    b = test_auth_find(&t, "bob-91ac");
    c = test_auth_find(&t, "carol-0b2d");
    d = test_auth_find(&t, "dave-5e6f");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(d);
    assert_null(test_auth_find(&t, "alice-7f3"));
    assert_null(test_auth_find(&t, "alice-7f3cc"));
    assert_null(test_auth_find(&t, "ALICE-7F3C"));
    assert_null(test_auth_find(&t, "# the"));
    assert_null(test_auth_find(&t, ""));
    /* Names: exact, patterns, case-insensitive in the file; any name without a list. */
    assert_true(auth_token_allows(a, "myapp"));
    assert_true(auth_token_allows(a, "staging-1"));
    assert_true(auth_token_allows(a, "staging-"));
    assert_false(auth_token_allows(a, "myapp2"));
    assert_false(auth_token_allows(a, "prod"));
    assert_false(auth_token_allows(a, "3f2c0e9a-1b2c-4d5e-8f90-123456789abc"));
    assert_true(auth_token_allows(b, "anything"));
    assert_true(auth_token_allows(c, "web7"));
    assert_false(auth_token_allows(c, "web"));
    assert_true(auth_token_allows(d, "x"));
    /* The id names a token in logs without showing it: 12 hex digits of its digest. */
    assert_int_equal(strlen(a->id), 12);
    assert_true(strspn(a->id, "0123456789abcdef") == 12);
    assert_null(strstr(a->id, "alice"));
    auth_tokens_free(&t);
    assert_false(t.active);
}

/* A file with no token at all still asks for one: nobody gets in. */
static void
test_auth_empty_file(void **state)
{
    struct auth_tokens t;
    struct ngr_err err;

    (void)state;
    auth_tokens_init(&t);
    assert_int_equal(auth_tokens_parse(&t, "# nobody yet\n\n", 14, &err), 0);
    assert_true(t.active);
    assert_int_equal(t.n, 0);
    assert_null(test_auth_find(&t, "x"));
    auth_tokens_free(&t);
}

struct test_auth_bad {
    const char *text;
    const char *msg;
};

static const struct test_auth_bad test_auth_bad_cases[] = {
    {"ok\ntok a b\n", "line 2: more than a token and a list of names"},
    {"tok a,,b\n", "line 1: an empty name in the list"},
    {"tok a,\n", "line 1: an empty name in the list"},
    {"tok ,a\n", "line 1: an empty name in the list"},
    {"tok my_app\n", "line 1: '_' cannot be part of a name"},
    {"tok my.app\n", "line 1: '.' cannot be part of a name"},
    {"t\x01k\n", "line 1: a token holds printable ASCII only"},
    {"t\xc3\xa9k\n", "line 1: a token holds printable ASCII only"},
    {"a,b\n", "line 1: a token holds printable ASCII only, without ','"},
};

static void
test_auth_refusals(void **state)
{
    struct auth_tokens t;
    struct ngr_err err;
    char big[NGR_TOKEN_MAX + 3];
    size_t i;

    (void)state;
    auth_tokens_init(&t);
    assert_int_equal(auth_tokens_single(&t, "kept", &err), 0);
    for (i = 0; i < sizeof(test_auth_bad_cases) / sizeof(test_auth_bad_cases[0]); i++) {
        const struct test_auth_bad *b = &test_auth_bad_cases[i];

        memset(&err, 0, sizeof(err));
        assert_int_equal(auth_tokens_parse(&t, b->text, strlen(b->text), &err), NGR_EINVAL);
        if (strncmp(err.msg, b->msg, strlen(b->msg)) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, err.msg, b->msg);
        /* The set from before stays. */
        assert_int_equal(t.n, 1);
        assert_non_null(test_auth_find(&t, "kept"));
    }
    memset(big, 'x', sizeof(big));
    big[NGR_TOKEN_MAX + 1] = '\n';
    big[NGR_TOKEN_MAX + 2] = '\0';
    assert_int_equal(auth_tokens_parse(&t, big, strlen(big), &err), NGR_EINVAL);
    assert_string_equal(err.msg, "line 1: a token longer than 256 bytes");
    big[NGR_TOKEN_MAX] = '\n';
    assert_int_equal(auth_tokens_parse(&t, big, NGR_TOKEN_MAX + 1, &err), 0);
    big[NGR_TOKEN_MAX] = '\0';
    assert_non_null(test_auth_find(&t, big));
    /* --token takes one whole token, no list. */
    assert_int_equal(auth_tokens_single(&t, "two words", &err), NGR_EINVAL);
    assert_int_equal(auth_tokens_single(&t, "a#b,c", &err), 0); /* the file's syntax aside */
    assert_non_null(test_auth_find(&t, "a#b,c"));
    assert_int_equal(auth_tokens_single(&t, "", &err), NGR_EINVAL);
    assert_int_equal(auth_tokens_single(&t, "s3cret", &err), 0);
    assert_int_equal(t.n, 1);
    assert_true(auth_token_allows(test_auth_find(&t, "s3cret"), "any-name"));
    auth_tokens_free(&t);
}

static void
test_auth_load(void **state)
{
    char path[] = "/tmp/test_auth_tokens.XXXXXX";
    struct auth_tokens t;
    struct ngr_err err;
    int fd = mkstemp(path);
    FILE *f;
    size_t i;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("one myapp\ntwo\n", f);
    fclose(f);
    auth_tokens_init(&t);
    assert_int_equal(auth_tokens_load(&t, path, &err), 0);
    assert_int_equal(t.n, 2);
    assert_false(auth_token_allows(test_auth_find(&t, "one"), "other"));
    /* A bad line names the file and the line. */
    f = fopen(path, "w");
    fputs("one\nthree a b\n", f);
    fclose(f);
    assert_int_equal(auth_tokens_load(&t, path, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "line 2"));
    assert_int_equal(t.n, 2);
    /* Too large: refused before parsing. */
    f = fopen(path, "w");
    for (i = 0; i <= NGR_TOKENS_FILE_MAX / 8; i++)
        fputs("abcdefg\n", f);
    fclose(f);
    assert_int_equal(auth_tokens_load(&t, path, &err), NGR_ELIMIT);
    assert_non_null(strstr(err.msg, "larger than"));
    unlink(path);
    assert_int_equal(auth_tokens_load(&t, path, &err), NGR_ESYS);
    assert_non_null(strstr(err.msg, "No such file"));
    assert_int_equal(t.n, 2);
    auth_tokens_free(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_file_format),
        cmocka_unit_test(test_auth_empty_file),
        cmocka_unit_test(test_auth_refusals),
        cmocka_unit_test(test_auth_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
