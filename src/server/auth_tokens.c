/* auth_tokens.c: the gateway's client tokens; see auth_tokens.h. */
#include "auth_tokens.h"
#include "readfile.h"

#include <fnmatch.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
auth_tokens_init(struct auth_tokens *t)
{
    memset(t, 0, sizeof(*t));
}

static void
auth_tokens_clear(struct auth_token *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i].names);
    free(v);
}

void
auth_tokens_free(struct auth_tokens *t)
{
    auth_tokens_clear(t->v, t->n);
    auth_tokens_init(t);
}

void
auth_token_digest(const char *tok, size_t len, uint8_t out[AUTH_TOKEN_DIGEST])
{
    /* SHA-256 cannot fail on a buffer in memory; should the library refuse, the digest is
     * all zeroes, which matches no entry (entries are hashed the same way at load, and a
     * load that gets a refusal fails). */
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, tok, len, out) != 0)
        memset(out, 0, AUTH_TOKEN_DIGEST);
}

/* One entry from a token and its patterns (text, of len bytes, "a,b*,c"; NULL: any name). */
static int
auth_token_make(struct auth_token *e, const char *tok, size_t toklen, const char *names,
                size_t len, unsigned line, struct ngr_err *err)
{
    size_t i, start = 0;

    memset(e, 0, sizeof(*e));
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, tok, toklen, e->digest) != 0)
        return err_set(err, NGR_EINVAL, "line %u: cannot hash the token", line);
    for (i = 0; i < 6; i++)
        snprintf(e->id + 2 * i, 3, "%02x", e->digest[i]);
    if (names == NULL)
        return 0;
    e->names = malloc(len + 1);
    if (e->names == NULL)
        return err_set(err, NGR_ENOMEM, "out of memory");
    for (i = 0; i <= len; i++) {
        char ch = i < len ? names[i] : ',';

        if (ch == ',') {
            if (i == start) {
                free(e->names);
                e->names = NULL;
                return err_set(err, NGR_EINVAL, "line %u: an empty name in the list", line);
            }
            if (++e->nnames > NGR_TOKEN_NAMES_MAX) {
                free(e->names);
                e->names = NULL;
                return err_set(err, NGR_EINVAL, "line %u: more than %d names", line,
                               NGR_TOKEN_NAMES_MAX);
            }
            e->names[i] = '\0';
            start = i + 1;
            continue;
        }
        /* Names are DNS labels, lowercase, and patterns may hold * ? [ ]. */
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '*' || ch == '?' || ch == '[' || ch == ']')) {
            free(e->names);
            e->names = NULL;
            return err_set(err, NGR_EINVAL,
                           "line %u: '%c' cannot be part of a name (names are letters, digits "
                           "and '-', with * ? [ ] as patterns)",
                           line, ch);
        }
        e->names[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    return 0;
}

static int
auth_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int
auth_tokens_parse(struct auth_tokens *t, const char *text, size_t len, struct ngr_err *err)
{
    struct auth_token *v = NULL;
    size_t n = 0, cap = 0, pos = 0;
    unsigned line = 0;
    int rc = 0;

    while (pos < len && rc == 0) {
        const char *p = text + pos, *end = memchr(p, '\n', len - pos), *tok, *names = NULL;
        size_t l = end != NULL ? (size_t)(end - p) : len - pos, i = 0, toklen, nlen = 0;

        pos += l + (end != NULL);
        line++;
        while (i < l && auth_space(p[i]))
            i++;
        if (i == l || p[i] == '#')
            continue;
        tok = p + i;
        while (i < l && !auth_space(p[i]) && p[i] != '#')
            i++;
        toklen = (size_t)(p + i - tok);
        while (i < l && auth_space(p[i]))
            i++;
        if (i < l && p[i] != '#') {
            names = p + i;
            while (i < l && !auth_space(p[i]) && p[i] != '#')
                i++;
            nlen = (size_t)(p + i - names);
            while (i < l && auth_space(p[i]))
                i++;
        }
        if (i < l && p[i] != '#') {
            rc = err_set(err, NGR_EINVAL,
                         "line %u: more than a token and a list of names (\"TOKEN name,pattern-*\")",
                         line);
            break;
        }
        if (toklen > NGR_TOKEN_MAX) {
            rc = err_set(err, NGR_EINVAL, "line %u: a token longer than %d bytes", line,
                         NGR_TOKEN_MAX);
            break;
        }
        for (i = 0; i < toklen; i++)
            if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e || tok[i] == ',')
                break;
        if (i < toklen) {
            rc = err_set(err, NGR_EINVAL,
                         "line %u: a token holds printable ASCII only, without ','", line);
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            struct auth_token *nv = realloc(v, ncap * sizeof(*v));

            if (nv == NULL) {
                rc = err_set(err, NGR_ENOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        rc = auth_token_make(&v[n], tok, toklen, names, nlen, line, err);
        if (rc == 0)
            n++;
    }
    if (rc != 0) {
        auth_tokens_clear(v, n);
        return rc;
    }
    auth_tokens_clear(t->v, t->n);
    t->v = v;
    t->n = n;
    t->active = 1;
    return 0;
}

int
auth_tokens_load(struct auth_tokens *t, const char *path, struct ngr_err *err)
{
    char *text;
    size_t len;
    int rc = readfile(path, NGR_TOKENS_FILE_MAX, &text, &len, err);

    if (rc != 0)
        return rc;
    rc = auth_tokens_parse(t, text, len, err);
    if (rc != 0)
        err_prefix(err, path);
    /* The file's bytes are secrets: gone from memory before it is given back. */
    memset(text, 0, len);
    free(text);
    return rc;
}

int
auth_tokens_single(struct auth_tokens *t, const char *tok, struct ngr_err *err)
{
    size_t len = strlen(tok), i;
    struct auth_token *v;
    int rc;

    /* A --token is a whole value: '#' and ',' are only the file's syntax. */
    for (i = 0; i < len; i++)
        if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e)
            return err_set(err, NGR_EINVAL, "token: printable ASCII only, no spaces");
    if (len == 0 || len > NGR_TOKEN_MAX)
        return err_set(err, NGR_EINVAL, "token: 1 to %d characters", NGR_TOKEN_MAX);
    v = malloc(sizeof(*v));
    if (v == NULL)
        return err_set(err, NGR_ENOMEM, "out of memory");
    rc = auth_token_make(v, tok, len, NULL, 0, 1, err);
    if (rc != 0) {
        free(v);
        return rc;
    }
    auth_tokens_clear(t->v, t->n);
    t->v = v;
    t->n = 1;
    t->active = 1;
    return 0;
}

const struct auth_token *
auth_tokens_find(const struct auth_tokens *t, const uint8_t d[AUTH_TOKEN_DIGEST])
{
    const struct auth_token *found = NULL;
    size_t i, k;

    /* Every entry is compared in full, whatever matched before. */
    for (i = 0; i < t->n; i++) {
        uint8_t diff = 0;

        for (k = 0; k < AUTH_TOKEN_DIGEST; k++)
            diff |= (uint8_t)(t->v[i].digest[k] ^ d[k]);
        if (diff == 0)
            found = &t->v[i];
    }
    return found;
}

int
auth_token_allows(const struct auth_token *tok, const char *name)
{
    const char *p = tok->names;
    size_t i;

    if (p == NULL)
        return 1;
    for (i = 0; i < tok->nnames; i++, p += strlen(p) + 1)
        if (fnmatch(p, name, 0) == 0)
            return 1;
    return 0;
}
