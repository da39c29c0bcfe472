/* cli.c: parse ngrnotok's command line; see cli.h. */
#include "cli.h"
#include "cidr.h"
#include "frame.h"
#include "seconds.h"
#include "session.h"

#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void
cli_usage(FILE *f)
{
    fprintf(f,
            "Usage: ngrnotok http [OPTIONS] PORT\n"
            "       ngrnotok http [OPTIONS] HOST:PORT\n"
            "       ngrnotok http [OPTIONS] -p PORT\n"
            "       ngrnotok tcp [OPTIONS] PORT|HOST:PORT\n"
            "\n"
            "Expose a local HTTP service through an ngrnotok gateway. Prints the public URL,\n"
            "then forwards every request it receives to http://localhost:PORT (or HOST:PORT);\n"
            "WebSocket and other upgrades pass through. `tcp` exposes any TCP service on a\n"
            "public port of the gateway (which must allow it with --tcp-ports).\n"
            "\n"
            "Options:\n"
            "  -p, --port PORT            the local port (instead of the PORT argument)\n"
            "  -s, --server HOST:PORT     the gateway's control address (default 127.0.0.1:8080,\n"
            "                             or $NGRNOTOK_SERVER)\n"
            "  -n, --subdomain NAME       ask for NAME.<domain> instead of a random name: 1-63\n"
            "                             lowercase letters, digits or '-'\n"
            "      --host-header=MODE     preserve (default): send the public Host header;\n"
            "                             rewrite: send Host: HOST:PORT of the local service\n"
            "                             (for dev servers that check it, such as Vite)\n"
            "      --token TOKEN          the gateway's token, if it asks for one\n"
            "                             (or $NGRNOTOK_TOKEN)\n"
            "      --basic-auth USER:PASS the gateway asks visitors for these credentials\n"
            "                             (HTTP basic auth; repeatable; use HTTPS)\n"
            "      --allow-cidr CIDR      only visitors from this range reach the tunnel\n"
            "                             (repeatable; IPv4 or IPv6, e.g. 203.0.113.0/24)\n"
            "      --deny-cidr CIDR       visitors from this range are refused (repeatable)\n"
            "      --rate-limit N/s       the gateway takes at most N requests a second for the\n"
            "                             tunnel (N/m: a minute), else 429; at most its\n"
            "                             --max-rate\n"
            "      --rate-burst N         how many may come at once (default: a second's)\n"
            "      --response-timeout SEC how long the gateway waits for the local service's\n"
            "                             response head before answering 504 (default and\n"
            "                             most: the gateway's, 300 unless it says otherwise)\n"
            "      --tls                  connect over TLS: the gateway's certificate must\n"
            "                             chain to a CA of the system's store and name the\n"
            "                             --server host (its DNS name or IP address)\n"
            "      --ca FILE              trust the CA certificates in FILE (PEM) instead of\n"
            "                             the system's, for a private CA; implies --tls\n"
            "      --pool                 share the name (tcp: the port) with the other clients\n"
            "                             that bind it with --pool and the same token (any\n"
            "                             clients on a gateway without tokens): requests and\n"
            "                             connections are spread over them; needs --subdomain\n"
            "                             (tcp: --remote-port)\n"
            "      --remote-port PORT     tcp: ask for this public port (in the gateway's\n"
            "                             --tcp-ports range)\n"
            "      --proxy-protocol v1|v2 tcp: begin each connection to the local service with\n"
            "                             a PROXY protocol header of that version, carrying\n"
            "                             the visitor's address and the public port (for\n"
            "                             nginx's listen ... proxy_protocol, HAProxy, ...)\n"
            "      --new-url              a new URL: forget the reconnect secret kept from the\n"
            "                             last run for this gateway and local port (by default\n"
            "                             a restart within the gateway's grace keeps the URL)\n"
            "      --heartbeat SEC        ping a quiet gateway this often (default 10)\n"
            "      --dead-after SEC       take the gateway for gone after this long without a\n"
            "                             byte from it, and reconnect (default 30)\n"
            "  -v, --verbose              log each request and protocol details to stderr\n"
            "  -h, --help                 show this help and exit\n"
            "  -V, --version              show the version and exit\n"
            "\n"
            "Example: ngrnotok http 3000   then open the printed URL in a browser.\n");
}

