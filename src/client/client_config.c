/* client_config.c: the client's config file; see client_config.h. */
#include "client_config.h"
#include "frame.h"
#include "ini_file.h"
#include "readfile.h"
#include "state_dir.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
client_config_default_path(char *out, size_t cap, struct ngr_err *err)
{
    const char *v = getenv("XDG_CONFIG_HOME");

    if (v != NULL && v[0] == '/')
        snprintf(out, cap, "%s/ngrnotok/ngrnotok.conf", v);
    else if ((v = getenv("HOME")) != NULL && v[0] == '/')
        snprintf(out, cap, "%s/.config/ngrnotok/ngrnotok.conf", v);
    else
        return err_set(err, NGR_EINVAL, "no config file: HOME is not set (give --config FILE)");
    return 0;
}

/* A key as the tables spell it: lowercase, '_' for '-'. */
static void
client_config_key(const char *key, char *out, size_t cap)
{
    size_t i;

    for (i = 0; key[i] != '\0' && i + 1 < cap; i++)
        out[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
    out[i] = '\0';
}

struct client_config_read {
    struct cli_options *o;
    struct cli_tunnel *t; /* the section's tunnel */
};

/* A section's name: letters, digits, '-', '_' and '.'. */
static int
client_config_name_ok(const char *s)
{
    size_t i, n = strlen(s);

    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return n > 0 && n < NGR_TUNNEL_NAME_LEN;
}

/* The tunnel of section name: the current one, or a new one. */
static int
client_config_section(struct client_config_read *r, const char *name, struct ngr_err *err)
{
    struct cli_options *o = r->o;
    size_t i;

    if (r->t != NULL && strcmp(r->t->name, name) == 0)
        return 0;
    if (!client_config_name_ok(name))
        return err_set(err, NGR_EINVAL,
                       "[%.40s]: a tunnel's name is 1-%d letters, digits, '-', '_' or '.'", name,
                       NGR_TUNNEL_NAME_LEN - 1);
    for (i = 0; i < o->ntunnels; i++)
        if (strcmp(o->tunnels[i].name, name) == 0)
            return err_set(err, NGR_EINVAL, "[%s] appears twice: keep one", name);
    if (o->ntunnels >= NGR_TUNNELS_PER_SESSION)
        return err_set(err, NGR_EINVAL,
                       "[%.40s]: at most %d tunnels; run the rest from a second file", name,
                       NGR_TUNNELS_PER_SESSION);
    r->t = &o->tunnels[o->ntunnels++];
    memset(r->t, 0, sizeof(*r->t));
    snprintf(r->t->name, sizeof(r->t->name), "%s", name);
    r->t->proto = FRAME_PROTO_HTTP;
    return 0;
}

static int
client_config_on_pair(void *user, const char *section, const char *raw_key, const char *value,
                      struct ngr_err *err)
{
    struct client_config_read *r = user;
    struct cli_tunnel scratch;
    char key[64];
    int rc;

    client_config_key(raw_key, key, sizeof(key));
    if (section[0] == '\0') {
        rc = cli_session_set(r->o, key, value, 1, err);
        memset(&scratch, 0, sizeof(scratch));
        if (rc == NGR_ENOENT && cli_tunnel_set(r->o, &scratch, key, "", 1, err) != NGR_ENOENT)
            return err_set(err, NGR_EINVAL,
                           "%s is a tunnel's setting: put it in the tunnel's section, such as "
                           "[web]",
                           key);
    } else {
        if ((rc = client_config_section(r, section, err)) != 0)
            return rc;
        rc = cli_tunnel_set(r->o, r->t, key, value, 1, err);
        if (rc == NGR_ENOENT && strcmp(key, "server") == 0)
            return err_set(err, NGR_EINVAL,
                           "server is a setting of the connection, which every tunnel shares: "
                           "put it above the first section");
        if (rc == NGR_ENOENT) {
            struct cli_options other;

            memset(&other, 0, sizeof(other));
            if (cli_session_set(&other, key, value, 1, err) != NGR_ENOENT)
                return err_set(err, NGR_EINVAL,
                               "%s is a setting of the connection, which every tunnel shares: "
                               "put it above the first section",
                               key);
        }
    }
    if (rc == NGR_ENOENT)
        return err_set(err, NGR_EINVAL, "unknown setting \"%.40s\"%s", raw_key,
                       section[0] == '\0'
                           ? " (the top takes server, token, tls, ca, heartbeat, dead_after, "
                             "inspect_addr, inspect_token, inspect_max, inspect_budget, "
                             "inspect_body_max)"
                           : " (a tunnel takes proto, addr, subdomain, host_header, basic_auth, "
                             "allow_cidr, deny_cidr, rate_limit, rate_burst, response_timeout, "
                             "pool, remote_port, proxy_protocol)");
    return rc;
}

int
client_config_load(struct cli_options *o, const char *path, int must_exist, struct ngr_err *err)
{
    struct client_config_read r = {o, NULL};
    struct stat st;
    char *text;
    size_t len, i;
    int rc;

    if (stat(path, &st) != 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        if (errno == ENOENT)
            return err_set(err, NGR_EINVAL,
                           "%s: no such file: write one (see 'ngrnotok --help'), or start "
                           "with 'ngrnotok config set-server HOST:PORT'",
                           path);
        return err_set(err, NGR_ESYS, "%s: %s", path, strerror(errno));
    }
    if ((st.st_mode & 077) != 0)
        fprintf(stderr,
                "ngrnotok: warning: %s can be read by other users (mode %03o) and may hold "
                "your token: chmod 600 %s\n",
                path, (unsigned)(st.st_mode & 0777), path);
    if ((rc = readfile(path, NGR_CLIENT_CONFIG_MAX, &text, &len, err)) != 0)
        return rc;
    rc = ini_file_parse(text, len, client_config_on_pair, &r, err);
    free(text);
    if (rc != 0)
        return err_prefix(err, path);
    for (i = 0; i < o->ntunnels; i++)
        if (cli_tunnel_check(&o->tunnels[i], 1, err) != 0) {
            char where[NGR_STATE_PATH_LEN + NGR_TUNNEL_NAME_LEN + 8];

            snprintf(where, sizeof(where), "%s: [%s]", path, o->tunnels[i].name);
            return err_prefix(err, where);
        }
    return 0;
}

/* The key a line of the file's top part sets ("" for none), into out. 1 if the line is a
 * section header. */
static int
client_config_line_key(const char *line, size_t len, char *out, size_t cap)
{
    size_t i = 0, k = 0;

    out[0] = '\0';
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i < len && line[i] == '[')
        return 1;
    if (i < len && (line[i] == '#' || line[i] == ';'))
        return 0;
    while (i < len && line[i] != '=' && line[i] != ':' && line[i] != ' ' && line[i] != '\t' &&
           k + 1 < cap) {
        out[k++] = line[i] == '-' ? '_' : (char)tolower((unsigned char)line[i]);
        i++;
    }
    out[k] = '\0';
    return 0;
}

