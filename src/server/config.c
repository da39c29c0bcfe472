/* config.c: gateway settings from defaults, a "key = value" file and flags; see config.h. */
#include "config.h"
#include "ini_file.h"
#include "seconds.h"
#include "name_policy.h"
#include "rate_limit.h"
#include "readfile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void
config_defaults(struct server_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->domain, sizeof(c->domain), "localhost");
    net_parse_addr("127.0.0.1:8080", NULL, 1, &c->control_addr, NULL);
    net_parse_addr("127.0.0.1:8081", NULL, 1, &c->http_addr, NULL);
    net_parse_addr("127.0.0.1:8082", NULL, 1, &c->admin_addr, NULL);
    c->response_timeout_ms = NGR_RESPONSE_TIMEOUT_MS;
    c->heartbeat_ms = NGR_HEARTBEAT_MS;
    c->dead_after_ms = NGR_DEAD_AFTER_MS;
    c->reconnect_grace_ms = NGR_RECONNECT_GRACE_MS;
    c->hold_requests_ms = NGR_HOLD_REQUESTS_MS;
    c->drain_timeout_ms = NGR_DRAIN_TIMEOUT_MS;
    snprintf(c->tcp_host, sizeof(c->tcp_host), "127.0.0.1");
    c->log_level = LOG_LEVEL_INFO;
    c->session_budget = NGR_SESSION_BUDGET;
    c->gateway_budget = NGR_GATEWAY_BUDGET;
    c->max_streams_per_tunnel = NGR_TUNNEL_STREAMS;
    c->max_tunnels = NGR_MAX_SESSIONS;
    c->max_tunnels_per_token = NGR_TUNNELS_PER_TOKEN;
    c->max_conns_per_ip = NGR_CONNS_PER_IP;
    c->request_head_timeout_ms = NGR_REQUEST_HEAD_MS;
    c->idle_timeout_s = NGR_HTTP_CONN_TIMEOUT_S;
    snprintf(c->reserved_names, sizeof(c->reserved_names), "%s", NAME_POLICY_DEFAULT_RESERVED);
}

/* A domain: dot-separated labels, each valid once lowercased. */
static int
config_set_domain(struct server_config *c, const char *v, struct ngr_err *err)
{
    char d[NGR_DOMAIN_LEN + 1];
    size_t len = strlen(v), i, start = 0;

    if (len > 0 && v[len - 1] == '.')
        len--;
    if (len == 0 || len > NGR_DOMAIN_LEN)
        return err_set(err, NGR_EINVAL, "domain \"%s\": must be 1-%d characters", v,
                       NGR_DOMAIN_LEN);
    for (i = 0; i < len; i++)
        d[i] = (char)tolower((unsigned char)v[i]);
    d[len] = '\0';
    for (i = 0; i <= len; i++) {
        if (i == len || d[i] == '.') {
            if (!name_valid_label(d + start, i - start))
                return err_set(err, NGR_EINVAL,
                               "domain \"%s\": not a valid DNS name (letters, digits and '-' "
                               "between dots, such as tunnel.example.com)",
                               v);
            start = i + 1;
        }
    }
    memcpy(c->domain, d, len + 1);
    return 0;
}

static int
config_parse_uint(const char *key, const char *v, unsigned long max, unsigned long *out,
                  struct ngr_err *err)
{
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n > max)
        return err_set(err, NGR_EINVAL, "%s \"%s\": expected a whole number 0-%lu", key, v, max);
    *out = n;
    return 0;
}

/* A size in bytes, with an optional K, M or G (KiB, MiB, GiB), from min to NGR_BUDGET_MAX. */
static int
config_parse_size(const char *key, const char *v, uint64_t min, uint64_t *out, struct ngr_err *err)
{
    char *end;
    unsigned long long n;
    uint64_t mul = 1;

    errno = 0;
    n = strtoull(v, &end, 10);
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024 * 1024 * 1024, end++;
    if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n > NGR_BUDGET_MAX / mul ||
        n * mul < min)
        return err_set(err, NGR_EINVAL,
                       "%s \"%s\": expected a size in bytes, with K, M or G for KiB, MiB, GiB, "
                       "from %llu K to %llu G",
                       key, v, (unsigned long long)(min / 1024),
                       (unsigned long long)(NGR_BUDGET_MAX >> 30));
    *out = n * mul;
    return 0;
}

