/* main.c: ngrnotokd, the gateway: options and config, the three listeners on one loop, signals. */
#include "admin_api.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "net.h"
#include "public_http.h"
#include "public_tcp.h"
#include "public_url.h"
#include "readfile.h"
#include "tls_cert.h"
#include "server.h"
#include "session.h"
#include "service_notify.h"
#include "signals.h"
#include "config_diff.h"
#include "state_dir.h"
#include "tunnel_table.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void
main_usage(FILE *f)
{
    fprintf(f,
            "Usage: ngrnotokd [OPTIONS]\n"
            "\n"
            "The ngrnotok gateway: clients connect to the control address, and public HTTP\n"
            "requests for <name>.DOMAIN reach the client that holds the tunnel <name>.\n"
            "With no options everything runs on this machine: open http://<name>.localhost:8081/\n"
            "after `ngrnotok http 3000`.\n"
            "\n"
            "Options (each may also be set in the config file, as key = value):\n"
            "  -c, --config FILE            read settings from FILE (flags override it)\n"
            "  -d, --domain DOMAIN          public domain; tunnels are <name>.DOMAIN (default "
            "localhost)\n"
            "      --control-addr HOST:PORT where clients connect (default 127.0.0.1:8080)\n"
            "      --tls-cert FILE          the control port speaks TLS with this certificate\n"
            "      --tls-key FILE           chain and its key (PEM; clients then need --tls);\n"
            "                               re-read on SIGHUP\n"
            "      --http-addr HOST:PORT    public HTTP listener (default 127.0.0.1:8081)\n"
            "      --https-addr HOST:PORT   also a public HTTPS listener; public URLs are then\n"
            "                               https:// (default: none)\n"
            "      --https-cert FILE        its certificate chain (PEM), for *.DOMAIN, and its\n"
            "      --https-key FILE         key (default: --tls-cert's); re-read on SIGHUP\n"
            "      --http-redirect          answer plain HTTP with 308 to HTTPS\n"
            "      --admin-addr HOST:PORT   admin API, GET /tunnels and GET /metrics (Prometheus)\n"
            "                               (default 127.0.0.1:8082)\n"
            "      --admin-token TOKEN      the admin API asks for Authorization: Bearer TOKEN\n"
            "      --admin-token-file FILE  the same, read from FILE (re-read on SIGHUP); one\n"
            "                               of the two is needed for a non-loopback admin-addr\n"
            "      --public-port PORT       port shown in public URLs, e.g. 80 behind a reverse\n"
            "                               proxy (default: the HTTP listener's port)\n"
            "      --public-url URL         the public URLs' form behind a reverse proxy, with\n"
            "                               {name} for the tunnel's: 'https://{name}.DOMAIN'\n"
            "                               (default: from the listeners)\n"
            "      --trusted-proxy CIDR     take the visitor's address from X-Forwarded-For and\n"
            "                               the scheme from X-Forwarded-Proto, for requests from\n"
            "                               these addresses only, e.g. 127.0.0.1/32 for nginx\n"
            "                               on this host (repeatable, or a comma list); on the\n"
            "                               control port they may send a PROXY protocol header\n"
            "      --response-timeout SEC   wait this long for a response head, then answer 504:\n"
            "                               the default and the most a client may ask for\n"
            "                               with its --response-timeout (default 300)\n"
            "      --tcp-ports LOW-HIGH     enable TCP tunnels, each on a public port from this\n"
            "                               range (default: off)\n"
            "      --tcp-addr HOST          where TCP tunnels listen (default 127.0.0.1)\n"
            "      --token TOKEN            clients must present this token (default: none)\n"
            "      --auth-tokens FILE       clients must present one of the tokens in FILE, one\n"
            "                               per line, each optionally followed by the names it\n"
            "                               may bind (tok1 myapp,staging-*); re-read on SIGHUP\n"
            "      --reserved-names LIST    names no client may ask for, comma-separated\n"
            "                               (default www,api,admin,mail,smtp,imap,pop,ftp,ns,\n"
            "                               ns1,ns2,mx,webmail,autoconfig,autodiscover; \"\": none)\n"
            "      --ports-file FILE        after binding, write control=, http=, admin= lines\n"
            "                               with the bound addresses (useful with port 0)\n"
            "      --session-budget SIZE    memory one tunnel's streams may buffer, which\n"
            "                               bounds how far their windows grow (default 64M;\n"
            "                               K, M, G: KiB, MiB, GiB)\n"
            "      --gateway-budget SIZE    memory all streams together may buffer; past it\n"
            "                               new requests get 503 (default 1G)\n"
            "      --max-body-size SIZE     largest public request body, else 413 (default:\n"
            "                               unlimited; K, M, G)\n"
            "      --max-streams-per-tunnel N  public requests and connections open at once on\n"
            "                               one tunnel, else 503 (default 2000)\n"
            "      --request-head-timeout SEC  a public connection's first request head must be\n"
            "                               complete this soon, else 408 (default 10)\n"
            "      --idle-timeout SEC       close a kept-alive public connection idle this long\n"
            "                               (default 120)\n"
            "      --deny-cidr CIDR         refuse public clients from this address range on\n"
            "                               every tunnel (repeatable; IPv4 or IPv6)\n"
            "      --max-rate N/s           requests a second one tunnel takes, else 429: the\n"
            "                               default and the most a client may ask for with\n"
            "                               --rate-limit (default: none)\n"
            "      --max-tunnels N          tunnels in all (default 20000)\n"
            "      --max-tunnels-per-token N  tunnels one client token holds (default 100)\n"
            "      --max-conns-per-ip N     control connections from one address (default 200;\n"
            "                               0: any)\n"
            "      --heartbeat SEC          ping a quiet client this often (default 10; the\n"
            "                               shorter of the gateway's and the client's wins)\n"
            "      --dead-after SEC         drop a client silent this long, a half-open\n"
            "                               connection included (default 30)\n"
            "      --reconnect-grace SEC    a lost tunnel's name (and TCP port) stays its\n"
            "                               client's this long, across gateway restarts too\n"
            "                               (default 60; 0: freed at once)\n"
            "      --hold-requests SEC      requests for a tunnel whose client is reconnecting\n"
            "                               wait this long for it, then get 503 (default 10;\n"
            "                               0: 404 at once)\n"
            "      --drain-timeout SEC      on SIGTERM or SIGINT, in-flight requests and\n"
            "                               transfers have this long to finish (default 10;\n"
            "                               0: stop at once; a second signal stops at once)\n"
            "      --state-dir DIR          where reservations and the key of reconnect\n"
            "                               secrets are kept (default $STATE_DIRECTORY, else\n"
            "                               $XDG_STATE_HOME/ngrnotok or ~/.local/state/ngrnotok)\n"
            "      --access-log FILE|-|off  a line per public request and TCP connection:\n"
            "                               tunnel, client address, method, path, status,\n"
            "                               times, bytes, why it failed; - is stdout; FILE\n"
            "                               is reopened on SIGHUP, for logrotate (default off)\n"
            "      --access-log-format FMT  text (key=value, default) or json\n"
            "      --log-level LEVEL        error, warn, info (default) or debug\n"
            "  -v, --verbose                same as --log-level debug\n"
            "  -h, --help                   show this help and exit\n"
            "  -V, --version                show the version and exit\n"
            "\n"
            "Port 0 in an address picks a free port. Signals: SIGINT or SIGTERM stop the\n"
            "gateway: it stops accepting, tells connected clients (they keep their names and\n"
            "come back to a restarted gateway), lets in-flight requests finish within\n"
            "--drain-timeout, and exits 0; SIGHUP re-reads the config file (what needs a\n"
            "restart, such as an address, is logged and kept), the tokens files and the\n"
            "certificates, and keeps every tunnel.\n");
}

