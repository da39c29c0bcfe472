/* test_frame.c: unit tests of the frame codec (frame.h): round trips, every prefix, every split,
 * bad headers and payloads, and every input placed against an inaccessible page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "guard.h"

/* Sample frames: one or more of every type, encoded by the real encoders. */

static const uint8_t test_frame_ping_data[8] = {1, 2, 3, 4, 0xfe, 0xff, 0, 0x80};
static const char test_frame_body[] = "hello, body\r\n\0with a NUL";

static struct frame_field test_frame_open_fields[] = {
    {{"Accept", 6}, {"text/html", 9}},
    {{"Set-Cookie", 10}, {"a=1", 3}},
    {{"set-cookie", 10}, {"b=2", 3}},
    {{"Set-Cookie", 10}, {"", 0}},
    {{"X-Empty", 7}, {"", 0}},
    {{"X-Empty", 7}, {"", 0}},
    {{"X-Forwarded-For", 15}, {"203.0.113.9, 198.51.100.1", 25}},
    {{"User-Agent", 10}, {"curl/8.0", 8}},
    {{"X-Bin", 5}, {"\x00\x01\xff\r\n", 5}},
    {{"x", 1}, {"y", 1}},
};
#define TEST_FRAME_NOPEN (sizeof(test_frame_open_fields) / sizeof(test_frame_open_fields[0]))

static struct frame_field test_frame_reply_fields[] = {
    {{"Content-Type", 12}, {"application/json", 16}},
    {{"Vary", 4}, {"Accept", 6}},
    {{"Vary", 4}, {"Origin", 6}},
    {{"X-Nothing", 9}, {"", 0}},
};
#define TEST_FRAME_NREPLY (sizeof(test_frame_reply_fields) / sizeof(test_frame_reply_fields[0]))

enum test_frame_sample {
    SAMPLE_HELLO,
    SAMPLE_HELLO_EMPTY,
    SAMPLE_WELCOME,
    SAMPLE_BIND,
    SAMPLE_BIND_TCP,
    SAMPLE_BOUND,
    SAMPLE_OPEN,
    SAMPLE_OPEN_BARE,
    SAMPLE_REPLY,
    SAMPLE_REPLY_BARE,
    SAMPLE_WINDOW,
    SAMPLE_WINDOW_MAX,
    SAMPLE_RST,
    SAMPLE_ERROR,
    SAMPLE_GOAWAY,
    SAMPLE_PING,
    SAMPLE_PING_ACK,
    SAMPLE_DATA,
    SAMPLE_DATA_EMPTY,
    SAMPLE_COUNT,
};

static const uint8_t test_frame_sample_type[SAMPLE_COUNT] = {
    FRAME_HELLO,  FRAME_HELLO, FRAME_WELCOME, FRAME_BIND,   FRAME_BIND,   FRAME_BOUND, FRAME_OPEN,
    FRAME_OPEN,   FRAME_REPLY, FRAME_REPLY,   FRAME_WINDOW, FRAME_WINDOW, FRAME_RST,   FRAME_ERROR,
    FRAME_GOAWAY, FRAME_PING,  FRAME_PING,    FRAME_DATA,   FRAME_DATA,
};

static void
test_frame_hello_sample(struct frame_hello *h)
{
    memset(h, 0, sizeof(*h));
    h->version = NGR_PROTOCOL_VERSION;
    h->max_payload = NGR_FRAME_MAX_PAYLOAD;
    h->stream_window = NGR_STREAM_WINDOW;
    h->session_window = 0xfedcba98;
    h->heartbeat_ms = NGR_HEARTBEAT_MS;
    h->token = frame_str_c("s3cret-t0ken");
    h->agent = frame_str_c("ngrnotok/0.1.0");
}

static void
test_frame_open_sample(struct frame_head *h)
{
    memset(h, 0, sizeof(*h));
    h->tunnel = 0xdeadbeef;
    h->body = FRAME_BODY_LENGTH;
    h->flags = FRAME_HEAD_UPGRADE;
    h->length = 0x0123456789abcdefULL;
    h->method = frame_str_c("POST");
    h->target = frame_str_c("/api/v1/items?q=a%20b&x=1");
    h->client_addr = frame_str_c("203.0.113.9");
    h->scheme = frame_str_c("https");
    h->host = frame_str_c("abc.tunnel.example");
    h->fields = test_frame_open_fields;
    h->nfields = TEST_FRAME_NOPEN;
}

static void
test_frame_reply_sample(struct frame_head *h)
{
    memset(h, 0, sizeof(*h));
    h->status = 201;
    h->body = FRAME_BODY_UNKNOWN;
    h->length = 0;
    h->fields = test_frame_reply_fields;
    h->nfields = TEST_FRAME_NREPLY;
}

/* Encodes sample id into out; returns what the encoder returns. */
static ssize_t
test_frame_encode_sample(int id, uint8_t *out, size_t cap)
{
    struct frame_hello hello;
    struct frame_bind bind;
    struct frame_bound bound;
    struct frame_head head;
    struct frame_reason reason;

    switch (id) {
    case SAMPLE_HELLO:
        test_frame_hello_sample(&hello);
        return frame_hello_encode(out, cap, &hello, 0);
    case SAMPLE_HELLO_EMPTY:
        memset(&hello, 0, sizeof(hello));
        hello.token = frame_str_c(NULL);
        hello.agent = frame_str_c("");
        return frame_hello_encode(out, cap, &hello, 0);
    case SAMPLE_WELCOME:
        test_frame_hello_sample(&hello);
        hello.token = frame_str_c("");
        hello.agent = frame_str_c("ngrnotokd/0.1.0");
        return frame_hello_encode(out, cap, &hello, 1);
    case SAMPLE_BIND:
        bind.handle = 7;
        bind.proto = FRAME_PROTO_HTTP;
        bind.subdomain = frame_str_c("my-app");
        bind.target = frame_str_c("localhost:3000");
        return frame_bind_encode(out, cap, &bind);
    case SAMPLE_BIND_TCP:
        bind.handle = 0xffffffff;
        bind.proto = FRAME_PROTO_TCP;
        bind.subdomain = frame_str_c("");
        bind.target = frame_str_c("[::1]:22");
        return frame_bind_encode(out, cap, &bind);
    case SAMPLE_BOUND:
        bound.handle = 7;
        bound.id = frame_str_c("t-0001");
        bound.subdomain = frame_str_c("my-app");
        bound.public_url = frame_str_c("https://my-app.tunnel.example");
        return frame_bound_encode(out, cap, &bound);
    case SAMPLE_OPEN:
        test_frame_open_sample(&head);
        return frame_open_encode(out, cap, 0x7fffffff, FRAME_FLAG_END_STREAM, &head);
    case SAMPLE_OPEN_BARE:
        memset(&head, 0, sizeof(head));
        head.method = frame_str_c("GET");
        head.target = frame_str_c("/");
        return frame_open_encode(out, cap, 1, 0, &head);
    case SAMPLE_REPLY:
        test_frame_reply_sample(&head);
        return frame_reply_encode(out, cap, 3, 0, &head);
    case SAMPLE_REPLY_BARE:
        memset(&head, 0, sizeof(head));
        head.status = 204;
        return frame_reply_encode(out, cap, 5, FRAME_FLAG_END_STREAM, &head);
    case SAMPLE_WINDOW:
        return frame_window_encode(out, cap, 5, 1);
    case SAMPLE_WINDOW_MAX:
        return frame_window_encode(out, cap, 0, 0x7fffffff);
    case SAMPLE_RST:
        reason.code = FRAME_CODE_CANCEL;
        reason.ref = 99; /* RST does not carry it */
        reason.message = frame_str_c("client went away");
        return frame_reason_encode(out, cap, FRAME_RST, 9, &reason);
    case SAMPLE_ERROR:
        reason.code = FRAME_CODE_NAME_TAKEN;
        reason.ref = 7;
        reason.message = frame_str_c("subdomain already in use");
        return frame_reason_encode(out, cap, FRAME_ERROR, 0, &reason);
    case SAMPLE_GOAWAY:
        reason.code = FRAME_CODE_UNAVAILABLE;
        reason.ref = 41;
        reason.message = frame_str_c("");
        return frame_reason_encode(out, cap, FRAME_GOAWAY, 0, &reason);
    case SAMPLE_PING:
        return frame_ping_encode(out, cap, 0, test_frame_ping_data);
    case SAMPLE_PING_ACK:
        return frame_ping_encode(out, cap, FRAME_FLAG_ACK, test_frame_ping_data);
    case SAMPLE_DATA:
        if (cap < NGR_FRAME_HEADER_LEN + sizeof(test_frame_body))
            return NGR_ELIMIT;
        frame_header_encode(out, FRAME_DATA, 0, 11, sizeof(test_frame_body));
        memcpy(out + NGR_FRAME_HEADER_LEN, test_frame_body, sizeof(test_frame_body));
        return NGR_FRAME_HEADER_LEN + sizeof(test_frame_body);
    case SAMPLE_DATA_EMPTY:
        if (cap < NGR_FRAME_HEADER_LEN)
            return NGR_ELIMIT;
        frame_header_encode(out, FRAME_DATA, FRAME_FLAG_END_STREAM, 11, 0);
        return NGR_FRAME_HEADER_LEN;
    }
    fail_msg("no sample %d", id);
    return -1;
}

