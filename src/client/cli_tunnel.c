/* cli_tunnel.c: the client's settings, one key at a time, checked the same way whether they
 * come from an option (--basic-auth) or from the config file (basic_auth); see cli.h. A typo is
 * reported before the gateway is reached; the gateway checks them again. */
#include "cli.h"
#include "cidr.h"
#include "frame.h"
#include "ini_file.h"
#include "seconds.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct cli_string {
    struct cli_string *next;
    char s[];
};

/* A copy of s that lives as long as o, or NULL (out of memory). */
static const char *
cli_keep(struct cli_options *o, const char *s)
{
    size_t n = strlen(s) + 1;
    struct cli_string *k = malloc(sizeof(*k) + n);

    if (k == NULL)
        return NULL;
    memcpy(k->s, s, n);
    k->next = o->strings;
    o->strings = k;
    return k->s;
}

void
cli_options_free(struct cli_options *o)
{
    while (o->strings != NULL) {
        struct cli_string *k = o->strings;

        o->strings = k->next;
        free(k);
    }
}

/* How the user wrote key: "basic_auth" in the file, "--basic-auth" as an option. */
static const char *
cli_spelled(const char *key, int file, char *out, size_t cap)
{
    size_t i, n = 0;

    if (file) {
        snprintf(out, cap, "%s", key);
        return out;
    }
    n = (size_t)snprintf(out, cap, "--");
    for (i = 0; key[i] != '\0' && n + 1 < cap; i++)
        out[n++] = key[i] == '_' ? '-' : key[i];
    out[n] = '\0';
    return out;
}

int
cli_session_set(struct cli_options *o, const char *key, const char *value, int file,
                struct ngr_err *err)
{
    char what[48];

    cli_spelled(key, file, what, sizeof(what));
    if (strcmp(key, "server") == 0) {
        if (net_parse_addr(value, NULL, 0, &o->server, err) != 0)
            return err_prefix(err, what);
        return 0;
    }
    if (strcmp(key, "token") == 0) {
        if (strlen(value) >= sizeof(o->token))
            return err_set(err, NGR_EINVAL, "%s: longer than %zu characters", what,
                           sizeof(o->token) - 1);
        snprintf(o->token, sizeof(o->token), "%s", value);
        return 0;
    }
    if (strcmp(key, "tls") == 0)
        return ini_file_bool(what, value, &o->tls, err);
    if (strcmp(key, "ca") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof(o->ca))
            return err_set(err, NGR_EINVAL, "%s: %s", what,
                           value[0] ? "path too long" : "needs a file name");
        snprintf(o->ca, sizeof(o->ca), "%s", value);
        o->tls = 1;
        return 0;
    }
    if (strcmp(key, "heartbeat") == 0)
        return seconds_parse(what, value, &o->heartbeat_ms, err);
    if (strcmp(key, "dead_after") == 0)
        return seconds_parse(what, value, &o->dead_after_ms, err);
    if (strncmp(key, "inspect_", 8) == 0) /* the local inspector's: one per client */
        return cli_inspect_set(&o->inspect, key, value, err);
    return NGR_ENOENT;
}

static int
cli_set_subdomain(struct cli_tunnel *t, const char *s, struct ngr_err *err)
{
    size_t len = strlen(s), i;
    int ok = len >= 1 && len <= NGR_MAX_SUBDOMAIN && s[0] != '-' && s[len - 1] != '-';
    int upper = 0;

    for (i = 0; ok && i < len; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            upper = 1;
        else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            ok = 0;
    }
    if (!ok || upper) {
        char lower[NGR_MAX_SUBDOMAIN + 1];
        for (i = 0; i < len && i < NGR_MAX_SUBDOMAIN; i++)
            lower[i] = (char)tolower((unsigned char)s[i]);
        lower[i] = '\0';
        return err_set(err, NGR_EINVAL,
                       ok ? "invalid subdomain \"%s\": use lowercase letters (\"%s\")"
                          : "invalid subdomain \"%s\": use 1-63 lowercase letters, digits or '-', "
                            "not starting or ending with '-'",
                       s, lower);
    }
    memcpy(t->subdomain, s, len + 1);
    return 0;
}

