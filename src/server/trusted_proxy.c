/* trusted_proxy.c: the visitor's address and scheme behind a trusted reverse proxy; see
 * trusted_proxy.h. */
#include "trusted_proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* 1 if p[0..len) is a port: 1 to 5 digits, at most 65535. */
static int
trusted_proxy_port(const char *p, size_t len)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0 || len > 5)
        return 0;
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v <= 65535;
}

int
trusted_proxy_parse_addr(const char *p, size_t len, char *out, size_t outlen)
{
    char buf[INET6_ADDRSTRLEN + 8], text[INET6_ADDRSTRLEN];
    const char *colon;
    uint8_t a[16];
    size_t alen = len, ncolon = 0, i;
    int family;

    if (len == 0 || len >= sizeof(buf) || memchr(p, '\0', len) != NULL)
        return NGR_EINVAL;
    for (i = 0; i < len; i++)
        ncolon += p[i] == ':';
    if (p[0] == '[') {
        /* [IPv6] or [IPv6]:PORT */
        const char *close = memchr(p, ']', len);
        size_t after;

        if (close == NULL)
            return NGR_EINVAL;
        after = len - (size_t)(close + 1 - p);
        if (after > 0 && (close[1] != ':' || !trusted_proxy_port(close + 2, after - 1)))
            return NGR_EINVAL;
        alen = (size_t)(close - (p + 1));
        memcpy(buf, p + 1, alen);
        family = AF_INET6;
    } else if (ncolon == 1) {
        /* IPv4:PORT (a bare IPv6 address has at least two colons) */
        colon = memchr(p, ':', len);
        if (!trusted_proxy_port(colon + 1, len - (size_t)(colon + 1 - p)))
            return NGR_EINVAL;
        alen = (size_t)(colon - p);
        memcpy(buf, p, alen);
        family = AF_INET;
    } else {
        memcpy(buf, p, alen);
        family = ncolon == 0 ? AF_INET : AF_INET6;
    }
    buf[alen] = '\0';
    if (inet_pton(family, buf, a) != 1)
        return NGR_EINVAL;
    /* The form net_format_ip writes, so lists and logs compare equal: a v4-mapped address is
     * the IPv4 address it maps. */
    if (family == AF_INET6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        memmove(a, a + 12, 4);
        family = AF_INET;
    }
    if (inet_ntop(family, a, text, sizeof(text)) == NULL || strlen(text) >= outlen)
        return NGR_EINVAL;
    memcpy(out, text, strlen(text) + 1);
    return 0;
}

/* v[0..len) without the spaces and tabs around it: *a, *b. */
static void
trusted_proxy_trim(const char *v, size_t *a, size_t *b)
{
    while (*a < *b && (v[*a] == ' ' || v[*a] == '\t'))
        (*a)++;
    while (*b > *a && (v[*b - 1] == ' ' || v[*b - 1] == '\t'))
        (*b)--;
}

/* Walks X-Forwarded-For from the right into out->client_ip (which holds the peer's address). */
static void
trusted_proxy_walk(const struct cidr_list *trusted, const struct frame_field *fields, size_t n,
                   struct trusted_proxy_view *out)
{
    unsigned hops = 0;
    size_t i;

    for (i = n; i-- > 0;) {
        const char *v = fields[i].value.p;
        size_t end = fields[i].value.len;

        if (!frame_str_eq(fields[i].name, "x-forwarded-for"))
            continue;
        for (;;) {
            size_t start = end, a, b;
            char ip[NGR_PEER_LEN];

            while (start > 0 && v[start - 1] != ',')
                start--;
            a = start;
            b = end;
            trusted_proxy_trim(v, &a, &b);
            if (a < b) { /* empty list elements count for nothing (RFC 9110 section 5.6.1) */
                if (++hops > NGR_FORWARDED_HOPS ||
                    trusted_proxy_parse_addr(v + a, b - a, ip, sizeof(ip)) != 0)
                    return;
                memcpy(out->client_ip, ip, strlen(ip) + 1);
                if (!cidr_list_match(trusted, ip))
                    return;
            }
            if (start == 0)
                break;
            end = start - 1;
        }
    }
}

/* The scheme the last X-Forwarded-Proto field's right-most element names, or NULL. */
static const char *
trusted_proxy_scheme(const struct frame_field *fields, size_t n)
{
    size_t i;

    for (i = n; i-- > 0;) {
        const char *v = fields[i].value.p;
        size_t a, b = fields[i].value.len;

        if (!frame_str_eq(fields[i].name, "x-forwarded-proto"))
            continue;
        a = b;
        while (a > 0 && v[a - 1] != ',')
            a--;
        trusted_proxy_trim(v, &a, &b);
        if (b - a == 5 && strncasecmp(v + a, "https", 5) == 0)
            return "https";
        if (b - a == 4 && strncasecmp(v + a, "http", 4) == 0)
            return "http";
        return NULL;
    }
    return NULL;
}

void
trusted_proxy_resolve(const struct cidr_list *trusted, const char *peer_ip, const char *scheme,
                      const struct frame_field *fields, size_t n, struct trusted_proxy_view *out)
{
    const char *said;

    snprintf(out->client_ip, sizeof(out->client_ip), "%s", peer_ip);
    out->scheme = scheme != NULL && strcmp(scheme, "https") == 0 ? "https" : "http";
    out->via_proxy = trusted->n > 0 && cidr_list_match(trusted, peer_ip);
    if (!out->via_proxy)
        return;
    trusted_proxy_walk(trusted, fields, n, out);
    said = trusted_proxy_scheme(fields, n);
    if (said != NULL)
        out->scheme = said;
}
