/* test_client_config.c: unit tests of the client's config file (src/client/client_config.h)
 * and of how cli_parse takes it: the connection's settings and the tunnels' sections, each
 * mistake with its line, the order file < environment < options, `start NAME...|--all`, and
 * `config set-token|set-server` editing a file in place, mode 0600. Files live in a fresh
 * temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client_config.h"
#include "err.h"
#include "frame.h"
#include "readfile.h"

static char test_dir[64];
static char test_path[128];

static void
test_write(const char *text, mode_t mode)
{
    FILE *f = fopen(test_path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(test_path, mode), 0);
}

static char *
test_read(void)
{
    char *text;
    size_t len;
    struct ngr_err err;

    assert_int_equal(readfile(test_path, 65536, &text, &len, &err), 0);
    return text;
}

static int
test_setup(void **state)
{
    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/ngrnotok-cfg-XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return -1;
    snprintf(test_path, sizeof(test_path), "%s/ngrnotok.conf", test_dir);
    unsetenv("NGRNOTOK_SERVER");
    unsetenv("NGRNOTOK_TOKEN");
    return setenv("XDG_CONFIG_HOME", test_dir, 1);
}

static int
test_teardown(void **state)
{
    char p[160];

    (void)state;
    unlink(test_path);
    snprintf(p, sizeof(p), "%s/ngrnotok/ngrnotok.conf", test_dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/ngrnotok", test_dir);
    rmdir(p);
    rmdir(test_dir);
    return 0;
}

/* Loads text as a config file into o (freed by the caller). */
static int
test_load(struct cli_options *o, const char *text, struct ngr_err *err)
{
    memset(o, 0, sizeof(*o));
    memset(err, 0, sizeof(*err));
    snprintf(o->config, sizeof(o->config), "%s", test_path);
    test_write(text, 0600);
    return client_config_load(o, test_path, 1, err);
}

static int
test_parse_v(struct cli_options *o, struct ngr_err *err, const char *const *args)
{
    static char arg0[] = "ngrnotok";
    static char copies[16][160];
    char *argv[18];
    int argc = 0;

    argv[argc++] = arg0;
    for (; *args != NULL; args++) {
        snprintf(copies[argc - 1], sizeof(copies[0]), "%s", *args);
        argv[argc] = copies[argc - 1];
        argc++;
    }
    argv[argc] = NULL;
    memset(err, 0, sizeof(*err));
    optind = 0;
    return cli_parse(argc, argv, o, err);
}
#define test_parse(o, err, ...) test_parse_v(o, err, (const char *const[]){__VA_ARGS__, NULL})

static const char test_example[] = "# a comment\n"
                                   "server = gw.example.com:4443\n"
                                   "token = \"s3cr#t\"\n"
                                   "tls = yes\n"
                                   "heartbeat = 5\n"
                                   "dead-after = 20\n"
                                   "\n"
                                   "[web]\n"
                                   "addr = 3000\n"
                                   "subdomain = myapp\n"
                                   "host_header = rewrite\n"
                                   "basic_auth = u:p\n"
                                   "basic_auth = v:q   # a second one\n"
                                   "[db]\n"
                                   "proto = tcp\n"
                                   "addr = 127.0.0.1:5432\n"
                                   "remote_port = 15432\n"
                                   "allow_cidr = 10.0.0.0/8\n";

static void
test_load_example(void **state)
{
    struct cli_options o;
    struct ngr_err err;

    (void)state;
    assert_int_equal(test_load(&o, test_example, &err), 0);
    assert_string_equal(o.server.host, "gw.example.com");
    assert_int_equal(o.server.port, 4443);
    assert_string_equal(o.token, "s3cr#t");
    assert_int_equal(o.tls, 1);
    assert_int_equal(o.heartbeat_ms, 5000);
    assert_int_equal(o.dead_after_ms, 20000);
    assert_int_equal(o.ntunnels, 2);
    assert_string_equal(o.tunnels[0].name, "web");
    assert_int_equal(o.tunnels[0].proto, FRAME_PROTO_HTTP);
    assert_int_equal(o.tunnels[0].local.port, 3000);
    assert_string_equal(o.tunnels[0].local.host, "localhost");
    assert_string_equal(o.tunnels[0].subdomain, "myapp");
    assert_int_equal(o.tunnels[0].host_rewrite, 1);
    assert_int_equal(o.tunnels[0].nprotect, 2);
    assert_string_equal(o.tunnels[0].protect[1].key, "basic_auth");
    assert_string_equal(o.tunnels[0].protect[1].value, "v:q");
    assert_string_equal(o.tunnels[1].name, "db");
    assert_int_equal(o.tunnels[1].proto, FRAME_PROTO_TCP);
    assert_int_equal(o.tunnels[1].remote_port, 15432);
    assert_string_equal(o.tunnels[1].protect[0].key, "allow_cidr");
    cli_options_free(&o);
}

