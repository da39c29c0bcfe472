/* cli.c: parse ngrnotok's command line; see cli.h. The options are read twice: once for
 * --config alone (the file's settings come first), then all of them over the file's. */
#include "cli.h"
#include "client_config.h"
#include "frame.h"
#include "session.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void
cli_usage(FILE *f)
{
    fprintf(f,
            "Usage: ngrnotok http [OPTIONS] PORT|HOST:PORT|URL|unix:PATH\n"
            "       ngrnotok tcp [OPTIONS] PORT|HOST:PORT\n"
            "       ngrnotok start [OPTIONS] NAME... | --all\n"
            "       ngrnotok diagnose [OPTIONS] [PORT|HOST:PORT|URL|unix:PATH]\n"
            "       ngrnotok config set-token TOKEN | set-server HOST:PORT | check | path\n"
            "\n"
            "Expose a local HTTP service through an ngrnotok gateway. Prints the public URL,\n"
            "then forwards every request it receives to http://localhost:PORT (or HOST:PORT,\n"
            "an http:// or https:// URL such as https://localhost:8443, or unix:PATH for a\n"
            "unix socket), with a line per request; WebSocket and other upgrades pass\n"
            "through (to http:// services). `tcp` exposes any TCP service on a\n"
            "public port of the gateway (which must allow it with --tcp-ports). `start` runs\n"
            "the tunnels named in the config file, all over one connection. `diagnose`\n"
            "binds a temporary tunnel and measures each hop side by side: the round trip\n"
            "and throughput of the control connection, the local service directly, and the\n"
            "whole public path; it prints a table and a verdict naming the costliest hop.\n"
            "`config` writes the config file's token or server, checks the file, or prints\n"
            "its path.\n"
            "\n"
            "The config file (default $XDG_CONFIG_HOME/ngrnotok/ngrnotok.conf, else\n"
            "~/.config/ngrnotok/ngrnotok.conf) holds server, token, tls, ca, heartbeat and\n"
            "dead_after, then one [NAME] section per tunnel with proto, addr and the tunnel\n"
            "options below spelled with '_' (basic_auth = user:pass). Options override\n"
            "$NGRNOTOK_SERVER and $NGRNOTOK_TOKEN, which override the file.\n"
            "\n"
            "Tunnel options (http, tcp):\n"
            "  -p, --port PORT            the local port (instead of the PORT argument)\n"
            "  -n, --subdomain NAME       ask for NAME.<domain> instead of a random name: 1-63\n"
            "                             lowercase letters, digits or '-'\n"
            "      --host-header=MODE     preserve (default): send the public Host header;\n"
            "                             rewrite: send Host: HOST:PORT of the local service\n"
            "                             (for dev servers that check it, such as Vite)\n"
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
            "      --upstream-insecure    https:// local service: do not verify its certificate\n"
            "                             (self-signed development certificates)\n"
            "      --upstream-ca FILE     https:// local service: trust the CA certificates in\n"
            "                             FILE (PEM) instead of the system's\n"
            "\n"
            "Output options (http, tcp, start):\n"
            "  -q, --quiet                print the public URLs and errors only\n"
            "      --log-format FORMAT    text (default): a line per request, and on a terminal\n"
            "                             a status header; json: one JSON object per line, for\n"
            "                             scripts\n"
            "\n"
            "Diagnose options:\n"
            "      --count N              samples of each hop (default 10, at most 1000)\n"
            "      --path PATH            the local service's path to request (default /),\n"
            "                             such as /api/health\n"
            "      --json                 the report as one JSON object, for scripts\n"
            "\n"
            "Connection options (every command but config):\n"
            "  -s, --server HOST:PORT     the gateway's control address (default 127.0.0.1:8080)\n"
            "      --token TOKEN          the gateway's token, if it asks for one\n"
            "      --tls                  connect over TLS: the gateway's certificate must\n"
            "                             chain to a CA of the system's store and name the\n"
            "                             --server host (its DNS name or IP address)\n"
            "      --ca FILE              trust the CA certificates in FILE (PEM) instead of\n"
            "                             the system's, for a private CA; implies --tls\n"
            "      --new-url              new URLs: forget the reconnect secrets kept from the\n"
            "                             last run for this gateway and local port (by default\n"
            "                             a restart within the gateway's grace keeps the URL)\n"
            "      --heartbeat SEC        ping a quiet gateway this often (default 10)\n"
            "      --dead-after SEC       take the gateway for gone after this long without a\n"
            "                             byte from it, and reconnect (default 30)\n"
            "  -c, --config FILE          the config file to read (or write, with config)\n"
            "      --all                  start: every tunnel of the config file\n"
            "  -v, --verbose              log each request and protocol details to stderr\n"
            "\n"
            "Inspector options (http, tcp, start): a web page and ngrok's agent API on\n"
            "http://127.0.0.1:4040 (the next free port up to 4049 if it is taken):\n"
            "      --inspect-addr ADDR    HOST:PORT to serve it on instead, or off\n"
            "      --inspect-token TOKEN  ask for this token (Authorization: Bearer TOKEN, or\n"
            "                             as a basic-auth password); needed off loopback\n"
            "      --inspect-max N        requests kept (default 100)\n"
            "      --inspect-budget SIZE  bytes they may hold in all (default 2MiB)\n"
            "      --inspect-body-max SIZE  bytes of each body kept (default 64KiB); a\n"
            "                             request whose body was cut cannot be replayed\n"
            "  -h, --help                 show this help and exit\n"
            "  -V, --version              show the version and exit\n"
            "\n"
            "Examples: ngrnotok http 3000   then open the printed URL in a browser.\n"
            "          ngrnotok config set-token TOKEN; ngrnotok start --all\n"
            "          ngrnotok diagnose 3000   which hop makes requests slow?\n");
}

