/* test_config.c: unit tests of the gateway's settings (src/server/config.h): defaults, the
 * "key = value" file syntax, each key's range, and errors that name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_diff.h"
#include "name_policy.h"
#include "err.h"
#include "guard.h"

/* Parses text placed against the guard page, without a terminating NUL. */
static int
test_config_parse(struct server_config *c, const char *text, struct ngr_err *err)
{
    size_t len = strlen(text);

    config_defaults(c);
    memset(err, 0, sizeof(*err));
    return config_parse(c, (const char *)guard_place(text, len), len, err);
}

static void
test_config_defaults(void **state)
{
    struct server_config c;

    (void)state;
    memset(&c, 0x5a, sizeof(c));
    config_defaults(&c);
    assert_string_equal(c.domain, "localhost");
    assert_string_equal(c.control_addr.host, "127.0.0.1");
    assert_int_equal(c.control_addr.port, 8080);
    assert_int_equal(c.http_addr.port, 8081);
    assert_int_equal(c.admin_addr.port, 8082);
    assert_int_equal(c.public_port, 0);
    assert_int_equal(c.response_timeout_ms, NGR_RESPONSE_TIMEOUT_MS);
    assert_string_equal(c.token, "");
    assert_string_equal(c.ports_file, "");
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
}

static void
test_config_parse_file(void **state)
{
    static const char text[] = "# ngrnotokd test config\n"
                               "\n"
                               "   \t\n"
                               "domain = Tunnel.Example.COM.\n"
                               "control_addr=0.0.0.0:0\r\n"
                               "http-addr = [::1]:8443   # a comment after the value\n"
                               "ADMIN_ADDR\t=\t127.0.0.1:9000\n"
                               "public_port = 443\n"
                               "response_timeout = 2.5\n"
                               "token = \"s3cret # not a comment\"  # but this is\n"
                               "ports_file = /run/ngrnotokd/ports\n"
                               "log_level = DEBUG\n"
                               "  # indented comment\n"
                               "log_level = warn"; /* last line without newline; last wins */
    struct server_config c;
    struct ngr_err err;

    (void)state;
    if (test_config_parse(&c, text, &err) != 0)
        fail_msg("refused: %s", err.msg);
    assert_string_equal(c.domain, "tunnel.example.com");
    assert_string_equal(c.control_addr.host, "0.0.0.0");
    assert_int_equal(c.control_addr.port, 0);
    assert_string_equal(c.http_addr.host, "::1");
    assert_int_equal(c.http_addr.port, 8443);
    assert_string_equal(c.admin_addr.host, "127.0.0.1");
    assert_int_equal(c.admin_addr.port, 9000);
    assert_int_equal(c.public_port, 443);
    assert_int_equal(c.response_timeout_ms, 2500);
    assert_string_equal(c.token, "s3cret # not a comment");
    assert_string_equal(c.ports_file, "/run/ngrnotokd/ports");
    assert_int_equal(c.log_level, LOG_LEVEL_WARN);

    /* Empty input, only comments: the defaults stand. */
    assert_int_equal(test_config_parse(&c, "", &err), 0);
    assert_int_equal(test_config_parse(&c, "#\n\n# x = y\n", &err), 0);
    assert_string_equal(c.domain, "localhost");
    /* Resilience: heartbeats, the grace (0: none), holding, the drain, the state directory. */
    assert_int_equal(c.heartbeat_ms, NGR_HEARTBEAT_MS);
    assert_int_equal(c.reconnect_grace_ms, NGR_RECONNECT_GRACE_MS);
    assert_int_equal(c.hold_requests_ms, NGR_HOLD_REQUESTS_MS);
    assert_int_equal(c.drain_timeout_ms, NGR_DRAIN_TIMEOUT_MS);
    assert_int_equal(test_config_parse(&c,
                                       "heartbeat = 0.5\ndead_after = 3\nreconnect_grace = 0\n"
                                       "hold_requests = 2.5\ndrain_timeout = 0\n"
                                       "state_dir = /var/lib/ngrnotok\n",
                                       &err),
                     0);
    assert_int_equal(c.heartbeat_ms, 500);
    assert_int_equal(c.dead_after_ms, 3000);
    assert_int_equal(c.reconnect_grace_ms, 0);
    assert_int_equal(c.hold_requests_ms, 2500);
    assert_int_equal(c.drain_timeout_ms, 0);
    assert_string_equal(c.state_dir, "/var/lib/ngrnotok");
    assert_int_not_equal(test_config_parse(&c, "reconnect_grace = -1\n", &err), 0);
    assert_int_not_equal(test_config_parse(&c, "state_dir = \"\"\n", &err), 0);
    /* An empty quoted value is a value. */
    assert_int_equal(test_config_parse(&c, "token = \"\"\n", &err), 0);
    assert_string_equal(c.token, "");
}

