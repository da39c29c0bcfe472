/* trusted_proxy.h: who a public request is from when it came through a reverse proxy the
 * gateway trusts (--trusted-proxy, such as nginx on the same host). From such a peer the
 * visitor's address is the right-most address of X-Forwarded-For that is not itself a trusted
 * proxy, and the scheme is X-Forwarded-Proto's; from any other peer both fields are the
 * visitor's own words, worth nothing (http_request_head.c drops them either way and sends its
 * own). Pure: works on the fields as received. docs/security.md, "Behind a reverse proxy". */
#ifndef NGR_TRUSTED_PROXY_H
#define NGR_TRUSTED_PROXY_H

#include <stddef.h>

#include "cidr.h"
#include "err.h"
#include "frame.h"
#include "limits.h"

struct trusted_proxy_view {
    char client_ip[NGR_PEER_LEN]; /* numeric, in net_format_ip's form */
    const char *scheme;           /* "http" or "https" (static strings) */
    int via_proxy;                /* the peer is a trusted proxy: its fields were read */
};

/* Fills out for a request from peer_ip (numeric) that reached the gateway over scheme ("http"
 * or "https"), with its header fields in arrival order (borrowed). peer_ip in trusted: the
 * visitor is found by walking X-Forwarded-For (every such field, in order, as one list) from
 * its right end, past addresses in trusted, to the first that is not; a malformed element
 * stops the walk at the last address read (never believing what lies left of it), as does
 * reaching NGR_FORWARDED_HOPS elements; no field or none past the trusted: the last address
 * read (the peer's, without a field). The scheme is the right-most element of the last
 * X-Forwarded-Proto field if it says http or https (any case), else scheme. Otherwise peer_ip
 * and scheme as they are. */
void trusted_proxy_resolve(const struct cidr_list *trusted, const char *peer_ip, const char *scheme,
                           const struct frame_field *fields, size_t n,
                           struct trusted_proxy_view *out);

/* One element of X-Forwarded-For, without the blanks around it (p[0..len), borrowed, not
 * terminated): an IPv4 or IPv6 address, IPv4:PORT, [IPv6] or [IPv6]:PORT (what proxies
 * write). Writes the address alone into out in net_format_ip's form (a v4-mapped IPv6 address
 * as IPv4). Returns 0, or NGR_EINVAL (out untouched). */
int trusted_proxy_parse_addr(const char *p, size_t len, char *out, size_t outlen);

#endif
