/* proxy_accept.h: reading the PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1
 * and 2) that a reverse proxy in front of the control port sends first (nginx's stream block
 * with `proxy_protocol on`), so that the gateway sees the client's address instead of the
 * proxy's: for max_conns_per_ip, its logs and the admin API. Only a peer in --trusted-proxy may
 * send one (control.c); from anyone else the bytes are what they are, a bad preface. Pure: bytes
 * in, no I/O. The writing side is the client's proxy_header.c. */
#ifndef NGR_PROXY_ACCEPT_H
#define NGR_PROXY_ACCEPT_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

struct proxy_accept {
    size_t consumed;          /* the header's bytes, to be read off the socket */
    int has_addr;             /* 0: LOCAL or UNKNOWN (a health check): keep the peer's own */
    char addr[NGR_PEER_LEN];  /* the source address, as net_format_ip writes it */
};

/* 1 if a header may start with this byte ('P' for v1, '\r' for v2's signature); the control
 * preface starts with 0x89 and TLS with 0x16, so the three never meet. */
int proxy_accept_starts(uint8_t first);
/* Parses a header at the start of p[0..n). Returns 0 (out filled), NGR_EAGAIN (not all of it
 * yet, and n is below the most a header may take) or NGR_EPROTO (not a header, or longer than
 * NGR_PROXY_ACCEPT_MAX bytes). */
int proxy_accept_parse(const uint8_t *p, size_t n, struct proxy_accept *out);

#endif