/* Long options: val is an index into cli_keys (the setting's key), or a letter. */
enum {
    CLI_OPT_TUNNEL = 0x100,
    CLI_OPT_SESSION = 0x200,
    CLI_OPT_NEW_URL = 0x300,
    CLI_OPT_ALL,
    CLI_OPT_LOG_FORMAT,
    CLI_OPT_QUIET,
    CLI_OPT_COUNT,
    CLI_OPT_JSON,
    CLI_OPT_PATH,
    CLI_OPT_INSPECT = 0x400, /* + an index into cli_inspect_keys */
};

static const char *const cli_inspect_keys[] = {
    "inspect_addr", "inspect_token", "inspect_max", "inspect_budget", "inspect_body_max",
};

static const char *const cli_keys[] = {
    "subdomain",
    "host_header",
    "basic_auth",
    "allow_cidr",
    "deny_cidr",
    "rate_limit",
    "rate_burst",
    "response_timeout",
    "pool",
    "remote_port",
    "server",
    "token",
    "tls",
    "ca",
    "heartbeat",
    "dead_after",
    "proxy_protocol",
    "upstream_insecure",
    "upstream_ca",
};
#define CLI_T(i) (CLI_OPT_TUNNEL + (i))
#define CLI_S(i) (CLI_OPT_SESSION + (i))