/* Encodes sample id into a test-owned buffer and returns its length. */
static size_t
test_frame_sample(int id, uint8_t *out, size_t cap)
{
    ssize_t n = test_frame_encode_sample(id, out, cap);

    if (n <= 0)
        fail_msg("sample %d: encode returned %zd", id, n);
    return (size_t)n;
}

/* Runs the payload decoder for f's type; returns its result (0 for types without one). */
static int
test_frame_decode_payload(const struct frame *f)
{
    struct frame_hello hello;
    struct frame_bind bind;
    struct frame_bound bound;
    struct frame_field fields[NGR_MAX_HEADERS];
    struct frame_head head = {.fields = fields, .cap_fields = NGR_MAX_HEADERS};
    struct frame_reason reason;
    uint32_t inc;

    switch (f->type) {
    case FRAME_HELLO:
    case FRAME_WELCOME:
        return frame_hello_decode(f, &hello);
    case FRAME_BIND:
        return frame_bind_decode(f, &bind);
    case FRAME_BOUND:
        return frame_bound_decode(f, &bound);
    case FRAME_OPEN:
        return frame_open_decode(f, &head);
    case FRAME_REPLY:
        return frame_reply_decode(f, &head);
    case FRAME_WINDOW:
        return frame_window_decode(f, &inc);
    case FRAME_RST:
    case FRAME_ERROR:
    case FRAME_GOAWAY:
        return frame_reason_decode(f, &reason);
    }
    return 0;
}

static int
test_frame_has_payload_decoder(uint8_t type)
{
    return type != FRAME_DATA && type != FRAME_PING;
}

/* Decodes a whole frame placed against the guard page; fails the test unless it takes len bytes. */
static void
test_frame_decode_whole(const uint8_t *bytes, size_t len, struct frame *f)
{
    const uint8_t *p = guard_place(bytes, len);
    ssize_t n = frame_decode(p, len, NGR_FRAME_MAX_PAYLOAD, f);

    assert_int_equal(n, (ssize_t)len);
    assert_int_equal(f->length, len - NGR_FRAME_HEADER_LEN);
    assert_ptr_equal(f->payload, p + NGR_FRAME_HEADER_LEN);
}

/* s is borrowed from f's payload (not copied) and equals want. */
static void
test_frame_assert_str(const struct frame *f, struct frame_str s, const char *want, size_t wantlen)
{
    assert_int_equal(s.len, wantlen);
    assert_non_null(s.p); /* an empty string too points into the payload, never NULL */
    if (wantlen > 0) {
        assert_true((const uint8_t *)s.p >= f->payload);
        assert_true((const uint8_t *)s.p + s.len <= f->payload + f->length);
        assert_memory_equal(s.p, want, wantlen);
    }
}

#define ASSERT_STR(f, s, want) test_frame_assert_str((f), (s), (want), strlen(want))

#define TEST_FRAME_NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* Every sample's header as it decodes (whole, against the guard page), and for frames without
 * a payload decoder their payload bytes. */
struct test_frame_header_case {
    int sample;
    const char *name;
    uint8_t type, flags;
    uint32_t stream_id;
    const void *payload; /* the bytes the payload must hold, or NULL (length 0, or not checked) */
    size_t length;       /* with payload, or 0 for an empty one; SIZE_MAX: not checked */
};

static const struct test_frame_header_case test_frame_headers[] = {
    {SAMPLE_HELLO, "HELLO", FRAME_HELLO, 0, 0, NULL, SIZE_MAX},
    {SAMPLE_HELLO_EMPTY, "HELLO, empty", FRAME_HELLO, 0, 0, NULL, SIZE_MAX},
    {SAMPLE_WELCOME, "WELCOME", FRAME_WELCOME, 0, 0, NULL, SIZE_MAX},
    {SAMPLE_BIND, "BIND", FRAME_BIND, 0, 0, NULL, SIZE_MAX},
    {SAMPLE_BIND_TCP, "BIND tcp", FRAME_BIND, 0, 0, NULL, SIZE_MAX},
    {SAMPLE_BOUND, "BOUND", FRAME_BOUND, 0, 0, NULL, SIZE_MAX},
    {SAMPLE_OPEN, "OPEN", FRAME_OPEN, FRAME_FLAG_END_STREAM, 0x7fffffff, NULL, SIZE_MAX},
    {SAMPLE_OPEN_BARE, "OPEN, bare", FRAME_OPEN, 0, 1, NULL, SIZE_MAX},
    {SAMPLE_REPLY, "REPLY", FRAME_REPLY, 0, 3, NULL, SIZE_MAX},
    {SAMPLE_REPLY_BARE, "REPLY, bare", FRAME_REPLY, FRAME_FLAG_END_STREAM, 5, NULL, SIZE_MAX},
    {SAMPLE_WINDOW, "WINDOW", FRAME_WINDOW, 0, 5, NULL, 4},
    {SAMPLE_WINDOW_MAX, "WINDOW, session", FRAME_WINDOW, 0, 0, NULL, 4},
    /* no ref on RST: code, then the message */
    {SAMPLE_RST, "RST", FRAME_RST, 0, 9, NULL, 4 + 2 + sizeof("client went away") - 1},
    {SAMPLE_ERROR, "ERROR", FRAME_ERROR, 0, 0, NULL,
     4 + 4 + 2 + sizeof("subdomain already in use") - 1},
    {SAMPLE_GOAWAY, "GOAWAY", FRAME_GOAWAY, 0, 0, NULL, 4 + 4 + 2},
    {SAMPLE_PING, "PING", FRAME_PING, 0, 0, test_frame_ping_data, 8},
    {SAMPLE_PING_ACK, "PING ack", FRAME_PING, FRAME_FLAG_ACK, 0, test_frame_ping_data, 8},
    {SAMPLE_DATA, "DATA", FRAME_DATA, 0, 11, test_frame_body, sizeof(test_frame_body)},
    {SAMPLE_DATA_EMPTY, "DATA, empty END", FRAME_DATA, FRAME_FLAG_END_STREAM, 11, NULL, 0},
};

