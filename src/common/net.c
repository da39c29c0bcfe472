/* net.c: address parsing and non-blocking TCP sockets; see net.h. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>


int
net_parse_addr(const char *s, const char *default_host, int allow_zero, struct net_addr *a,
               struct ngr_err *err)
{
    const char *colon, *host, *port;
    size_t hostlen;
    char *end;
    unsigned long p;

    if (s == NULL || *s == '\0')
        return err_set(err, NGR_EINVAL, "empty address");
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return err_set(err, NGR_EINVAL, "address \"%s\": expected [IPv6]:PORT", s);
        host = s + 1;
        hostlen = (size_t)(rb - host);
        port = rb + 2;
    } else if ((colon = strrchr(s, ':')) != NULL) {
        if (strchr(s, ':') != colon)
            return err_set(err, NGR_EINVAL, "address \"%s\": put an IPv6 address in brackets", s);
        host = s;
        hostlen = (size_t)(colon - s);
        port = colon + 1;
    } else if (default_host != NULL) {
        host = default_host;
        hostlen = strlen(default_host);
        port = s;
    } else {
        return err_set(err, NGR_EINVAL, "address \"%s\": expected HOST:PORT", s);
    }
    if (hostlen == 0 || hostlen >= sizeof(a->host))
        return err_set(err, NGR_EINVAL, "address \"%s\": bad host", s);
    errno = 0;
    p = strtoul(port, &end, 10);
    /* strtoul skips blanks and takes signs: only digits are a port. */
    if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || p > 65535 ||
        (p == 0 && !allow_zero))
        return err_set(err, NGR_EINVAL, "address \"%s\": port must be %d-65535", s,
                       allow_zero ? 0 : 1);
    memcpy(a->host, host, hostlen);
    a->host[hostlen] = '\0';
    a->port = (uint16_t)p;
    return 0;
}

void
net_format_addr(const struct net_addr *a, char *out, size_t outlen)
{
    if (strchr(a->host, ':') != NULL)
        snprintf(out, outlen, "[%s]:%u", a->host, a->port);
    else
        snprintf(out, outlen, "%s:%u", a->host, a->port);
}

/* Dotted quad of a network-order IPv4 address, by hand: glibc's inet_ntop goes through
 * sprintf, which was a tenth of the gateway's own instructions per proxied request. */
static void
net_format_ipv4(const uint8_t *a, char *out, size_t outlen)
{
    char tmp[INET_ADDRSTRLEN], *p = tmp;
    int i;

    for (i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (i > 0)
            *p++ = '.';
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
    }
    *p = '\0';
    if ((size_t)(p - tmp) < outlen)
        memcpy(out, tmp, (size_t)(p - tmp) + 1);
    else
        snprintf(out, outlen, "unknown"); /* truncated, as snprintf truncates */
}

void
net_format_ip(const struct sockaddr *sa, char *out, size_t outlen)
{
    const struct in6_addr *a6;

    if (sa != NULL && sa->sa_family == AF_INET) {
        net_format_ipv4((const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                        out, outlen);
        return;
    }
    if (sa == NULL || sa->sa_family != AF_INET6) {
        snprintf(out, outlen, "unknown");
        return;
    }
    a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    /* An IPv4 client on a dual-stack socket reads better without the ::ffff: prefix. */
    if (IN6_IS_ADDR_V4MAPPED(a6))
        net_format_ipv4(a6->s6_addr + 12, out, outlen);
    else if (inet_ntop(AF_INET6, a6, out, (socklen_t)outlen) == NULL)
        snprintf(out, outlen, "unknown");
}

void
net_format_endpoint(const struct sockaddr *sa, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN];
    unsigned port;

    net_format_ip(sa, ip, sizeof(ip));
    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
        snprintf(out, outlen, "unknown");
        return;
    }
    port = sa->sa_family == AF_INET
               ? ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port)
               : ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    snprintf(out, outlen, strchr(ip, ':') != NULL ? "[%s]:%u" : "%s:%u", ip, port);
}

int
net_is_localhost_name(const char *host)
{
    size_t len = strlen(host);

    if (len > 0 && host[len - 1] == '.')
        len--;
    return (len == 9 && strncasecmp(host, "localhost", 9) == 0) ||
           (len > 10 && strncasecmp(host + len - 10, ".localhost", 10) == 0);
}