static const struct option cli_options_long[] = {
    {"port", required_argument, NULL, 'p'},
    {"subdomain", required_argument, NULL, CLI_T(0)},
    {"host-header", required_argument, NULL, CLI_T(1)},
    {"basic-auth", required_argument, NULL, CLI_T(2)},
    {"allow-cidr", required_argument, NULL, CLI_T(3)},
    {"deny-cidr", required_argument, NULL, CLI_T(4)},
    {"rate-limit", required_argument, NULL, CLI_T(5)},
    {"rate-burst", required_argument, NULL, CLI_T(6)},
    {"response-timeout", required_argument, NULL, CLI_T(7)},
    {"pool", no_argument, NULL, CLI_T(8)},
    {"remote-port", required_argument, NULL, CLI_T(9)},
    {"proxy-protocol", required_argument, NULL, CLI_T(16)},
    {"upstream-insecure", no_argument, NULL, CLI_T(17)},
    {"upstream-ca", required_argument, NULL, CLI_T(18)},
    {"server", required_argument, NULL, CLI_S(10)},
    {"token", required_argument, NULL, CLI_S(11)},
    {"tls", no_argument, NULL, CLI_S(12)},
    {"ca", required_argument, NULL, CLI_S(13)},
    {"heartbeat", required_argument, NULL, CLI_S(14)},
    {"dead-after", required_argument, NULL, CLI_S(15)},
    {"new-url", no_argument, NULL, CLI_OPT_NEW_URL},
    {"all", no_argument, NULL, CLI_OPT_ALL},
    {"log-format", required_argument, NULL, CLI_OPT_LOG_FORMAT},
    {"quiet", no_argument, NULL, CLI_OPT_QUIET},
    {"count", required_argument, NULL, CLI_OPT_COUNT},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"path", required_argument, NULL, CLI_OPT_PATH},
    {"inspect-addr", required_argument, NULL, CLI_OPT_INSPECT + 0},
    {"inspect-token", required_argument, NULL, CLI_OPT_INSPECT + 1},
    {"inspect-max", required_argument, NULL, CLI_OPT_INSPECT + 2},
    {"inspect-budget", required_argument, NULL, CLI_OPT_INSPECT + 3},
    {"inspect-body-max", required_argument, NULL, CLI_OPT_INSPECT + 4},
    {"config", required_argument, NULL, 'c'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};
static const char cli_short[] = ":p:s:n:c:qvhV";

static void
cli_version(void)
{
    printf("ngrnotok %s (protocol %d)\n", NGR_VERSION, NGR_PROTOCOL_VERSION);
}

/* The first pass: --config only, so the file is read before the options that override it.
 * Over a copy of argv, which getopt permutes. */
static int
cli_find_config(int argc, char **argv, struct cli_options *o, struct ngr_err *err)
{
    char **copy = malloc(((size_t)argc + 1) * sizeof(*copy));
    int ch;

    if (copy == NULL)
        return err_set(err, NGR_ENOMEM, "out of memory");
    memcpy(copy, argv, ((size_t)argc + 1) * sizeof(*copy));
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, copy, cli_short, cli_options_long, NULL)) != -1)
        if (ch == 'c' && optarg[0] != '\0' && strlen(optarg) < sizeof(o->config)) {
            snprintf(o->config, sizeof(o->config), "%s", optarg);
            o->config_given = 1;
        }
    free(copy);
    return 0;
}

/* The tunnels `start` runs: the file's named in argv[optind...], or all (--all). */
static int
cli_pick_tunnels(struct cli_options *o, int all, int argc, char **argv, struct ngr_err *err)
{
    char names[256] = "";
    size_t i, n = 0, len = 0;
    struct cli_tunnel *picked;

    for (i = 0; i < o->ntunnels && len + 1 < sizeof(names); i++)
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
                                o->tunnels[i].name);
    if (o->ntunnels == 0)
        return err_set(err, NGR_EINVAL,
                       "%s has no tunnels: add a section such as [web] with proto = http and "
                       "addr = 3000",
                       o->config);
    if (all) {
        if (optind < argc)
            return err_set(err, NGR_EINVAL, "give tunnel names or --all, not both");
        return 0;
    }
    if (optind >= argc)
        return err_set(err, NGR_EINVAL, "name the tunnels to start (%s has %s), or --all",
                       o->config, names);
    picked = calloc(NGR_TUNNELS_PER_SESSION, sizeof(*picked));
    if (picked == NULL)
        return err_set(err, NGR_ENOMEM, "out of memory");
    for (; optind < argc; optind++) {
        for (i = 0; i < o->ntunnels && strcmp(o->tunnels[i].name, argv[optind]) != 0; i++)
            ;
        if (i == o->ntunnels) {
            free(picked);
            return err_set(err, NGR_EINVAL, "no tunnel \"%.40s\" in %s (it has %s)",
                           argv[optind], o->config, names);
        }
        for (len = 0; len < n && strcmp(picked[len].name, argv[optind]) != 0; len++)
            ;
        if (len == n)
            picked[n++] = o->tunnels[i];
    }
    memcpy(o->tunnels, picked, n * sizeof(*picked));
    o->ntunnels = n;
    free(picked);
    return 0;
}