struct test_config_bad {
    const char *text;
    const char *line; /* the line the reason must name */
};

static void
test_config_parse_errors(void **state)
{
    static const struct test_config_bad bad[] = {
        {"domain\n", "line 1"},
        {"= value\n", "line 1"},
        {"domain example.com\n", "line 1"},
        {"# ok\n[web]\ndomain = example.com\n", "line 3"},
        {"token = a\n\n[x\n", "line 3"},
        {"\n\nnosuchkey = 1\n", "line 3"},
        {"token = \"unterminated\n", "line 1"},
        {"token = \"a\" b\n", "line 1"},
        {"domain = -bad.example\n", "line 1"},
        {"domain = bad-.example\n", "line 1"},
        {"domain = a..b\n", "line 1"},
        {"domain = .\n", "line 1"},
        {"domain = a_b.example\n", "line 1"},
        {"domain = \"\"\n", "line 1"},
        {"domain = caf\xc3\xa9.example\n", "line 1"},
        {"control_addr = 127.0.0.1\n", "line 1"},
        {"http_addr = ::1:80\n", "line 1"},
        {"admin_addr = localhost:65536\n", "line 1"},
        {"public_port = 65536\n", "line 1"},
        {"public_port = -1\n", "line 1"},
        {"public_port = 80x\n", "line 1"},
        {"public_port =\n", "line 1"},
        {"response_timeout = 0.01\n", "line 1"},
        {"response_timeout = 86401\n", "line 1"},
        {"response_timeout = abc\n", "line 1"},
        {"response_timeout = nan\n", "line 1"},
        {"response_timeout = inf\n", "line 1"},
        {"response_timeout = 1e999\n", "line 1"},
        {"log_level = verbose\n", "line 1"},
        {"domain = ok.example\nlog_level = loud\n", "line 2"},
    };
    struct server_config c;
    struct ngr_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = test_config_parse(&c, bad[i].text, &err);

        if (rc != NGR_EINVAL)
            fail_msg("\"%s\" gave %d", bad[i].text, rc);
        if (strncmp(err.msg, bad[i].line, strlen(bad[i].line)) != 0 ||
            (err.msg[strlen(bad[i].line)] != ':'))
            fail_msg("\"%s\": reason \"%s\" does not start with \"%s:\"", bad[i].text, err.msg,
                     bad[i].line);
    }
    /* libinih's syntax besides ours: "key: value", ';' comments, a BOM, CRLF, an indented
     * line is a line of its own (not a continuation); '#' after a value, unless quoted. */
    assert_int_equal(test_config_parse(&c, "\xef\xbb\xbf; a comment\r\ndomain: a.example\r\n"
                                           "  token = t1 # a comment\n",
                                       &err),
                     0);
    assert_string_equal(c.domain, "a.example");
    assert_string_equal(c.token, "t1");
    assert_int_equal(test_config_parse(&c, "token = \"t#2;x\"  # the token\n", &err), 0);
    assert_string_equal(c.token, "t#2;x");
    {
        char longline[NGR_CONFIG_LINE_LEN + 32];

        memset(longline, 'x', sizeof(longline));
        memcpy(longline, "domain = a.example\ntoken = ", 27);
        longline[sizeof(longline) - 2] = '\n';
        longline[sizeof(longline) - 1] = '\0';
        assert_int_equal(test_config_parse(&c, longline, &err), NGR_EINVAL);
        assert_non_null(strstr(err.msg, "line 2: longer than"));
    }
    /* The reason names the key and the value. */
    assert_int_equal(test_config_parse(&c, "public_port = 99999\n", &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "public_port"));
    assert_non_null(strstr(err.msg, "99999"));
}

