/* test_capture.c: unit tests of what the inspector keeps of a request (src/client/capture.h):
 * the request head from an OPEN (fields in order, framing), bodies kept up to the cap and the
 * rest counted, the final response head replacing a 1xx, and shrinking before it is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "capture.h"

#define S(x) ((struct frame_str){x, sizeof(x) - 1})

static void
test_capture_request(void **state)
{
    struct frame_field f[2] = {{S("Host"), S("a.localhost")}, {S("X-Two"), S("")}};
    struct frame_head h;
    struct capture *c = capture_new(8);
    static const char want[] = "POST /p?q=1 HTTP/1.1\r\nHost: a.localhost\r\nX-Two: \r\n"
                               "Content-Length: 12\r\n\r\n";

    (void)state;
    memset(&h, 0, sizeof(h));
    h.method = S("POST");
    h.target = S("/p?q=1");
    h.fields = f;
    h.nfields = 2;
    h.body = FRAME_BODY_LENGTH;
    h.length = 12;
    assert_non_null(c);
    assert_true(c->start_us > 0);
    capture_request_head(c, &h);
    assert_int_equal(c->req_head, sizeof(want) - 1);
    assert_memory_equal(buf_head(&c->req), want, sizeof(want) - 1);
    capture_request_body(c, "hello ", 6);
    assert_false(c->req_cut);
    capture_request_body(c, "world!", 6); /* 12 bytes: 8 kept */
    assert_true(c->req_cut);
    assert_int_equal(c->req_body, 12);
    assert_int_equal(c->req.len - c->req_head, 8);
    assert_memory_equal(buf_head(&c->req) + c->req_head, "hello wo", 8);
    capture_free(c);
    capture_free(NULL);
}

static void
test_capture_response(void **state)
{
    struct capture *c = capture_new(64);
    static const char want[] = "HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody";

    (void)state;
    capture_response_status(c, "HTTP/1.1 100 Continue\r\n", 23);
    capture_response_status(c, "HTTP/1.1 200 OK\r\n", 17); /* the final head replaces it */
    capture_response_fields(c, "A: 1\r\n", 6);
    capture_response_head_end(c);
    capture_response_body(c, "body", 4);
    assert_int_equal(c->resp_head, 25);
    assert_int_equal(c->resp.len, sizeof(want) - 1);
    assert_memory_equal(buf_head(&c->resp), want, sizeof(want) - 1);
    assert_false(c->resp_cut);
    assert_true(capture_cost(c) >= sizeof(*c) + c->resp.len);
    capture_shrink(c); /* within the slack: kept as it is */
    assert_true(c->resp.cap - c->resp.len <= NGR_INSPECT_SLACK);
    assert_int_equal(capture_cost(c), sizeof(*c) + c->resp.cap);
    capture_free(c);
    /* Past the slack: given back. */
    c = capture_new(8192);
    capture_response_status(c, "HTTP/1.1 200 OK\r\n", 17);
    capture_response_head_end(c);
    {
        static char body[5000];

        capture_response_body(c, body, sizeof(body));
    }
    assert_true(c->resp.cap > c->resp.len + NGR_INSPECT_SLACK);
    capture_shrink(c);
    assert_int_equal(c->resp.cap, c->resp.len);
    capture_free(c);
}

static void
test_capture_head_too_large(void **state)
{
    static char big[NGR_INSPECT_HEAD_MAX];
    struct frame_field f = {S("X-Big"), {big, sizeof(big)}};
    struct frame_head h;
    struct capture *c = capture_new(64);

    (void)state;
    memset(big, 'x', sizeof(big));
    memset(&h, 0, sizeof(h));
    h.method = S("GET");
    h.target = S("/");
    h.fields = &f;
    h.nfields = 1;
    capture_request_head(c, &h);
    /* No half head: nothing kept, the request marked cut (it cannot be replayed). */
    assert_int_equal(c->req_head, 0);
    assert_int_equal(c->req.len, 0);
    assert_true(c->req_cut);
    capture_request_body(c, "x", 1);
    assert_int_equal(c->req.len, 0);
    capture_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_request),
        cmocka_unit_test(test_capture_response),
        cmocka_unit_test(test_capture_head_too_large),
    };

    return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}
