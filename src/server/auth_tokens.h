/* auth_tokens.h: who may open tunnels. The gateway's tokens, each with the names it may bind,
 * from --auth-tokens FILE (re-read on SIGHUP) or the single --token. Only a SHA-256 digest of
 * each token is kept; a presented token is hashed and compared with every entry in constant
 * time, so neither its value nor which entry matched shows in the timing.
 *
 * File format, one token per line:
 *     # a comment
 *     tok1                       any name
 *     tok2 myapp,staging-*       only these names (shell patterns, case-insensitive)
 * A token is 1 to NGR_TOKEN_MAX printable characters without spaces, '#' or ','. */
#ifndef NGR_AUTH_TOKENS_H
#define NGR_AUTH_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

#define AUTH_TOKEN_DIGEST 32 /* bytes: SHA-256 */

struct auth_token {
    uint8_t digest[AUTH_TOKEN_DIGEST];
    char id[13];        /* the digest's first 6 bytes in hex: names the token in logs */
    char *names;        /* the patterns, NUL-separated, or NULL: any name */
    size_t nnames;
};

struct auth_tokens {
    int active;              /* clients need a token (even if the set is empty) */
    struct auth_token *v;
    size_t n;
};

/* An inactive set: anyone may connect. */
void auth_tokens_init(struct auth_tokens *t);
void auth_tokens_free(struct auth_tokens *t);
/* Replaces *t with the tokens in text (the file's contents). On error *t is unchanged and err
 * names the line. */
NGR_MUST_CHECK int auth_tokens_parse(struct auth_tokens *t, const char *text, size_t len,
                                     struct ngr_err *err);
/* Reads and parses a tokens file. On error *t is unchanged. */
NGR_MUST_CHECK int auth_tokens_load(struct auth_tokens *t, const char *path, struct ngr_err *err);
/* Replaces *t with the one token tok, which may bind any name. */
NGR_MUST_CHECK int auth_tokens_single(struct auth_tokens *t, const char *tok, struct ngr_err *err);
/* The SHA-256 digest of a presented token. */
void auth_token_digest(const char *tok, size_t len, uint8_t out[AUTH_TOKEN_DIGEST]);
/* The entry whose digest is d, or NULL; looks at every entry whatever it finds. */
const struct auth_token *auth_tokens_find(const struct auth_tokens *t,
                                          const uint8_t d[AUTH_TOKEN_DIGEST]);
/* 1 if tok may bind name (lowercase). */
int auth_token_allows(const struct auth_token *tok, const char *name);

#endif