/* Writes text to path (0600) through a temporary file and a rename. */
static int
client_config_write(const char *path, const char *text, size_t len, struct ngr_err *err)
{
    char tmp[NGR_STATE_PATH_LEN + 8];
    int fd, ok;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(err, NGR_ESYS, "%s: %s", tmp, strerror(errno));
    ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        err_set(err, NGR_ESYS, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return NGR_ESYS;
    }
    return 0;
}

int
client_config_set(const char *path, const char *key, const char *value, struct ngr_err *err)
{
    char *text = NULL, *out, dir[NGR_STATE_PATH_LEN], line_key[64], setting[CLI_TOKEN_LEN + 80];
    size_t len = 0, pos = 0, n = 0, i, setting_len;
    int rc, done = 0, top = 1, quote = 0;
    struct stat st;
    const char *slash;

    for (i = 0; value[i] != '\0'; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f || value[i] == '"')
            return err_set(err, NGR_EINVAL,
                           "%s: a value with a quote or a control character cannot be written",
                           key);
        if (value[i] == '#' || value[i] == ';')
            quote = 1;
    }
    quote |= value[0] == ' ' || (i > 0 && value[i - 1] == ' ');
    setting_len = (size_t)snprintf(setting, sizeof(setting), quote ? "%s = \"%s\"\n" : "%s = %s\n",
                                   key, value);
    slash = strrchr(path, '/');
    if (slash != NULL && slash != path && (size_t)(slash - path) < sizeof(dir)) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        if (state_dir_make(dir, err) != 0)
            return NGR_ESYS;
    }
    if (stat(path, &st) == 0) {
        if ((rc = readfile(path, NGR_CLIENT_CONFIG_MAX, &text, &len, err)) != 0)
            return rc;
    } else if (errno != ENOENT) {
        return err_set(err, NGR_ESYS, "%s: %s", path, strerror(errno));
    }
    out = malloc(len + setting_len + 2);
    if (out == NULL) {
        free(text);
        return err_set(err, NGR_ENOMEM, "out of memory");
    }
    /* Line by line: the top part's line for key is replaced (a second one dropped); without
     * one, the setting goes before the first section, or at the end. */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - (text + pos)) + 1 : len - pos;
        int header = client_config_line_key(text + pos, llen, line_key, sizeof(line_key));

        if (top && header) {
            top = 0;
            if (!done) {
                memcpy(out + n, setting, setting_len);
                n += setting_len;
                out[n++] = '\n';
                done = 1;
            }
        }
        if (top && strcmp(line_key, key) == 0) {
            if (!done) {
                memcpy(out + n, setting, setting_len);
                n += setting_len;
                done = 1;
            }
        } else {
            memcpy(out + n, text + pos, llen);
            n += llen;
            if (nl == NULL)
                out[n++] = '\n';
        }
        pos += llen;
    }
    if (!done) {
        memcpy(out + n, setting, setting_len);
        n += setting_len;
    }
    rc = client_config_write(path, out, n, err);
    free(out);
    free(text);
    return rc;
}

