/* http_route.c: Host -> tunnel label, with the reason for every refusal; see http_route.h. */
#include "http_route.h"

#include <string.h>

#include "config.h"
#include "name_policy.h"
#include "limits.h"

void
http_route_not_found(struct error_page *why, const char *label, const char *domain)
{
    error_page_set(why, 404, "Tunnel not found",
                   "No tunnel is online under the name \"%s\" at %s.%s. If it is yours, start "
                   "it with ngrnotok http PORT and open the URL it prints.",
                   label, label, domain);
}

/* 1 if p is a port: 1 to 5 digits, nothing else. */
static int
http_route_port_ok(const char *p)
{
    size_t n = strspn(p, "0123456789");

    return n > 0 && n <= 5 && p[n] == '\0';
}

int
http_route_parse(const char *host, const char *domain, char *label, size_t cap,
                 struct error_page *why)
{
    size_t len = 0, dlen = strlen(domain), max, i;

    if (host == NULL || *host == '\0') {
        error_page_set(why, 400, "Bad Request", "The request has no Host header.");
        return -1;
    }
    max = cap - 1 < NGR_DOMAIN_LEN ? cap - 1 : NGR_DOMAIN_LEN;
    for (i = 0; host[i] != '\0' && host[i] != ':'; i++) {
        char ch = host[i];
        if (len >= max || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')) {
            error_page_set(why, 400, "Bad Request", "The Host header is malformed.");
            return -1;
        }
        label[len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    if (host[i] == ':' && !http_route_port_ok(host + i + 1)) {
        error_page_set(why, 400, "Bad Request", "The Host header has a malformed port.");
        return -1;
    }
    if (len > 0 && label[len - 1] == '.')
        len--; /* a fully qualified name: "a.localhost." */
    label[len] = '\0';
    if (len == 0) {
        error_page_set(why, 400, "Bad Request", "The Host header is empty.");
        return -1;
    }
    if (len == dlen && memcmp(label, domain, dlen) == 0) {
        error_page_set(why, 404, "Tunnel not found",
                       "This is an ngrnotok gateway for %s. Tunnels live at <name>.%s.", domain,
                       domain);
        return -1;
    }
    if (len <= dlen + 1 || label[len - dlen - 1] != '.' ||
        memcmp(label + len - dlen, domain, dlen) != 0) {
        error_page_set(why, 404, "Tunnel not found", "This gateway does not serve %s.", label);
        return -1;
    }
    len -= dlen + 1;
    label[len] = '\0';
    if (!name_valid_label(label, len)) {
        http_route_not_found(why, label, domain);
        return -1;
    }
    return (int)len;
}
