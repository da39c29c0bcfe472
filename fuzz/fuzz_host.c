/* fuzz_host.c: libFuzzer target for the gateway's Host routing (src/server/http_route.h), the
 * first parser a hostile public request meets. The first byte picks the gateway's domain, the
 * rest is the Host value (cut at a NUL, as libmicrohttpd's C string would be). Checks that a
 * refusal has a status, title and terminated text, and that an accepted Host names exactly
 * <label>.<domain>: the label valid, its length returned, the rest of the Host the domain in any
 * case, an optional trailing dot and an optional port of 1-5 digits; any violation aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "name_policy.h"
#include "http_route.h"
#include "limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_host_domains[] = {"localhost", "tunnel.example.com", "a", "x-1.io"};

static void
fuzz_host_check(int ok)
{
    if (!ok)
        abort();
}

static char
fuzz_host_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Checks an accepted host against what the parser said. */
static void
fuzz_host_accepted(const char *host, const char *domain, const char *label, int n)
{
    size_t dlen = strlen(domain), i, at;

    fuzz_host_check(n >= 1 && n <= NGR_MAX_SUBDOMAIN && strlen(label) == (size_t)n);
    fuzz_host_check(name_valid_label(label, (size_t)n));
    for (i = 0; i < (size_t)n; i++)
        fuzz_host_check(fuzz_host_lower(host[i]) == label[i]);
    fuzz_host_check(host[n] == '.');
    for (i = 0; i < dlen; i++)
        fuzz_host_check(fuzz_host_lower(host[n + 1 + i]) == domain[i]);
    at = (size_t)n + 1 + dlen;
    if (host[at] == '.')
        at++;
    if (host[at] == ':') {
        size_t d = strspn(host + at + 1, "0123456789");
        fuzz_host_check(d >= 1 && d <= 5);
        at += 1 + d;
    }
    fuzz_host_check(host[at] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *domain;
    struct error_page why;
    char *host, *label;
    size_t len;
    int n;

    if (size == 0)
        return 0;
    domain =
        fuzz_host_domains[data[0] % (sizeof(fuzz_host_domains) / sizeof(fuzz_host_domains[0]))];
    len = size - 1;
    /* Exactly the bytes and their NUL, and exactly the label buffer: ASan sees any overrun. */
    host = malloc(len + 1);
    label = malloc(NGR_DOMAIN_LEN + 1);
    if (host == NULL || label == NULL) {
        free(host);
        free(label);
        return 0;
    }
    memcpy(host, data + 1, len);
    host[len] = '\0';
    memset(&why, 0, sizeof(why));
    n = http_route_parse(data[0] & 0x80 ? NULL : host, domain, label, NGR_DOMAIN_LEN + 1, &why);
    if (n < 0) {
        fuzz_host_check(n == -1);
        fuzz_host_check(why.status == 400 || why.status == 404);
        fuzz_host_check(why.title != NULL && memchr(why.text, '\0', sizeof(why.text)) != NULL);
    } else {
        fuzz_host_check(!(data[0] & 0x80));
        fuzz_host_accepted(host, domain, label, n);
    }
    free(host);
    free(label);
    return 0;
}
