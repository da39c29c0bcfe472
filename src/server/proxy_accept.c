/* proxy_accept.c: the PROXY protocol header, read; see proxy_accept.h. */
#include "proxy_accept.h"
#include "err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t proxy_accept_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                             0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

int
proxy_accept_starts(uint8_t first)
{
    return first == 'P' || first == 0x0d;
}

/* Next space-separated word of a v1 line; NULL past the end. */
static const char *
proxy_accept_word(const char **p, const char *end, size_t *len)
{
    const char *w = *p, *sp;

    if (w >= end)
        return NULL;
    sp = memchr(w, ' ', (size_t)(end - w));
    *len = (size_t)((sp != NULL ? sp : end) - w);
    *p = sp != NULL ? sp + 1 : end;
    return *len > 0 ? w : NULL;
}

static int
proxy_accept_port(const char *w, size_t len)
{
    unsigned v = 0;
    size_t i;

    if (len == 0 || len > 5 || (len > 1 && w[0] == '0'))
        return -1;
    for (i = 0; i < len; i++) {
        if (w[i] < '0' || w[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(w[i] - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 ...", "PROXY UNKNOWN ...\r\n". */
static int
proxy_accept_v1(const uint8_t *p, size_t n, struct proxy_accept *out)
{
    const char *s = (const char *)p, *cur, *end, *w[6];
    size_t wl[6], max = n < 107 ? n : 107, i;
    char text[64];
    uint8_t bin[16];
    int family;
    const uint8_t *cr;

    if (n < 6)
        return memcmp(p, "PROXY ", n) == 0 ? NGR_EAGAIN : NGR_EPROTO;
    if (memcmp(p, "PROXY ", 6) != 0)
        return NGR_EPROTO;
    cr = memchr(p, '\r', max);
    if (cr == NULL)
        return n < 107 ? NGR_EAGAIN : NGR_EPROTO;
    if ((size_t)(cr - p) + 1 >= n)
        return NGR_EAGAIN; /* the LF is still to come */
    if (cr[1] != '\n')
        return NGR_EPROTO;
    out->consumed = (size_t)(cr - p) + 2;
    cur = s + 6;
    end = (const char *)cr;
    for (i = 0; i < 6; i++)
        w[i] = proxy_accept_word(&cur, end, &wl[i]);
    if (w[0] != NULL && wl[0] == 7 && memcmp(w[0], "UNKNOWN", 7) == 0) {
        out->has_addr = 0; /* whatever follows, up to the CRLF, is to be ignored */
        return 0;
    }
    for (i = 0; i < 5; i++) /* five words, none empty (two spaces), none with a NUL in it */
        if (w[i] == NULL || memchr(w[i], '\0', wl[i]) != NULL)
            return NGR_EPROTO;
    if (wl[0] != 4 || w[5] != NULL || cur != end)
        return NGR_EPROTO;
    if (memcmp(w[0], "TCP4", 4) == 0)
        family = AF_INET;
    else if (memcmp(w[0], "TCP6", 4) == 0)
        family = AF_INET6;
    else
        return NGR_EPROTO;
    for (i = 1; i <= 2; i++) {
        if (wl[i] >= sizeof(text))
            return NGR_EPROTO;
        memcpy(text, w[i], wl[i]);
        text[wl[i]] = '\0';
        if (inet_pton(family, text, bin) != 1)
            return NGR_EPROTO;
        if (i == 1 && inet_ntop(family, bin, out->addr, sizeof(out->addr)) == NULL)
            return NGR_EPROTO;
    }
    if (proxy_accept_port(w[3], wl[3]) < 0 || proxy_accept_port(w[4], wl[4]) < 0)
        return NGR_EPROTO;
    out->has_addr = 1;
    return 0;
}

/* The 12-byte signature, version and command, family, length, then the addresses. */
static int
proxy_accept_v2(const uint8_t *p, size_t n, struct proxy_accept *out)
{
    size_t len, total;
    uint8_t cmd, fam;

    if (n < 16)
        return memcmp(p, proxy_accept_sig, n < 12 ? n : 12) == 0 ? NGR_EAGAIN : NGR_EPROTO;
    if (memcmp(p, proxy_accept_sig, 12) != 0 || (p[12] >> 4) != 2)
        return NGR_EPROTO;
    cmd = p[12] & 0x0f;
    fam = p[13];
    len = (size_t)p[14] << 8 | p[15];
    total = 16 + len;
    if (total > NGR_PROXY_ACCEPT_MAX || cmd > 1)
        return NGR_EPROTO;
    if (n < total)
        return NGR_EAGAIN;
    out->consumed = total;
    out->has_addr = 0;
    if (cmd == 0)
        return 0; /* LOCAL: the proxy's own connection (a health check) */
    if ((fam >> 4) == 1) { /* AF_INET: src, dst, sport, dport */
        if (len < 12)
            return NGR_EPROTO;
        if (inet_ntop(AF_INET, p + 16, out->addr, sizeof(out->addr)) == NULL)
            return NGR_EPROTO;
        out->has_addr = 1;
    } else if ((fam >> 4) == 2) { /* AF_INET6 */
        if (len < 36)
            return NGR_EPROTO;
        if (inet_ntop(AF_INET6, p + 16, out->addr, sizeof(out->addr)) == NULL)
            return NGR_EPROTO;
        out->has_addr = 1;
    }
    /* AF_UNSPEC or AF_UNIX: no address of ours to take; the peer's own is kept. */
    return 0;
}

int
proxy_accept_parse(const uint8_t *p, size_t n, struct proxy_accept *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return NGR_EAGAIN;
    if (p[0] == 'P')
        return proxy_accept_v1(p, n, out);
    if (p[0] == 0x0d)
        return proxy_accept_v2(p, n, out);
    return NGR_EPROTO;
}
