/* proxy_header.c: PROXY protocol headers, versions 1 and 2; see proxy_header.h. */
#include "proxy_header.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t proxy_header_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                             0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

int
proxy_endpoint_parse(const char *s, size_t len, struct proxy_endpoint *e)
{
    char buf[INET6_ADDRSTRLEN];
    const char *colon, *a = s;
    size_t alen, i;
    unsigned long port = 0;

    memset(e, 0, sizeof(*e));
    if (len == 0)
        return -1;
    colon = NULL;
    for (i = len; i-- > 0;)
        if (s[i] == ':') {
            colon = s + i;
            break;
        }
    if (colon == NULL || s + len - (colon + 1) < 1 || s + len - (colon + 1) > 5)
        return -1;
    for (i = (size_t)(colon + 1 - s); i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        port = port * 10 + (unsigned long)(s[i] - '0');
    }
    alen = (size_t)(colon - s);
    if (s[0] == '[') {
        if (alen < 2 || s[alen - 1] != ']')
            return -1;
        a = s + 1;
        alen -= 2;
    }
    if (port > 65535 || alen == 0 || alen >= sizeof(buf) || memchr(a, '\0', alen) != NULL)
        return -1;
    memcpy(buf, a, alen);
    buf[alen] = '\0';
    if (s[0] == '[' && inet_pton(AF_INET6, buf, e->addr) == 1)
        e->family = AF_INET6;
    else if (s[0] != '[' && inet_pton(AF_INET, buf, e->addr) == 1)
        e->family = AF_INET;
    else
        return -1;
    e->port = (uint16_t)port;
    return 0;
}

static size_t
proxy_header_v1(const struct proxy_endpoint *src, const struct proxy_endpoint *dst, uint8_t *out)
{
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int n;

    if (src == NULL || inet_ntop(src->family, src->addr, s, sizeof(s)) == NULL ||
        inet_ntop(dst->family, dst->addr, d, sizeof(d)) == NULL)
        n = snprintf((char *)out, NGR_PROXY_HEADER_MAX, "PROXY UNKNOWN\r\n");
    else
        n = snprintf((char *)out, NGR_PROXY_HEADER_MAX, "PROXY %s %s %s %u %u\r\n",
                     src->family == AF_INET ? "TCP4" : "TCP6", s, d, (unsigned)src->port,
                     (unsigned)dst->port);
    /* The longest line, TCP6 with two full addresses and ports, is 104 bytes: it fits. */
    return (size_t)n;
}

static size_t
proxy_header_v2(const struct proxy_endpoint *src, const struct proxy_endpoint *dst, uint8_t *out)
{
    size_t alen = src == NULL ? 0 : src->family == AF_INET ? 4 : 16, body = 2 * alen + 4, at;

    memcpy(out, proxy_header_sig, sizeof(proxy_header_sig));
    if (src == NULL) {
        out[12] = 0x20; /* version 2, LOCAL */
        out[13] = 0x00; /* AF_UNSPEC, UNSPEC */
        out[14] = out[15] = 0;
        return 16;
    }
    out[12] = 0x21;                                 /* version 2, PROXY */
    out[13] = src->family == AF_INET ? 0x11 : 0x21; /* AF_INET or AF_INET6, STREAM */
    out[14] = (uint8_t)(body >> 8);
    out[15] = (uint8_t)body;
    at = 16;
    memcpy(out + at, src->addr, alen);
    at += alen;
    memcpy(out + at, dst->addr, alen);
    at += alen;
    out[at++] = (uint8_t)(src->port >> 8);
    out[at++] = (uint8_t)src->port;
    out[at++] = (uint8_t)(dst->port >> 8);
    out[at++] = (uint8_t)dst->port;
    return at;
}

size_t
proxy_header_build(enum proxy_header_version v, const struct proxy_endpoint *src,
                   const struct proxy_endpoint *dst, uint8_t out[NGR_PROXY_HEADER_MAX])
{
    if (src == NULL || dst == NULL || src->family != dst->family ||
        (src->family != AF_INET && src->family != AF_INET6))
        src = dst = NULL;
    return v == PROXY_HEADER_V1 ? proxy_header_v1(src, dst, out) : proxy_header_v2(src, dst, out);
}