static void
test_frame_sample_headers(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    size_t i;

    (void)state;
    _Static_assert(TEST_FRAME_NCASES(test_frame_headers) == SAMPLE_COUNT, "a case per sample");
    for (i = 0; i < TEST_FRAME_NCASES(test_frame_headers); i++) {
        const struct test_frame_header_case *c = &test_frame_headers[i];
        size_t n = test_frame_sample(c->sample, buf, sizeof(buf));

        test_frame_decode_whole(buf, n, &f);
        if (f.type != c->type || f.flags != c->flags || f.stream_id != c->stream_id)
            fail_msg("%s: type %u flags %#x stream %u, want %u %#x %u", c->name, f.type, f.flags,
                     f.stream_id, c->type, c->flags, c->stream_id);
        if (c->length != SIZE_MAX && f.length != c->length)
            fail_msg("%s: payload of %u bytes, want %zu", c->name, f.length, c->length);
        if (c->payload != NULL && memcmp(f.payload, c->payload, c->length) != 0)
            fail_msg("%s: payload bytes differ", c->name);
    }
}

/* HELLO and WELCOME: every member. */
struct test_frame_hello_case {
    int sample;
    const char *name;
    uint16_t version;
    uint32_t max_payload, stream_window, session_window, heartbeat_ms;
    const char *token, *agent;
};

static const struct test_frame_hello_case test_frame_hellos[] = {
    {SAMPLE_HELLO, "HELLO", NGR_PROTOCOL_VERSION, NGR_FRAME_MAX_PAYLOAD, NGR_STREAM_WINDOW,
     0xfedcba98, NGR_HEARTBEAT_MS, "s3cret-t0ken", "ngrnotok/0.1.0"},
    {SAMPLE_HELLO_EMPTY, "HELLO of zeros and empty strings", 0, 0, 0, 0, 0, "", ""},
    {SAMPLE_WELCOME, "WELCOME", NGR_PROTOCOL_VERSION, NGR_FRAME_MAX_PAYLOAD, NGR_STREAM_WINDOW,
     0xfedcba98, NGR_HEARTBEAT_MS, "", "ngrnotokd/0.1.0"},
};

static void
test_frame_hello_roundtrip(void **state)
{
    uint8_t buf[256];
    struct frame f;
    struct frame_hello h;
    size_t i;

    (void)state;
    for (i = 0; i < TEST_FRAME_NCASES(test_frame_hellos); i++) {
        const struct test_frame_hello_case *c = &test_frame_hellos[i];

        test_frame_decode_whole(buf, test_frame_sample(c->sample, buf, sizeof(buf)), &f);
        if (frame_hello_decode(&f, &h) != 0)
            fail_msg("%s: does not decode", c->name);
        if (h.version != c->version || h.max_payload != c->max_payload ||
            h.stream_window != c->stream_window || h.session_window != c->session_window ||
            h.heartbeat_ms != c->heartbeat_ms)
            fail_msg("%s: %u %u %u %#x %u", c->name, h.version, h.max_payload, h.stream_window,
                     h.session_window, h.heartbeat_ms);
        ASSERT_STR(&f, h.token, c->token);
        ASSERT_STR(&f, h.agent, c->agent);
    }
}

/* BIND, HTTP and TCP. */
struct test_frame_bind_case {
    int sample;
    const char *name;
    uint32_t handle;
    uint8_t proto;
    const char *subdomain, *target;
};

static const struct test_frame_bind_case test_frame_binds[] = {
    {SAMPLE_BIND, "BIND http", 7, FRAME_PROTO_HTTP, "my-app", "localhost:3000"},
    {SAMPLE_BIND_TCP, "BIND tcp", 0xffffffff, FRAME_PROTO_TCP, "", "[::1]:22"},
};

static void
test_frame_bind_roundtrip(void **state)
{
    uint8_t buf[256];
    struct frame f;
    struct frame_bind b;
    size_t i;

    (void)state;
    for (i = 0; i < TEST_FRAME_NCASES(test_frame_binds); i++) {
        const struct test_frame_bind_case *c = &test_frame_binds[i];

        test_frame_decode_whole(buf, test_frame_sample(c->sample, buf, sizeof(buf)), &f);
        if (frame_bind_decode(&f, &b) != 0 || b.handle != c->handle || b.proto != c->proto)
            fail_msg("%s: handle %#x proto %u", c->name, b.handle, b.proto);
        ASSERT_STR(&f, b.subdomain, c->subdomain);
        ASSERT_STR(&f, b.target, c->target);
    }
}

/* WINDOW on a stream and on the session, at both ends of the increment's range. */
static void
test_frame_window_roundtrip(void **state)
{
    static const struct {
        int sample;
        uint32_t increment;
    } cases[] = {{SAMPLE_WINDOW, 1}, {SAMPLE_WINDOW_MAX, 0x7fffffff}};
    uint8_t buf[64];
    struct frame f;
    uint32_t inc;
    size_t i;

    (void)state;
    for (i = 0; i < TEST_FRAME_NCASES(cases); i++) {
        test_frame_decode_whole(buf, test_frame_sample(cases[i].sample, buf, sizeof(buf)), &f);
        inc = 0;
        if (frame_window_decode(&f, &inc) != 0 || inc != cases[i].increment)
            fail_msg("WINDOW of %u decoded as %u", cases[i].increment, inc);
    }
}

/* RST, ERROR and GOAWAY: the code, the ref (RST has none: decoding clears it) and the message. */
struct test_frame_reason_case {
    int sample;
    const char *name;
    uint32_t code, ref;
    const char *message;
};

static const struct test_frame_reason_case test_frame_reasons[] = {
    {SAMPLE_RST, "RST", FRAME_CODE_CANCEL, 0, "client went away"},
    {SAMPLE_ERROR, "ERROR", FRAME_CODE_NAME_TAKEN, 7, "subdomain already in use"},
    {SAMPLE_GOAWAY, "GOAWAY", FRAME_CODE_UNAVAILABLE, 41, ""},
};

