/* name_policy.h: which subdomains a client may ask for, beyond being DNS labels: not one of the
 * gateway's reserved names (--reserved-names: www, api, admin, ... by default), and not shaped
 * like the random names the gateway allocates (a UUID), which are only ever given out. Pure
 * functions (unit-tested); control.c applies them to BIND. */
#ifndef NGR_NAME_POLICY_H
#define NGR_NAME_POLICY_H

#include <stddef.h>

#include "err.h"

/* 1 if s is a valid subdomain label: 1..63 of [a-z0-9-], not starting or ending with '-'. */
int name_valid_label(const char *s, size_t len);

/* What --reserved-names is when not set. */
#define NAME_POLICY_DEFAULT_RESERVED                                                           \
    "www,api,admin,mail,smtp,imap,pop,ftp,ns,ns1,ns2,mx,webmail,autoconfig,autodiscover"

/* Normalises a comma-separated list of names (each a DNS label, any case; spaces around
 * commas allowed; empty: none) into out (lowercase, comma-separated, no spaces). Returns 0, or
 * NGR_EINVAL with err naming the bad name, or NGR_ELIMIT if it does not fit in outlen. */
int name_policy_parse(const char *list, char *out, size_t outlen, struct ngr_err *err);
/* 1 if name is 8-4-4-4-12 hexadecimal digits joined by '-', in any case. */
int name_is_uuid(const char *name);
/* Whether a client may ask for name (a valid lowercase label) given the normalised reserved
 * list: 0, or -1 with why (a sentence for the client) filled. */
int name_policy_check(const char *reserved, const char *name, char *why, size_t whylen);

#endif