/* Adds value's ranges to l: the flag repeats, and the file's value is a comma-separated list. */
static int
config_add_cidrs(struct cidr_list *l, const char *key, const char *value, struct ngr_err *err)
{
    const char *p = value;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *s = p;

        while (len > 0 && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len > 0 && cidr_list_add(l, s, len, err) != 0)
            return err_prefix(err, key);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return 0;
}

static int
config_key_is(const char *key, const char *want)
{
    for (; *key && *want; key++, want++) {
        char k = *key == '-' ? '_' : (char)tolower((unsigned char)*key);
        if (k != *want)
            return 0;
    }
    return *key == '\0' && *want == '\0';
}

int
config_set(struct server_config *c, const char *key, const char *value, struct ngr_err *err)
{
    unsigned long n = 0;
    int rc;

    if (config_key_is(key, "domain"))
        return config_set_domain(c, value, err);
    if (config_key_is(key, "control_addr"))
        return net_parse_addr(value, NULL, 1, &c->control_addr, err);
    if (config_key_is(key, "http_addr"))
        return net_parse_addr(value, NULL, 1, &c->http_addr, err);
    if (config_key_is(key, "https_addr")) {
        if (value[0] == '\0') {
            c->https_on = 0;
            return 0;
        }
        c->https_on = 1;
        return net_parse_addr(value, NULL, 1, &c->https_addr, err);
    }
    if (config_key_is(key, "https_cert") || config_key_is(key, "https_key") ||
        config_key_is(key, "tls_cert") || config_key_is(key, "tls_key")) {
        char *dst = config_key_is(key, "https_cert") ? c->https_cert
                    : config_key_is(key, "https_key") ? c->https_key
                    : config_key_is(key, "tls_cert")  ? c->tls_cert
                                                      : c->tls_key;

        if (strlen(value) >= CONFIG_PATH_LEN)
            return err_set(err, NGR_EINVAL, "%s: path too long", key);
        snprintf(dst, CONFIG_PATH_LEN, "%s", value);
        return 0;
    }
    if (config_key_is(key, "http_redirect"))
        return ini_file_bool(key, value, &c->http_redirect, err);
    if (config_key_is(key, "admin_addr"))
        return net_parse_addr(value, NULL, 1, &c->admin_addr, err);
    if (config_key_is(key, "public_port")) {
        if ((rc = config_parse_uint(key, value, 65535, &n, err)) != 0)
            return rc;
        c->public_port = (unsigned)n;
        return 0;
    }
    if (config_key_is(key, "heartbeat"))
        return seconds_parse(key, value, &c->heartbeat_ms, err);
    if (config_key_is(key, "dead_after"))
        return seconds_parse(key, value, &c->dead_after_ms, err);
    if (config_key_is(key, "reconnect_grace") || config_key_is(key, "hold_requests") ||
        config_key_is(key, "drain_timeout")) {
        uint64_t *ms = config_key_is(key, "reconnect_grace") ? &c->reconnect_grace_ms
                       : config_key_is(key, "hold_requests") ? &c->hold_requests_ms
                                                             : &c->drain_timeout_ms;
        if (strcmp(value, "0") == 0) {
            *ms = 0;
            return 0;
        }
        return seconds_parse(key, value, ms, err);
    }
    if (config_key_is(key, "state_dir")) {
        if (value[0] == '\0' || strlen(value) >= sizeof(c->state_dir))
            return err_set(err, NGR_EINVAL, "state_dir: %s",
                           value[0] ? "path too long" : "needs a directory");
        snprintf(c->state_dir, sizeof(c->state_dir), "%s", value);
        return 0;
    }
    if (config_key_is(key, "response_timeout"))
        return seconds_parse(key, value, &c->response_timeout_ms, err);
    if (config_key_is(key, "token")) {
        if (strlen(value) >= sizeof(c->token))
            return err_set(err, NGR_EINVAL, "token: longer than %zu characters",
                           sizeof(c->token) - 1);
        snprintf(c->token, sizeof(c->token), "%s", value);
        return 0;
    }
    if (config_key_is(key, "admin_token")) {
        if (strlen(value) >= sizeof(c->admin_token))
            return err_set(err, NGR_EINVAL, "admin_token: longer than %zu characters",
                           sizeof(c->admin_token) - 1);
        snprintf(c->admin_token, sizeof(c->admin_token), "%s", value);
        return 0;
    }
    if (config_key_is(key, "admin_token_file")) {
        if (strlen(value) >= sizeof(c->admin_token_file))
            return err_set(err, NGR_EINVAL, "admin_token_file: path too long");
        snprintf(c->admin_token_file, sizeof(c->admin_token_file), "%s", value);
        return 0;
    }
    if (config_key_is(key, "reserved_names"))
        return name_policy_parse(value, c->reserved_names, sizeof(c->reserved_names), err);
    if (config_key_is(key, "auth_tokens")) {
        if (strlen(value) >= sizeof(c->auth_tokens))
            return err_set(err, NGR_EINVAL, "auth_tokens: path too long");
        snprintf(c->auth_tokens, sizeof(c->auth_tokens), "%s", value);
        return 0;
    }
    if (config_key_is(key, "access_log")) {
        if (strlen(value) >= sizeof(c->access_log))
            return err_set(err, NGR_EINVAL, "access_log: path too long");
        snprintf(c->access_log, sizeof(c->access_log), "%s",
                 strcmp(value, "off") == 0 ? "" : value);
        return 0;
    }
    if (config_key_is(key, "access_log_format")) {
        if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0)
            return err_set(err, NGR_EINVAL, "access_log_format \"%.40s\": expected text or json",
                           value);
        c->access_log_format = strcmp(value, "json") == 0 ? ACCESS_LOG_JSON : ACCESS_LOG_TEXT;
        return 0;
    }
    if (config_key_is(key, "ports_file")) {
        if (strlen(value) >= sizeof(c->ports_file))
            return err_set(err, NGR_EINVAL, "ports_file: path too long");
        snprintf(c->ports_file, sizeof(c->ports_file), "%s", value);
        return 0;
    }
    if (config_key_is(key, "tcp_ports")) {
        unsigned long lo, hi;
        char *dash, low[16];
        size_t n1;
        if (strcmp(value, "off") == 0 || value[0] == '\0') {
            c->tcp_port_low = c->tcp_port_high = 0;
            return 0;
        }
        dash = strchr(value, '-');
        n1 = dash ? (size_t)(dash - value) : 0;
        if (dash == NULL || n1 == 0 || n1 >= sizeof(low))
            return err_set(err, NGR_EINVAL, "tcp_ports \"%s\": expected LOW-HIGH, e.g. 20000-20099",
                           value);
        memcpy(low, value, n1);
        low[n1] = '\0';
        if (config_parse_uint(key, low, 65535, &lo, err) != 0 ||
            config_parse_uint(key, dash + 1, 65535, &hi, err) != 0 || lo == 0 || hi < lo)
            return err_set(err, NGR_EINVAL,
                           "tcp_ports \"%s\": expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535",
                           value);
        c->tcp_port_low = (unsigned)lo;
        c->tcp_port_high = (unsigned)hi;
        return 0;
    }
    if (config_key_is(key, "tcp_addr")) {
        struct in6_addr a6;
        /* Numeric only: ports are bound while the gateway runs, where no lookup may block. */
        if (strlen(value) >= sizeof(c->tcp_host) ||
            (inet_pton(AF_INET, value, &a6) != 1 && inet_pton(AF_INET6, value, &a6) != 1))
            return err_set(err, NGR_EINVAL,
                           "tcp_addr \"%s\": expected a numeric IP address such as 127.0.0.1 or ::",
                           value);
        snprintf(c->tcp_host, sizeof(c->tcp_host), "%s", value);
        return 0;
    }
    if (config_key_is(key, "max_rate")) {
        if (value[0] == '\0' || strcmp(value, "0") == 0 || strcasecmp(value, "unlimited") == 0) {
            c->max_rate = 0;
            return 0;
        }
        return rate_limit_parse(value, strlen(value), &c->max_rate, err) != 0
                   ? err_prefix(err, "max_rate")
                   : 0;
    }
    if (config_key_is(key, "deny_cidr"))
        return config_add_cidrs(&c->deny_cidr, "deny_cidr", value, err);
    if (config_key_is(key, "trusted_proxy"))
        return config_add_cidrs(&c->trusted_proxy, "trusted_proxy", value, err);
    if (config_key_is(key, "public_url")) {
        size_t len = strlen(value);

        /* One trailing '/' is what people write; the URLs are made without it. */
        if (len > 0 && value[len - 1] == '/')
            len--;
        if (len >= sizeof(c->public_url))
            return err_set(err, NGR_EINVAL, "public_url: longer than %zu characters",
                           sizeof(c->public_url) - 1);
        memcpy(c->public_url, value, len);
        c->public_url[len] = '\0';
        return 0;
    }
    if (config_key_is(key, "max_body_size")) {
        if (strcmp(value, "0") == 0 || strcasecmp(value, "unlimited") == 0) {
            c->max_body_size = 0;
            return 0;
        }
        return config_parse_size(key, value, 1, &c->max_body_size, err);
    }
    if (config_key_is(key, "max_tunnels") || config_key_is(key, "max_tunnels_per_token") ||
        config_key_is(key, "max_conns_per_ip")) {
        int per_ip = config_key_is(key, "max_conns_per_ip");

        if ((rc = config_parse_uint(key, value, NGR_MAX_SESSIONS, &n, err)) != 0)
            return rc;
        if (n == 0 && !per_ip)
            return err_set(err, NGR_EINVAL, "%s: at least 1", key);
        if (per_ip)
            c->max_conns_per_ip = (unsigned)n;
        else if (config_key_is(key, "max_tunnels"))
            c->max_tunnels = (unsigned)n;
        else
            c->max_tunnels_per_token = (unsigned)n;
        return 0;
    }
    if (config_key_is(key, "max_streams_per_tunnel")) {
        if ((rc = config_parse_uint(key, value, 1000000, &n, err)) != 0)
            return rc;
        if (n == 0)
            return err_set(err, NGR_EINVAL, "max_streams_per_tunnel: at least 1");
        c->max_streams_per_tunnel = (unsigned)n;
        return 0;
    }
    if (config_key_is(key, "request_head_timeout"))
        return seconds_parse(key, value, &c->request_head_timeout_ms, err);
    if (config_key_is(key, "idle_timeout")) {
        if ((rc = config_parse_uint(key, value, 86400, &n, err)) != 0)
            return rc;
        if (n == 0)
            return err_set(err, NGR_EINVAL, "idle_timeout: at least 1 second");
        c->idle_timeout_s = (unsigned)n;
        return 0;
    }
    if (config_key_is(key, "session_budget"))
        return config_parse_size(key, value, NGR_STREAM_WINDOW, &c->session_budget, err);
    if (config_key_is(key, "gateway_budget"))
        return config_parse_size(key, value, NGR_STREAM_WINDOW, &c->gateway_budget, err);
    if (config_key_is(key, "log_level")) {
        static const char *const names[] = {"error", "warn", "info", "debug"};
        for (n = 0; n < 4; n++)
            if (strcasecmp(value, names[n]) == 0) {
                c->log_level = (enum log_level)n;
                return 0;
            }
        return err_set(err, NGR_EINVAL, "log_level \"%s\": expected error, warn, info or debug",
                       value);
    }
    return err_set(err, NGR_EINVAL, "unknown setting \"%s\"", key);
}

/* ini_file's callback: a key of the gateway's file, which has no sections. */
static int
config_on_pair(void *user, const char *section, const char *key, const char *value,
               struct ngr_err *err)
{
    if (section[0] != '\0')
        return err_set(err, NGR_EINVAL,
                       "section [%.40s]: the gateway's file has no sections, only "
                       "\"key = value\" lines",
                       section);
    return config_set(user, key, value, err);
}

int
config_parse(struct server_config *c, const char *text, size_t len, struct ngr_err *err)
{
    return ini_file_parse(text, len, config_on_pair, c, err);
}

int
config_load(struct server_config *c, const char *path, struct ngr_err *err)
{
    char *text;
    size_t len;
    int rc = readfile(path, CONFIG_MAX_FILE, &text, &len, err);

    if (rc != 0)
        return rc;
    rc = config_parse(c, text, len, err);
    if (rc != 0)
        err_prefix(err, path);
    free(text);
    return rc;
}