static void
test_frame_reason_roundtrip(void **state)
{
    uint8_t buf[512];
    struct frame f;
    struct frame_reason r;
    size_t i;

    (void)state;
    for (i = 0; i < TEST_FRAME_NCASES(test_frame_reasons); i++) {
        const struct test_frame_reason_case *c = &test_frame_reasons[i];

        test_frame_decode_whole(buf, test_frame_sample(c->sample, buf, sizeof(buf)), &f);
        r.ref = 1234;
        if (frame_reason_decode(&f, &r) != 0 || r.code != c->code || r.ref != c->ref)
            fail_msg("%s: code %u ref %u, want %u %u", c->name, r.code, r.ref, c->code, c->ref);
        ASSERT_STR(&f, r.message, c->message);
    }
}

static void
test_frame_bound_roundtrip(void **state)
{
    uint8_t buf[256];
    struct frame f;
    struct frame_bound b;
    size_t n;

    (void)state;
    n = test_frame_sample(SAMPLE_BOUND, buf, sizeof(buf));
    test_frame_decode_whole(buf, n, &f); /* its header: test_frame_sample_headers */
    assert_int_equal(frame_bound_decode(&f, &b), 0);
    assert_int_equal(b.handle, 7);
    ASSERT_STR(&f, b.id, "t-0001");
    ASSERT_STR(&f, b.subdomain, "my-app");
    ASSERT_STR(&f, b.public_url, "https://my-app.tunnel.example");
}

static void
test_frame_assert_fields(const struct frame *f, const struct frame_head *h,
                         const struct frame_field *want, size_t nwant)
{
    size_t i;

    assert_int_equal(h->nfields, nwant);
    for (i = 0; i < nwant; i++) {
        test_frame_assert_str(f, h->fields[i].name, want[i].name.p, want[i].name.len);
        test_frame_assert_str(f, h->fields[i].value, want[i].value.p, want[i].value.len);
    }
}

static void
test_frame_open_roundtrip(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    struct frame_field fields[NGR_MAX_HEADERS];
    struct frame_head h = {.fields = fields, .cap_fields = NGR_MAX_HEADERS};
    size_t n;

    (void)state;
    n = test_frame_sample(SAMPLE_OPEN, buf, sizeof(buf));
    test_frame_decode_whole(buf, n, &f);
    assert_int_equal(f.type, FRAME_OPEN);
    assert_int_equal(f.flags, FRAME_FLAG_END_STREAM);
    assert_int_equal(f.stream_id, 0x7fffffff);
    h.status = 77; /* OPEN has no status: the decoder must clear it */
    assert_int_equal(frame_open_decode(&f, &h), 0);
    assert_int_equal(h.tunnel, 0xdeadbeef);
    assert_int_equal(h.status, 0);
    assert_int_equal(h.body, FRAME_BODY_LENGTH);
    assert_int_equal(h.flags, FRAME_HEAD_UPGRADE);
    assert_true(h.length == 0x0123456789abcdefULL);
    ASSERT_STR(&f, h.method, "POST");
    ASSERT_STR(&f, h.target, "/api/v1/items?q=a%20b&x=1");
    ASSERT_STR(&f, h.client_addr, "203.0.113.9");
    ASSERT_STR(&f, h.scheme, "https");
    ASSERT_STR(&f, h.host, "abc.tunnel.example");
    test_frame_assert_fields(&f, &h, test_frame_open_fields, TEST_FRAME_NOPEN);
    assert_true(frame_str_eq(h.fields[2].name, "SET-COOKIE"));

    /* Exactly as many fields as there is room for is fine; one fewer slot is not. */
    h.cap_fields = TEST_FRAME_NOPEN;
    assert_int_equal(frame_open_decode(&f, &h), 0);
    h.cap_fields = TEST_FRAME_NOPEN - 1;
    assert_int_equal(frame_open_decode(&f, &h), NGR_EPROTO);

    n = test_frame_sample(SAMPLE_OPEN_BARE, buf, sizeof(buf));
    test_frame_decode_whole(buf, n, &f);
    h.cap_fields = 0;
    h.fields = NULL;
    assert_int_equal(frame_open_decode(&f, &h), 0);
    assert_int_equal(h.nfields, 0);
    assert_int_equal(h.body, FRAME_BODY_NONE);
    ASSERT_STR(&f, h.method, "GET");
    ASSERT_STR(&f, h.target, "/");
    assert_int_equal(h.host.len, 0);
}

static void
test_frame_reply_roundtrip(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    struct frame_field fields[8];
    struct frame_head h = {.fields = fields, .cap_fields = 8};
    size_t n;

    (void)state;
    n = test_frame_sample(SAMPLE_REPLY, buf, sizeof(buf));
    test_frame_decode_whole(buf, n, &f);
    assert_int_equal(f.type, FRAME_REPLY);
    assert_int_equal(f.stream_id, 3);
    h.tunnel = 5; /* REPLY has no OPEN-only members: the decoder must clear them */
    h.method = frame_str_c("GET");
    assert_int_equal(frame_reply_decode(&f, &h), 0);
    assert_int_equal(h.status, 201);
    assert_int_equal(h.tunnel, 0);
    assert_int_equal(h.method.len, 0);
    assert_int_equal(h.target.len, 0);
    assert_int_equal(h.body, FRAME_BODY_UNKNOWN);
    test_frame_assert_fields(&f, &h, test_frame_reply_fields, TEST_FRAME_NREPLY);

    n = test_frame_sample(SAMPLE_REPLY_BARE, buf, sizeof(buf));
    test_frame_decode_whole(buf, n, &f);
    assert_int_equal(f.flags, FRAME_FLAG_END_STREAM);
    assert_int_equal(frame_reply_decode(&f, &h), 0);
    assert_int_equal(h.status, 204);
    assert_int_equal(h.nfields, 0);
}

static void
test_frame_window_bad_increment(void **state)
{
    static const uint32_t bad[] = {0, 0x80000000u, 0x80000001u, 0xffffffffu};
    uint8_t buf[64];
    struct frame f;
    uint32_t inc;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ssize_t n = frame_window_encode(buf, sizeof(buf), 1, bad[i]);
        assert_int_equal(n, NGR_FRAME_HEADER_LEN + 4);
        test_frame_decode_whole(buf, (size_t)n, &f);
        if (frame_window_decode(&f, &inc) != NGR_EPROTO)
            fail_msg("WINDOW increment %#x accepted", bad[i]);
    }
}

