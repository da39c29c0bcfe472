/* http_hop.h: which header fields a proxy must not forward (RFC 9110 section 7.6.1), and which
 * carry body framing that the control protocol re-expresses. Pure functions. */
#ifndef NGR_HTTP_HOP_H
#define NGR_HTTP_HOP_H

#include <stddef.h>

/* 1 if the field is hop-by-hop by name: Connection, Proxy-Connection, Keep-Alive, TE,
 * Transfer-Encoding, Upgrade, Trailer; or framing: Content-Length. Case-insensitive. */
int http_hop_is_fixed(const char *name, size_t len);

/* 1 if name is one of the comma-separated tokens of a Connection field value. */
int http_hop_in_connection(const char *name, size_t len, const char *value, size_t vlen);

#endif
