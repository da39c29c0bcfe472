/* inspect_access.c: the inspector's Host, token and content-type checks; see
 * inspect_access.h. */
#include "inspect_access.h"

#include "net.h"

#include <nettle/base64.h>
#include <nettle/memops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
inspect_access_init(struct inspect_access *a, const char *host, uint16_t port, const char *token)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->host, sizeof(a->host), "%s", host);
    a->port = port;
    a->loopback = net_host_is_loopback(host);
    a->wildcard = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
    snprintf(a->token, sizeof(a->token), "%s", token != NULL ? token : "");
}

/* 1 if the name part of a Host value (len bytes, brackets kept) is name. */
static int
inspect_access_name_is(const char *h, size_t len, const char *name, int bracket)
{
    size_t n = strlen(name);

    if (bracket)
        return len == n + 2 && h[0] == '[' && h[len - 1] == ']' && strncasecmp(h + 1, name, n) == 0;
    return len == n && strncasecmp(h, name, n) == 0;
}

int
inspect_access_host_ok(const struct inspect_access *a, const char *host)
{
    const char *colon, *end;
    size_t len;
    unsigned long port;
    char *stop;

    if (host == NULL || host[0] == '\0')
        return 0;
    end = host + strlen(host);
    /* "[v6]:port", "[v6]", "name:port", "name"; a bare IPv6 address is no Host value. */
    if (host[0] == '[') {
        const char *rb = strchr(host, ']');

        if (rb == NULL || (rb[1] != ':' && rb[1] != '\0'))
            return 0;
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = strchr(host, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            return 0;
    }
    if (colon == NULL) {
        if (a->port != 80)
            return 0;
        len = (size_t)(end - host);
    } else {
        if (colon[1] < '0' || colon[1] > '9')
            return 0;
        port = strtoul(colon + 1, &stop, 10);
        if (*stop != '\0' || port != a->port)
            return 0;
        len = (size_t)(colon - host);
    }
    if (len == 0)
        return 0;
    if (a->wildcard)
        return 1;
    if (inspect_access_name_is(host, len, a->host, strchr(a->host, ':') != NULL))
        return 1;
    return a->loopback && (inspect_access_name_is(host, len, "localhost", 0) ||
                           inspect_access_name_is(host, len, "127.0.0.1", 0) ||
                           inspect_access_name_is(host, len, "::1", 1));
}

static int
inspect_access_same(const char *given, size_t len, const char *token)
{
    size_t n = strlen(token);

    return len == n && memeql_sec(given, token, n);
}

int
inspect_access_token_ok(const struct inspect_access *a, const char *authorization)
{
    struct base64_decode_ctx ctx;
    char plain[2 * NGR_INSPECT_TOKEN_LEN + 64];
    const char *p, *pass;
    size_t inlen, outlen = sizeof(plain);

    if (a->token[0] == '\0')
        return 1;
    if (authorization == NULL)
        return 0;
    if (strncasecmp(authorization, "Bearer ", 7) == 0) {
        for (p = authorization + 7; *p == ' '; p++)
            ;
        return inspect_access_same(p, strlen(p), a->token);
    }
    if (strncasecmp(authorization, "Basic ", 6) != 0)
        return 0;
    for (p = authorization + 6; *p == ' '; p++)
        ;
    inlen = strlen(p);
    if (BASE64_DECODE_LENGTH(inlen) > sizeof(plain))
        return 0;
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &outlen, (uint8_t *)plain, inlen, p) ||
        !base64_decode_final(&ctx))
        return 0;
    pass = memchr(plain, ':', outlen);
    if (pass == NULL)
        return 0;
    pass++;
    return inspect_access_same(pass, outlen - (size_t)(pass - plain), a->token);
}

int
inspect_access_json_type(const char *content_type)
{
    static const char json[] = "application/json";
    const char *p = content_type;

    if (p == NULL)
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, json, sizeof(json) - 1) != 0)
        return 0;
    p += sizeof(json) - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == ';';
}