/* A command-line mistake: say which option, point to --help, exit 2. */
static void __attribute__((noreturn))
main_bad_option(int missing_value, const char *arg, int opt)
{
    char name[64];

    if (strncmp(arg, "--", 2) != 0)
        snprintf(name, sizeof(name), "-%c", opt);
    else
        snprintf(name, sizeof(name), "%s", arg);
    if (missing_value)
        fprintf(stderr, "ngrnotokd: option %s needs a value\n", name);
    else
        fprintf(stderr, "ngrnotokd: unknown option %s\n", name);
    fprintf(stderr, "Try 'ngrnotokd --help'.\n");
    exit(2);
}

static const struct option main_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"domain", required_argument, NULL, 'd'},
    {"control-addr", required_argument, NULL, 1},
    {"http-addr", required_argument, NULL, 2},
    {"admin-addr", required_argument, NULL, 3},
    {"public-port", required_argument, NULL, 4},
    {"response-timeout", required_argument, NULL, 5},
    {"token", required_argument, NULL, 6},
    {"ports-file", required_argument, NULL, 7},
    {"log-level", required_argument, NULL, 8},
    {"tcp-ports", required_argument, NULL, 9},
    {"tcp-addr", required_argument, NULL, 10},
    {"session-budget", required_argument, NULL, 11},
    {"gateway-budget", required_argument, NULL, 12},
    {"auth-tokens", required_argument, NULL, 13},
    {"reserved-names", required_argument, NULL, 14},
    {"admin-token", required_argument, NULL, 15},
    {"admin-token-file", required_argument, NULL, 16},
    {"https-addr", required_argument, NULL, 17},
    {"https-cert", required_argument, NULL, 18},
    {"https-key", required_argument, NULL, 19},
    {"http-redirect", no_argument, NULL, 20},
    {"max-body-size", required_argument, NULL, 21},
    {"max-streams-per-tunnel", required_argument, NULL, 22},
    {"request-head-timeout", required_argument, NULL, 23},
    {"idle-timeout", required_argument, NULL, 24},
    {"deny-cidr", required_argument, NULL, 25},
    {"max-rate", required_argument, NULL, 26},
    {"max-tunnels", required_argument, NULL, 27},
    {"max-tunnels-per-token", required_argument, NULL, 28},
    {"max-conns-per-ip", required_argument, NULL, 29},
    {"tls-cert", required_argument, NULL, 30},
    {"tls-key", required_argument, NULL, 31},
    {"heartbeat", required_argument, NULL, 32},
    {"dead-after", required_argument, NULL, 33},
    {"reconnect-grace", required_argument, NULL, 34},
    {"state-dir", required_argument, NULL, 35},
    {"hold-requests", required_argument, NULL, 36},
    {"drain-timeout", required_argument, NULL, 37},
    {"public-url", required_argument, NULL, 38},
    {"trusted-proxy", required_argument, NULL, 39},
    {"access-log", required_argument, NULL, 40},
    {"access-log-format", required_argument, NULL, 41},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char *const main_keys[] = {
    [1] = "control_addr", [2] = "http_addr", [3] = "admin_addr", [4] = "public_port",
    [5] = "response_timeout", [6] = "token", [7] = "ports_file", [8] = "log_level",
    [9] = "tcp_ports", [10] = "tcp_addr", [11] = "session_budget", [12] = "gateway_budget",
    [13] = "auth_tokens", [14] = "reserved_names", [15] = "admin_token", [16] = "admin_token_file",
    [17] = "https_addr", [18] = "https_cert", [19] = "https_key", [20] = "http_redirect",
    [21] = "max_body_size", [22] = "max_streams_per_tunnel", [23] = "request_head_timeout",
    [24] = "idle_timeout", [25] = "deny_cidr", [26] = "max_rate",
    [27] = "max_tunnels", [28] = "max_tunnels_per_token", [29] = "max_conns_per_ip",
    [30] = "tls_cert", [31] = "tls_key", [32] = "heartbeat", [33] = "dead_after",
    [34] = "reconnect_grace", [35] = "state_dir", [36] = "hold_requests",
    [37] = "drain_timeout", [38] = "public_url", [39] = "trusted_proxy",
    [40] = "access_log", [41] = "access_log_format",
};