void
client_config_describe(const struct cli_options *o)
{
    char addr[NGR_ADDR_LEN + 8];
    size_t i, k;

    net_format_addr(&o->server, addr, sizeof(addr));
    printf("%s: server %s%s, %s\n", o->config, addr, o->tls ? " over TLS" : "",
           o->token[0] != '\0' ? "a token" : "no token");
    for (i = 0; i < o->ntunnels; i++) {
        const struct cli_tunnel *t = &o->tunnels[i];

        net_format_addr(&t->local, addr, sizeof(addr));
        printf("  [%s] %s %s", t->name, t->proto == FRAME_PROTO_TCP ? "tcp" : "http", addr);
        if (t->subdomain[0] != '\0')
            printf(" subdomain %s", t->subdomain);
        if (t->remote_port != 0)
            printf(" remote_port %u", t->remote_port);
        for (k = 0; k < t->nprotect; k++)
            printf(" %s", t->protect[k].key);
        printf("\n");
    }
}

int
client_config_command(struct cli_options *o)
{
    struct ngr_err err;
    struct net_addr a;
    struct stat st;
    int was_open = 0;

    memset(&err, 0, sizeof(err));
    if (strcmp(o->config_action, "path") == 0) {
        printf("%s\n", o->config);
        return 0;
    }
    if (strcmp(o->config_action, "check") == 0) {
        if (client_config_load(o, o->config, 1, &err) != 0) {
            fprintf(stderr, "ngrnotok: %s\n", err.msg);
            return 2;
        }
        client_config_describe(o);
        return 0;
    }
    if (strcmp(o->config_action, "set-server") == 0 &&
        net_parse_addr(o->config_value, NULL, 0, &a, &err) != 0) {
        fprintf(stderr, "ngrnotok: set-server: %s\n", err.msg);
        return 2;
    }
    if (strcmp(o->config_action, "set-token") == 0 &&
        (o->config_value[0] == '\0' || strlen(o->config_value) >= CLI_TOKEN_LEN)) {
        fprintf(stderr, "ngrnotok: set-token: the token must be 1-%d characters\n",
                CLI_TOKEN_LEN - 1);
        return 2;
    }
    was_open = stat(o->config, &st) == 0 && (st.st_mode & 077) != 0;
    if (client_config_set(o->config, strcmp(o->config_action, "set-token") == 0 ? "token" : "server",
                          o->config_value, &err) != 0) {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        return 1;
    }
    printf("%s saved in %s%s\n", strcmp(o->config_action, "set-token") == 0 ? "token" : "server",
           o->config, was_open ? " (it could be read by other users; it is mode 600 now)" : "");
    return 0;
}