/* config ACTION [VALUE]: what to do, checked here. */
static int
cli_config_action(struct cli_options *o, int argc, char **argv, struct ngr_err *err)
{
    static const char *const with_value[] = {"set-token", "set-server"};
    static const char *const alone[] = {"check", "path"};
    size_t i;

    if (optind >= argc)
        return err_set(err, NGR_EINVAL,
                       "config needs an action: set-token TOKEN, set-server HOST:PORT, check "
                       "or path");
    o->config_action = argv[optind++];
    for (i = 0; i < 2; i++)
        if (strcmp(o->config_action, with_value[i]) == 0) {
            if (optind >= argc)
                return err_set(err, NGR_EINVAL, "config %s needs a value: ngrnotok config %s %s",
                               o->config_action, o->config_action,
                               i == 0 ? "TOKEN" : "HOST:PORT");
            o->config_value = argv[optind++];
            break;
        }
    if (i == 2) {
        for (i = 0; i < 2 && strcmp(o->config_action, alone[i]) != 0; i++)
            ;
        if (i == 2)
            return err_set(err, NGR_EINVAL,
                           "unknown config action \"%.40s\": set-token, set-server, check or "
                           "path",
                           o->config_action);
    }
    if (optind < argc)
        return err_set(err, NGR_EINVAL, "unexpected argument \"%s\"", argv[optind]);
    return 0;
}

/* --count, --json, --path: diagnose's own. */
static int
cli_diagnose_option(struct cli_options *o, int ch, const char *cur, const char *arg,
                    struct ngr_err *err)
{
    char *end;
    unsigned long n;

    if (o->command != CLI_CMD_DIAGNOSE)
        return err_set(err, NGR_EINVAL, "%s is an option of diagnose: ngrnotok diagnose %s", cur,
                       ch == CLI_OPT_JSON ? "--json" : "--count N --path PATH");
    if (ch == CLI_OPT_JSON) {
        o->diag_json = 1;
        return 0;
    }
    if (ch == CLI_OPT_PATH) {
        if (arg[0] != '/' || strlen(arg) >= NGR_DIAGNOSE_PATH_LEN || strpbrk(arg, " \r\n") != NULL)
            return err_set(err, NGR_EINVAL,
                           "--path \"%.40s\": expected a path starting with '/' (no spaces, "
                           "under %d bytes)",
                           arg, NGR_DIAGNOSE_PATH_LEN);
        o->diag_path = arg;
        return 0;
    }
    errno = 0;
    n = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || n < 1 ||
        n > NGR_DIAGNOSE_COUNT_MAX)
        return err_set(err, NGR_EINVAL, "--count \"%.40s\": expected 1 to %d samples", arg,
                       NGR_DIAGNOSE_COUNT_MAX);
    o->diag_count = (unsigned)n;
    return 0;
}

/* The second pass: every option, over the file's settings. t: the command line's tunnel
 * (http, tcp), else NULL. */
