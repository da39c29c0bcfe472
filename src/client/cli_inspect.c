/* cli_inspect.c: the local inspector's options (--inspect-addr and the rest), checked; see
 * cli.h. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
cli_inspect_defaults(struct cli_inspect *in)
{
    memset(in, 0, sizeof(*in));
    snprintf(in->addr.host, sizeof(in->addr.host), "127.0.0.1");
    in->addr.port = NGR_INSPECT_PORT_FIRST;
    in->max_entries = NGR_INSPECT_ENTRIES;
    in->budget = NGR_INSPECT_BUDGET;
    in->body_max = NGR_INSPECT_BODY_MAX;
}

/* A size: bytes, or with a suffix K, KiB, M, MiB, G, GiB (powers of 1024), within lo..hi. */
static int
cli_inspect_size(const char *key, const char *value, size_t lo, size_t hi, size_t *out,
                 struct ngr_err *err)
{
    unsigned long long v, mul = 1;
    char *end;

    errno = 0;
    v = strtoull(value, &end, 10);
    if (end == value || value[0] == '-' || errno != 0)
        goto bad;
    if (*end == 'K' || *end == 'k')
        mul = 1024;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mul = 1024 * 1024 * 1024;
    if (mul != 1) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
            end += strlen(end);
    }
    if (*end != '\0' || v > hi / mul || v * mul < lo)
        goto bad;
    *out = (size_t)(v * mul);
    return 0;
bad:
    return err_set(err, NGR_EINVAL,
                   "--%s \"%.40s\": expected %zu to %zu, in bytes or with K, M "
                   "or G (KiB, MiB, GiB)",
                   key, value, lo, hi);
}

int
cli_inspect_set(struct cli_inspect *in, const char *key, const char *value, struct ngr_err *err)
{
    if (strcmp(key, "inspect_addr") == 0) {
        if (strcmp(value, "off") == 0 || strcmp(value, "false") == 0) {
            in->off = 1;
            return 0;
        }
        if (net_parse_addr(value, NULL, 0, &in->addr, err) != 0)
            return err_prefix(err, "--inspect-addr (HOST:PORT or off)");
        in->off = 0;
        in->given = 1;
        return 0;
    }
    if (strcmp(key, "inspect_token") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof(in->token))
            return err_set(err, NGR_EINVAL, "--inspect-token: 1 to %d bytes",
                           NGR_INSPECT_TOKEN_LEN - 1);
        snprintf(in->token, sizeof(in->token), "%s", value);
        return 0;
    }
    if (strcmp(key, "inspect_max") == 0)
        return cli_inspect_size("inspect-max", value, 1, NGR_INSPECT_ENTRIES_MAX, &in->max_entries,
                                err);
    if (strcmp(key, "inspect_budget") == 0)
        return cli_inspect_size("inspect-budget", value, 1, NGR_INSPECT_BUDGET_MAX, &in->budget,
                                err);
    if (strcmp(key, "inspect_body_max") == 0)
        return cli_inspect_size("inspect-body-max", value, 0, NGR_INSPECT_BODY_MAX_MAX,
                                &in->body_max, err);
    return NGR_ENOENT;
}

int
cli_inspect_check(const struct cli_inspect *in, struct ngr_err *err)
{
    /* The largest exchange: both heads and both bodies at their caps, and its bookkeeping. */
    size_t one = 2 * ((size_t)NGR_INSPECT_HEAD_MAX + in->body_max) + 4096;

    if (in->budget < one)
        return err_set(err, NGR_EINVAL,
                       "--inspect-budget %zu cannot hold one exchange with --inspect-body-max "
                       "%zu: give at least %zu",
                       in->budget, in->body_max, one);
    if (in->off)
        return 0;
    if (!net_host_is_loopback(in->addr.host) && in->token[0] == '\0')
        return err_set(err, NGR_EINVAL,
                       "--inspect-addr %s is not a loopback address: anyone who reaches it "
                       "would see your requests; give --inspect-token TOKEN too",
                       in->addr.host);
    return 0;
}
