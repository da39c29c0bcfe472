/* test_access_log.c: unit tests of the access log's lines (src/server/access_log.h): every
 * field in both formats, hostile request data that cannot forge a line or break the JSON, a
 * huge target still giving one whole line, and the file written with one line per record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access_log.h"

static const struct timespec test_now = {1764849600, 123456789}; /* 2025-12-04T12:00:00.123Z */

static struct access_record
test_record(void)
{
    struct access_record r;

    memset(&r, 0, sizeof(r));
    r.tunnel = "demo";
    r.client_ip = "203.0.113.7";
    r.method = "GET";
    r.target = "/api/items?q=1";
    r.host = "demo.example.com";
    r.status = 200;
    r.duration_us = 12345;
    r.service_us = 10001;
    r.bytes_in = 5;
    r.bytes_out = 1234;
    return r;
}

static void
test_access_log_text(void **state)
{
    char line[NGR_ACCESS_LINE_LEN];
    struct access_record r = test_record();
    size_t n;

    (void)state;
    n = access_log_format_line(line, sizeof(line), ACCESS_LOG_TEXT, &r, &test_now);
    assert_int_equal(n, strlen(line));
    assert_string_equal(line, "2025-12-04T12:00:00.123Z tunnel=demo client=203.0.113.7 "
                              "method=GET path=\"/api/items?q=1\" host=\"demo.example.com\" "
                              "scheme=http status=200 duration_ms=12.345 service_ms=10.001 "
                              "bytes_in=5 bytes_out=1234\n");
    r.tunnel = NULL;
    r.status = 404;
    r.service_us = 0;
    r.tls = 1;
    r.error = "Tunnel x not found: no client is connected with the name \"x\".";
    access_log_format_line(line, sizeof(line), ACCESS_LOG_TEXT, &r, &test_now);
    assert_non_null(strstr(line, " tunnel=- "));
    assert_non_null(strstr(line, " scheme=https status=404 "));
    assert_null(strstr(line, "service_ms"));
    assert_non_null(strstr(line, " error=\"Tunnel x not found: no client is connected with the "
                                 "name \\x22x\\x22.\"\n"));
    /* A TCP connection. */
    memset(&r, 0, sizeof(r));
    r.tunnel = "tcp:20001";
    r.client_ip = "127.0.0.1";
    r.duration_us = 1000;
    r.bytes_in = 1;
    r.bytes_out = 2;
    access_log_format_line(line, sizeof(line), ACCESS_LOG_TEXT, &r, &test_now);
    assert_string_equal(line, "2025-12-04T12:00:00.123Z tunnel=tcp:20001 client=127.0.0.1 "
                              "proto=tcp duration_ms=1.000 bytes_in=1 bytes_out=2\n");
}

/* A target with a newline, quotes and a forged second line stays on one line, in quotes. */
static void
test_access_log_hostile(void **state)
{
    char line[NGR_ACCESS_LINE_LEN];
    struct access_record r = test_record();
    json_t *o;
    json_error_t e;

    (void)state;
    r.target = "/x\" status=200 error=\"\n2025-01-01T00:00:00.000Z tunnel=admin \\\xff\x1b[2J";
    r.host = "a\"b\r\nc";
    r.method = "G\nET";
    access_log_format_line(line, sizeof(line), ACCESS_LOG_TEXT, &r, &test_now);
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    assert_null(strchr(line, '\r'));
    assert_null(strchr(line, '\x1b'));
    assert_non_null(strstr(line, "path=\"/x\\x22 status=200 error=\\x22\\x0a2025"));
    assert_non_null(strstr(line, "\\x5c\\xff\\x1b[2J\""));
    assert_non_null(strstr(line, "method=G\\x0aET "));
    access_log_format_line(line, sizeof(line), ACCESS_LOG_JSON, &r, &test_now);
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    o = json_loads(line, 0, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "host")), "a\"b\r\nc");
    assert_string_equal(json_string_value(json_object_get(o, "method")), "G\nET");
    assert_string_equal(json_string_value(json_object_get(o, "path")),
                        "/x\" status=200 error=\"\n2025-01-01T00:00:00.000Z tunnel=admin "
                        "\\\xc3\xbf\x1b[2J"); /* the byte 0xff read as U+00FF */
    json_decref(o);
}

