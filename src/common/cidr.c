/* cidr.c: address ranges and lists of them; see cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int
cidr_parse(const char *s, size_t len, struct cidr *c, struct ngr_err *err)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash;
    unsigned long bits;
    char *end;
    size_t alen;
    unsigned max;

    if (len == 0 || len >= sizeof(buf))
        return err_set(err, NGR_EINVAL, "\"%.*s\" is not an address range (like 10.0.0.0/8 "
                                        "or 2001:db8::/32)",
                       (int)(len > 64 ? 64 : len), s);
    memcpy(buf, s, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    alen = slash != NULL ? (size_t)(slash - buf) : len;
    buf[alen] = '\0';
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, buf, c->addr) == 1)
        c->family = AF_INET, max = 32;
    else if (inet_pton(AF_INET6, buf, c->addr) == 1)
        c->family = AF_INET6, max = 128;
    else
        return err_set(err, NGR_EINVAL, "\"%s\" is not an IPv4 or IPv6 address", buf);
    bits = max;
    if (slash != NULL) {
        bits = strtoul(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits > max)
            return err_set(err, NGR_EINVAL, "\"%s\": the prefix length must be 0-%u", s, max);
    }
    c->bits = (unsigned)bits;
    return 0;
}

int
cidr_list_add(struct cidr_list *l, const char *s, size_t len, struct ngr_err *err)
{
    if (l->n >= NGR_CIDR_MAX)
        return err_set(err, NGR_ELIMIT, "more than %d address ranges", NGR_CIDR_MAX);
    if (cidr_parse(s, len, &l->v[l->n], err) != 0)
        return NGR_EINVAL;
    l->n++;
    return 0;
}

/* The first bits of a and b are equal. */
static int
cidr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;

    if (memcmp(a, b, full) != 0)
        return 0;
    return rest == 0 || ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int
cidr_list_match(const struct cidr_list *l, const char *ip)
{
    uint8_t a4[4], a6[16];
    int is4 = inet_pton(AF_INET, ip, a4) == 1, is6 = !is4 && inet_pton(AF_INET6, ip, a6) == 1;
    size_t i;

    /* A v4-mapped address (::ffff:a.b.c.d) is the IPv4 address it maps. */
    if (is6 && memcmp(a6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
        memcpy(a4, a6 + 12, 4);
        is4 = 1;
        is6 = 0;
    }
    for (i = 0; i < l->n; i++) {
        const struct cidr *c = &l->v[i];

        if (c->family == AF_INET && is4 && cidr_prefix_eq(c->addr, a4, c->bits))
            return 1;
        if (c->family == AF_INET6 && is6 && cidr_prefix_eq(c->addr, a6, c->bits))
            return 1;
    }
    return 0;
}
