/* inspect_access.h: whom the local inspector serves, as pure checks on a request's fields.
 * Host must name the inspector's own address (a page of another site, even one whose name a
 * DNS rebinding points at 127.0.0.1, sends its own name); with a token, Authorization must
 * carry it; a call that changes state must say its body is JSON, which no plain form can. */
#ifndef NGR_INSPECT_ACCESS_H
#define NGR_INSPECT_ACCESS_H

#include <stdint.h>

#include "limits.h"

/* The address the inspector listens on. */
struct inspect_access {
    char host[NGR_ADDR_LEN]; /* as bound, without brackets: "127.0.0.1", "::1", "0.0.0.0" */
    uint16_t port;
    int loopback; /* host is a loopback address: localhost and 127.0.0.1 name it too */
    int wildcard; /* 0.0.0.0 or ::: any name with the port (the token is the guard) */
    char token[NGR_INSPECT_TOKEN_LEN]; /* "": none asked */
};

/* Fills a for host (numeric, or "localhost") and port. */
void inspect_access_init(struct inspect_access *a, const char *host, uint16_t port,
                         const char *token);
/* 1 if a Host field value (NULL: absent) names the inspector: HOST:PORT with HOST the bound
 * address ("[v6]" bracketed), or for a loopback address "localhost", "127.0.0.1" or "[::1]";
 * the port may be left out only if it is 80. Case-insensitive. */
int inspect_access_host_ok(const struct inspect_access *a, const char *host);
/* 1 if no token is asked, or the Authorization value (NULL: absent) is "Bearer TOKEN" or
 * "Basic" with TOKEN as the password (any user: a browser's login box), compared in constant
 * time. */
int inspect_access_token_ok(const struct inspect_access *a, const char *authorization);
/* 1 if a Content-Type value (NULL: absent) is application/json, parameters allowed. */
int inspect_access_json_type(const char *content_type);

#endif