static void
test_access_log_json(void **state)
{
    char line[NGR_ACCESS_LINE_LEN];
    struct access_record r = test_record();
    json_t *o;
    json_error_t e;

    (void)state;
    r.error = "response cut short";
    access_log_format_line(line, sizeof(line), ACCESS_LOG_JSON, &r, &test_now);
    o = json_loads(line, 0, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "time")), "2025-12-04T12:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "tunnel")), "demo");
    assert_string_equal(json_string_value(json_object_get(o, "client")), "203.0.113.7");
    assert_string_equal(json_string_value(json_object_get(o, "path")), "/api/items?q=1");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 200);
    assert_true(json_real_value(json_object_get(o, "duration_ms")) == 12.345);
    assert_true(json_real_value(json_object_get(o, "service_ms")) == 10.001);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_out")), 1234);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "response cut short");
    json_decref(o);
}

/* The longest target, all of it escaped 4 or 6 times over, still makes one whole line. */
static void
test_access_log_huge(void **state)
{
    char line[NGR_ACCESS_LINE_LEN];
    char *target = malloc(100001), *host = malloc(10001);
    struct access_record r = test_record();
    json_t *o;
    json_error_t e;

    (void)state;
    memset(target, '"', 100000);
    target[100000] = '\0';
    memset(host, '\x01', 10000);
    host[10000] = '\0';
    r.target = target;
    r.host = host;
    r.error = target;
    access_log_format_line(line, sizeof(line), ACCESS_LOG_TEXT, &r, &test_now);
    assert_true(strlen(line) < sizeof(line));
    assert_non_null(strstr(line, "...\""));
    assert_non_null(strstr(line, " bytes_out=1234 error=\""));
    assert_int_equal(line[strlen(line) - 1], '\n');
    access_log_format_line(line, sizeof(line), ACCESS_LOG_JSON, &r, &test_now);
    o = json_loads(line, 0, &e);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 200);
    json_decref(o);
    free(target);
    free(host);
}

static void
test_access_log_file(void **state)
{
    char path[] = "/tmp/ngrnotok-test-access-XXXXXX", buf[4096];
    struct access_log a;
    struct access_record r = test_record();
    struct ngr_err err;
    FILE *f;
    size_t n;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    access_log_init(&a);
    access_log_write(&a, &r); /* off: nothing */
    assert_int_equal(access_log_open(&a, path, ACCESS_LOG_TEXT, &err), 0);
    access_log_write(&a, &r);
    assert_int_equal(access_log_reopen(&a, path, ACCESS_LOG_JSON, &err), 0);
    access_log_write(&a, &r);
    assert_int_equal(a.lines, 2);
    assert_int_equal(access_log_open(&a, "/nonexistent-dir/x.log", ACCESS_LOG_TEXT, &err),
                     NGR_ESYS);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.log"));
    access_log_write(&a, &r); /* the file in use is kept */
    assert_int_equal(a.lines, 3);
    assert_int_equal(access_log_open(&a, "off", ACCESS_LOG_TEXT, &err), 0);
    access_log_write(&a, &r);
    access_log_close(&a);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    assert_non_null(strstr(buf, "tunnel=demo"));
    assert_non_null(strstr(buf, "{\"time\""));
    /* Three lines, each whole: before the reopen, after it, after the failed open. */
    assert_non_null(strchr(buf, '\n'));
    assert_non_null(strchr(strchr(buf, '\n') + 1, '\n'));
    assert_ptr_equal(strchr(strchr(strchr(buf, '\n') + 1, '\n') + 1, '\n'), buf + n - 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_log_text),
        cmocka_unit_test(test_access_log_hostile),
        cmocka_unit_test(test_access_log_json),
        cmocka_unit_test(test_access_log_huge),
        cmocka_unit_test(test_access_log_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