static int
net_resolve(const struct net_addr *a, int passive, struct addrinfo **res, struct ngr_err *err)
{
    struct addrinfo hints;
    const char *host = a->host;
    char port[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
    /* RFC 6761, section 6.3: localhost is the loopback addresses, whatever the resolver knows
     * (a minimal system may have no /etc/hosts). No name is the loopback addresses for
     * getaddrinfo, unless passive, where it is every address: then 127.0.0.1. */
    if (net_is_localhost_name(host))
        host = passive ? "127.0.0.1" : NULL;
    snprintf(port, sizeof(port), "%u", a->port);
    rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0)
        return err_set(err, NGR_EINVAL, "resolve %s: %s", a->host, gai_strerror(rc));
    return 0;
}

int
net_listen(struct net_addr *a, int backlog, struct ngr_err *err)
{
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char text[NGR_ADDR_LEN + 8];
    int fd = -1, one = 1, rc, saved = 0;

    net_format_addr(a, text, sizeof(text));
    if ((rc = net_resolve(a, 1, &res, err)) != 0)
        return rc;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err_set(err, NGR_ESYS, "socket for %s: %s", text, strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        /* What to do about it, for the three a person meets. */
        const char *fix = errno == EADDRINUSE      ? " (another program listens there: stop it, "
                                                     "or choose another address)"
                          : errno == EACCES        ? " (a port below 1024 needs root or "
                                                     "CAP_NET_BIND_SERVICE: choose one above "
                                                     "1023, or put nginx in front)"
                          : errno == EADDRNOTAVAIL ? " (no interface of this machine has that "
                                                     "address: use 0.0.0.0 or one of its own)"
                                                   : "";

        saved = errno;
        err_set(err, NGR_ESYS, "bind %s: %s%s", text, strerror(errno), fix);
        goto fail;
    }
    if (listen(fd, backlog) < 0) {
        err_set(err, NGR_ESYS, "listen %s: %s", text, strerror(errno));
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
        a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    if (saved != 0)
        errno = saved; /* bind's: callers tell EADDRINUSE from the rest */
    return NGR_ESYS;
}

int
net_connect(const struct net_addr *a, struct ngr_err *err)
{
    struct addrinfo *res = NULL, *ai;
    char text[NGR_ADDR_LEN + 8];
    int fd = -1, rc, saved = 0;

    net_format_addr(a, text, sizeof(text));
    if ((rc = net_resolve(a, 0, &res, err)) != 0)
        return rc;
    /* Try each address; a non-blocking connect to loopback fails at once if refused, so only
     * the last attempt may still be in progress. */
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err_set(err, NGR_ESYS, "connect %s: %s", text, strerror(saved));
    net_tune_stream(fd);
    return fd;
}

int
net_connect_result(int fd, const struct net_addr *a, struct ngr_err *err)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    char text[NGR_ADDR_LEN + 8];

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == 0)
        return 0;
    net_format_addr(a, text, sizeof(text));
    return err_set(err, NGR_ESYS, "connect %s: %s", text, strerror(soerr));
}

void
net_tune_stream(int fd)
{
    int one = 1, lowat = NGR_NOTSENT_LOWAT;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

int
net_resolve_all(const struct net_addr *a, struct net_resolved *r, struct ngr_err *err)
{
    struct addrinfo *res = NULL, *ai;
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = net_resolve(a, 0, &res, err)) != 0)
        return rc;
    for (ai = res; ai != NULL && r->n < NGR_MAX_RESOLVED; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(r->addr[0]))
            continue;
        memcpy(&r->addr[r->n], ai->ai_addr, ai->ai_addrlen);
        r->len[r->n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (r->n == 0)
        return err_set(err, NGR_EINVAL, "resolve %s: no usable address", a->host);
    return 0;
}

int
net_connect_resolved(const struct net_resolved *r, int i)
{
    const struct sockaddr *sa = (const struct sockaddr *)&r->addr[i];
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    if (connect(fd, sa, r->len[i]) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    net_tune_stream(fd);
    return fd;
}

int
net_send_buf(int fd, struct buf *b, size_t *sent)
{
    while (b->len > 0) {
        ssize_t n = send(fd, buf_head(b), b->len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : errno;
        }
        buf_consume(b, (size_t)n);
        *sent += (size_t)n;
    }
    return 0;
}

int
net_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (net_is_localhost_name(host))
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return 0;
}