/* An http:// or https:// URL of the local service: scheme, host and port, nothing else (no
 * path: requests keep their own). Read by libcurl's URL parser. */
static int
cli_set_url(struct cli_tunnel *t, const char *v, const char *what, struct ngr_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    char hostport[NGR_ADDR_LEN + 16];
    size_t hl;
    int rc = NGR_EINVAL;

    if (u == NULL)
        return err_set(err, NGR_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, v, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        err_set(err, NGR_EINVAL, "%s \"%.200s\": not a URL such as https://localhost:8443", what,
                v);
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        err_set(err, NGR_EINVAL, "%s \"%.200s\": expected http://, https:// or unix:PATH", what, v);
        goto done;
    }
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    if ((path != NULL && strcmp(path, "/") != 0) || query != NULL || user != NULL) {
        err_set(err, NGR_EINVAL,
                "%s \"%.200s\": give the scheme, host and port only; requests keep their own "
                "paths",
                what, v);
        goto done;
    }
    hl = strlen(host);
    if (hl >= 2 && host[0] == '[') /* an IPv6 address: net_parse_addr wants it bracketed too */
        snprintf(hostport, sizeof(hostport), "%.*s:%s", (int)hl, host, port);
    else
        snprintf(hostport, sizeof(hostport), "%.*s:%s",
                 (int)(hl < NGR_ADDR_LEN ? hl : NGR_ADDR_LEN), host, port);
    if (net_parse_addr(hostport, NULL, 0, &t->local, err) != 0) {
        err_prefix(err, what);
        goto done;
    }
    t->scheme = strcmp(scheme, "https") == 0 ? CLI_SCHEME_HTTPS : CLI_SCHEME_HTTP;
    t->unix_path[0] = '\0';
    t->has_local = 1;
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

/* addr: PORT, HOST:PORT, http(s)://HOST[:PORT] or unix:PATH. */
static int
cli_set_addr(struct cli_tunnel *t, const char *v, int file, struct ngr_err *err)
{
    const char *what = file ? "addr" : "local service";

    if (strncmp(v, "unix:", 5) == 0) {
        if (v[5] == '\0' || strlen(v + 5) >= sizeof(t->unix_path))
            return err_set(err, NGR_EINVAL, "%s \"%.200s\": %s", what, v,
                           v[5] ? "socket path too long" : "expected unix:PATH");
        snprintf(t->unix_path, sizeof(t->unix_path), "%s", v + 5);
        /* libcurl's URL names a host all the same: the Host header --host-header=rewrite
         * sends. */
        net_parse_addr("localhost:80", NULL, 0, &t->local, NULL);
        t->scheme = CLI_SCHEME_UNIX;
        t->has_local = 1;
        return 0;
    }
    if (strstr(v, "://") != NULL)
        return cli_set_url(t, v, what, err);
    if (net_parse_addr(v, "localhost", 0, &t->local, err) != 0)
        return err_prefix(err, what);
    t->scheme = CLI_SCHEME_HTTP;
    t->unix_path[0] = '\0';
    t->has_local = 1;
    return 0;
}

/* One of the options sent in BIND, value kept with o. */
static int
cli_add_bind_opt(struct cli_options *o, struct cli_tunnel *t, const char *key, const char *v,
                 struct ngr_err *err)
{
    if (t->nprotect >= NGR_BIND_OPTS_MAX)
        return err_set(err, NGR_EINVAL,
                       "at most %d of basic_auth, allow_cidr, deny_cidr and the other tunnel "
                       "options",
                       NGR_BIND_OPTS_MAX);
    t->protect[t->nprotect].key = key;
    t->protect[t->nprotect].value = cli_keep(o, v);
    if (t->protect[t->nprotect].value == NULL)
        return err_set(err, NGR_ENOMEM, "out of memory");
    t->nprotect++;
    return 0;
}

int
cli_tunnel_set(struct cli_options *o, struct cli_tunnel *t, const char *key, const char *v,
               int file, struct ngr_err *err)
{
    static const char *const bind_keys[] = {"basic_auth", "allow_cidr", "deny_cidr",
                                            "rate_limit", "rate_burst", "response_timeout"};
    char what[48];
    size_t i;
    int on;

    cli_spelled(key, file, what, sizeof(what));
    if (strcmp(key, "proto") == 0) {
        if (strcmp(v, "http") == 0)
            t->proto = FRAME_PROTO_HTTP;
        else if (strcmp(v, "tcp") == 0)
            t->proto = FRAME_PROTO_TCP;
        else
            return err_set(err, NGR_EINVAL, "%s \"%s\": expected http or tcp", what, v);
        return 0;
    }
    if (strcmp(key, "addr") == 0)
        return cli_set_addr(t, v, file, err);
    if (strcmp(key, "upstream_insecure") == 0)
        return ini_file_bool(what, v, &t->upstream_insecure, err);
    if (strcmp(key, "upstream_ca") == 0) {
        if (v[0] == '\0' || strlen(v) >= sizeof(t->upstream_ca))
            return err_set(err, NGR_EINVAL, "%s: %s", what,
                           v[0] ? "path too long" : "needs a file name");
        snprintf(t->upstream_ca, sizeof(t->upstream_ca), "%s", v);
        return 0;
    }
    if (strcmp(key, "subdomain") == 0)
        return cli_set_subdomain(t, v, err);
    if (strcmp(key, "host_header") == 0) {
        if (strcmp(v, "rewrite") == 0)
            t->host_rewrite = 1;
        else if (strcmp(v, "preserve") == 0)
            t->host_rewrite = 0;
        else
            return err_set(err, NGR_EINVAL, "%s \"%s\": expected preserve or rewrite", what, v);
        return 0;
    }
    if (strcmp(key, "pool") == 0) {
        if (ini_file_bool(what, v, &on, err) != 0)
            return NGR_EINVAL;
        if (on && !t->pool && cli_add_bind_opt(o, t, "pool", "1", err) != 0)
            return NGR_EINVAL;
        if (!on && t->pool)
            return err_set(err, NGR_EINVAL, "%s: set once", what);
        t->pool = on;
        return 0;
    }
    if (strcmp(key, "remote_port") == 0) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);

        if (v[0] < '0' || v[0] > '9' || *end != '\0' || n == 0 || n > 65535)
            return err_set(err, NGR_EINVAL, "%s \"%s\": expected a port, 1-65535", what, v);
        t->remote_port = (unsigned)n;
        return 0;
    }
    if (strcmp(key, "proxy_protocol") == 0) {
        if (strcmp(v, "v1") == 0 || strcmp(v, "1") == 0)
            t->proxy_protocol = 1;
        else if (strcmp(v, "v2") == 0 || strcmp(v, "2") == 0)
            t->proxy_protocol = 2;
        else
            return err_set(err, NGR_EINVAL, "%s \"%s\": expected v1 or v2", what, v);
        return 0;
    }
    for (i = 0; i < sizeof(bind_keys) / sizeof(bind_keys[0]); i++)
        if (strcmp(key, bind_keys[i]) == 0)
            break;
    if (i == sizeof(bind_keys) / sizeof(bind_keys[0]))
        return NGR_ENOENT;
    if (i == 0) {
        const char *colon = strchr(v, ':');

        if (colon == NULL || colon == v || colon[1] == '\0' || strlen(v) > NGR_BASIC_AUTH_LEN)
            return err_set(err, NGR_EINVAL, "%s: expected USER:PASSWORD, both non-empty", what);
    } else if (i == 1 || i == 2) {
        struct cidr c;

        if (cidr_parse(v, strlen(v), &c, err) != 0)
            return err_prefix(err, what);
    } else if (i == 5) {
        uint64_t ms;

        if (seconds_parse(what, v, &ms, err) != 0)
            return NGR_EINVAL;
    } else if (v[0] < '0' || v[0] > '9') {
        /* The rate's syntax and its ceiling are the gateway's to judge (its max_rate): it
         * says why. */
        return err_set(err, NGR_EINVAL, "%s \"%s\": expected a number%s", what, v,
                       i == 3 ? " a second, N/s" : "");
    }
    return cli_add_bind_opt(o, t, bind_keys[i], v, err);
}