static void
test_frame_reason_message_limit(void **state)
{
    char msg[NGR_MAX_MESSAGE + 50];
    uint8_t buf[1024];
    uint8_t raw[NGR_FRAME_HEADER_LEN + 10 + NGR_MAX_MESSAGE + 1];
    struct frame f;
    struct frame_reason r = {FRAME_CODE_INTERNAL, 3, {msg, sizeof(msg)}};
    ssize_t n;
    size_t off;

    (void)state;
    memset(msg, 'm', sizeof(msg));
    /* Too long a message is cut to NGR_MAX_MESSAGE on encode, not refused. */
    n = frame_reason_encode(buf, sizeof(buf), FRAME_ERROR, 0, &r);
    assert_int_equal(n, NGR_FRAME_HEADER_LEN + 4 + 4 + 2 + NGR_MAX_MESSAGE);
    test_frame_decode_whole(buf, (size_t)n, &f);
    assert_int_equal(frame_reason_decode(&f, &r), 0);
    assert_int_equal(r.message.len, NGR_MAX_MESSAGE);

    /* A peer's message over NGR_MAX_MESSAGE is a protocol error. */
    off = NGR_FRAME_HEADER_LEN;
    memset(raw, 0, sizeof(raw));
    raw[off + 3] = FRAME_CODE_INTERNAL;
    off += 8;
    raw[off++] = (NGR_MAX_MESSAGE + 1) >> 8;
    raw[off++] = (NGR_MAX_MESSAGE + 1) & 0xff;
    memset(raw + off, 'm', NGR_MAX_MESSAGE + 1);
    off += NGR_MAX_MESSAGE + 1;
    assert_int_equal(off, sizeof(raw));
    frame_header_encode(raw, FRAME_GOAWAY, 0, 0, (uint32_t)(off - NGR_FRAME_HEADER_LEN));
    test_frame_decode_whole(raw, sizeof(raw), &f);
    assert_int_equal(frame_reason_decode(&f, &r), NGR_EPROTO);
}

/* The header layout itself: 24-bit length, type, flags, 31-bit stream id, big-endian. */
static void
test_frame_header_layout(void **state)
{
    uint8_t h[NGR_FRAME_HEADER_LEN];
    static const uint8_t want[NGR_FRAME_HEADER_LEN] = {0xab, 0xcd, 0xef, 0x05, 0x81,
                                                       0x12, 0x34, 0x56, 0x78};
    struct frame f;

    (void)state;
    frame_header_encode(h, FRAME_OPEN, 0x81, 0x12345678, 0xabcdef);
    assert_memory_equal(h, want, sizeof(want));
    /* The reserved top bit of the stream id is never sent. */
    frame_header_encode(h, FRAME_DATA, 0, 0x80000001u, 0);
    assert_int_equal(h[5], 0);
    assert_int_equal(frame_decode(guard_place(h, sizeof(h)), sizeof(h), 0, &f),
                     NGR_FRAME_HEADER_LEN);
    assert_int_equal(f.stream_id, 1);
    assert_int_equal(sizeof(NGR_PREFACE) - 1, NGR_PREFACE_LEN);
}

/* Every proper prefix of every sample is "incomplete", never an error or a frame. */
static void
test_frame_every_prefix(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    int id;

    (void)state;
    for (id = 0; id < SAMPLE_COUNT; id++) {
        size_t n = test_frame_sample(id, buf, sizeof(buf)), k;

        for (k = 0; k < n; k++) {
            const uint8_t *p = guard_place(buf, k);
            ssize_t rc = frame_decode(p, k, NGR_FRAME_MAX_PAYLOAD, &f);
            if (rc != NGR_EAGAIN)
                fail_msg("sample %d: prefix of %zu/%zu bytes gave %zd", id, k, n, rc);
        }
        test_frame_decode_whole(buf, n, &f);
        assert_int_equal(f.type, test_frame_sample_type[id]);
        assert_int_equal(test_frame_decode_payload(&f), 0);
    }
}

/* A whole frame followed by more bytes takes only its own. */
static void
test_frame_followed_by_more(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    int id;

    (void)state;
    for (id = 0; id < SAMPLE_COUNT; id++) {
        size_t n = test_frame_sample(id, buf, sizeof(buf) - 16);
        const uint8_t *p;

        memset(buf + n, 0xff, 16);
        p = guard_place(buf, n + 16);
        assert_int_equal(frame_decode(p, n + 16, NGR_FRAME_MAX_PAYLOAD, &f), (ssize_t)n);
        assert_int_equal(f.type, test_frame_sample_type[id]);
    }
}

/* Every payload cut short is a protocol error, read against the guard page. */
static void
test_frame_truncated_payload(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    int id;

    (void)state;
    for (id = 0; id < SAMPLE_COUNT; id++) {
        size_t n = test_frame_sample(id, buf, sizeof(buf)), k;

        if (!test_frame_has_payload_decoder(test_frame_sample_type[id]))
            continue;
        for (k = 0; k < n - NGR_FRAME_HEADER_LEN; k++) {
            int rc;

            f.type = test_frame_sample_type[id];
            f.flags = 0;
            f.stream_id = 1;
            f.length = (uint32_t)k;
            f.payload = guard_place(buf + NGR_FRAME_HEADER_LEN, k);
            rc = test_frame_decode_payload(&f);
            if (rc != NGR_EPROTO)
                fail_msg("sample %d: payload cut to %zu of %zu gave %d", id, k,
                         n - NGR_FRAME_HEADER_LEN, rc);
        }
    }
}

/* A payload with bytes after its last member is as wrong as a short one. */
static void
test_frame_trailing_garbage(void **state)
{
    static const uint8_t extra[] = {0x00, 0xff, 'x'};
    uint8_t buf[1024];
    struct frame f;
    int id;
    size_t e, k;

    (void)state;
    for (id = 0; id < SAMPLE_COUNT; id++) {
        size_t n = test_frame_sample(id, buf, sizeof(buf) - 8);

        if (!test_frame_has_payload_decoder(test_frame_sample_type[id]))
            continue;
        for (e = 0; e < sizeof(extra); e++) {
            for (k = 1; k <= 4; k++) {
                size_t plen = n - NGR_FRAME_HEADER_LEN + k;
                int rc;

                memset(buf + n, extra[e], k);
                frame_header_encode(buf, test_frame_sample_type[id], 0, 1, (uint32_t)plen);
                test_frame_decode_whole(buf, n + k, &f);
                rc = test_frame_decode_payload(&f);
                if (rc != NGR_EPROTO)
                    fail_msg("sample %d: %zu trailing bytes %#x gave %d", id, k, extra[e], rc);
            }
        }
    }
}

/* Encoding into every buffer smaller than the frame fails cleanly and writes nothing past cap;
 * the exact size succeeds and gives the same bytes. */
static void
test_frame_encode_small_buffer(void **state)
{
    uint8_t want[1024];
    int id;

    (void)state;
    for (id = 0; id < SAMPLE_COUNT; id++) {
        size_t n = test_frame_sample(id, want, sizeof(want)), cap;
        uint8_t *out;
        ssize_t rc;

        for (cap = 0; cap < n; cap++) {
            out = guard_out(cap);
            rc = test_frame_encode_sample(id, out, cap);
            if (rc != NGR_ELIMIT)
                fail_msg("sample %d: encode into %zu of %zu bytes gave %zd", id, cap, n, rc);
        }
        out = guard_out(n);
        assert_int_equal(test_frame_encode_sample(id, out, n), (ssize_t)n);
        assert_memory_equal(out, want, n);
    }
}

