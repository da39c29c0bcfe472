/* access_rules.h: who may reach one tunnel, as its client asked in BIND and the gateway
 * enforces before a byte reaches the client: addresses allowed and denied (CIDR, IPv4 and
 * IPv6, cidr.h), and HTTP basic-auth credentials, of which only a salted SHA-256 is kept. Also the
 * gateway-wide deny list (--deny-cidr). Pure apart from the hash and the salt (GnuTLS). */
#ifndef NGR_ACCESS_RULES_H
#define NGR_ACCESS_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "err.h"
#include "frame.h"
#include "limits.h"

struct basic_cred {
    uint8_t digest[32]; /* SHA-256 of salt, then "user:pass" */
};

struct access_rules {
    struct cidr_list allow; /* empty: every address (but the denied) */
    struct cidr_list deny;
    uint8_t salt[16];
    struct basic_cred creds[NGR_BASIC_AUTH_MAX];
    size_t ncreds; /* 0: no basic auth */
};

/* Empty rules (everyone may pass), with a fresh salt. */
int access_rules_init(struct access_rules *r, struct ngr_err *err);
/* Applies BIND's options (basic_auth, allow_cidr, deny_cidr); an unknown key or a bad value is
 * NGR_EINVAL with a reason the client is told. */
int access_rules_from_bind(struct access_rules *r, const struct frame_bind *b, struct ngr_err *err);
/* 1 if ip may reach the tunnel: not denied, and allowed when there is an allow list. */
int access_rules_address_ok(const struct access_rules *r, const char *ip);
/* 1 if the request's Authorization value (NULL: none) carries one of the credentials, or if
 * the tunnel has none. */
int access_rules_auth_ok(const struct access_rules *r, const char *authorization);

#endif
