/* proxy_header.h: the PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
 * that `ngrnotok tcp --proxy-protocol v1|v2` writes first on each connection to the local
 * service, so that the service (nginx with listen ... proxy_protocol, HAProxy, Postfix) learns
 * the public client's address and the gateway's public port instead of the client's own
 * loopback address. The addresses come from the TCP OPEN's target and host (docs/protocol.md,
 * section 6). Pure: bytes out, no I/O. */
#ifndef NGR_PROXY_HEADER_H
#define NGR_PROXY_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

enum proxy_header_version { PROXY_HEADER_V1 = 1, PROXY_HEADER_V2 = 2 };

/* One end of a TCP connection. */
struct proxy_endpoint {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order: 4 bytes for AF_INET, 16 for AF_INET6 */
    uint16_t port;
};

/* Parses s[0..len) (borrowed, not terminated): IPV4:PORT or [IPV6]:PORT, the form of a TCP
 * OPEN's target and host. Returns 0, or -1 for anything else (e with family 0). */
int proxy_endpoint_parse(const char *s, size_t len, struct proxy_endpoint *e);

/* Writes the header of a connection from src to dst into out and returns its length (at most
 * NGR_PROXY_HEADER_MAX). v1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" (TCP6 for IPv6, addresses
 * as inet_ntop writes them); v2: the 12-byte signature, version 2 command PROXY, AF_INET or
 * AF_INET6 over STREAM, the length, then source and destination addresses and ports. src or
 * dst NULL, or of different families: the header of a connection whose origin is not known
 * (v1 "PROXY UNKNOWN\r\n", v2 command LOCAL), after which the service uses the connection's
 * own addresses. */
size_t proxy_header_build(enum proxy_header_version v, const struct proxy_endpoint *src,
                          const struct proxy_endpoint *dst, uint8_t out[NGR_PROXY_HEADER_MAX]);

#endif