static const struct option cli_options_long[] = {
    {"port", required_argument, NULL, 'p'},
    {"server", required_argument, NULL, 's'},
    {"subdomain", required_argument, NULL, 'n'},
    {"host-header", required_argument, NULL, 1},
    {"token", required_argument, NULL, 2},
    {"basic-auth", required_argument, NULL, 3},
    {"allow-cidr", required_argument, NULL, 4},
    {"deny-cidr", required_argument, NULL, 5},
    {"rate-limit", required_argument, NULL, 6},
    {"rate-burst", required_argument, NULL, 7},
    {"tls", no_argument, NULL, 8},
    {"ca", required_argument, NULL, 9},
    {"heartbeat", required_argument, NULL, 10},
    {"dead-after", required_argument, NULL, 11},
    {"new-url", no_argument, NULL, 12},
    {"response-timeout", required_argument, NULL, 13},
    {"pool", no_argument, NULL, 14},
    {"remote-port", required_argument, NULL, 15},
    {"proxy-protocol", required_argument, NULL, 16},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int
cli_set_subdomain(struct cli_options *o, const char *s, struct ngr_err *err)
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
    memcpy(o->subdomain, s, len + 1);
    return 0;
}

/* --basic-auth, --allow-cidr, --deny-cidr, --rate-limit, --rate-burst: checked here, so a typo is reported before the
 * gateway is reached; the gateway checks them again. */
static int
cli_add_protection(struct cli_options *o, int ch, const char *v, struct ngr_err *err)
{
    static const char *const keys[] = {[3] = "basic_auth", [4] = "allow_cidr", [5] = "deny_cidr",
                                       [6] = "rate_limit", [7] = "rate_burst"};
    static const char *const flags[] = {[3] = "--basic-auth", [4] = "--allow-cidr",
                                        [5] = "--deny-cidr"};
    struct cidr c;
    const char *colon = strchr(v, ':');

    if (o->nprotect >= NGR_BIND_OPTS_MAX)
        return err_set(err, NGR_EINVAL, "at most %d of --basic-auth, --allow-cidr and --deny-cidr",
                       NGR_BIND_OPTS_MAX);
    if (ch == 3 && (colon == NULL || colon == v || colon[1] == '\0' ||
                    strlen(v) > NGR_BASIC_AUTH_LEN))
        return err_set(err, NGR_EINVAL, "--basic-auth: expected USER:PASSWORD, both non-empty");
    if ((ch == 4 || ch == 5) && cidr_parse(v, strlen(v), &c, err) != 0)
        return err_prefix(err, flags[ch]);
    /* The rate's syntax and its ceiling are the gateway's to judge (its max_rate): it says why. */
    if ((ch == 6 || ch == 7) && (v[0] < '0' || v[0] > '9'))
        return err_set(err, NGR_EINVAL, "%s \"%s\": expected a number%s",
                       ch == 6 ? "--rate-limit" : "--rate-burst", v, ch == 6 ? " a second, N/s" : "");
    o->protect[o->nprotect].key = keys[ch];
    o->protect[o->nprotect].value = v;
    o->nprotect++;
    return 0;
}