static void
test_config_parse_limits(void **state)
{
    char text[2048];
    char token[CONFIG_TOKEN_LEN + 1];
    char label[NGR_MAX_SUBDOMAIN + 2];
    struct server_config c;
    struct ngr_err err;
    size_t n;

    (void)state;
    /* A token of CONFIG_TOKEN_LEN - 1 fits with its NUL; one more does not. */
    memset(token, 't', sizeof(token));
    token[CONFIG_TOKEN_LEN - 1] = '\0';
    snprintf(text, sizeof(text), "token = %s\n", token);
    assert_int_equal(test_config_parse(&c, text, &err), 0);
    assert_string_equal(c.token, token);
    token[CONFIG_TOKEN_LEN - 1] = 't';
    token[CONFIG_TOKEN_LEN] = '\0';
    snprintf(text, sizeof(text), "token = %s\n", token);
    assert_int_equal(test_config_parse(&c, text, &err), NGR_EINVAL);

    /* A label of 63 is a label; 64 is not. */
    memset(label, 'a', sizeof(label));
    label[NGR_MAX_SUBDOMAIN] = '\0';
    snprintf(text, sizeof(text), "domain = %s.example\n", label);
    assert_int_equal(test_config_parse(&c, text, &err), 0);
    label[NGR_MAX_SUBDOMAIN] = 'a';
    label[NGR_MAX_SUBDOMAIN + 1] = '\0';
    snprintf(text, sizeof(text), "domain = %s.example\n", label);
    assert_int_equal(test_config_parse(&c, text, &err), NGR_EINVAL);

    /* A line of 1023 bytes is read; 1024 is refused with its number. */
    n = (size_t)snprintf(text, sizeof(text), "# ");
    memset(text + n, 'c', 1023 - n);
    text[1023] = '\0';
    assert_int_equal(test_config_parse(&c, text, &err), 0);
    text[1023] = 'c';
    text[1024] = '\n';
    text[1025] = '\0';
    assert_int_equal(test_config_parse(&c, text, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "line 1"));

    /* A NUL byte inside a line. */
    config_defaults(&c);
    assert_int_equal(config_parse(&c, "token = a\0b\n", 12, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "NUL"));
    /* Only len bytes are read: the rest of the string is not the file. */
    config_defaults(&c);
    assert_int_equal(config_parse(&c, "log_level = error\nbogus", 18, &err), 0);
    assert_int_equal(c.log_level, LOG_LEVEL_ERROR);
}

static void
test_config_set_keys(void **state)
{
    struct server_config c;
    struct ngr_err err;

    (void)state;
    config_defaults(&c);
    /* '-' and '_' are the same; case does not matter. */
    assert_int_equal(config_set(&c, "response-timeout", "0.05", &err), 0);
    assert_int_equal(c.response_timeout_ms, 50);
    assert_int_equal(config_set(&c, "Response_Timeout", "86400", &err), 0);
    assert_int_equal(c.response_timeout_ms, 86400000);
    assert_int_equal(config_set(&c, "public_port", "0", &err), 0);
    assert_int_equal(config_set(&c, "public_port", "65535", &err), 0);
    assert_int_equal(c.public_port, 65535);
    assert_int_equal(config_set(&c, "domain", "x", &err), 0);
    assert_string_equal(c.domain, "x");
    assert_int_equal(config_set(&c, "domainx", "x", &err), NGR_EINVAL);
    assert_int_equal(config_set(&c, "domai", "x", &err), NGR_EINVAL);
    assert_int_equal(config_set(&c, "", "x", &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "unknown"));
    /* A refused value leaves the setting as it was. */
    assert_int_equal(config_set(&c, "domain", "not valid", &err), NGR_EINVAL);
    assert_string_equal(c.domain, "x");
    assert_int_equal(config_set(&c, "public_port", "70000", &err), NGR_EINVAL);
    assert_int_equal(c.public_port, 65535);
    /* The control port's certificate and key: paths, kept as given. */
    assert_string_equal(c.tls_cert, "");
    assert_int_equal(config_set(&c, "tls-cert", "/etc/ngrnotok/fullchain.pem", &err), 0);
    assert_int_equal(config_set(&c, "TLS_KEY", "/etc/ngrnotok/privkey.pem", &err), 0);
    assert_string_equal(c.tls_cert, "/etc/ngrnotok/fullchain.pem");
    assert_string_equal(c.tls_key, "/etc/ngrnotok/privkey.pem");
    assert_string_equal(c.https_cert, "");
}