static int
cli_options_pass(struct cli_options *o, struct cli_tunnel *t, int *all, int argc, char **argv,
                 const char **port, struct ngr_err *err)
{
    const char *cur;
    int ch, rc;

    optind = 0; /* 0 resets getopt wholly, so cli_parse can run more than once in a process */
    opterr = 0; /* our own messages, prefixed like every other */
    for (;;) {
        int before = optind ? optind : 1;

        ch = getopt_long(argc, argv, cli_short, cli_options_long, NULL);
        if (ch == -1)
            break;
        /* Which argument an error is about: inside a cluster such as -xv optind has not moved
         * past it yet; a long option is named whole, a short one by optopt. */
        cur = optind > before ? argv[optind - 1] : argv[before];
        if (ch == 'n')
            ch = CLI_T(0);
        else if (ch == 's')
            ch = CLI_S(10);
        if ((ch & ~0xff) == CLI_OPT_TUNNEL || ch == 'p') {
            if (t == NULL && o->command == CLI_CMD_START)
                return err_set(err, NGR_EINVAL,
                               "%s is a tunnel's setting: with start, put it in the tunnel's "
                               "section of %s",
                               cur, o->config);
            if (t == NULL)
                return err_set(err, NGR_EINVAL, "%s is not an option of config", cur);
            if (ch == 'p') {
                *port = optarg;
                continue;
            }
            rc = cli_tunnel_set(o, t, cli_keys[ch & 0xff], optarg != NULL ? optarg : "yes", 0,
                                err);
            if (rc != 0)
                return rc;
            continue;
        }
        if ((ch & ~0xff) == CLI_OPT_SESSION) {
            if ((rc = cli_session_set(o, cli_keys[ch & 0xff], optarg != NULL ? optarg : "yes", 0,
                                      err)) != 0)
                return rc;
            continue;
        }
        if ((ch & ~0xff) == CLI_OPT_INSPECT) {
            if ((rc = cli_inspect_set(&o->inspect, cli_inspect_keys[ch & 0xff], optarg, err)) != 0)
                return rc;
            continue;
        }
        switch (ch) {
        case CLI_OPT_NEW_URL:
            o->new_url = 1;
            break;
        case CLI_OPT_ALL:
            if (o->command != CLI_CMD_START)
                return err_set(err, NGR_EINVAL, "--all is for start: ngrnotok start --all");
            *all = 1;
            break;
        case CLI_OPT_LOG_FORMAT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return err_set(err, NGR_EINVAL, "--log-format \"%.40s\": expected text or json",
                               optarg);
            o->log_json = strcmp(optarg, "json") == 0;
            break;
        case 'q':
        case CLI_OPT_QUIET:
            o->quiet = 1;
            break;
        case CLI_OPT_COUNT:
        case CLI_OPT_JSON:
        case CLI_OPT_PATH:
            if ((rc = cli_diagnose_option(o, ch, cur, optarg, err)) != 0)
                return rc;
            break;
        case 'c':
            if (optarg[0] == '\0' || strlen(optarg) >= sizeof(o->config))
                return err_set(err, NGR_EINVAL, "--config: %s",
                               optarg[0] ? "path too long" : "needs a file name");
            break;
        case 'v':
            o->log_level = LOG_LEVEL_DEBUG;
            break;
        case 'h':
            cli_usage(stdout);
            return CLI_EXIT_OK;
        case 'V':
            cli_version();
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
    return 0;
}

/* The environment, over the file. */
static int
cli_environment(struct cli_options *o, struct ngr_err *err)
{
    const char *env = getenv("NGRNOTOK_SERVER");

    if (env != NULL && *env != '\0' && net_parse_addr(env, NULL, 0, &o->server, err) != 0)
        return err_prefix(err, "NGRNOTOK_SERVER");
    env = getenv("NGRNOTOK_TOKEN");
    if (env != NULL)
        snprintf(o->token, sizeof(o->token), "%s", env);
    return 0;
}

int
cli_parse(int argc, char **argv, struct cli_options *o, struct ngr_err *err)
{
    struct cli_tunnel *line = NULL;
    const char *port = NULL;
    int rc, all = 0;
    size_t i;

    memset(o, 0, sizeof(*o));
    o->log_level = LOG_LEVEL_WARN;
    o->heartbeat_ms = NGR_HEARTBEAT_MS;
    o->dead_after_ms = NGR_DEAD_AFTER_MS;
    o->diag_count = NGR_DIAGNOSE_COUNT;
    o->diag_path = "/";
    cli_inspect_defaults(&o->inspect);
    net_parse_addr("127.0.0.1:8080", NULL, 0, &o->server, NULL);

    if (argc < 2)
        return err_set(err, NGR_EINVAL, "missing command; try 'ngrnotok http 3000'");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        cli_version();
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "http") == 0 || strcmp(argv[1], "tcp") == 0)
        o->command = CLI_CMD_TUNNEL;
    else if (strcmp(argv[1], "start") == 0)
        o->command = CLI_CMD_START;
    else if (strcmp(argv[1], "config") == 0)
        o->command = CLI_CMD_CONFIG;
    else if (strcmp(argv[1], "diagnose") == 0)
        o->command = CLI_CMD_DIAGNOSE; /* one tunnel, as http's, or none */
    else
        return err_set(err, NGR_EINVAL, "unknown command \"%s\"; try 'ngrnotok http 3000'",
                       argv[1]);

    /* Options follow the command: parse argv + 1 with the command as argv[0]. */
    argc--;
    argv++;
    if ((rc = cli_find_config(argc, argv, o, err)) != 0)
        return rc;
    if (!o->config_given && client_config_default_path(o->config, sizeof(o->config), err) != 0 &&
        o->command != CLI_CMD_TUNNEL && o->command != CLI_CMD_DIAGNOSE)
        return NGR_EINVAL;
    /* config set-*: the file is edited line by line, not loaded (it may be broken); http and
     * tcp take its connection settings if there is one. */
    if (o->config[0] != '\0' && o->command != CLI_CMD_CONFIG) {
        rc = client_config_load(
            o, o->config,
            o->config_given || (o->command != CLI_CMD_TUNNEL && o->command != CLI_CMD_DIAGNOSE),
            err);
        if (rc != 0)
            return rc;
    }
    if ((rc = cli_environment(o, err)) != 0)
        return rc;
    if (o->command == CLI_CMD_TUNNEL || o->command == CLI_CMD_DIAGNOSE) {
        /* The command line's tunnel replaces the file's. */
        o->ntunnels = 1;
        line = &o->tunnels[0];
        memset(line, 0, sizeof(*line));
        line->proto = strcmp(argv[0], "tcp") == 0 ? FRAME_PROTO_TCP : FRAME_PROTO_HTTP;
    }
    rc = cli_options_pass(o, line, &all, argc, argv, &port, err);
    if (rc != 0)
        return rc;
    if (o->command == CLI_CMD_CONFIG)
        return cli_config_action(o, argc, argv, err);
    if ((rc = session_check_liveness(o->heartbeat_ms, o->dead_after_ms, "gateway", err)) != 0)
        return rc;
    if ((rc = cli_inspect_check(&o->inspect, err)) != 0)
        return rc;
    if (o->command == CLI_CMD_START)
        return cli_pick_tunnels(o, all, argc, argv, err);
    if (optind < argc) {
        if (port != NULL)
            return err_set(err, NGR_EINVAL, "give the port once: -p PORT or PORT");
        port = argv[optind++];
    }
    if (optind < argc)
        return err_set(err, NGR_EINVAL, "unexpected argument \"%s\"", argv[optind]);
    if (o->command == CLI_CMD_DIAGNOSE && port == NULL)
        o->ntunnels = 0; /* no TARGET: the built-in responder alone */
    if (port != NULL && (rc = cli_tunnel_set(o, line, "addr", port, 0, err)) != 0)
        return rc;
    for (i = 0; i < o->ntunnels; i++)
        if ((rc = cli_tunnel_check(&o->tunnels[i], 0, err)) != 0)
            return rc;
    return CLI_RUN;
}
