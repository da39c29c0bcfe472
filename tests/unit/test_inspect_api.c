/* test_inspect_api.c: unit tests of the API's JSON for a kept exchange
 * (src/client/inspect_api.h): ngrok's request object (id, tunnel_name, start, duration,
 * request and response with headers and raw base64), ids both ways, bytes that are not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "inspect_api.h"

static void
test_inspect_api_ids(void **state)
{
    char id[NGR_INSPECT_ID_LEN];

    (void)state;
    inspect_api_format_id(42, id);
    assert_string_equal(id, "000000000000002a");
    assert_int_equal(inspect_api_parse_id(id), 42);
    assert_int_equal(inspect_api_parse_id("000000000000002A"), 42);
    assert_int_equal(inspect_api_parse_id("2a"), 0);
    assert_int_equal(inspect_api_parse_id("000000000000002g"), 0);
    assert_int_equal(inspect_api_parse_id(NULL), 0);
}

static void
test_inspect_api_entry(void **state)
{
    static const char head[] = "GET /x?y=1 HTTP/1.1\r\nHost: a.localhost\r\nX-R: 1\r\nX-R: 2\r\n"
                               "X-Bin: \xff\r\n\r\n";
    struct inspect_ring g;
    struct inspect_record rec;
    struct inspect_entry *e;
    struct capture *c = capture_new(64);
    json_t *o, *req, *resp;
    const char *s;

    (void)state;
    capture_request_raw_head(c, head, sizeof(head) - 1);
    capture_response_status(c, "HTTP/1.1 404 Not Found\r\n", 24);
    capture_response_fields(c, "Content-Type: text/plain\r\n", 26);
    capture_response_head_end(c);
    capture_response_body(c, "nope", 4);
    memset(&rec, 0, sizeof(rec));
    rec.status = 404;
    rec.received_ms = 1000;
    rec.head_ms = 1003;
    rec.done_ms = 1005;
    inspect_ring_init(&g, 10, 1 << 20);
    e = inspect_ring_add(&g, &rec, c);
    o = inspect_api_entry(e, "command_line");
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "0000000000000001");
    assert_string_equal(json_string_value(json_object_get(o, "tunnel_name")), "command_line");
    assert_int_equal(json_integer_value(json_object_get(o, "duration")), 5000000);
    s = json_string_value(json_object_get(o, "start"));
    assert_non_null(s);
    assert_int_equal(strlen(s), 27); /* 2024-01-02T03:04:05.123456Z */
    assert_int_equal(s[strlen(s) - 1], 'Z');
    req = json_object_get(o, "request");
    assert_string_equal(json_string_value(json_object_get(req, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(req, "uri")), "/x?y=1");
    assert_string_equal(json_string_value(json_object_get(req, "proto")), "HTTP/1.1");
    assert_int_equal(json_array_size(json_object_get(json_object_get(req, "headers"), "X-R")), 2);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(req, "headers"), "X-Bin"), 0)),
                        "?");
    assert_non_null(json_string_value(json_object_get(req, "raw")));
    resp = json_object_get(o, "response");
    assert_string_equal(json_string_value(json_object_get(resp, "status")), "404 Not Found");
    assert_int_equal(json_integer_value(json_object_get(resp, "status_code")), 404);
    /* "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope" */
    assert_string_equal(json_string_value(json_object_get(resp, "raw")),
                        "SFRUUC8xLjEgNDA0IE5vdCBGb3VuZA0KQ29udGVudC1UeXBlOiB0ZXh0L3BsYWluDQoNCm5v"
                        "cGU=");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(o, "timings"), "first_byte_ms")), 3);
    json_decref(o);
    inspect_ring_clear(&g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_api_ids),
        cmocka_unit_test(test_inspect_api_entry),
    };

    return cmocka_run_group_tests_name("inspect_api", tests, NULL, NULL);
}
