/* fuzz_handshake.c: libFuzzer target for what the gateway makes of a client's handshake: the
 * input is a stream of frames; each HELLO goes through the version read, frame_hello_decode and
 * session_check_peer, each BIND through frame_bind_decode and then, as control.c does, the
 * name policy (reserved and UUID-shaped names), the tunnel's protections (access_rules.c) and
 * its rate (rate_limit.c). Checks that refusals carry a reason and that what is accepted stays
 * within its documented bounds; any violation aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access_rules.h"
#include "config.h"
#include "err.h"
#include "frame.h"
#include "name_policy.h"
#include "rate_limit.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_handshake_check(int ok)
{
    if (!ok)
        abort();
}

static void
fuzz_handshake_reason(const struct ngr_err *err)
{
    fuzz_handshake_check(memchr(err->msg, '\0', sizeof(err->msg)) != NULL && err->msg[0] != '\0');
}

static void
fuzz_handshake_hello(const struct frame *f)
{
    struct frame_hello h;
    struct ngr_err err;

    if (frame_hello_decode(f, &h) != 0)
        return;
    memset(&err, 0, sizeof(err));
    if (session_check_peer(&h, &err) != 0) {
        fuzz_handshake_reason(&err);
        return;
    }
    fuzz_handshake_check(h.max_payload >= NGR_FRAME_MIN_MAX_PAYLOAD);
    fuzz_handshake_check(h.stream_window >= 1 && h.stream_window <= 0x7fffffffu);
    fuzz_handshake_check(h.session_window >= 1 && h.session_window <= 0x7fffffffu);
}

static void
fuzz_handshake_bind(const struct frame *f)
{
    static struct access_rules rules;
    struct frame_bind b;
    struct ngr_err err;
    char name[NGR_MAX_SUBDOMAIN + 1], why[NGR_MAX_MESSAGE];
    size_t i;

    if (frame_bind_decode(f, &b) != 0)
        return;
    fuzz_handshake_check(b.nopts <= NGR_BIND_OPTS_MAX);
    if (b.subdomain.len > 0 && name_valid_label(b.subdomain.p, b.subdomain.len)) {
        memcpy(name, b.subdomain.p, b.subdomain.len);
        name[b.subdomain.len] = '\0';
        if (name_policy_check(NAME_POLICY_DEFAULT_RESERVED, name, why, sizeof(why)) != 0)
            fuzz_handshake_check(strstr(why, name) != NULL);
    }
    memset(&err, 0, sizeof(err));
    fuzz_handshake_check(access_rules_init(&rules, &err) == 0);
    if (access_rules_from_bind(&rules, &b, &err) != 0)
        fuzz_handshake_reason(&err);
    fuzz_handshake_check(rules.allow.n <= NGR_CIDR_MAX && rules.deny.n <= NGR_CIDR_MAX);
    fuzz_handshake_check(rules.ncreds <= NGR_BASIC_AUTH_MAX);
    for (i = 0; i < rules.allow.n; i++)
        fuzz_handshake_check(rules.allow.v[i].bits <= (rules.allow.v[i].family == AF_INET ? 32u
                                                                                          : 128u));
    fuzz_handshake_check(access_rules_auth_ok(&rules, "Basic YTpi") == 0 ||
                         rules.ncreds <= NGR_BASIC_AUTH_MAX);
    for (i = 0; i < b.nopts; i++) {
        uint32_t per_s;

        if (!frame_str_eq(b.opts[i].name, "rate_limit"))
            continue;
        memset(&err, 0, sizeof(err));
        if (rate_limit_parse(b.opts[i].value.p, b.opts[i].value.len, &per_s, &err) == 0)
            fuzz_handshake_check(per_s >= 1 && per_s <= NGR_RATE_MAX);
        else
            fuzz_handshake_reason(&err);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct frame f;
        ssize_t n = frame_decode(data + off, size - off, NGR_FRAME_MAX_PAYLOAD, &f);

        if (n <= 0)
            break;
        if (f.type == FRAME_HELLO)
            fuzz_handshake_hello(&f);
        else if (f.type == FRAME_BIND)
            fuzz_handshake_bind(&f);
        off += (size_t)n;
    }
    return 0;
}