/* All samples back to back, delivered in chunks of every size through a bounded buffer. */
static void
test_frame_split_stream(void **state)
{
    uint8_t all[8192];
    size_t off[SAMPLE_COUNT + 1];
    size_t total = 0, chunk;
    int id;

    (void)state;
    for (id = 0; id < SAMPLE_COUNT; id++) {
        off[id] = total;
        total += test_frame_sample(id, all + total, sizeof(all) - total);
    }
    off[SAMPLE_COUNT] = total;

    for (chunk = 1; chunk <= total; chunk++) {
        struct buf in;
        size_t fed = 0;
        int next = 0;

        buf_init(&in, NGR_FRAME_HEADER_LEN + NGR_FRAME_MAX_PAYLOAD);
        while (fed < total) {
            size_t k = total - fed < chunk ? total - fed : chunk;
            assert_int_equal(buf_append(&in, all + fed, k), 0);
            fed += k;
            for (;;) {
                struct frame f;
                ssize_t n;
                size_t want;

                if (in.len == 0)
                    break;
                n = frame_decode(buf_head(&in), in.len, NGR_FRAME_MAX_PAYLOAD, &f);
                if (n == NGR_EAGAIN)
                    break;
                if (next >= SAMPLE_COUNT)
                    fail_msg("chunk %zu: frame after the last sample", chunk);
                want = off[next + 1] - off[next];
                if (n != (ssize_t)want)
                    fail_msg("chunk %zu, sample %d: took %zd, want %zu", chunk, next, n, want);
                assert_memory_equal(buf_head(&in), all + off[next], want);
                assert_int_equal(f.type, test_frame_sample_type[next]);
                assert_int_equal(test_frame_decode_payload(&f), 0);
                buf_consume(&in, (size_t)n);
                next++;
            }
        }
        assert_int_equal(next, SAMPLE_COUNT);
        assert_int_equal(in.len, 0);
        assert_null(in.data);
        buf_free(&in);
    }
}

static void
test_frame_oversized_length(void **state)
{
    uint8_t h[NGR_FRAME_HEADER_LEN];
    uint8_t buf[1024];
    struct frame f;
    size_t n;

    (void)state;
    /* Refused from the header alone: nobody waits for 16 MiB that will be refused anyway. */
    frame_header_encode(h, FRAME_DATA, 0, 1, NGR_FRAME_MAX_PAYLOAD + 1);
    assert_int_equal(frame_decode(guard_place(h, sizeof(h)), sizeof(h), NGR_FRAME_MAX_PAYLOAD, &f),
                     NGR_ELIMIT);
    frame_header_encode(h, FRAME_DATA, 0, 1, NGR_FRAME_ABS_MAX_PAYLOAD);
    assert_int_equal(frame_decode(guard_place(h, sizeof(h)), sizeof(h), NGR_FRAME_MAX_PAYLOAD, &f),
                     NGR_ELIMIT);
    /* At the limit it is only incomplete. */
    frame_header_encode(h, FRAME_DATA, 0, 1, NGR_FRAME_MAX_PAYLOAD);
    assert_int_equal(frame_decode(guard_place(h, sizeof(h)), sizeof(h), NGR_FRAME_MAX_PAYLOAD, &f),
                     NGR_EAGAIN);
    frame_header_encode(h, FRAME_DATA, 0, 1, NGR_FRAME_ABS_MAX_PAYLOAD);
    assert_int_equal(
        frame_decode(guard_place(h, sizeof(h)), sizeof(h), NGR_FRAME_ABS_MAX_PAYLOAD, &f),
        NGR_EAGAIN);

    /* The caller's limit applies, whatever the frame. */
    n = test_frame_sample(SAMPLE_OPEN, buf, sizeof(buf));
    assert_int_equal(frame_decode(guard_place(buf, n), n, n - NGR_FRAME_HEADER_LEN - 1, &f),
                     NGR_ELIMIT);
    assert_int_equal(frame_decode(guard_place(buf, n), n, n - NGR_FRAME_HEADER_LEN, &f),
                     (ssize_t)n);
    assert_int_equal(frame_decode(guard_place(buf, n), n, 0, &f), NGR_ELIMIT);
}

/* A DATA frame of exactly NGR_FRAME_MAX_PAYLOAD bytes, placed against the guard page. */
static void
test_frame_max_payload(void **state)
{
    size_t n = NGR_FRAME_HEADER_LEN + NGR_FRAME_MAX_PAYLOAD;
    uint8_t *buf = malloc(n);
    struct frame f;

    (void)state;
    assert_non_null(buf);
    memset(buf, 'd', n);
    frame_header_encode(buf, FRAME_DATA, 0, 1, NGR_FRAME_MAX_PAYLOAD);
    test_frame_decode_whole(buf, n, &f);
    assert_int_equal(f.length, NGR_FRAME_MAX_PAYLOAD);
    assert_int_equal(frame_decode(guard_place(buf, n - 1), n - 1, NGR_FRAME_MAX_PAYLOAD, &f),
                     NGR_EAGAIN);
    free(buf);
}

static void
test_frame_reserved_bit(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    int id;

    (void)state;
    for (id = 0; id < SAMPLE_COUNT; id++) {
        size_t n = test_frame_sample(id, buf, sizeof(buf));

        buf[5] |= 0x80;
        assert_int_equal(frame_decode(guard_place(buf, n), n, NGR_FRAME_MAX_PAYLOAD, &f),
                         NGR_EPROTO);
        /* Known from the header alone. */
        assert_int_equal(frame_decode(guard_place(buf, NGR_FRAME_HEADER_LEN), NGR_FRAME_HEADER_LEN,
                                      NGR_FRAME_MAX_PAYLOAD, &f),
                         NGR_EPROTO);
    }
}

static void
test_frame_unknown_type(void **state)
{
    uint8_t h[NGR_FRAME_HEADER_LEN];
    struct frame f;
    unsigned t;

    (void)state;
    for (t = 0; t <= 0xff; t++) {
        ssize_t rc;

        frame_header_encode(h, (uint8_t)t, 0, 1, 0);
        rc = frame_decode(guard_place(h, sizeof(h)), sizeof(h), NGR_FRAME_MAX_PAYLOAD, &f);
        if (t <= FRAME_TYPE_MAX && rc != NGR_FRAME_HEADER_LEN)
            fail_msg("type %#x refused: %zd", t, rc);
        if (t > FRAME_TYPE_MAX && rc != NGR_EPROTO)
            fail_msg("unknown type %#x gave %zd", t, rc);
    }
}

/* A minimal payload writer for frames our encoders refuse to produce. */
struct test_frame_raw {
    uint8_t b[8192];
    size_t len;
};

static void
test_frame_raw_u8(struct test_frame_raw *r, uint8_t v)
{
    assert_true(r->len < sizeof(r->b));
    r->b[r->len++] = v;
}

static void
test_frame_raw_u16(struct test_frame_raw *r, uint16_t v)
{
    test_frame_raw_u8(r, (uint8_t)(v >> 8));
    test_frame_raw_u8(r, (uint8_t)v);
}

static void
test_frame_raw_u32(struct test_frame_raw *r, uint32_t v)
{
    test_frame_raw_u16(r, (uint16_t)(v >> 16));
    test_frame_raw_u16(r, (uint16_t)v);
}

