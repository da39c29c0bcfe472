/* net.h: addresses as text ("127.0.0.1:8080", "[::1]:80", "localhost:3000") and non-blocking
 * sockets, in the shape of anet.c: 0 or a negative NGR_E* code, and a human reason in err. */
#ifndef NGR_NET_H
#define NGR_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "limits.h"

struct net_addr {
    char host[NGR_ADDR_LEN]; /* without brackets */
    uint16_t port;
};

/* 1 if host is "localhost" or a name under it (any case, a trailing dot allowed): resolved to
 * the loopback addresses without asking the system's resolver (RFC 6761, section 6.3). */
int net_is_localhost_name(const char *host);
/* 1 if host (a numeric address or "localhost") is a loopback address: 127.0.0.0/8, ::1,
 * ::ffff:127.x.y.z. */
int net_host_is_loopback(const char *host);

/* Parses "HOST:PORT", "[V6]:PORT" or, if default_host is not NULL, a bare "PORT". Port 0 is
 * accepted only if allow_zero. Returns 0 or NGR_EINVAL with a reason. */
int net_parse_addr(const char *s, const char *default_host, int allow_zero, struct net_addr *a,
                   struct ngr_err *err);
/* Formats "host:port" ("[v6]:port") into out. */
void net_format_addr(const struct net_addr *a, char *out, size_t outlen);
/* The numeric address of a peer ("203.0.113.9", "::1"), without the port. */
void net_format_ip(const struct sockaddr *sa, char *out, size_t outlen);
/* The same with the port: "203.0.113.9:51234", "[2001:db8::9]:51234" ("unknown" without an
 * IPv4 or IPv6 address). */
void net_format_endpoint(const struct sockaddr *sa, char *out, size_t outlen);

/* Resolves (blocking: startup only) and listens with SO_REUSEADDR, non-blocking, CLOEXEC.
 * Returns the fd, or a negative code. On success the bound port (useful with port 0) is
 * written back into a->port. A failed bind leaves its errno (EADDRINUSE: the port is taken). */
int net_listen(struct net_addr *a, int backlog, struct ngr_err *err);

/* Resolves (blocking: the client does this once at startup) and starts a non-blocking connect.
 * Returns the fd (connection in progress or done) or a negative code. */
int net_connect(const struct net_addr *a, struct ngr_err *err);
/* After a connect became writable: 0, or the connect's error in err. */
int net_connect_result(int fd, const struct net_addr *a, struct ngr_err *err);

/* Addresses resolved once, at startup, for connecting again and again without a blocking
 * lookup on the loop ("localhost" gives ::1 and 127.0.0.1: a service may listen on either). */
struct net_resolved {
    struct sockaddr_storage addr[NGR_MAX_RESOLVED];
    socklen_t len[NGR_MAX_RESOLVED];
    int n;
};
int net_resolve_all(const struct net_addr *a, struct net_resolved *r, struct ngr_err *err);
/* Starts a non-blocking connect to r's address i. Returns the fd (in progress or connected),
 * or a negative errno value. */
int net_connect_resolved(const struct net_resolved *r, int i);

/* TCP_NODELAY and TCP_NOTSENT_LOWAT: our own output order decides what goes first. */
void net_tune_stream(int fd);
/* The connection's latest delivery rate as the kernel measured it (bytes/s, net_rate.c).
 * Returns 0, or -1 if fd is not a TCP socket or the kernel does not say. */
int net_delivery_rate(int fd, uint64_t *bytes_per_s);

/* Sends what b holds on the socket fd until it would block (no SIGPIPE), consuming what went;
 * adds the bytes sent to *sent. Returns 0 (all sent, or the socket is full) or the errno value
 * of the failure. */
int net_send_buf(int fd, struct buf *b, size_t *sent);

#endif
