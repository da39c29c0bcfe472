/* test_live_view.c: unit tests of the client's live output (src/client/live_view.h): request
 * lines (units, a failure's reason, control characters escaped), JSON objects (valid, escaped,
 * null error), JSON string escaping cut whole, the header's rows cut to the terminal's width,
 * and the view on a pipe: plain lines without escape codes, and a pipe nobody reads costing
 * request lines (counted and said), never a blocked write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "live_view.h"

static struct exchange
test_live_view_x(void)
{
    struct exchange x;

    memset(&x, 0, sizeof(x));
    x.method = "GET";
    x.path = "/api/users?id=7";
    x.status = 200;
    x.started_ms = 1000;
    x.head_ms = 1004;
    x.done_ms = 1012;
    x.bytes_in = 0;
    x.bytes_out = 1536;
    return x;
}

static void
test_live_view_text(void **state)
{
    struct exchange x = test_live_view_x();
    char out[NGR_LIVE_LINE];
    size_t n;

    (void)state;
    n = live_view_format_text(out, sizeof(out), &x, "14:03:07", "");
    assert_string_equal(out, "14:03:07 GET     /api/users?id=7 200 12 ms 1.5 KiB\n");
    assert_int_equal(n, strlen(out));
    x.bytes_out = 12;
    x.done_ms = 1000 + 12345;
    n = live_view_format_text(out, sizeof(out), &x, "14:03:07", "web");
    assert_string_equal(out, "14:03:07 [web] GET     /api/users?id=7 200 12.3 s 12 B\n");
    x.bytes_out = 5 * 1024 * 1024;
    live_view_format_text(out, sizeof(out), &x, "t", "");
    assert_non_null(strstr(out, " 5.0 MiB\n"));
    /* A failure: the status the visitor got, or --- for none, and the reason, with its control
     * characters escaped. */
    x = test_live_view_x();
    x.status = 502;
    x.bytes_out = 0;
    x.error = "connect\x1b[2J refused";
    live_view_format_text(out, sizeof(out), &x, "t", "");
    assert_string_equal(out, "t GET     /api/users?id=7 502 12 ms 0 B  connect\\x1b[2J refused\n");
    assert_null(strchr(out, '\x1b'));
    x.status = 0;
    live_view_format_text(out, sizeof(out), &x, "t", "");
    assert_non_null(strstr(out, " --- 12 ms"));
    /* Cut to the buffer, still one line. */
    n = live_view_format_text(out, 20, &x, "t", "");
    assert_int_equal(n, 19);
    assert_int_equal(out[18], '\n');
}

static void
test_live_view_json(void **state)
{
    struct exchange x = test_live_view_x();
    char out[NGR_LIVE_LINE];

    (void)state;
    live_view_format_json(out, sizeof(out), &x, "2026-01-02T03:04:05.678Z", "");
    assert_string_equal(out, "{\"type\":\"request\",\"time\":\"2026-01-02T03:04:05.678Z\","
                             "\"tunnel\":\"\",\"method\":\"GET\",\"path\":\"/api/users?id=7\","
                             "\"status\":200,\"duration_ms\":12,\"head_ms\":4,\"bytes_in\":0,"
                             "\"bytes_out\":1536,\"error\":null}\n");
    x.path = "/a\\x22b"; /* what log_escape makes of /a"b */
    x.head_ms = 0;
    x.status = 504;
    x.error = "timed out \"here\"\n\xc3\xa9";
    live_view_format_json(out, sizeof(out), &x, "T", "my\"web");
    assert_non_null(strstr(out, "\"tunnel\":\"my\\\"web\""));
    assert_non_null(strstr(out, "\"path\":\"/a\\\\x22b\""));
    assert_non_null(strstr(out, "\"head_ms\":-1"));
    /* The reason in ASCII: quotes and bytes past 0x7f as \xNN, that backslash escaped. */
    assert_non_null(
        strstr(out, "\"error\":\"timed out \\\\x22here\\\\x22\\\\x0a\\\\xc3\\\\xa9\"}"));
}