int
cli_tunnel_check(const struct cli_tunnel *t, int file, struct ngr_err *err)
{
    char sub[48], rport[48], pool[48], auth[48], pp[48], insecure[48], ca[48];
    size_t i;

    cli_spelled("subdomain", file, sub, sizeof(sub));
    cli_spelled("remote_port", file, rport, sizeof(rport));
    cli_spelled("pool", file, pool, sizeof(pool));
    cli_spelled("basic_auth", file, auth, sizeof(auth));
    cli_spelled("proxy_protocol", file, pp, sizeof(pp));
    cli_spelled("upstream_insecure", file, insecure, sizeof(insecure));
    cli_spelled("upstream_ca", file, ca, sizeof(ca));
    if (!t->has_local)
        return file ? err_set(err, NGR_EINVAL, "no local service: add addr = PORT (or HOST:PORT)")
                    : err_set(err, NGR_EINVAL, "missing local port; try 'ngrnotok %s 3000'",
                              t->proto == FRAME_PROTO_TCP ? "tcp" : "http");
    if (t->proto == FRAME_PROTO_TCP && t->scheme != CLI_SCHEME_HTTP)
        return err_set(err, NGR_EINVAL,
                       "a TCP tunnel forwards to HOST:PORT; https:// and unix: are for HTTP "
                       "tunnels");
    if ((t->upstream_insecure || t->upstream_ca[0] != '\0') && t->scheme != CLI_SCHEME_HTTPS)
        return err_set(err, NGR_EINVAL,
                       "%s is for an https:// local service (%s https://HOST:PORT)",
                       t->upstream_insecure ? insecure : ca, file ? "addr =" : "ngrnotok http");
    if (t->remote_port != 0 && t->proto != FRAME_PROTO_TCP)
        return err_set(err, NGR_EINVAL,
                       "%s is for TCP tunnels; an HTTP tunnel chooses its name with %s", rport,
                       sub);
    if (t->proxy_protocol != 0 && t->proto != FRAME_PROTO_TCP)
        return err_set(err, NGR_EINVAL,
                       "%s is for TCP tunnels; an HTTP service gets the visitor's address in "
                       "X-Forwarded-For",
                       pp);
    if (t->pool && t->proto == FRAME_PROTO_HTTP && t->subdomain[0] == '\0')
        return err_set(err, NGR_EINVAL,
                       "%s needs %s NAME: the clients of a pool share one name", pool, sub);
    if (t->pool && t->proto == FRAME_PROTO_TCP && t->remote_port == 0)
        return err_set(err, NGR_EINVAL,
                       "%s needs %s PORT: the clients of a pool share one port", pool, rport);
    if (t->subdomain[0] != '\0' && t->proto == FRAME_PROTO_TCP)
        return err_set(err, NGR_EINVAL,
                       "%s is for HTTP tunnels; a TCP tunnel asks for its port with %s", sub,
                       rport);
    for (i = 0; i < t->nprotect; i++)
        if (t->proto == FRAME_PROTO_TCP && strcmp(t->protect[i].key, "basic_auth") == 0)
            return err_set(err, NGR_EINVAL,
                           "%s is for HTTP tunnels; a TCP tunnel can limit addresses with "
                           "%s and %s",
                           auth, file ? "allow_cidr" : "--allow-cidr",
                           file ? "deny_cidr" : "--deny-cidr");
    return 0;
}