/* The config file named by -c/--config, or NULL. */
static const char *
main_config_path(int argc, char **argv)
{
    const char *path = NULL;
    int i;

    for (i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    return path;
}

/* The flags over cfg (the file's settings first, so flags win whatever their order). At start
 * a mistake exits 2; on SIGHUP they are the same flags, which passed then. */
static void
main_flags(int argc, char **argv, struct server_config *cfg)
{
    struct ngr_err err;
    int ch;

    optind = 0; /* a full reset: SIGHUP reads them again */
    opterr = 0;
    for (;;) {
        int rc = 0, before = optind ? optind : 1;
        const char *cur;

        ch = getopt_long(argc, argv, ":c:d:vhV", main_options, NULL);
        if (ch == -1)
            break;
        /* The argument an error is about: inside a cluster (-xv) optind has not moved yet. */
        cur = optind > before ? argv[optind - 1] : argv[before];
        switch (ch) {
        case 'c':
            break;
        case 'd':
            rc = config_set(cfg, "domain", optarg, &err);
            break;
        case 'v':
            cfg->log_level = LOG_LEVEL_DEBUG;
            break;
        case 'h':
            main_usage(stdout);
            exit(0);
        case 'V':
            printf("ngrnotokd %s (protocol %d)\n", NGR_VERSION, NGR_PROTOCOL_VERSION);
            exit(0);
        case 20:
            rc = config_set(cfg, main_keys[ch], "yes", &err);
            break;
        case ':':
            main_bad_option(1, cur, optopt);
        default:
            if (ch < 1 || ch >= (int)(sizeof(main_keys) / sizeof(main_keys[0])) ||
                main_keys[ch] == NULL)
                main_bad_option(0, cur, optopt);
            rc = config_set(cfg, main_keys[ch], optarg, &err);
        }
        if (rc != 0) {
            fprintf(stderr, "ngrnotokd: %s\n", err.msg);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ngrnotokd: unexpected argument \"%s\"\nTry 'ngrnotokd --help'.\n",
                argv[optind]);
        exit(2);
    }
}

static void
main_parse(int argc, char **argv, struct server_config *cfg)
{
    const char *path = main_config_path(argc, argv);
    struct ngr_err err;

    if (path != NULL && config_load(cfg, path, &err) != 0) {
        fprintf(stderr, "ngrnotokd: --config: %s%s\n", err.msg,
                err.code == NGR_ESYS ? " (config/ngrnotokd.conf is an example to start from)"
                                     : "");
        exit(2);
    }
    main_flags(argc, argv, cfg);
    if (session_check_liveness(cfg->heartbeat_ms, cfg->dead_after_ms, "client", &err) != 0 ||
        public_url_check(cfg, &err) != 0) {
        fprintf(stderr, "ngrnotokd: %s\n", err.msg);
        exit(2);
    }
}

/* Many tunnels and public connections need many descriptors: take the hard limit. */
static void
main_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* "listening: ..." as logged at startup: the status a service manager shows, again after a
 * reload. */
static char main_status[4 * NGR_ADDR_LEN + NGR_DOMAIN_LEN + 192];

static void
main_write_ports(struct server *srv)
{
    char tmp[CONFIG_PATH_LEN + 8], c[NGR_ADDR_LEN + 8], h[NGR_ADDR_LEN + 8], a[NGR_ADDR_LEN + 8];
    char s[NGR_ADDR_LEN + 8] = "";
    FILE *f;
    int tls;

    net_format_addr(&srv->cfg.control_addr, c, sizeof(c));
    net_format_addr(&srv->cfg.http_addr, h, sizeof(h));
    net_format_addr(&srv->cfg.admin_addr, a, sizeof(a));
    if (srv->cfg.https_on)
        net_format_addr(&srv->cfg.https_addr, s, sizeof(s));
    tls = tls_cert_loaded(&srv->control_cert);
    snprintf(main_status, sizeof(main_status),
             "listening: control %s%s, http %s%s%s, admin %s, domain %s", c, tls ? " (TLS)" : "", h,
             s[0] ? ", https " : "", s, a, srv->cfg.domain);
    log_info("%s", main_status);
    log_info("expose a local port with: ngrnotok http --server %s%s 3000", c, tls ? " --tls" : "");
    if (srv->cfg.ports_file[0] == '\0')
        return;
    /* Written whole then renamed, so a reader never sees half a file. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", srv->cfg.ports_file);
    f = fopen(tmp, "w");
    if (f == NULL)
        fatal("ports file %s: %s", tmp, strerror(errno));
    fprintf(f, "control=%s\nhttp=%s\nadmin=%s\n", c, h, a);
    if (s[0] != '\0')
        fprintf(f, "https=%s\n", s);
    if (fclose(f) != 0 || rename(tmp, srv->cfg.ports_file) != 0)
        fatal("ports file %s: %s", srv->cfg.ports_file, strerror(errno));
}

/* The tokens clients must present: the file's, else the one --token, else none. */
static int
main_load_tokens(struct server *srv, struct ngr_err *err)
{
    if (srv->cfg.auth_tokens[0] != '\0') {
        if (auth_tokens_load(&srv->tokens, srv->cfg.auth_tokens, err) != 0)
            return err_prefix(err, "auth_tokens");
        if (srv->tokens.n == 0)
            log_warn("auth_tokens %s lists no token: no client can connect",
                     srv->cfg.auth_tokens);
        if (srv->cfg.token[0] != '\0')
            log_warn("both token and auth_tokens are set: token is ignored; list it in %s",
                     srv->cfg.auth_tokens);
        return 0;
    }
    if (srv->cfg.token[0] != '\0')
        return auth_tokens_single(&srv->tokens, srv->cfg.token, err) != 0 ? err_prefix(err, "--token")
                                                                       : 0;
    return 0;
}

/* The control port's certificate (tls_cert, tls_key): both or neither. */
static int
main_load_control_tls(struct server *srv, struct ngr_err *err)
{
    const struct server_config *c = &srv->cfg;
    char names[256];

    if (c->tls_cert[0] == '\0' && c->tls_key[0] == '\0')
        return 0;
    if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0')
        return err_set(err, NGR_EINVAL, "TLS on the control port needs a certificate and its key: "
                                        "--tls-cert FILE --tls-key FILE (PEM)");
    if (tls_cert_load(&srv->control_cert, c->tls_cert, c->tls_key, err) != 0)
        return err_prefix(err, "control TLS certificate");
    tls_cert_names(&srv->control_cert, names, sizeof(names));
    log_info("control port over TLS: certificate %s for %s", c->tls_cert,
             names[0] ? names : "(no DNS names or addresses)");
    return 0;
}

/* The files the public HTTPS listener's certificate comes from: its own, else the control
 * port's. */
static void
main_https_files(const struct server_config *c, const char **cert, const char **key)
{
    int own = c->https_cert[0] != '\0' || c->https_key[0] != '\0';

    *cert = own ? c->https_cert : c->tls_cert;
    *key = own ? c->https_key : c->tls_key;
}

/* The public HTTPS listener's certificate; its settings hang together or are refused. */
static int
main_load_https(struct server *srv, struct ngr_err *err)
{
    const struct server_config *c = &srv->cfg;
    const char *cert, *key;
    char names[256];

    if (!c->https_on) {
        if (c->https_cert[0] != '\0' || c->https_key[0] != '\0')
            return err_set(err, NGR_EINVAL, "https_cert and https_key need https_addr (--https-addr "
                                            "HOST:PORT), where HTTPS is served");
        if (c->http_redirect)
            return err_set(err, NGR_EINVAL, "http_redirect needs https_addr (--https-addr "
                                            "HOST:PORT): there is no HTTPS to redirect to");
        return 0;
    }
    main_https_files(c, &cert, &key);
    if (cert[0] == '\0' || key[0] == '\0')
        return err_set(err, NGR_EINVAL, "https_addr needs a certificate and its key: --https-cert "
                                        "FILE --https-key FILE (PEM; a wildcard for *.%s), or "
                                        "--tls-cert's",
                       c->domain);
    if (tls_cert_load(&srv->https_cert, cert, key, err) != 0)
        return err_prefix(err, "https certificate");
    tls_cert_names(&srv->https_cert, names, sizeof(names));
    log_info("HTTPS certificate %s for %s", cert, names[0] ? names : "(no DNS names)");
    return 0;
}

/* SIGHUP: both certificates are read again; one that does not load is kept out. */
static void
main_reload_certs(struct server *srv)
{
    const struct server_config *c = &srv->cfg;
    const char *cert, *key;
    struct ngr_err err;

    if (tls_cert_loaded(&srv->control_cert)) {
        if (tls_cert_load(&srv->control_cert, c->tls_cert, c->tls_key, &err) != 0)
            log_warn("SIGHUP: control TLS certificate: %s; the certificate in use is kept",
                     err.msg);
        else
            log_info("SIGHUP: control TLS certificate re-read from %s", c->tls_cert);
    }
    if (c->https_on) {
        main_https_files(c, &cert, &key);
        if (tls_cert_load(&srv->https_cert, cert, key, &err) != 0)
            log_warn("SIGHUP: https certificate: %s; the certificate in use is kept", err.msg);
        else
            log_info("SIGHUP: HTTPS certificate re-read from %s", cert);
    }
}

/* The admin API's token: the file's first line (surrounding blanks dropped), else
 * --admin-token, else none. */
static int
main_load_admin_token(struct server *srv, struct ngr_err *err)
{
    char *text;
    size_t len, start = 0;
    int rc;

    if (srv->cfg.admin_token_file[0] == '\0') {
        if (srv->cfg.admin_token[0] == '\0')
            return 0;
        rc = auth_tokens_single(&srv->admin_tokens, srv->cfg.admin_token, err);
        return rc != 0 ? err_prefix(err, "admin_token") : 0;
    }
    rc = readfile(srv->cfg.admin_token_file, NGR_TOKEN_MAX + 2, &text, &len, err);
    if (rc != 0)
        return err_prefix(err, "admin_token_file");
    while (start < len && (text[start] == ' ' || text[start] == '\t'))
        start++;
    len = start + strcspn(text + start, "\r\n");
    while (len > start && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    text[len] = '\0';
    rc = auth_tokens_single(&srv->admin_tokens, text + start, err);
    memset(text, 0, len);
    free(text);
    if (rc != 0) {
        err_prefix(err, srv->cfg.admin_token_file);
        return err_prefix(err, "admin_token_file");
    }
    return 0;
}

/* The reservations, in the state directory's database for this gateway's addresses; without
 * a usable directory, in memory only (said in the log, with the fix). */
static void
main_open_state(struct server *srv)
{
    char dir[CONFIG_PATH_LEN], path[NGR_STATE_PATH_LEN], identity[3 * NGR_ADDR_LEN + NGR_DOMAIN_LEN + 64];
    char c[NGR_ADDR_LEN + 8], h[NGR_ADDR_LEN + 8];
    struct ngr_err err;
    int64_t now = reservations_now();

    net_format_addr(&srv->cfg.control_addr, c, sizeof(c));
    net_format_addr(&srv->cfg.http_addr, h, sizeof(h));
    snprintf(identity, sizeof(identity), "control=%s http=%s domain=%s", c, h, srv->cfg.domain);
    if (srv->cfg.state_dir[0] != '\0')
        snprintf(dir, sizeof(dir), "%s", srv->cfg.state_dir);
    else if (state_dir_default(1, dir, sizeof(dir), &err) != 0)
        goto in_memory;
    if (state_dir_make(dir, &err) != 0)
        goto in_memory;
    if (state_store_path(dir, identity, path, sizeof(path)) != 0) {
        err_set(&err, NGR_ELIMIT, "%s: path too long", dir);
        goto in_memory;
    }
    if (reservations_open(&srv->res, path, srv->cfg.reconnect_grace_ms, now, &err) != 0)
        goto in_memory_opened;
    log_info("state: %s (%zu reservations kept from before)", path, srv->res.n);
    return;
in_memory:
    if (reservations_open(&srv->res, NULL, srv->cfg.reconnect_grace_ms, now, &err) != 0)
        fatal("state: %s", err.msg);
in_memory_opened:
    log_warn("state: %s; tunnels' names are kept for their clients only until the gateway "
             "stops (set --state-dir to a writable directory)",
             err.msg);
}

static void
main_stop_now(struct server *srv)
{
    loop_timer_stop(srv->loop, &srv->drain_timer);
    control_stop(srv);
    loop_stop(srv->loop);
}

/* Draining: done when no public request is left and no stream on any session (TCP
 * connections are streams too), or when the drain timeout passes. */
static void
main_on_drain_check(void *arg)
{
    struct server *srv = arg;
    size_t streams = control_streams(srv);

    if (srv->npub == 0 && streams == 0) {
        log_info("drained: every request finished");
        main_stop_now(srv);
        return;
    }
    if (loop_now(srv->loop) >= srv->drain_until) {
        log_info("drain timeout: stopping with %zu requests and %zu streams still open",
                 srv->npub, streams);
        main_stop_now(srv);
        return;
    }
    loop_timer_start(srv->loop, &srv->drain_timer, NGR_DRAIN_CHECK_MS);
}

/* The command line, kept for SIGHUP: the config file is read again under the same flags. */
static int main_argc;
static char **main_argv;
/* The settings as read (before a port 0 became the port bound): what SIGHUP compares with. */
static struct server_config main_read;

/* SIGHUP: the config file again (defaults, the file, the flags). What the running gateway
 * can take is taken and logged; what needs a restart is logged and left as it is. A file
 * that does not parse changes nothing. */
static void
main_reload_config(struct server *srv)
{
    const char *path = main_config_path(main_argc, main_argv);
    struct config_change ch[CONFIG_DIFF_MAX];
    struct server_config *next;
    struct ngr_err err;
    size_t i, n;

    if (path == NULL)
        return;
    next = malloc(sizeof(*next)); /* a few KiB: not on the stack of a signal callback */
    if (next == NULL) {
        log_warn("SIGHUP: out of memory: %s is not re-read", path);
        return;
    }
    config_defaults(next);
    if (config_load(next, path, &err) != 0 ||
        (main_flags(main_argc, main_argv, next), session_check_liveness(next->heartbeat_ms, next->dead_after_ms, "client", &err)) != 0 ||
        public_url_check(next, &err) != 0) {
        log_warn("SIGHUP: %s; the settings in use are kept", err.msg);
        free(next);
        return;
    }
    n = config_diff(&main_read, next, ch, CONFIG_DIFF_MAX);
    for (i = 0; i < n; i++) {
        if (ch[i].live)
            log_info("SIGHUP: %s: %s -> %s", ch[i].key, ch[i].before, ch[i].after);
        else
            log_warn("SIGHUP: %s: %s -> %s needs a restart; %s stays in use", ch[i].key,
                     ch[i].before, ch[i].after, ch[i].before);
    }
    if (n == 0)
        log_info("SIGHUP: %s re-read: no setting changed", path);
    config_apply_live(&srv->cfg, next);
    config_apply_live(&main_read, next);
    free(next);
    srv->res.grace_ms = srv->cfg.reconnect_grace_ms;
    log_init("ngrnotokd", srv->cfg.log_level);
}

static void
main_on_signal(void *arg, int signo)
{
    struct server *srv = arg;

    if (signo == SIGHUP) {
        struct ngr_err err;

        service_notify_reloading();
        main_reload_config(srv);
        control_reload_tokens(srv);
        main_reload_certs(srv);
        if (access_log_reopen(&srv->access_log, srv->cfg.access_log, srv->cfg.access_log_format,
                              &err) != 0)
            log_warn("SIGHUP: %s; the access log in use is kept", err.msg);
        if (srv->cfg.admin_token_file[0] != '\0') {
            if (main_load_admin_token(srv, &err) != 0)
                log_warn("SIGHUP: %s; the admin token in use is kept", err.msg);
            else
                log_info("SIGHUP: admin token re-read from %s", srv->cfg.admin_token_file);
        }
        service_notify_ready(main_status);
        return;
    }
    service_notify_stopping();
    if (srv->draining || srv->cfg.drain_timeout_ms == 0) {
        log_info("signal %d: stopping%s", signo, srv->draining ? " now" : "");
        main_stop_now(srv);
        return;
    }
    log_info("signal %d: draining: no new connections; in-flight requests have %.1f s "
             "(drain_timeout)",
             signo, (double)srv->cfg.drain_timeout_ms / 1000);
    srv->draining = 1;
    srv->drain_until = loop_now(srv->loop) + srv->cfg.drain_timeout_ms;
    control_drain(srv);
    public_http_quiesce(srv);
    main_on_drain_check(srv);
}

static void
main_turn_end(void *arg)
{
    struct server *srv = arg;

    /* libmicrohttpd's runs; the sessions' output and teardown are deferrals, which run after
     * this hook (mhd_glue_resumed wakes the next turn if a teardown resumed a connection). */
    mhd_glue_turn_end(&srv->http);
    if (srv->https.daemon != NULL)
        mhd_glue_turn_end(&srv->https);
    mhd_glue_turn_end(&srv->admin);
}

int
main(int argc, char **argv)
{
    struct server srv;
    struct signals sig;
    struct ngr_err err;

    memset(&srv, 0, sizeof(srv));
    srv.control.fd = -1;
    config_defaults(&srv.cfg);
    main_argc = argc;
    main_argv = argv;
    main_parse(argc, argv, &srv.cfg);
    main_read = srv.cfg;
    log_init("ngrnotokd", srv.cfg.log_level);
    main_raise_nofile();

    srv.loop = loop_new();
    if (srv.loop == NULL)
        fatal("epoll_create1: %s", strerror(errno));
    heap_trim_init(&srv.trim, srv.loop, NULL);
    auth_tokens_init(&srv.tokens);
    auth_tokens_init(&srv.admin_tokens);
    if (main_load_tokens(&srv, &err) != 0 || main_load_admin_token(&srv, &err) != 0)
        fatal("%s", err.msg);
    if (main_load_control_tls(&srv, &err) != 0 || main_load_https(&srv, &err) != 0)
        fatal("%s", err.msg);
    if (!srv.admin_tokens.active && !net_host_is_loopback(srv.cfg.admin_addr.host))
        fatal("admin API on %s:%u without a token: anyone who reaches it could list every "
              "tunnel; set --admin-token or --admin-token-file, or keep --admin-addr on "
              "127.0.0.1",
              srv.cfg.admin_addr.host, (unsigned)srv.cfg.admin_addr.port);
    access_log_init(&srv.access_log);
    if (access_log_open(&srv.access_log, srv.cfg.access_log, srv.cfg.access_log_format, &err) != 0)
        fatal("--access-log: %s", err.msg);
    if (control_start(&srv, &err) != 0)
        fatal("control listener (--control-addr): %s", err.msg);
    if (public_http_start(&srv, &err) != 0)
        fatal("HTTP listener (--http-addr, --https-addr): %s", err.msg);
    if (admin_api_start(&srv, &err) != 0)
        fatal("admin listener (--admin-addr): %s", err.msg);
    main_open_state(&srv); /* after the listeners: its file is named by their addresses */

    loop_timer_init(&srv.drain_timer, main_on_drain_check, &srv);
    if (signals_start(&sig, srv.loop, main_on_signal, &srv, &err) != 0)
        fatal("signals: %s", err.msg);
    loop_set_turn_hook(srv.loop, main_turn_end, &srv);
    main_write_ports(&srv);
    service_notify_ready(main_status);

    if (loop_run(srv.loop) != 0)
        log_error("epoll_wait: %s", strerror(errno));

    /* Shutdown: flush GOAWAYs, end sessions (their requests get answers), stop the daemons. */
    loop_run_deferred(srv.loop);
    public_http_stop(&srv);
    admin_api_stop(&srv);
    signals_stop(&sig);
    heap_trim_stop(&srv.trim);
    auth_tokens_free(&srv.tokens);
    auth_tokens_free(&srv.admin_tokens);
    usage_clear(&srv.conns_by_ip);
    usage_clear(&srv.tunnels_by_token);
    control_free(&srv);
    reservations_close(&srv.res);
    tls_cert_free(&srv.control_cert);
    tls_cert_free(&srv.https_cert);
    access_log_close(&srv.access_log);
    loop_free(srv.loop);
    log_info("stopped");
    return 0;
}
