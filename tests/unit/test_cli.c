/* test_cli.c: unit tests of ngrnotok's command line (src/client/cli.h): the port in its three
 * forms, the gateway address from --server or NGRNOTOK_SERVER, subdomains, --host-header, --tls
 * and --ca, and the message for each mistake. Help and version print to stdout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "frame.h"

#define TEST_CLI_MAXARGS 16

/* getopt keeps state between calls (the position inside a cluster such as "-vh", and what it
 * permuted). cli_parse sets optind = 2, which glibc takes as "go on", not "start over"; only
 * optind = 0 starts over. A getopt call on an empty command line with optind = 0 resets it all,
 * so each cli_parse below starts as in a fresh process. */
static void
test_cli_reset_getopt(void)
{
    static char arg0[] = "ngrnotok";
    char *argv[] = {arg0, NULL};

    optind = 0;
    assert_int_equal(getopt(1, argv, ""), -1);
}

/* Parses a NULL-terminated list of arguments (after "ngrnotok"). argv is a fresh writable
 * array each time: getopt permutes it. */
static int
test_cli_parse_v(struct cli_options *o, struct ngr_err *err, const char *const *args)
{
    static char arg0[] = "ngrnotok";
    static char copies[TEST_CLI_MAXARGS][128];
    char *argv[TEST_CLI_MAXARGS + 2];
    int argc = 0;

    argv[argc++] = arg0;
    for (; *args != NULL; args++) {
        assert_true(argc <= TEST_CLI_MAXARGS);
        assert_true(strlen(*args) < sizeof(copies[0]));
        snprintf(copies[argc - 1], sizeof(copies[0]), "%s", *args);
        argv[argc] = copies[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    static struct cli_string *kept[1024]; /* options' values, kept for the asserts */
    static size_t nkept;
    int rc;

    memset(err, 0, sizeof(*err));
    memset(o, 0x5a, sizeof(*o)); /* cli_parse must set every field */
    test_cli_reset_getopt();
    rc = cli_parse(argc, argv, o, err);
    assert_true(nkept < sizeof(kept) / sizeof(kept[0]));
    kept[nkept++] = o->strings;
    return rc;
}

#define test_cli_parse(o, err, ...)                                                                \
    test_cli_parse_v(o, err, (const char *const[]){__VA_ARGS__, NULL})

/* Expects CLI_RUN. */
#define test_cli_ok(o, ...)                                                                        \
    do {                                                                                           \
        struct ngr_err err_;                                                                       \
        int rc_ = test_cli_parse(o, &err_, __VA_ARGS__);                                           \
        if (rc_ != CLI_RUN)                                                                        \
            fail_msg("%s: returned %d (%s)", #__VA_ARGS__, rc_, err_.msg);                         \
    } while (0)

/* Expects NGR_EINVAL with want in the message. */
#define test_cli_fails(want, ...)                                                                  \
    do {                                                                                           \
        struct cli_options o_;                                                                     \
        struct ngr_err err_;                                                                       \
        int rc_ = test_cli_parse(&o_, &err_, __VA_ARGS__);                                         \
        if (rc_ != NGR_EINVAL)                                                                     \
            fail_msg("%s: returned %d, expected NGR_EINVAL", #__VA_ARGS__, rc_);                   \
        assert_int_equal(err_.code, NGR_EINVAL);                                                   \
        if (strstr(err_.msg, (want)) == NULL)                                                      \
            fail_msg("%s: message \"%s\" does not contain \"%s\"", #__VA_ARGS__, err_.msg,         \
                     (want));                                                                      \
    } while (0)

static int
test_cli_setup(void **state)
{
    (void)state;
    /* No config file: the user's own must not change what the options give. */
    if (unsetenv("NGRNOTOK_SERVER") != 0 || unsetenv("NGRNOTOK_TOKEN") != 0 ||
        setenv("XDG_CONFIG_HOME", "/nonexistent/ngrnotok-test", 1) != 0)
        return -1;
    return 0;
}

static int
test_cli_teardown(void **state)
{
    return test_cli_setup(state);
}

static void
test_cli_assert_defaults(const struct cli_options *o)
{
    assert_int_equal(o->tunnels[0].proto, FRAME_PROTO_HTTP);
    assert_string_equal(o->server.host, "127.0.0.1");
    assert_int_equal(o->server.port, 8080);
    assert_string_equal(o->tunnels[0].subdomain, "");
    assert_int_equal(o->tunnels[0].host_rewrite, 0);
    assert_string_equal(o->token, "");
    assert_int_equal(o->tls, 0);
    assert_string_equal(o->ca, "");
    assert_int_equal(o->log_level, LOG_LEVEL_WARN);
}

/* The port, bare, with -p or --port, or as HOST:PORT. */
static void
test_cli_port(void **state)
{
    struct cli_options o;

    (void)state;
    test_cli_ok(&o, "http", "3000");
    test_cli_assert_defaults(&o);
    assert_string_equal(o.tunnels[0].local.host, "localhost");
    assert_int_equal(o.tunnels[0].local.port, 3000);

    test_cli_ok(&o, "http", "-p", "3000");
    test_cli_assert_defaults(&o);
    assert_string_equal(o.tunnels[0].local.host, "localhost");
    assert_int_equal(o.tunnels[0].local.port, 3000);

    test_cli_ok(&o, "http", "-p3001");
    assert_int_equal(o.tunnels[0].local.port, 3001);
    test_cli_ok(&o, "http", "--port", "3002");
    assert_int_equal(o.tunnels[0].local.port, 3002);
    test_cli_ok(&o, "http", "--port=3003");
    assert_int_equal(o.tunnels[0].local.port, 3003);

    test_cli_ok(&o, "http", "localhost:3000");
    test_cli_assert_defaults(&o);
    assert_string_equal(o.tunnels[0].local.host, "localhost");
    assert_int_equal(o.tunnels[0].local.port, 3000);

    test_cli_ok(&o, "http", "192.168.1.20:8000");
    assert_string_equal(o.tunnels[0].local.host, "192.168.1.20");
    assert_int_equal(o.tunnels[0].local.port, 8000);

    test_cli_ok(&o, "http", "[::1]:3000");
    assert_string_equal(o.tunnels[0].local.host, "::1");
    assert_int_equal(o.tunnels[0].local.port, 3000);

    test_cli_ok(&o, "http", "-p", "[::1]:65535");
    assert_string_equal(o.tunnels[0].local.host, "::1");
    assert_int_equal(o.tunnels[0].local.port, 65535);

    test_cli_ok(&o, "http", "1");
    assert_int_equal(o.tunnels[0].local.port, 1);

    /* "--" ends the options. */
    test_cli_ok(&o, "http", "--", "3000");
    assert_int_equal(o.tunnels[0].local.port, 3000);

    test_cli_ok(&o, "tcp", "5432");
    assert_int_equal(o.tunnels[0].proto, FRAME_PROTO_TCP);
    assert_int_equal(o.tunnels[0].local.port, 5432);
}

static void
test_cli_bad_port(void **state)
{
    (void)state;
    test_cli_fails("missing local port", "http");
    test_cli_fails("missing local port", "http", "-v");
    test_cli_fails("missing local port", "http", "--subdomain", "myapp");
    test_cli_fails("local service", "http", "0");
    test_cli_fails("local service", "http", "65536");
    test_cli_fails("local service", "http", "abc");
    test_cli_fails("local service", "http", "3000x");
    test_cli_fails("local service", "http", "-p", "-1");
    test_cli_fails("local service", "http", "+3000");
    test_cli_fails("local service", "http", "localhost:");
    test_cli_fails("local service", "http", ":3000");
    test_cli_fails("brackets", "http", "::1:3000");
    test_cli_fails("local service", "http", "[::1]3000");
    test_cli_fails("needs a value", "http", "-p");
    test_cli_fails("needs a value", "http", "--port");
}

/* --server and NGRNOTOK_SERVER: the option wins over the variable, which wins over the
 * default; an empty variable is no variable. */
static void
test_cli_server(void **state)
{
    struct cli_options o;

    (void)state;
    test_cli_ok(&o, "http", "--server", "gw.example.com:4443", "3000");
    assert_string_equal(o.server.host, "gw.example.com");
    assert_int_equal(o.server.port, 4443);
    assert_int_equal(o.tunnels[0].local.port, 3000);

    test_cli_ok(&o, "http", "-s", "[2001:db8::1]:7000", "3000");
    assert_string_equal(o.server.host, "2001:db8::1");
    assert_int_equal(o.server.port, 7000);

    test_cli_ok(&o, "http", "--server=10.0.0.1:9", "3000");
    assert_string_equal(o.server.host, "10.0.0.1");
    assert_int_equal(o.server.port, 9);

    assert_int_equal(setenv("NGRNOTOK_SERVER", "tunnel.example.org:8443", 1), 0);
    test_cli_ok(&o, "http", "3000");
    assert_string_equal(o.server.host, "tunnel.example.org");
    assert_int_equal(o.server.port, 8443);
    test_cli_ok(&o, "http", "--server", "gw.example.com:4443", "3000");
    assert_string_equal(o.server.host, "gw.example.com");
    assert_int_equal(o.server.port, 4443);

    assert_int_equal(setenv("NGRNOTOK_SERVER", "", 1), 0);
    test_cli_ok(&o, "http", "3000");
    assert_string_equal(o.server.host, "127.0.0.1");
    assert_int_equal(o.server.port, 8080);

    /* A bad variable is named in the message. */
    assert_int_equal(setenv("NGRNOTOK_SERVER", "no-port-here", 1), 0);
    test_cli_fails("NGRNOTOK_SERVER", "http", "3000");
    assert_int_equal(unsetenv("NGRNOTOK_SERVER"), 0);
    test_cli_ok(&o, "http", "3000");
    assert_string_equal(o.server.host, "127.0.0.1");

    /* So is a bad option. A gateway address needs HOST:PORT. */
    test_cli_fails("--server", "http", "--server", "gw.example.com", "3000");
    test_cli_fails("--server", "http", "--server", "gw.example.com:0", "3000");
    test_cli_fails("needs a value", "http", "3000", "--server");
}

static void
test_cli_token(void **state)
{
    struct cli_options o;

    (void)state;
    assert_int_equal(setenv("NGRNOTOK_TOKEN", "from-env", 1), 0);
    test_cli_ok(&o, "http", "3000");
    assert_string_equal(o.token, "from-env");
    test_cli_ok(&o, "http", "--token", "from-option", "3000");
    assert_string_equal(o.token, "from-option");
    assert_int_equal(unsetenv("NGRNOTOK_TOKEN"), 0);
    test_cli_ok(&o, "http", "--token=abc", "3000");
    assert_string_equal(o.token, "abc");
}

/* --tls alone trusts the system's CAs; --ca FILE names others and implies --tls. */
static void
test_cli_tls(void **state)
{
    struct cli_options o;
    char long_path[NGR_CA_PATH_LEN + 8];

    (void)state;
    test_cli_ok(&o, "http", "--tls", "3000");
    assert_int_equal(o.tls, 1);
    assert_string_equal(o.ca, "");
    test_cli_ok(&o, "tcp", "--ca", "/etc/ngrnotok/ca.pem", "22");
    assert_int_equal(o.tls, 1);
    assert_string_equal(o.ca, "/etc/ngrnotok/ca.pem");
    test_cli_ok(&o, "http", "--ca=ca.pem", "--tls", "3000");
    assert_string_equal(o.ca, "ca.pem");
    test_cli_fails("needs a value", "http", "3000", "--ca");
    test_cli_fails("--ca: needs a file name", "http", "--ca=", "3000");
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    {
        /* Longer than test_cli_parse's copies: argv by hand. */
        static char a0[] = "ngrnotok", a1[] = "http", a2[] = "--ca", a4[] = "3000";
        char *argv[] = {a0, a1, a2, long_path, a4, NULL};
        struct ngr_err err;

        test_cli_reset_getopt();
        assert_int_equal(cli_parse(5, argv, &o, &err), NGR_EINVAL);
        assert_non_null(strstr(err.msg, "--ca: path too long"));
    }
    test_cli_fails("unknown option --tls=yes", "http", "--tls=yes", "3000");
}

static void
test_cli_subdomain(void **state)
{
    struct cli_options o;
    char longest[NGR_MAX_SUBDOMAIN + 2];

    (void)state;
    test_cli_ok(&o, "http", "--subdomain", "myapp", "3000");
    assert_string_equal(o.tunnels[0].subdomain, "myapp");
    assert_int_equal(o.tunnels[0].local.port, 3000);
    test_cli_ok(&o, "http", "-n", "my-app-2", "3000");
    assert_string_equal(o.tunnels[0].subdomain, "my-app-2");
    test_cli_ok(&o, "http", "--subdomain=a", "3000");
    assert_string_equal(o.tunnels[0].subdomain, "a");
    test_cli_ok(&o, "http", "--subdomain", "0123", "3000");
    assert_string_equal(o.tunnels[0].subdomain, "0123");
    /* Options may follow the port (GNU order). */
    test_cli_ok(&o, "http", "3000", "--subdomain", "late");
    assert_string_equal(o.tunnels[0].subdomain, "late");
    assert_int_equal(o.tunnels[0].local.port, 3000);

    memset(longest, 'a', NGR_MAX_SUBDOMAIN);
    longest[NGR_MAX_SUBDOMAIN] = '\0';
    test_cli_ok(&o, "http", "--subdomain", longest, "3000");
    assert_string_equal(o.tunnels[0].subdomain, longest);
    longest[NGR_MAX_SUBDOMAIN] = 'a';
    longest[NGR_MAX_SUBDOMAIN + 1] = '\0';
    test_cli_fails("invalid subdomain", "http", "--subdomain", longest, "3000");

    /* Uppercase is refused with the lowercase name as a hint. */
    test_cli_fails("invalid subdomain", "http", "--subdomain", "MyApp", "3000");
    test_cli_fails("\"myapp\"", "http", "--subdomain", "MyApp", "3000");
    test_cli_fails("invalid subdomain", "http", "-n", "APP", "3000");
    test_cli_fails("invalid subdomain", "http", "--subdomain", "", "3000");
    test_cli_fails("invalid subdomain", "http", "--subdomain", "-app", "3000");
    test_cli_fails("invalid subdomain", "http", "--subdomain", "app-", "3000");
    test_cli_fails("invalid subdomain", "http", "--subdomain", "my_app", "3000");
    test_cli_fails("invalid subdomain", "http", "--subdomain", "my.app", "3000");
    test_cli_fails("invalid subdomain", "http", "--subdomain", "caf\xc3\xa9", "3000");
    test_cli_fails("invalid subdomain", "http", "--subdomain", "a b", "3000");
    test_cli_fails("needs a value", "http", "3000", "--subdomain");
}

static void
test_cli_host_header(void **state)
{
    struct cli_options o;

    (void)state;
    test_cli_ok(&o, "http", "--host-header=rewrite", "3000");
    assert_int_equal(o.tunnels[0].host_rewrite, 1);
    assert_int_equal(o.tunnels[0].local.port, 3000);
    test_cli_ok(&o, "http", "--host-header", "rewrite", "localhost:5173");
    assert_int_equal(o.tunnels[0].host_rewrite, 1);
    test_cli_ok(&o, "http", "--host-header=preserve", "3000");
    assert_int_equal(o.tunnels[0].host_rewrite, 0);
    test_cli_ok(&o, "http", "--host-header=rewrite", "--host-header=preserve", "3000");
    assert_int_equal(o.tunnels[0].host_rewrite, 0);
    test_cli_fails("--host-header", "http", "--host-header=x", "3000");
    test_cli_fails("\"x\"", "http", "--host-header=x", "3000");
    test_cli_fails("--host-header", "http", "--host-header=Rewrite", "3000");
    test_cli_fails("--host-header", "http", "--host-header=", "3000");
    test_cli_fails("needs a value", "http", "3000", "--host-header");
}

/* The local service's forms: PORT, HOST:PORT, http(s):// URLs (default ports), unix:PATH;
 * --upstream-* for https:// only; the output options. */
static void
test_cli_targets(void **state)
{
    struct cli_options o;

    (void)state;
    test_cli_ok(&o, "http", "https://localhost:8443");
    assert_int_equal(o.tunnels[0].scheme, CLI_SCHEME_HTTPS);
    assert_string_equal(o.tunnels[0].local.host, "localhost");
    assert_int_equal(o.tunnels[0].local.port, 8443);
    test_cli_ok(&o, "http", "https://app.test");
    assert_int_equal(o.tunnels[0].local.port, 443);
    test_cli_ok(&o, "http", "http://otherhost");
    assert_int_equal(o.tunnels[0].scheme, CLI_SCHEME_HTTP);
    assert_string_equal(o.tunnels[0].local.host, "otherhost");
    assert_int_equal(o.tunnels[0].local.port, 80);
    test_cli_ok(&o, "http", "http://[::1]:8000/");
    assert_string_equal(o.tunnels[0].local.host, "::1");
    assert_int_equal(o.tunnels[0].local.port, 8000);
    test_cli_ok(&o, "http", "unix:/run/app.sock");
    assert_int_equal(o.tunnels[0].scheme, CLI_SCHEME_UNIX);
    assert_string_equal(o.tunnels[0].unix_path, "/run/app.sock");
    test_cli_ok(&o, "http", "--upstream-insecure", "--upstream-ca", "ca.pem",
                "https://localhost:8443");
    assert_int_equal(o.tunnels[0].upstream_insecure, 1);
    assert_string_equal(o.tunnels[0].upstream_ca, "ca.pem");
    test_cli_fails("expected http://, https:// or unix:PATH", "http", "ftp://x:21");
    test_cli_fails("not a URL", "http", "https://");
    test_cli_fails("requests keep their own paths", "http", "http://x:80/app");
    test_cli_fails("requests keep their own paths", "http", "http://x:80/?a=1");
    test_cli_fails("expected unix:PATH", "http", "unix:");
    test_cli_fails("--upstream-insecure is for an https://", "http", "--upstream-insecure",
                   "3000");
    test_cli_fails("--upstream-ca is for an https://", "http", "--upstream-ca", "f", "unix:/s");
    test_cli_fails("a TCP tunnel forwards to HOST:PORT", "tcp", "unix:/s");

    test_cli_ok(&o, "http", "3000");
    assert_int_equal(o.quiet, 0);
    assert_int_equal(o.log_json, 0);
    test_cli_ok(&o, "http", "-q", "--log-format", "json", "3000");
    assert_int_equal(o.quiet, 1);
    assert_int_equal(o.log_json, 1);
    test_cli_ok(&o, "http", "--log-format=json", "--log-format=text", "--quiet", "3000");
    assert_int_equal(o.log_json, 0);
    test_cli_fails("expected text or json", "http", "--log-format", "xml", "3000");
}

static void
test_cli_verbose(void **state)
{
    struct cli_options o;

    (void)state;
    test_cli_ok(&o, "http", "-v", "3000");
    assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
    test_cli_ok(&o, "http", "--verbose", "3000");
    assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
    test_cli_ok(&o, "http", "-vp", "3000");
    assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(o.tunnels[0].local.port, 3000);
}

/* Extra arguments, the port given twice, unknown commands and options. */
static void
test_cli_mistakes(void **state)
{
    struct cli_options o;
    struct ngr_err err;
    static char arg0[] = "ngrnotok";
    char *argv[] = {arg0, NULL};

    (void)state;
    test_cli_fails("unexpected argument \"4000\"", "http", "3000", "4000");
    test_cli_fails("unexpected argument \"extra\"", "http", "localhost:3000", "extra");
    test_cli_fails("give the port once", "http", "-p", "3000", "4000");
    test_cli_fails("unknown command \"ftp\"", "ftp", "21");
    test_cli_fails("unknown command \"HTTP\"", "HTTP", "3000");
    test_cli_fails("unknown command \"3000\"", "3000");
    test_cli_fails("unknown option --bogus", "http", "--bogus", "3000");
    test_cli_fails("unknown option --bogus=1", "http", "3000", "--bogus=1");
    test_cli_fails("unknown option -x", "http", "-x", "3000");
    test_cli_fails("unknown option --verbose=yes", "http", "--verbose=yes", "3000");

    memset(&err, 0, sizeof(err));
    test_cli_reset_getopt();
    assert_int_equal(cli_parse(1, argv, &o, &err), NGR_EINVAL);
    assert_int_equal(err.code, NGR_EINVAL);
    assert_non_null(strstr(err.msg, "missing command"));
}

/* tcp --proxy-protocol v1|v2; refused for HTTP tunnels and for other versions. */
static void
test_cli_proxy_protocol(void **state)
{
    struct cli_options o;

    (void)state;
    test_cli_ok(&o, "tcp", "22");
    assert_int_equal(o.tunnels[0].proxy_protocol, 0);
    test_cli_ok(&o, "tcp", "--proxy-protocol", "v1", "22");
    assert_int_equal(o.tunnels[0].proxy_protocol, 1);
    test_cli_ok(&o, "tcp", "--proxy-protocol=v2", "localhost:25");
    assert_int_equal(o.tunnels[0].proxy_protocol, 2);
    test_cli_ok(&o, "tcp", "22", "--proxy-protocol", "2");
    assert_int_equal(o.tunnels[0].proxy_protocol, 2);
    test_cli_fails("--proxy-protocol \"v3\": expected v1 or v2", "tcp", "--proxy-protocol", "v3",
                   "22");
    test_cli_fails("--proxy-protocol \"V1\"", "tcp", "--proxy-protocol", "V1", "22");
    test_cli_fails("option --proxy-protocol needs a value", "tcp", "22", "--proxy-protocol");
    test_cli_fails("--proxy-protocol is for TCP tunnels", "http", "--proxy-protocol", "v1", "3000");
}

/* An unknown letter before others in a cluster: the message names that option, not the
 * argument before the cluster. */
static void
test_cli_unknown_in_cluster(void **state)
{
    (void)state;
    test_cli_fails("unknown option -x", "http", "-xv", "3000");
    test_cli_fails("unknown option -x", "http", "3000", "-vxv");
    test_cli_fails("unknown option -x", "http", "--subdomain", "myapp", "-xv", "3000");
    /* Right after a long option, too. */
    test_cli_fails("unknown option -x", "http", "--verbose", "-xv", "3000");
    test_cli_fails("unknown option -x", "http", "--host-header=rewrite", "-xv", "3000");
}

/* Help and version: CLI_EXIT_OK, before or after the command. */
static void
test_cli_help(void **state)
{
    struct cli_options o;
    struct ngr_err err;

    (void)state;
    assert_int_equal(test_cli_parse(&o, &err, "--help"), CLI_EXIT_OK);
    assert_int_equal(test_cli_parse(&o, &err, "-h"), CLI_EXIT_OK);
    assert_int_equal(test_cli_parse(&o, &err, "help"), CLI_EXIT_OK);
    assert_int_equal(test_cli_parse(&o, &err, "http", "--help"), CLI_EXIT_OK);
    assert_int_equal(test_cli_parse(&o, &err, "http", "-h", "3000"), CLI_EXIT_OK);
    assert_int_equal(test_cli_parse(&o, &err, "--version"), CLI_EXIT_OK);
    assert_int_equal(test_cli_parse(&o, &err, "-V"), CLI_EXIT_OK);
    assert_int_equal(test_cli_parse(&o, &err, "http", "--version"), CLI_EXIT_OK);
    /* Help wins over a mistake after it. */
    assert_int_equal(test_cli_parse(&o, &err, "http", "--help", "--bogus"), CLI_EXIT_OK);
    fflush(stdout);
}

/* diagnose: TARGET optional (no tunnel without it), --count, --path, --json, and those three
 * refused elsewhere. */
static void
test_cli_diagnose(void **state)
{
    struct cli_options o;

    (void)state;
    test_cli_ok(&o, "diagnose");
    assert_int_equal(o.command, CLI_CMD_DIAGNOSE);
    assert_int_equal(o.ntunnels, 0);
    assert_int_equal(o.diag_count, NGR_DIAGNOSE_COUNT);
    assert_string_equal(o.diag_path, "/");
    assert_int_equal(o.diag_json, 0);
    test_cli_ok(&o, "diagnose", "--count", "3", "--path", "/sleep?ms=300", "--json", "-s",
                "gw.example:4443", "3000");
    assert_int_equal(o.ntunnels, 1);
    assert_int_equal(o.tunnels[0].local.port, 3000);
    assert_int_equal(o.tunnels[0].proto, FRAME_PROTO_HTTP);
    assert_int_equal(o.diag_count, 3);
    assert_string_equal(o.diag_path, "/sleep?ms=300");
    assert_int_equal(o.diag_json, 1);
    assert_int_equal(o.server.port, 4443);
    test_cli_ok(&o, "diagnose", "unix:/run/app.sock");
    assert_int_equal(o.tunnels[0].scheme, CLI_SCHEME_UNIX);
    test_cli_fails("--count", "diagnose", "--count", "0");
    test_cli_fails("--count", "diagnose", "--count", "1001");
    test_cli_fails("--count", "diagnose", "--count", "-1");
    test_cli_fails("--count", "diagnose", "--count", "3x");
    test_cli_fails("--path", "diagnose", "--path", "sleep");
    test_cli_fails("--path", "diagnose", "--path", "/a b");
    test_cli_fails("local service", "diagnose", "0");
    test_cli_fails("unexpected argument", "diagnose", "3000", "3001");
    test_cli_fails("an option of diagnose", "http", "--json", "3000");
    test_cli_fails("an option of diagnose", "http", "--count", "3", "3000");
    test_cli_fails("an option of diagnose", "tcp", "--path", "/", "5432");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_port, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_bad_port, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_server, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_token, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_tls, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_subdomain, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_host_header, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_targets, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_verbose, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_mistakes, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_unknown_in_cluster, test_cli_setup,
                                        test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_help, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_proxy_protocol, test_cli_setup, test_cli_teardown),
        cmocka_unit_test_setup_teardown(test_cli_diagnose, test_cli_setup, test_cli_teardown),
    };

    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