int
cli_parse(int argc, char **argv, struct cli_options *o, struct ngr_err *err)
{
    const char *env, *port = NULL, *cur;
    int ch, rc;

    memset(o, 0, sizeof(*o));
    o->log_level = LOG_LEVEL_WARN;
    o->heartbeat_ms = NGR_HEARTBEAT_MS;
    o->dead_after_ms = NGR_DEAD_AFTER_MS;
    env = getenv("NGRNOTOK_SERVER");
    rc = net_parse_addr(env && *env ? env : "127.0.0.1:8080", NULL, 0, &o->server, err);
    if (rc != 0)
        return err_prefix(err, "NGRNOTOK_SERVER");
    env = getenv("NGRNOTOK_TOKEN");
    if (env != NULL)
        snprintf(o->token, sizeof(o->token), "%s", env);

    if (argc < 2)
        return err_set(err, NGR_EINVAL, "missing command; try 'ngrnotok http 3000'");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("ngrnotok %s (protocol %d)\n", NGR_VERSION, NGR_PROTOCOL_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "http") == 0)
        o->proto = FRAME_PROTO_HTTP;
    else if (strcmp(argv[1], "tcp") == 0)
        o->proto = FRAME_PROTO_TCP;
    else
        return err_set(err, NGR_EINVAL, "unknown command \"%s\"; try 'ngrnotok http 3000'",
                       argv[1]);

    /* Options follow the command: parse argv + 1 with the command as argv[0]. optind = 0 resets
     * getopt wholly, so cli_parse can run more than once in a process (the unit tests). */
    argc--;
    argv++;
    optind = 0;
    opterr = 0; /* our own messages, prefixed like every other */
    for (;;) {
        int before = optind ? optind : 1;

        ch = getopt_long(argc, argv, ":p:s:n:vhV", cli_options_long, NULL);
        if (ch == -1)
            break;
        /* Which argument an error is about: inside a cluster such as -xv optind has not moved
         * past it yet; a long option is named whole, a short one by optopt. */
        cur = optind > before ? argv[optind - 1] : argv[before];
        switch (ch) {
        case 'p':
            port = optarg;
            break;
        case 's':
            if ((rc = net_parse_addr(optarg, NULL, 0, &o->server, err)) != 0)
                return err_prefix(err, "--server");
            break;
        case 'n':
            if ((rc = cli_set_subdomain(o, optarg, err)) != 0)
                return rc;
            break;
        case 1:
            if (strcmp(optarg, "rewrite") == 0)
                o->host_rewrite = 1;
            else if (strcmp(optarg, "preserve") == 0)
                o->host_rewrite = 0;
            else
                return err_set(err, NGR_EINVAL,
                               "--host-header \"%s\": expected preserve or rewrite", optarg);
            break;
        case 2:
            snprintf(o->token, sizeof(o->token), "%s", optarg);
            break;
        case 3:
        case 4:
        case 5:
        case 6:
        case 7:
            if ((rc = cli_add_protection(o, ch, optarg, err)) != 0)
                return rc;
            break;
        case 8:
            o->tls = 1;
            break;
        case 9:
            if (optarg[0] == '\0' || strlen(optarg) >= sizeof(o->ca))
                return err_set(err, NGR_EINVAL, "--ca: %s", optarg[0] ? "path too long"
                                                                   : "needs a file name");
            snprintf(o->ca, sizeof(o->ca), "%s", optarg);
            o->tls = 1;
            break;
        case 10:
            if ((rc = seconds_parse("--heartbeat", optarg, &o->heartbeat_ms, err)) != 0)
                return rc;
            break;
        case 11:
            if ((rc = seconds_parse("--dead-after", optarg, &o->dead_after_ms, err)) != 0)
                return rc;
            break;
        case 12:
            o->new_url = 1;
            break;
        case 13: {
            uint64_t ms;
            if ((rc = seconds_parse("--response-timeout", optarg, &ms, err)) != 0)
                return rc;
            if (o->nprotect >= NGR_BIND_OPTS_MAX)
                return err_set(err, NGR_EINVAL, "too many tunnel options");
            o->protect[o->nprotect].key = "response_timeout";
            o->protect[o->nprotect].value = optarg;
            o->nprotect++;
            break;
        }
        case 14:
            if (!o->pool) {
                if (o->nprotect >= NGR_BIND_OPTS_MAX)
                    return err_set(err, NGR_EINVAL, "too many tunnel options");
                o->protect[o->nprotect].key = "pool";
                o->protect[o->nprotect].value = "1";
                o->nprotect++;
            }
            o->pool = 1;
            break;
        case 15: {
            char *end;
            unsigned long n = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || n == 0 || n > 65535)
                return err_set(err, NGR_EINVAL, "--remote-port \"%s\": expected a port, 1-65535",
                               optarg);
            o->remote_port = (unsigned)n;
            break;
        }
        case 16:
            if (strcmp(optarg, "v1") == 0 || strcmp(optarg, "1") == 0)
                o->proxy_protocol = 1;
            else if (strcmp(optarg, "v2") == 0 || strcmp(optarg, "2") == 0)
                o->proxy_protocol = 2;
            else
                return err_set(err, NGR_EINVAL, "--proxy-protocol \"%s\": expected v1 or v2",
                               optarg);
            break;
        case 'v':
            o->log_level = LOG_LEVEL_DEBUG;
            break;
        case 'h':
            cli_usage(stdout);
            return CLI_EXIT_OK;
        case 'V':
            printf("ngrnotok %s (protocol %d)\n", NGR_VERSION, NGR_PROTOCOL_VERSION);
            return CLI_EXIT_OK;
        case ':':
            if (strncmp(cur, "--", 2) != 0)
                return err_set(err, NGR_EINVAL, "option -%c needs a value; see 'ngrnotok --help'",
                               optopt);
            return err_set(err, NGR_EINVAL, "option %s needs a value; see 'ngrnotok --help'", cur);
        default:
            /* optopt names a short option even inside a cluster such as -xv; a long one is named
             * by its argument. */
            if (strncmp(cur, "--", 2) != 0)
                return err_set(err, NGR_EINVAL, "unknown option -%c; see 'ngrnotok --help'",
                               optopt);
            return err_set(err, NGR_EINVAL, "unknown option %s; see 'ngrnotok --help'", cur);
        }
    }
    if (optind < argc) {
        if (port != NULL)
            return err_set(err, NGR_EINVAL, "give the port once: -p PORT or PORT");
        port = argv[optind++];
    }
    if (optind < argc)
        return err_set(err, NGR_EINVAL, "unexpected argument \"%s\"", argv[optind]);
    if ((rc = session_check_liveness(o->heartbeat_ms, o->dead_after_ms, "gateway", err)) != 0)
        return rc;
    if (port == NULL)
        return err_set(err, NGR_EINVAL, "missing local port; try 'ngrnotok %s 3000'", argv[0]);
    if ((rc = net_parse_addr(port, "localhost", 0, &o->local, err)) != 0)
        return err_prefix(err, "local service");
    if (o->remote_port != 0 && o->proto != FRAME_PROTO_TCP)
        return err_set(err, NGR_EINVAL, "--remote-port is for TCP tunnels (ngrnotok tcp); an "
                                        "HTTP tunnel chooses its name with --subdomain");
    if (o->proxy_protocol != 0 && o->proto != FRAME_PROTO_TCP)
        return err_set(err, NGR_EINVAL, "--proxy-protocol is for TCP tunnels (ngrnotok tcp); "
                                        "an HTTP service gets the visitor's address in "
                                        "X-Forwarded-For");
    if (o->pool && o->proto == FRAME_PROTO_HTTP && o->subdomain[0] == '\0')
        return err_set(err, NGR_EINVAL, "--pool needs --subdomain NAME: the clients of a pool "
                                        "share one name");
    if (o->pool && o->proto == FRAME_PROTO_TCP && o->remote_port == 0)
        return err_set(err, NGR_EINVAL, "--pool needs --remote-port PORT: the clients of a pool "
                                        "share one port");
    {
        size_t i;

        for (i = 0; i < o->nprotect; i++)
            if (o->proto == FRAME_PROTO_TCP && strcmp(o->protect[i].key, "basic_auth") == 0)
                return err_set(err, NGR_EINVAL, "--basic-auth is for HTTP tunnels; a TCP tunnel "
                                                "can use --allow-cidr and --deny-cidr");
    }
    return CLI_RUN;
}
