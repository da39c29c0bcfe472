/* cli.c: parse ngrnotok's command line; see cli.h. */
#include "cli.h"
#include "frame.h"

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
            "      --tls                  connect over TLS: the gateway's certificate must\n"
            "                             chain to a CA of the system's store and name the\n"
            "                             --server host (its DNS name or IP address)\n"
            "      --ca FILE              trust the CA certificates in FILE (PEM) instead of\n"
            "                             the system's, for a private CA; implies --tls\n"
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
    {"tls", no_argument, NULL, 3},
    {"ca", required_argument, NULL, 4},
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

int
cli_parse(int argc, char **argv, struct cli_options *o, struct ngr_err *err)
{
    const char *env, *port = NULL, *cur;
    int ch, rc;

    memset(o, 0, sizeof(*o));
    o->log_level = LOG_LEVEL_WARN;
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
            o->tls = 1;
            break;
        case 4:
            if (optarg[0] == '\0' || strlen(optarg) >= sizeof(o->ca))
                return err_set(err, NGR_EINVAL, "--ca: %s", optarg[0] ? "path too long"
                                                                   : "needs a file name");
            snprintf(o->ca, sizeof(o->ca), "%s", optarg);
            o->tls = 1;
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
    if (port == NULL)
        return err_set(err, NGR_EINVAL, "missing local port; try 'ngrnotok %s 3000'", argv[0]);
    if ((rc = net_parse_addr(port, "localhost", 0, &o->local, err)) != 0)
        return err_prefix(err, "local service");
    return CLI_RUN;
}