struct test_bad {
    const char *text;
    const char *want; /* in the reason */
};

static void
test_load_mistakes(void **state)
{
    static const struct test_bad bad[] = {
        {"addr = 3000\n", "line 1: addr is a tunnel's setting"},
        {"[web]\naddr = 3000\nserver = a:1\n", "line 3: server is a setting of the connection"},
        {"[web]\naddr = 3000\ntoken = x\n", "line 3: token is a setting of the connection"},
        {"[web]\naddr = 3000\n[db]\naddr = 1\n[web]\naddr = 2\n", "line 6: [web] appears twice"},
        {"[web]\nsubdomain = x\n", "[web]: no local service: add addr"},
        {"[web]\naddr = 3000\ncolour = red\n", "line 3: unknown setting \"colour\""},
        {"nosuch = 1\n", "line 1: unknown setting \"nosuch\""},
        {"[web]\naddr = 3000\nproto = ftp\n", "line 3: proto \"ftp\": expected http or tcp"},
        {"[web]\naddr = 99999\n", "line 2: addr"},
        {"[web]\naddr = 1\nbasic_auth = nocolon\n", "line 3: basic_auth: expected USER:PASSWORD"},
        {"[db]\nproto = tcp\naddr = 1\nbasic_auth = a:b\n", "basic_auth is for HTTP tunnels"},
        {"[web]\naddr = 1\npool = yes\n", "pool needs subdomain NAME"},
        {"[web]\naddr = 1\nremote_port = 80\n", "remote_port is for TCP tunnels"},
        {"[web]\naddr = 1\nsubdomain = Bad\n", "invalid subdomain"},
        {"[we b]\naddr = 1\n", "a tunnel's name is"},
        {"tls = maybe\n", "line 1: tls: \"maybe\" is not yes or no"},
        {"heartbeat = soon\n", "line 1: heartbeat"},
        {"[web\naddr = 1\n", "line 1:"},
    };
    struct cli_options o;
    struct ngr_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = test_load(&o, bad[i].text, &err);

        cli_options_free(&o);
        if (rc == 0)
            fail_msg("\"%s\" was taken", bad[i].text);
        if (strstr(err.msg, bad[i].want) == NULL)
            fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", bad[i].text, err.msg, bad[i].want);
        if (strncmp(err.msg, test_path, strlen(test_path)) != 0)
            fail_msg("\"%s\": reason \"%s\" does not name the file", bad[i].text, err.msg);
    }
    /* A missing file: nothing for http and tcp, an error when it was asked for. */
    memset(&o, 0, sizeof(o));
    assert_int_equal(client_config_load(&o, "/nonexistent/x.conf", 0, &err), 0);
    assert_int_not_equal(client_config_load(&o, "/nonexistent/x.conf", 1, &err), 0);
    assert_non_null(strstr(err.msg, "no such file"));
}

/* The file, then the environment, then the options; `http` replaces the file's tunnels. */
static void
test_precedence(void **state)
{
    struct cli_options o;
    struct ngr_err err;
    char file[200];

    (void)state;
    test_write("server = file.example:1\ntoken = from-file\n[web]\naddr = 3000\n", 0600);
    snprintf(file, sizeof(file), "--config=%s", test_path);
    assert_int_equal(test_parse(&o, &err, "http", file, "4000"), CLI_RUN);
    assert_string_equal(o.server.host, "file.example");
    assert_string_equal(o.token, "from-file");
    assert_int_equal(o.ntunnels, 1);
    assert_string_equal(o.tunnels[0].name, "");
    assert_int_equal(o.tunnels[0].local.port, 4000);
    cli_options_free(&o);

    assert_int_equal(setenv("NGRNOTOK_TOKEN", "from-env", 1), 0);
    assert_int_equal(setenv("NGRNOTOK_SERVER", "env.example:2", 1), 0);
    assert_int_equal(test_parse(&o, &err, "http", file, "4000"), CLI_RUN);
    assert_string_equal(o.token, "from-env");
    assert_string_equal(o.server.host, "env.example");
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "http", file, "--token", "opt", "-s", "o.example:3",
                                "4000"),
                     CLI_RUN);
    assert_string_equal(o.token, "opt");
    assert_string_equal(o.server.host, "o.example");
    cli_options_free(&o);
    unsetenv("NGRNOTOK_TOKEN");
    unsetenv("NGRNOTOK_SERVER");

    /* The default file ($XDG_CONFIG_HOME/ngrnotok/ngrnotok.conf) is read without --config. */
    assert_int_equal(test_parse(&o, &err, "config", "set-token", "dflt"), CLI_RUN);
    assert_int_equal(client_config_command(&o), 0);
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "http", "3000"), CLI_RUN);
    assert_string_equal(o.token, "dflt");
    cli_options_free(&o);
}

