/* fuzz_forwarded.c: libFuzzer target for the visitor's address behind a trusted proxy
 * (src/server/trusted_proxy.h), which reads X-Forwarded-For, whose left part any visitor
 * writes. The first byte picks the trusted ranges and the peer; the rest is split at the first
 * LF into an X-Forwarded-For value and an X-Forwarded-Proto value, each an exact-size copy, so
 * ASan sees a read past either end. Checks that only a trusted peer moves the address, and only
 * to a numeric one, and that the scheme is http or https (the gateway's own from any other
 * peer); any violation aborts. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trusted_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_forwarded_trusted[] = {"127.0.0.1/32", "127.0.0.1/32,10.0.0.0/8",
                                                     "::1/128,2001:db8::/32", ""};
static const char *const fuzz_forwarded_peers[] = {"127.0.0.1", "10.0.0.1", "::1", "203.0.113.9"};

static void
fuzz_forwarded_check(int ok)
{
    if (!ok)
        abort();
}

static struct cidr_list
fuzz_forwarded_list(const char *ranges)
{
    struct cidr_list l;
    const char *p = ranges;

    memset(&l, 0, sizeof(l));
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        fuzz_forwarded_check(cidr_list_add(&l, p, len, NULL) == 0);
        p += len + (p[len] == ',');
    }
    return l;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trusted_proxy_view v;
    struct frame_field f[2];
    struct cidr_list l;
    const uint8_t *nl;
    const char *peer, *own;
    char *xff, *xfp = NULL;
    size_t xlen, plen = 0, n = 1;
    uint8_t a[16];

    if (size == 0)
        return 0;
    l = fuzz_forwarded_list(fuzz_forwarded_trusted[data[0] & 3]);
    peer = fuzz_forwarded_peers[(data[0] >> 2) & 3];
    own = data[0] & 0x10 ? "https" : "http";
    data++;
    size--;
    nl = memchr(data, '\n', size);
    xlen = nl != NULL ? (size_t)(nl - data) : size;
    xff = malloc(xlen > 0 ? xlen : 1);
    if (xff == NULL)
        return 0;
    memcpy(xff, data, xlen);
    f[0].name = frame_str_c("X-Forwarded-For");
    f[0].value.p = xff;
    f[0].value.len = xlen;
    if (nl != NULL) {
        plen = size - xlen - 1;
        xfp = malloc(plen > 0 ? plen : 1);
        if (xfp == NULL) {
            free(xff);
            return 0;
        }
        memcpy(xfp, nl + 1, plen);
        f[1].name = frame_str_c("X-Forwarded-Proto");
        f[1].value.p = xfp;
        f[1].value.len = plen;
        n = 2;
    }
    trusted_proxy_resolve(&l, peer, own, f, n, &v);
    fuzz_forwarded_check(strcmp(v.scheme, "http") == 0 || strcmp(v.scheme, "https") == 0);
    fuzz_forwarded_check(memchr(v.client_ip, '\0', sizeof(v.client_ip)) != NULL);
    if (strcmp(v.client_ip, peer) != 0) {
        /* Only a trusted peer's words move the address, and only to a numeric one. */
        fuzz_forwarded_check(v.via_proxy);
        fuzz_forwarded_check(inet_pton(AF_INET, v.client_ip, a) == 1 ||
                             inet_pton(AF_INET6, v.client_ip, a) == 1);
    }
    if (!v.via_proxy)
        fuzz_forwarded_check(strcmp(v.scheme, own) == 0);
    free(xff);
    free(xfp);
    return 0;
}
