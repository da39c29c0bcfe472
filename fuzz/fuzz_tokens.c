/* fuzz_tokens.c: libFuzzer target for the gateway's tokens file parser (src/server/auth_tokens.h).
 * Parses the input as a tokens file and checks that a refusal comes with a line number and
 * leaves the previous set untouched, that an accepted set has entries whose name lists hold
 * only lowercase name characters, and that every token on an accepted line is found again by
 * its digest; any violation aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_tokens.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_tokens_check(int ok)
{
    if (!ok)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_tokens t;
    struct ngr_err err;
    uint8_t d[AUTH_TOKEN_DIGEST];
    size_t i, k;
    int rc;

    if (size > NGR_TOKENS_FILE_MAX) /* auth_tokens_load refuses these before parsing */
        return 0;
    auth_tokens_init(&t);
    fuzz_tokens_check(auth_tokens_single(&t, "previous", &err) == 0);
    memset(&err, 0, sizeof(err));
    rc = auth_tokens_parse(&t, (const char *)data, size, &err);
    fuzz_tokens_check(rc == 0 || rc == NGR_EINVAL);
    if (rc != 0) {
        fuzz_tokens_check(err.code == rc && memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        fuzz_tokens_check(strncmp(err.msg, "line ", 5) == 0);
        auth_token_digest("previous", 8, d);
        fuzz_tokens_check(t.n == 1 && auth_tokens_find(&t, d) == &t.v[0]);
    } else {
        fuzz_tokens_check(t.active);
        for (i = 0; i < t.n; i++) {
            const char *p = t.v[i].names;

            fuzz_tokens_check(strlen(t.v[i].id) == 12);
            fuzz_tokens_check(t.v[i].nnames <= NGR_TOKEN_NAMES_MAX);
            fuzz_tokens_check((p == NULL) == (t.v[i].nnames == 0));
            for (k = 0; k < t.v[i].nnames; k++, p += strlen(p) + 1) {
                fuzz_tokens_check(*p != '\0');
                fuzz_tokens_check(strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-*?[]") ==
                                  strlen(p));
            }
            fuzz_tokens_check(auth_tokens_find(&t, t.v[i].digest) != NULL);
        }
    }
    auth_tokens_free(&t);
    return 0;
}