static void
test_start(void **state)
{
    struct cli_options o;
    struct ngr_err err;
    char file[200];

    (void)state;
    test_write("[web]\naddr = 3000\n[api]\naddr = 4000\n[db]\nproto = tcp\naddr = 5432\n", 0600);
    snprintf(file, sizeof(file), "--config=%s", test_path);
    assert_int_equal(test_parse(&o, &err, "start", file, "--all"), CLI_RUN);
    assert_int_equal(o.ntunnels, 3);
    assert_string_equal(o.tunnels[2].name, "db");
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "start", file, "db", "web", "db"), CLI_RUN);
    assert_int_equal(o.ntunnels, 2);
    assert_string_equal(o.tunnels[0].name, "db");
    assert_string_equal(o.tunnels[1].name, "web");
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "start", file, "nope"), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "no tunnel \"nope\""));
    assert_non_null(strstr(err.msg, "web, api, db"));
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "start", file), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "or --all"));
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "start", file, "--subdomain", "x", "web"), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "tunnel's setting"));
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "http", "--all", "3000"), NGR_EINVAL);
    cli_options_free(&o);
    /* start needs a file. */
    assert_int_equal(test_parse(&o, &err, "start", "--config=/nonexistent/a.conf", "--all"),
                     NGR_EINVAL);
    assert_non_null(strstr(err.msg, "no such file"));
    cli_options_free(&o);
}

static void
test_set(void **state)
{
    struct cli_options o;
    struct ngr_err err;
    struct stat st;
    char file[200], *text;

    (void)state;
    snprintf(file, sizeof(file), "--config=%s", test_path);
    /* A new file: created, mode 0600. */
    assert_int_equal(test_parse(&o, &err, "config", file, "set-token", "t1"), CLI_RUN);
    assert_int_equal(client_config_command(&o), 0);
    cli_options_free(&o);
    assert_int_equal(stat(test_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    text = test_read();
    assert_string_equal(text, "token = t1\n");
    free(text);

    /* An existing file: the line is replaced, comments and sections kept, mode made 0600. */
    test_write("# mine\ntoken = old\n# after\n[web]\naddr = 3000\ntoken_like = x\n", 0644);
    assert_int_equal(test_parse(&o, &err, "config", file, "set-token", "new#1"), CLI_RUN);
    assert_int_equal(client_config_command(&o), 0);
    cli_options_free(&o);
    text = test_read();
    assert_string_equal(text,
                        "# mine\ntoken = \"new#1\"\n# after\n[web]\naddr = 3000\ntoken_like = x\n");
    free(text);
    assert_int_equal(stat(test_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* A key not there yet goes before the first section; the file still loads. */
    assert_int_equal(test_parse(&o, &err, "config", file, "set-server", "gw.example:443"),
                     CLI_RUN);
    assert_int_equal(client_config_command(&o), 0);
    cli_options_free(&o);
    text = test_read();
    assert_non_null(strstr(text, "server = gw.example:443\n\n[web]"));
    free(text);
    /* The edited file loads. */
    test_write("server = gw.example:443\n[web]\naddr = 3000\n", 0600);
    assert_int_equal(test_parse(&o, &err, "start", file, "--all"), CLI_RUN);
    assert_string_equal(o.server.host, "gw.example");
    cli_options_free(&o);

    /* Values that cannot be written, or are not addresses. */
    assert_int_equal(test_parse(&o, &err, "config", file, "set-server", "nohostport"), CLI_RUN);
    assert_int_equal(client_config_command(&o), 2);
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "config", file, "set-token", "a\"b"), CLI_RUN);
    assert_int_not_equal(client_config_command(&o), 0);
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "config", file, "set-token"), NGR_EINVAL);
    cli_options_free(&o);
    assert_int_equal(test_parse(&o, &err, "config", file, "frobnicate"), NGR_EINVAL);
    cli_options_free(&o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_example, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_load_mistakes, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_precedence, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_start, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_set, test_setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