static void
test_name_valid_label(void **state)
{
    static const char *const good[] = {"a", "z9", "my-app", "0", "a-b-c", "xn--bcher-kva"};
    static const char *const bad[] = {"", "-a", "a-", "-", "A", "a_b", "a.b", "a b", "caf\xc3\xa9"};
    char label[NGR_MAX_SUBDOMAIN + 1];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!name_valid_label(good[i], strlen(good[i])))
            fail_msg("\"%s\" refused", good[i]);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (name_valid_label(bad[i], strlen(bad[i])))
            fail_msg("\"%s\" accepted", bad[i]);
    memset(label, 'a', sizeof(label));
    assert_true(name_valid_label(label, NGR_MAX_SUBDOMAIN));
    assert_false(name_valid_label(label, NGR_MAX_SUBDOMAIN + 1));
    /* Only len bytes count. */
    assert_true(name_valid_label("ab-", 2));
    assert_true(name_valid_label((const char *)guard_place("abc", 3), 3));
}

static void
test_config_load(void **state)
{
    char path[] = "/tmp/ngrnotok-test-config-XXXXXX";
    struct server_config c;
    struct ngr_err err;
    char *big;
    FILE *f;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("domain = loaded.example\nlog_level = error\n", f);
    assert_int_equal(fclose(f), 0);
    config_defaults(&c);
    if (config_load(&c, path, &err) != 0)
        fail_msg("config_load %s: %s", path, err.msg);
    assert_string_equal(c.domain, "loaded.example");
    assert_int_equal(c.log_level, LOG_LEVEL_ERROR);

    /* A bad line names the file and the line. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("domain = ok.example\nport = 1\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(config_load(&c, path, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "line 2"));

    /* Larger than CONFIG_MAX_FILE: refused whole. */
    big = malloc(CONFIG_MAX_FILE + 1);
    assert_non_null(big);
    memset(big, '#', CONFIG_MAX_FILE + 1);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(big, 1, CONFIG_MAX_FILE + 1, f), CONFIG_MAX_FILE + 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(config_load(&c, path, &err), NGR_ELIMIT);
    free(big);
    unlink(path);

    /* Missing: a system error naming the path. */
    assert_int_equal(config_load(&c, path, &err), NGR_ESYS);
    assert_non_null(strstr(err.msg, path));
}

static const struct config_change *
test_config_change(const struct config_change *ch, size_t n, const char *key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(ch[i].key, key) == 0)
            return &ch[i];
    return NULL;
}

/* config_diff: only the keys that differ, each shown before and after, live or not; secrets
 * never shown; config_apply_live takes the live ones and leaves the rest. */
