/* cidr.h: address ranges (10.0.0.0/8, 2001:db8::/32) and lists of them: the gateway matches a
 * public client's address against a tunnel's allow and deny lists, the client checks the
 * ranges it is given before sending them. Pure. */
#ifndef NGR_CIDR_H
#define NGR_CIDR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

struct cidr {
    int family;      /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned bits;
};

struct cidr_list {
    struct cidr v[NGR_CIDR_MAX];
    size_t n;
};

/* Parses "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Returns 0 or
 * NGR_EINVAL with a reason. */
int cidr_parse(const char *s, size_t len, struct cidr *c, struct ngr_err *err);
/* Adds one to l. NGR_ELIMIT past NGR_CIDR_MAX. */
int cidr_list_add(struct cidr_list *l, const char *s, size_t len, struct ngr_err *err);
/* 1 if the numeric address ip (v4, v6 or v4-mapped v6) is in one of l's ranges. */
int cidr_list_match(const struct cidr_list *l, const char *ip);

#endif