static void
test_frame_raw_str(struct test_frame_raw *r, const char *s)
{
    size_t n = strlen(s);

    test_frame_raw_u16(r, (uint16_t)n);
    assert_true(n <= sizeof(r->b) - r->len);
    memcpy(r->b + r->len, s, n);
    r->len += n;
}

/* OPEN's members before the fields; nfields written by the caller. */
static void
test_frame_raw_open_head(struct test_frame_raw *r, uint8_t body, const char *method,
                         const char *target)
{
    r->len = NGR_FRAME_HEADER_LEN;
    test_frame_raw_u32(r, 1);
    test_frame_raw_u8(r, body);
    test_frame_raw_u8(r, 0);
    test_frame_raw_u32(r, 0);
    test_frame_raw_u32(r, 0);
    test_frame_raw_str(r, method);
    test_frame_raw_str(r, target);
    test_frame_raw_str(r, "");
    test_frame_raw_str(r, "");
    test_frame_raw_str(r, "");
}

static int
test_frame_raw_decode_head(struct test_frame_raw *r, uint8_t type, size_t cap_fields)
{
    static struct frame_field fields[NGR_MAX_HEADERS + 10];
    struct frame_head h = {.fields = fields, .cap_fields = cap_fields};
    struct frame f;

    assert_true(cap_fields <= NGR_MAX_HEADERS + 10);
    frame_header_encode(r->b, type, 0, 1, (uint32_t)(r->len - NGR_FRAME_HEADER_LEN));
    test_frame_decode_whole(r->b, r->len, &f);
    return type == FRAME_OPEN ? frame_open_decode(&f, &h) : frame_reply_decode(&f, &h);
}

static void
test_frame_too_many_fields(void **state)
{
    static struct frame_field fields[NGR_MAX_HEADERS + 1];
    static char names[NGR_MAX_HEADERS + 1][16];
    uint8_t *buf = malloc(NGR_SCRATCH_LEN);
    struct test_frame_raw *r = malloc(sizeof(*r));
    struct frame_head h;
    struct frame f;
    ssize_t n;
    size_t i;

    (void)state;
    assert_non_null(buf);
    assert_non_null(r);
    for (i = 0; i <= NGR_MAX_HEADERS; i++) {
        snprintf(names[i], sizeof(names[i]), "X-H-%03zu", i);
        fields[i].name = frame_str_c(names[i]);
        fields[i].value = frame_str_c(i % 2 ? "v" : "");
    }

    /* NGR_MAX_HEADERS fields: fine both ways. */
    test_frame_open_sample(&h);
    h.fields = fields;
    h.nfields = NGR_MAX_HEADERS;
    n = frame_open_encode(buf, NGR_SCRATCH_LEN, 1, 0, &h);
    assert_true(n > 0);
    test_frame_decode_whole(buf, (size_t)n, &f);
    {
        struct frame_field out[NGR_MAX_HEADERS];
        struct frame_head d = {.fields = out, .cap_fields = NGR_MAX_HEADERS};
        assert_int_equal(frame_open_decode(&f, &d), 0);
        test_frame_assert_fields(&f, &d, fields, NGR_MAX_HEADERS);
    }

    /* One more: refused by the encoder... */
    h.nfields = NGR_MAX_HEADERS + 1;
    assert_int_equal(frame_open_encode(buf, NGR_SCRATCH_LEN, 1, 0, &h), NGR_ELIMIT);
    test_frame_reply_sample(&h);
    h.fields = fields;
    h.nfields = NGR_MAX_HEADERS + 1;
    assert_int_equal(frame_reply_encode(buf, NGR_SCRATCH_LEN, 1, 0, &h), NGR_ELIMIT);

    /* ...and by the decoder, even with room in the caller's array. */
    test_frame_raw_open_head(r, FRAME_BODY_NONE, "GET", "/");
    test_frame_raw_u16(r, NGR_MAX_HEADERS + 1);
    for (i = 0; i <= NGR_MAX_HEADERS; i++) {
        test_frame_raw_str(r, names[i]);
        test_frame_raw_str(r, "v");
    }
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, NGR_MAX_HEADERS + 10), NGR_EPROTO);

    /* A count far beyond the bytes present. */
    test_frame_raw_open_head(r, FRAME_BODY_NONE, "GET", "/");
    test_frame_raw_u16(r, 0xffff);
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, NGR_MAX_HEADERS), NGR_EPROTO);
    test_frame_raw_open_head(r, FRAME_BODY_NONE, "GET", "/");
    test_frame_raw_u16(r, 3);
    test_frame_raw_str(r, "a");
    test_frame_raw_str(r, "b");
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, NGR_MAX_HEADERS), NGR_EPROTO);
    free(r);
    free(buf);
}

static void
test_frame_bad_heads(void **state)
{
    struct test_frame_raw *r = malloc(sizeof(*r));
    static const uint16_t good_status[] = {100, 101, 200, 599, 999};
    static const uint16_t bad_status[] = {0, 1, 99, 1000, 0xffff};
    size_t i;

    (void)state;
    assert_non_null(r);
    /* A well-formed raw OPEN decodes, so the failures below are for the reason given. */
    test_frame_raw_open_head(r, FRAME_BODY_UNKNOWN, "GET", "/");
    test_frame_raw_u16(r, 1);
    test_frame_raw_str(r, "X-Empty-Value");
    test_frame_raw_str(r, "");
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, 4), 0);

    test_frame_raw_open_head(r, FRAME_BODY_UNKNOWN + 1, "GET", "/");
    test_frame_raw_u16(r, 0);
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, 4), NGR_EPROTO);
    test_frame_raw_open_head(r, 0xff, "GET", "/");
    test_frame_raw_u16(r, 0);
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, 4), NGR_EPROTO);
    test_frame_raw_open_head(r, FRAME_BODY_NONE, "", "/");
    test_frame_raw_u16(r, 0);
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, 4), NGR_EPROTO);
    test_frame_raw_open_head(r, FRAME_BODY_NONE, "GET", "");
    test_frame_raw_u16(r, 0);
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, 4), NGR_EPROTO);
    /* A field needs a name. */
    test_frame_raw_open_head(r, FRAME_BODY_NONE, "GET", "/");
    test_frame_raw_u16(r, 2);
    test_frame_raw_str(r, "A");
    test_frame_raw_str(r, "1");
    test_frame_raw_str(r, "");
    test_frame_raw_str(r, "value");
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_OPEN, 4), NGR_EPROTO);

    for (i = 0; i < sizeof(good_status) / sizeof(good_status[0]); i++) {
        r->len = NGR_FRAME_HEADER_LEN;
        test_frame_raw_u16(r, good_status[i]);
        test_frame_raw_u8(r, FRAME_BODY_LENGTH);
        test_frame_raw_u8(r, 0);
        test_frame_raw_u32(r, 0);
        test_frame_raw_u32(r, 10);
        test_frame_raw_u16(r, 0);
        if (test_frame_raw_decode_head(r, FRAME_REPLY, 4) != 0)
            fail_msg("status %u refused", good_status[i]);
    }
    for (i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
        r->len = NGR_FRAME_HEADER_LEN;
        test_frame_raw_u16(r, bad_status[i]);
        test_frame_raw_u8(r, FRAME_BODY_LENGTH);
        test_frame_raw_u8(r, 0);
        test_frame_raw_u32(r, 0);
        test_frame_raw_u32(r, 10);
        test_frame_raw_u16(r, 0);
        if (test_frame_raw_decode_head(r, FRAME_REPLY, 4) != NGR_EPROTO)
            fail_msg("status %u accepted", bad_status[i]);
    }
    r->len = NGR_FRAME_HEADER_LEN;
    test_frame_raw_u16(r, 200);
    test_frame_raw_u8(r, 3);
    test_frame_raw_u8(r, 0);
    test_frame_raw_u32(r, 0);
    test_frame_raw_u32(r, 0);
    test_frame_raw_u16(r, 0);
    assert_int_equal(test_frame_raw_decode_head(r, FRAME_REPLY, 4), NGR_EPROTO);
    free(r);
}