static void
test_config_diff(void **state)
{
    static struct server_config a, b;
    struct config_change ch[CONFIG_DIFF_MAX];
    const struct config_change *c;
    struct ngr_err err;
    size_t n;

    (void)state;
    config_defaults(&a);
    config_defaults(&b);
    assert_int_equal(config_diff(&a, &b, ch, CONFIG_DIFF_MAX), 0);
    assert_int_equal(config_set(&a, "auth_tokens", "/etc/t1", &err), 0);
    assert_int_equal(config_set(&b, "auth_tokens", "/etc/t2", &err), 0);
    assert_int_equal(config_set(&b, "max_rate", "50", &err), 0);
    assert_int_equal(config_set(&b, "hold_requests", "2.5", &err), 0);
    assert_int_equal(config_set(&b, "domain", "tunnel.example.com", &err), 0);
    assert_int_equal(config_set(&b, "http_addr", "127.0.0.1:9999", &err), 0);
    assert_int_equal(config_set(&b, "token", "s3cret-value", &err), 0);
    assert_int_equal(config_set(&b, "deny_cidr", "10.0.0.0/8,192.0.2.1", &err), 0);
    assert_int_equal(config_set(&b, "tls_cert", "/etc/c.pem", &err), 0);
    n = config_diff(&a, &b, ch, CONFIG_DIFF_MAX);
    assert_int_equal(n, 8);
    c = test_config_change(ch, n, "max_rate");
    assert_non_null(c);
    assert_true(c->live);
    assert_string_equal(c->before, "0");
    assert_string_equal(c->after, "50");
    c = test_config_change(ch, n, "hold_requests");
    assert_true(c->live);
    assert_string_equal(c->before, "10 s");
    assert_string_equal(c->after, "2.5 s");
    c = test_config_change(ch, n, "domain");
    assert_false(c->live);
    assert_string_equal(c->after, "\"tunnel.example.com\"");
    c = test_config_change(ch, n, "http_addr");
    assert_false(c->live);
    assert_string_equal(c->before, "127.0.0.1:8081");
    assert_string_equal(c->after, "127.0.0.1:9999");
    c = test_config_change(ch, n, "token");
    assert_false(c->live);
    assert_string_equal(c->before, "(none)");
    assert_string_equal(c->after, "(set)");
    c = test_config_change(ch, n, "deny_cidr");
    assert_true(c->live);
    assert_string_equal(c->after, "2 ranges");
    /* Another tokens file is read; a certificate where there was none needs a restart. */
    assert_true(test_config_change(ch, n, "auth_tokens")->live);
    assert_false(test_config_change(ch, n, "tls_cert")->live);
    assert_int_equal(config_diff(&a, &b, ch, 2), 2);

    config_apply_live(&a, &b);
    assert_int_equal(a.max_rate, 50);
    assert_int_equal(a.hold_requests_ms, 2500);
    assert_int_equal(a.deny_cidr.n, 2);
    assert_string_equal(a.auth_tokens, "/etc/t2");
    assert_string_equal(a.domain, "localhost");
    assert_int_equal(a.http_addr.port, 8081);
    assert_string_equal(a.token, "");
    assert_string_equal(a.tls_cert, "");
    n = config_diff(&a, &b, ch, CONFIG_DIFF_MAX);
    assert_int_equal(n, 4); /* domain, http_addr, tls_cert, token */
    for (size_t i = 0; i < n; i++)
        assert_false(ch[i].live);
}

/* trusted_proxy adds like deny_cidr (the flag repeats, the file lists), and is live on SIGHUP;
 * public_url needs a restart, as the URLs handed out already do not change. */
static void
test_config_proxy_keys(void **state)
{
    static struct server_config a, b;
    struct config_change ch[CONFIG_DIFF_MAX];
    struct ngr_err err;
    size_t n;

    (void)state;
    config_defaults(&a);
    config_defaults(&b);
    assert_int_equal(a.trusted_proxy.n, 0);
    assert_int_equal(config_set(&b, "trusted-proxy", "127.0.0.1/32", &err), 0);
    assert_int_equal(config_set(&b, "trusted_proxy", " 10.0.0.0/8 , ::1", &err), 0);
    assert_int_equal(b.trusted_proxy.n, 3);
    assert_true(cidr_list_match(&b.trusted_proxy, "10.1.2.3"));
    assert_true(cidr_list_match(&b.trusted_proxy, "::1"));
    assert_false(cidr_list_match(&b.trusted_proxy, "127.0.0.2"));
    assert_int_equal(config_set(&b, "trusted_proxy", "10.0.0.0/33", &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, "trusted_proxy"));
    assert_int_equal(config_set(&b, "public_url", "https://{name}.localhost", &err), 0);
    n = config_diff(&a, &b, ch, CONFIG_DIFF_MAX);
    assert_int_equal(n, 2);
    assert_true(test_config_change(ch, n, "trusted_proxy")->live);
    assert_string_equal(test_config_change(ch, n, "trusted_proxy")->after, "3 ranges");
    assert_false(test_config_change(ch, n, "public_url")->live);
    config_apply_live(&a, &b);
    assert_int_equal(a.trusted_proxy.n, 3);
    assert_string_equal(a.public_url, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),     cmocka_unit_test(test_config_parse_file),
        cmocka_unit_test(test_config_parse_errors), cmocka_unit_test(test_config_parse_limits),
        cmocka_unit_test(test_config_set_keys),     cmocka_unit_test(test_name_valid_label),
        cmocka_unit_test(test_config_load),         cmocka_unit_test(test_config_diff),
        cmocka_unit_test(test_config_proxy_keys),
    };

    return cmocka_run_group_tests_name("config", tests, guard_setup, guard_teardown);
}
