/* http_route.h: the public request's Host -> the tunnel label it names. The first parser a
 * hostile request meets: pure (no libmicrohttpd, no tunnel table), unit-tested and fuzzed. */
#ifndef NGR_HTTP_ROUTE_H
#define NGR_HTTP_ROUTE_H

#include <stddef.h>

#include "err.h"
#include "error_page.h"

/* Parses host ("<label>.<domain>[:port]", a C string, NULL when the request has none) against
 * domain (lowercase, no trailing dot). Letters are lowercased, a trailing dot (a fully qualified
 * name) and the port are dropped. Writes the label, NUL-terminated, into label (cap: at least
 * NGR_DOMAIN_LEN + 1; a shorter buffer refuses longer names as malformed). Returns the label's
 * length (1..NGR_MAX_SUBDOMAIN), or -1 with the refusal in why: 400 (no Host, a character
 * outside [A-Za-z0-9.-], a name longer than NGR_DOMAIN_LEN, a port not 1-5 digits, nothing
 * before the port) or 404 (the bare domain, another domain, a label that is not a valid
 * subdomain). */
NGR_MUST_CHECK int http_route_parse(const char *host, const char *domain, char *label, size_t cap,
                                    struct error_page *why);
/* The 404 for a valid label that no tunnel holds. */
void http_route_not_found(struct error_page *why, const char *label, const char *domain);

#endif