/* Strings over NGR_MAX_STRING and payloads over NGR_FRAME_MAX_PAYLOAD are refused on encode;
 * a payload of exactly NGR_FRAME_MAX_PAYLOAD is not. */
static void
test_frame_encode_limits(void **state)
{
    size_t cap = 3 * NGR_FRAME_MAX_PAYLOAD;
    uint8_t *buf = malloc(cap);
    char *big = malloc(NGR_MAX_STRING + 2);
    struct frame_hello h;
    struct frame_bind b;
    struct frame f;
    const size_t fixed = 2 + 4 * 4 + 2 + 2; /* HELLO without its strings' bytes */
    ssize_t n;

    (void)state;
    assert_non_null(buf);
    assert_non_null(big);
    memset(big, 't', NGR_MAX_STRING + 2);

    memset(&b, 0, sizeof(b));
    b.subdomain.p = big;
    b.subdomain.len = NGR_MAX_STRING + 1;
    b.target = frame_str_c("x");
    assert_int_equal(frame_bind_encode(buf, cap, &b), NGR_ELIMIT);

    memset(&h, 0, sizeof(h));
    h.token.p = big;
    h.token.len = NGR_FRAME_MAX_PAYLOAD - fixed;
    h.agent = frame_str_c("");
    n = frame_hello_encode(buf, cap, &h, 0);
    assert_int_equal(n, NGR_FRAME_HEADER_LEN + NGR_FRAME_MAX_PAYLOAD);
    test_frame_decode_whole(buf, (size_t)n, &f);
    assert_int_equal(frame_hello_decode(&f, &h), 0);
    assert_int_equal(h.token.len, NGR_FRAME_MAX_PAYLOAD - fixed);

    h.token.p = big;
    h.token.len = NGR_FRAME_MAX_PAYLOAD - fixed + 1;
    h.agent = frame_str_c("");
    assert_int_equal(frame_hello_encode(buf, cap, &h, 0), NGR_ELIMIT);
    h.token.len = NGR_MAX_STRING;
    h.agent.p = big;
    h.agent.len = NGR_MAX_STRING;
    assert_int_equal(frame_hello_encode(buf, cap, &h, 0), NGR_ELIMIT);
    free(big);
    free(buf);
}

static void
test_frame_str_helpers(void **state)
{
    struct frame_str s = frame_str_c(NULL);
    struct frame_str t = {"Content-Length-and-more", 14};

    (void)state;
    assert_int_equal(s.len, 0);
    assert_non_null(s.p);
    s = frame_str_c("Host");
    assert_int_equal(s.len, 4);
    assert_true(frame_str_eq(s, "host"));
    assert_true(frame_str_eq(s, "HOST"));
    assert_false(frame_str_eq(s, "hos"));
    assert_false(frame_str_eq(s, "hosts"));
    assert_false(frame_str_eq(s, ""));
    assert_true(frame_str_eq(frame_str_c(""), ""));
    assert_true(frame_str_eq(t, "content-length"));
    assert_false(frame_str_eq(t, "content-length-and-more"));
}

/* Mutated samples (fixed seed): whatever the bytes, decoding answers and never reads past the
 * end. The fuzz target does this at scale; this keeps a small dose in every build. */
static void
test_frame_mutations(void **state)
{
    uint8_t buf[1024];
    uint32_t x = 0x9e3779b9;
    int round;

    (void)state;
    for (round = 0; round < 20000; round++) {
        int id = round % SAMPLE_COUNT, k;
        size_t n = test_frame_sample(id, buf, sizeof(buf)), off = 0;
        const uint8_t *p;

        for (k = 0; k < 1 + round % 4; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[x % n] ^= (uint8_t)(1u << (x >> 29));
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (round % 3 == 0)
            n -= x % n; /* sometimes cut short too */
        p = guard_place(buf, n);
        while (off < n) {
            struct frame f;
            ssize_t rc = frame_decode(p + off, n - off, NGR_FRAME_MAX_PAYLOAD, &f);
            int prc;

            if (rc < 0) {
                if (rc != NGR_EAGAIN && rc != NGR_EPROTO && rc != NGR_ELIMIT)
                    fail_msg("round %d: frame_decode gave %zd", round, rc);
                break;
            }
            prc = test_frame_decode_payload(&f);
            if (prc != 0 && prc != NGR_EPROTO)
                fail_msg("round %d: payload decode gave %d", round, prc);
            off += (size_t)rc;
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_sample_headers),
        cmocka_unit_test(test_frame_hello_roundtrip),
        cmocka_unit_test(test_frame_bind_roundtrip),
        cmocka_unit_test(test_frame_bound_roundtrip),
        cmocka_unit_test(test_frame_open_roundtrip),
        cmocka_unit_test(test_frame_reply_roundtrip),
        cmocka_unit_test(test_frame_window_roundtrip),
        cmocka_unit_test(test_frame_window_bad_increment),
        cmocka_unit_test(test_frame_reason_roundtrip),
        cmocka_unit_test(test_frame_reason_message_limit),
        cmocka_unit_test(test_frame_header_layout),
        cmocka_unit_test(test_frame_every_prefix),
        cmocka_unit_test(test_frame_followed_by_more),
        cmocka_unit_test(test_frame_truncated_payload),
        cmocka_unit_test(test_frame_trailing_garbage),
        cmocka_unit_test(test_frame_encode_small_buffer),
        cmocka_unit_test(test_frame_split_stream),
        cmocka_unit_test(test_frame_oversized_length),
        cmocka_unit_test(test_frame_max_payload),
        cmocka_unit_test(test_frame_reserved_bit),
        cmocka_unit_test(test_frame_unknown_type),
        cmocka_unit_test(test_frame_too_many_fields),
        cmocka_unit_test(test_frame_bad_heads),
        cmocka_unit_test(test_frame_encode_limits),
        cmocka_unit_test(test_frame_str_helpers),
        cmocka_unit_test(test_frame_mutations),
    };

    return cmocka_run_group_tests_name("frame", tests, guard_setup, guard_teardown);
}
