/* config_diff.c: one table of the gateway's settings (where each lives in struct
 * server_config, how to show it, whether a running gateway takes a new value), walked to
 * compare two configurations and to copy the live part; see config_diff.h. */
#include "config_diff.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum config_kind {
    CK_STR,    /* char[] */
    CK_SECRET, /* char[], never shown */
    CK_ADDR,   /* struct net_addr */
    CK_BOOL,   /* int */
    CK_UINT,   /* unsigned */
    CK_U32,    /* uint32_t */
    CK_MS,     /* uint64_t ms, shown in seconds */
    CK_BYTES,  /* uint64_t */
    CK_LEVEL,  /* enum log_level */
    CK_FORMAT, /* enum access_log_format */
    CK_CIDR,   /* struct cidr_list, shown as a count */
};

enum config_when {
    CW_LIVE,        /* taken at once (what is read at each use, or at each new session) */
    CW_RESTART,     /* fixed while the gateway runs (listeners, names in URLs, the store) */
    CW_LIVE_IF_SET, /* a file re-read on SIGHUP: another path is taken, turning it on or off
                     * needs a restart */
};

struct config_key {
    const char *key;
    size_t off, size;
    enum config_kind kind;
    enum config_when when;
};

#define CK(name, field, kind, when)                                                            \
    {name, offsetof(struct server_config, field), sizeof(((struct server_config *)0)->field),   \
     kind, when}

static const struct config_key config_keys[] = {
    CK("domain", domain, CK_STR, CW_RESTART),
    CK("control_addr", control_addr, CK_ADDR, CW_RESTART),
    CK("http_addr", http_addr, CK_ADDR, CW_RESTART),
    CK("admin_addr", admin_addr, CK_ADDR, CW_RESTART),
    CK("public_port", public_port, CK_UINT, CW_RESTART),
    CK("public_url", public_url, CK_STR, CW_RESTART),
    CK("https_on", https_on, CK_BOOL, CW_RESTART),
    CK("https_addr", https_addr, CK_ADDR, CW_RESTART),
    CK("tls_cert", tls_cert, CK_STR, CW_LIVE_IF_SET),
    CK("tls_key", tls_key, CK_STR, CW_LIVE_IF_SET),
    CK("https_cert", https_cert, CK_STR, CW_LIVE_IF_SET),
    CK("https_key", https_key, CK_STR, CW_LIVE_IF_SET),
    CK("http_redirect", http_redirect, CK_BOOL, CW_LIVE),
    CK("token", token, CK_SECRET, CW_RESTART),
    CK("auth_tokens", auth_tokens, CK_STR, CW_LIVE_IF_SET),
    CK("admin_token", admin_token, CK_SECRET, CW_RESTART),
    CK("admin_token_file", admin_token_file, CK_STR, CW_LIVE_IF_SET),
    CK("reserved_names", reserved_names, CK_STR, CW_LIVE),
    CK("response_timeout", response_timeout_ms, CK_MS, CW_LIVE),
    CK("heartbeat", heartbeat_ms, CK_MS, CW_LIVE),
    CK("dead_after", dead_after_ms, CK_MS, CW_LIVE),
    CK("reconnect_grace", reconnect_grace_ms, CK_MS, CW_LIVE),
    CK("hold_requests", hold_requests_ms, CK_MS, CW_LIVE),
    CK("drain_timeout", drain_timeout_ms, CK_MS, CW_LIVE),
    CK("state_dir", state_dir, CK_STR, CW_RESTART),
    CK("ports_file", ports_file, CK_STR, CW_RESTART),
    CK("access_log", access_log, CK_STR, CW_LIVE),
    CK("access_log_format", access_log_format, CK_FORMAT, CW_LIVE),
    CK("log_level", log_level, CK_LEVEL, CW_LIVE),
    CK("tcp_ports (low)", tcp_port_low, CK_UINT, CW_RESTART),
    CK("tcp_ports (high)", tcp_port_high, CK_UINT, CW_RESTART),
    CK("tcp_addr", tcp_host, CK_STR, CW_RESTART),
    CK("session_budget", session_budget, CK_BYTES, CW_LIVE),
    CK("gateway_budget", gateway_budget, CK_BYTES, CW_RESTART),
    CK("max_body_size", max_body_size, CK_BYTES, CW_LIVE),
    CK("max_streams_per_tunnel", max_streams_per_tunnel, CK_UINT, CW_LIVE),
    CK("request_head_timeout", request_head_timeout_ms, CK_MS, CW_LIVE),
    CK("idle_timeout", idle_timeout_s, CK_UINT, CW_RESTART),
    CK("deny_cidr", deny_cidr, CK_CIDR, CW_LIVE),
    CK("trusted_proxy", trusted_proxy, CK_CIDR, CW_LIVE),
    CK("max_tunnels", max_tunnels, CK_UINT, CW_LIVE),
    CK("max_tunnels_per_token", max_tunnels_per_token, CK_UINT, CW_LIVE),
    CK("max_conns_per_ip", max_conns_per_ip, CK_UINT, CW_LIVE),
    CK("max_rate", max_rate, CK_U32, CW_LIVE),
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static void
config_show(const struct config_key *k, const void *p, char out[CONFIG_DIFF_TEXT])
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    const struct net_addr *a = p;
    uint64_t u;
    unsigned v;
    uint32_t w;
    int b;

    switch (k->kind) {
    case CK_STR:
        snprintf(out, CONFIG_DIFF_TEXT, "\"%s\"", (const char *)p);
        break;
    case CK_SECRET:
        snprintf(out, CONFIG_DIFF_TEXT, "%s", ((const char *)p)[0] ? "(set)" : "(none)");
        break;
    case CK_ADDR:
        net_format_addr(a, out, CONFIG_DIFF_TEXT);
        break;
    case CK_BOOL:
        memcpy(&b, p, sizeof(b));
        snprintf(out, CONFIG_DIFF_TEXT, "%s", b ? "yes" : "no");
        break;
    case CK_UINT:
        memcpy(&v, p, sizeof(v));
        snprintf(out, CONFIG_DIFF_TEXT, "%u", v);
        break;
    case CK_U32:
        memcpy(&w, p, sizeof(w));
        snprintf(out, CONFIG_DIFF_TEXT, "%" PRIu32, w);
        break;
    case CK_MS:
        memcpy(&u, p, sizeof(u));
        snprintf(out, CONFIG_DIFF_TEXT, "%g s", (double)u / 1000);
        break;
    case CK_BYTES:
        memcpy(&u, p, sizeof(u));
        snprintf(out, CONFIG_DIFF_TEXT, "%" PRIu64 " bytes", u);
        break;
    case CK_LEVEL: {
        enum log_level l;
        memcpy(&l, p, sizeof(l));
        snprintf(out, CONFIG_DIFF_TEXT, "%s", (unsigned)l < 4 ? levels[l] : "?");
        break;
    }
    case CK_FORMAT: {
        enum access_log_format fm;
        memcpy(&fm, p, sizeof(fm));
        snprintf(out, CONFIG_DIFF_TEXT, "%s", fm == ACCESS_LOG_JSON ? "json" : "text");
        break;
    }
    case CK_CIDR:
        snprintf(out, CONFIG_DIFF_TEXT, "%zu ranges", ((const struct cidr_list *)p)->n);
        break;
    }
}

