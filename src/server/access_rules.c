/* access_rules.c: a tunnel's address lists and basic-auth credentials; see access_rules.h. */
#include "access_rules.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
access_rules_init(struct access_rules *r, struct ngr_err *err)
{
    memset(r, 0, sizeof(*r));
    if (gnutls_rnd(GNUTLS_RND_NONCE, r->salt, sizeof(r->salt)) != 0)
        return err_set(err, NGR_EINVAL, "no random bytes for a salt");
    return 0;
}

/* SHA-256 of the salt, then the credentials. */
static int
access_rules_hash(const struct access_rules *r, const char *cred, size_t len, uint8_t out[32])
{
    gnutls_hash_hd_t h;

    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0)
        return -1;
    gnutls_hash(h, r->salt, sizeof(r->salt));
    gnutls_hash(h, cred, len);
    gnutls_hash_deinit(h, out);
    return 0;
}

static int
access_rules_add_cred(struct access_rules *r, struct frame_str v, struct ngr_err *err)
{
    const char *colon = memchr(v.p, ':', v.len);

    if (colon == NULL || colon == v.p || v.len > NGR_BASIC_AUTH_LEN ||
        (size_t)(colon - v.p) + 1 == v.len)
        return err_set(err, NGR_EINVAL, "basic auth: expected USER:PASSWORD, both non-empty, at "
                                        "most %d bytes",
                       NGR_BASIC_AUTH_LEN);
    if (r->ncreds >= NGR_BASIC_AUTH_MAX)
        return err_set(err, NGR_ELIMIT, "basic auth: more than %d users", NGR_BASIC_AUTH_MAX);
    if (access_rules_hash(r, v.p, v.len, r->creds[r->ncreds].digest) != 0)
        return err_set(err, NGR_EINVAL, "basic auth: cannot hash");
    r->ncreds++;
    return 0;
}

int
access_rules_from_bind(struct access_rules *r, const struct frame_bind *b, struct ngr_err *err)
{
    size_t i;

    for (i = 0; i < b->nopts; i++) {
        struct frame_str k = b->opts[i].name, v = b->opts[i].value;
        int rc;

        if (frame_str_eq(k, "basic_auth"))
            rc = access_rules_add_cred(r, v, err);
        else if (frame_str_eq(k, "allow_cidr"))
            rc = cidr_list_add(&r->allow, v.p, v.len, err);
        else if (frame_str_eq(k, "deny_cidr"))
            rc = cidr_list_add(&r->deny, v.p, v.len, err);
        else if (frame_str_eq(k, "rate_limit") || frame_str_eq(k, "rate_burst") ||
                 frame_str_eq(k, "response_timeout") || frame_str_eq(k, "pool"))
            rc = 0; /* the tunnel's rate, timeout, pool: not access rules (control.c) */
        else
            rc = err_set(err, NGR_EINVAL, "this gateway does not know the tunnel option \"%.*s\"",
                         (int)(k.len > 32 ? 32 : k.len), k.p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
access_rules_address_ok(const struct access_rules *r, const char *ip)
{
    if (cidr_list_match(&r->deny, ip))
        return 0;
    return r->allow.n == 0 || cidr_list_match(&r->allow, ip);
}

int
access_rules_auth_ok(const struct access_rules *r, const char *authorization)
{
    gnutls_datum_t in, out = {NULL, 0};
    uint8_t d[32];
    size_t i, k;
    int ok = 0;

    if (r->ncreds == 0)
        return 1;
    if (authorization == NULL || strncasecmp(authorization, "Basic ", 6) != 0)
        return 0;
    authorization += 6;
    while (*authorization == ' ')
        authorization++;
    in.data = (unsigned char *)authorization;
    in.size = (unsigned)strcspn(authorization, " \t");
    if (in.size == 0 || in.size > 2 * NGR_BASIC_AUTH_LEN ||
        gnutls_base64_decode2(&in, &out) != 0)
        return 0;
    if (access_rules_hash(r, (const char *)out.data, out.size, d) == 0) {
        /* Every credential is compared in full, whatever matched. */
        for (i = 0; i < r->ncreds; i++) {
            uint8_t diff = 0;

            for (k = 0; k < sizeof(d); k++)
                diff |= (uint8_t)(r->creds[i].digest[k] ^ d[k]);
            ok |= diff == 0;
        }
    }
    memset(out.data, 0, out.size);
    gnutls_free(out.data);
    return ok;
}