static void
test_live_view_json_escape(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(live_view_json_escape(out, sizeof(out), "a\"b\\c"), 7);
    assert_string_equal(out, "a\\\"b\\\\c");
    live_view_json_escape(out, sizeof(out), "\x01\x7f");
    assert_string_equal(out, "\\u0001\\u007f");
    /* Cut before an escape that does not fit whole. */
    assert_int_equal(live_view_json_escape(out, 6, "abcd\"e"), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(live_view_json_escape(out, 1, "abc"), 0);
}

static void
test_live_view_stats_rows(void **state)
{
    struct live_header h;
    char out[2048];

    (void)state;
    memset(&h, 0, sizeof(h));
    h.state = "online";
    live_view_format_stats(out, sizeof(out), &h, 80);
    assert_string_equal(out, "Round Trip        -\033[K\r\n"
                             "Open Streams      0\033[K\r\n"
                             "Requests/s        0.00 (last minute)\033[K\r\n"
                             "Duration p50/p90  - / -\033[K\r\n");
    h.rtt_us = 1250;
    h.streams = 3;
    h.sum.count = 42;
    h.sum.per_s = 0.7;
    h.sum.p50_ms = 12;
    h.sum.p90_ms = 15000;
    live_view_format_stats(out, sizeof(out), &h, 80);
    assert_string_equal(out, "Round Trip        1.2 ms\033[K\r\n"
                             "Open Streams      3\033[K\r\n"
                             "Requests/s        0.70 (last minute)\033[K\r\n"
                             "Duration p50/p90  12 ms / 15.0 s (42 requests)\033[K\r\n");
    /* A narrow terminal: each row cut to its width. */
    live_view_format_stats(out, sizeof(out), &h, 10);
    assert_string_equal(out, "Round Trip\033[K\r\nOpen Strea\033[K\r\nRequests/s\033[K\r\n"
                             "Duration p\033[K\r\n");
}

/* A client with one tunnel and a loop, enough for a view. */
static struct client test_live_view_cl;
static struct cli_tunnel test_live_view_opt;

static void
test_live_view_client(void)
{
    memset(&test_live_view_cl, 0, sizeof(test_live_view_cl));
    memset(&test_live_view_opt, 0, sizeof(test_live_view_opt));
    test_live_view_cl.loop = loop_new();
    assert_non_null(test_live_view_cl.loop);
    test_live_view_cl.ntunnels = 1;
    test_live_view_cl.tunnels[0].opt = &test_live_view_opt;
    snprintf(test_live_view_cl.tunnels[0].public_url, NGR_URL_LEN, "http://a.localhost:8081");
    snprintf(test_live_view_cl.tunnels[0].target_text, NGR_URL_LEN, "http://localhost:3000");
}

static size_t
test_live_view_read(int fd, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t r;

    while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    return n;
}

static void
test_live_view_on_a_pipe(void **state)
{
    struct exchange x = test_live_view_x();
    struct live_view *v;
    static char got[1 << 20];
    int p[2];

    (void)state;
    test_live_view_client();
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    v = live_view_new(&test_live_view_cl, p[1], CLI_OUTPUT_TEXT);
    assert_non_null(v);
    assert_int_equal(live_view_has_header(v), 0); /* not a terminal */
    live_view_forwarding(v, &test_live_view_cl.tunnels[0]);
    exchange_publish(&test_live_view_cl.exchanges, &x);
    loop_run_deferred(test_live_view_cl.loop); /* the end of the turn writes */
    test_live_view_read(p[0], got, sizeof(got));
    assert_non_null(strstr(got, "Forwarding http://a.localhost:8081 -> http://localhost:3000\n"));
    assert_non_null(strstr(got, " GET     /api/users?id=7 200 12 ms 1.5 KiB\n"));
    assert_null(strchr(got, '\033'));
    live_view_free(v);
    loop_free(test_live_view_cl.loop);
    close(p[0]);
    close(p[1]);
}

static void
test_live_view_reader_asleep(void **state)
{
    struct exchange x = test_live_view_x();
    struct live_view *v;
    static char got[4 << 20];
    size_t i, n, lines = 0, round;
    const char *s;
    int p[2];

    (void)state;
    test_live_view_client();
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    v = live_view_new(&test_live_view_cl, p[1], CLI_OUTPUT_TEXT);
    assert_non_null(v);
    /* Far more than the pipe and the view's buffer hold; nobody reads meanwhile. */
    for (i = 0; i < 20000; i++) {
        exchange_publish(&test_live_view_cl.exchanges, &x);
        if (i % 100 == 0)
            loop_run_deferred(test_live_view_cl.loop);
    }
    loop_run_deferred(test_live_view_cl.loop);
    /* The reader is back: once there is room, a line says how many were lost. */
    n = 0;
    for (round = 0; round < 64 && strstr(got, "not shown") == NULL; round++) {
        n += test_live_view_read(p[0], got + n, sizeof(got) - n);
        exchange_publish(&test_live_view_cl.exchanges, &x);
        loop_run_deferred(test_live_view_cl.loop);
    }
    live_view_free(v); /* writes what is left */
    n += test_live_view_read(p[0], got + n, sizeof(got) - n);
    s = strstr(got, " request lines not shown: stdout was full)\n");
    assert_non_null(s);
    for (s = got; (s = strstr(s, " GET ")) != NULL; s++)
        lines++;
    assert_true(lines > 0 && lines < 20000);
    loop_free(test_live_view_cl.loop);
    close(p[0]);
    close(p[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_view_text),
        cmocka_unit_test(test_live_view_json),
        cmocka_unit_test(test_live_view_json_escape),
        cmocka_unit_test(test_live_view_stats_rows),
        cmocka_unit_test(test_live_view_on_a_pipe),
        cmocka_unit_test(test_live_view_reader_asleep),
    };

    return cmocka_run_group_tests_name("live_view", tests, NULL, NULL);
}