/* 1 if the running gateway takes k's new value. */
static int
config_key_live(const struct config_key *k, const void *before, const void *after)
{
    if (k->when == CW_LIVE_IF_SET)
        return ((const char *)before)[0] != '\0' && ((const char *)after)[0] != '\0';
    return k->when == CW_LIVE;
}

static int
config_same_addr(const struct net_addr *a, const struct net_addr *b)
{
    return strcmp(a->host, b->host) == 0 && a->port == b->port;
}

/* The ranges in use only (the rest of the array is not compared). */
static int
config_same_cidrs(const struct cidr_list *a, const struct cidr_list *b)
{
    return a->n == b->n && memcmp(a->v, b->v, a->n * sizeof(a->v[0])) == 0;
}

size_t
config_diff(const struct server_config *cur, const struct server_config *next,
            struct config_change *out, size_t cap)
{
    size_t i, n = 0;

    for (i = 0; i < CONFIG_NKEYS && n < cap; i++) {
        const struct config_key *k = &config_keys[i];
        const char *a = (const char *)cur + k->off, *b = (const char *)next + k->off;
        int same;

        if (k->kind == CK_STR || k->kind == CK_SECRET)
            same = strcmp(a, b) == 0;
        else if (k->kind == CK_ADDR)
            same = config_same_addr((const void *)a, (const void *)b);
        else if (k->kind == CK_CIDR)
            same = config_same_cidrs((const void *)a, (const void *)b);
        else
            same = memcmp(a, b, k->size) == 0;
        if (same)
            continue;
        out[n].key = k->key;
        out[n].live = config_key_live(k, a, b);
        config_show(k, a, out[n].before);
        config_show(k, b, out[n].after);
        n++;
    }
    return n;
}

void
config_apply_live(struct server_config *cur, const struct server_config *next)
{
    size_t i;

    for (i = 0; i < CONFIG_NKEYS; i++) {
        const struct config_key *k = &config_keys[i];
        char *a = (char *)cur + k->off;
        const char *b = (const char *)next + k->off;

        if (config_key_live(k, a, b))
            memcpy(a, b, k->size);
    }
}
