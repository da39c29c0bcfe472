/* fuzz_proxy_accept.c: libFuzzer target for the PROXY protocol header the control port reads
 * from a trusted proxy (src/server/proxy_accept.h). The input, copied to an exact-size buffer
 * (so ASan sees a read past its end), is parsed whole and at every length up to it. Checks that
 * a header once whole stays whole with more bytes after it and is the same, that it takes no
 * more than it was given nor more than NGR_PROXY_ACCEPT_MAX, that "not yet" never comes past
 * that bound, and that a named address parses back as one; any violation aborts. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "proxy_accept.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_proxy_check(int ok)
{
    if (!ok)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1), bin[16];
    struct proxy_accept a, whole;
    int rc, first = -1;
    size_t n;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    for (n = 0; n <= size; n++) {
        rc = proxy_accept_parse(copy, n, &a);
        fuzz_proxy_check(rc == 0 || rc == NGR_EAGAIN || rc == NGR_EPROTO);
        if (rc == NGR_EAGAIN)
            fuzz_proxy_check(n < NGR_PROXY_ACCEPT_MAX);
        if (rc == 0) {
            fuzz_proxy_check(a.consumed > 0 && a.consumed <= n &&
                             a.consumed <= NGR_PROXY_ACCEPT_MAX);
            if (a.has_addr)
                fuzz_proxy_check(inet_pton(strchr(a.addr, ':') ? AF_INET6 : AF_INET, a.addr,
                                           bin) == 1);
            if (first < 0) {
                first = (int)n;
                whole = a;
            } else {
                fuzz_proxy_check(a.consumed == whole.consumed && a.has_addr == whole.has_addr &&
                                 strcmp(a.addr, whole.addr) == 0);
            }
        }
        if (first >= 0 && rc != 0)
            abort(); /* whole, then not: more bytes after a header changed it */
    }
    free(copy);
    return 0;
}
