/* test_frame.c: unit tests of the frame codec (frame.h): round trips, every prefix, every split,
 * bad headers and payloads, and every input placed against an inaccessible page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "guard.h"

#define S(lit)                                                                                     \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Sample frames: one or more of every type, encoded by the real encoders. */

static const uint8_t test_frame_ping_data[8] = {1, 2, 3, 4, 0xfe, 0xff, 0, 0x80};
static const char test_frame_body[] = "hello, body\r\n\0with a NUL";

static struct frame_field test_frame_open_fields[] = {
    {S("Accept"), S("text/html")},
    {S("Set-Cookie"), S("a=1")},
    {S("set-cookie"), S("b=2")},
    {S("Set-Cookie"), S("")},
    {S("X-Empty"), S("")},
    {S("X-Empty"), S("")},
    {S("X-Forwarded-For"), S("203.0.113.9, 198.51.100.1")},
    {S("User-Agent"), S("curl/8.0")},
    {S("X-Bin"), S("\x00\x01\xff\r\n")},
    {S("x"), S("y")},
};

static struct frame_field test_frame_reply_fields[] = {
    {S("Content-Type"), S("application/json")},
    {S("Vary"), S("Accept")},
    {S("Vary"), S("Origin")},
    {S("X-Nothing"), S("")},
};

/* A sample: what is given to the encoder (flags and stream_id where the encoder takes them) and
 * what decoding it must give back: the header's type, flags and stream id and every member. */
struct test_frame_case {
    const char *name;
    uint8_t type;
    uint8_t flags;
    uint32_t stream_id;
    union {
        struct frame_hello hello; /* HELLO, WELCOME */
        struct frame_bind bind;
        struct frame_bound bound;
        struct frame_head head; /* OPEN, REPLY */
        uint32_t increment;     /* WINDOW */
        struct frame_reason reason;
        struct frame_str bytes; /* PING: its opaque bytes; DATA: its payload */
    } v;
    uint32_t want_ref; /* RST, ERROR, GOAWAY: the ref decoding gives (RST carries none) */
};

static const struct test_frame_case test_frame_cases[] = {
    {"HELLO", FRAME_HELLO, 0, 0,
     .v.hello = {NGR_PROTOCOL_VERSION, NGR_FRAME_MAX_PAYLOAD, NGR_STREAM_WINDOW, 0xfedcba98,
                 NGR_HEARTBEAT_MS, S("s3cret-t0ken"), S("ngrnotok/0.1.0")}},
    {"HELLO, all zero and empty", FRAME_HELLO, 0, 0, .v.hello = {.token = S(""), .agent = S("")}},
    {"WELCOME", FRAME_WELCOME, 0, 0,
     .v.hello = {NGR_PROTOCOL_VERSION, NGR_FRAME_MAX_PAYLOAD, NGR_STREAM_WINDOW, 0xfedcba98,
                 NGR_HEARTBEAT_MS, S(""), S("ngrnotokd/0.1.0")}},
    {"BIND http", FRAME_BIND, 0, 0,
     .v.bind = {7, FRAME_PROTO_HTTP, S("my-app"), S("localhost:3000")}},
    {"BIND tcp, no subdomain", FRAME_BIND, 0, 0,
     .v.bind = {0xffffffff, FRAME_PROTO_TCP, S(""), S("[::1]:22")}},
    {"BOUND", FRAME_BOUND, 0, 0,
     .v.bound = {7, S("t-0001"), S("my-app"), S("https://my-app.tunnel.example")}},
    {"OPEN, every member", FRAME_OPEN, FRAME_FLAG_END_STREAM, 0x7fffffff,
     .v.head = {.tunnel = 0xdeadbeef,
                .body = FRAME_BODY_LENGTH,
                .flags = FRAME_HEAD_UPGRADE,
                .length = 0x0123456789abcdefULL,
                .method = S("POST"),
                .target = S("/api/v1/items?q=a%20b&x=1"),
                .client_addr = S("203.0.113.9"),
                .scheme = S("https"),
                .host = S("abc.tunnel.example"),
                .fields = test_frame_open_fields,
                .nfields = COUNT(test_frame_open_fields)}},
    {"OPEN, bare", FRAME_OPEN, 0, 1, .v.head = {.method = S("GET"), .target = S("/")}},
    {"REPLY", FRAME_REPLY, 0, 3,
     .v.head = {.status = 201,
                .body = FRAME_BODY_UNKNOWN,
                .fields = test_frame_reply_fields,
                .nfields = COUNT(test_frame_reply_fields)}},
    {"REPLY, bare", FRAME_REPLY, FRAME_FLAG_END_STREAM, 5, .v.head = {.status = 204}},
    {"REPLY, with the service's time", FRAME_REPLY, 0, 7,
     .v.head = {.status = 200,
                .body = FRAME_BODY_LENGTH,
                .length = 13,
                .service_us = 0xfedcba98,
                .fields = test_frame_reply_fields,
                .nfields = COUNT(test_frame_reply_fields)}},
    {"WINDOW 1", FRAME_WINDOW, 0, 5, .v.increment = 1},
    {"WINDOW max on the session", FRAME_WINDOW, 0, 0, .v.increment = 0x7fffffff},
    {"RST", FRAME_RST, 0, 9, .v.reason = {FRAME_CODE_CANCEL, 99, S("client went away")},
     .want_ref = 0},
    {"ERROR", FRAME_ERROR, 0, 0,
     .v.reason = {FRAME_CODE_NAME_TAKEN, 7, S("subdomain already in use")}, .want_ref = 7},
    {"GOAWAY, no message", FRAME_GOAWAY, 0, 0, .v.reason = {FRAME_CODE_UNAVAILABLE, 41, S("")},
     .want_ref = 41},
    {"PING", FRAME_PING, 0, 0, .v.bytes = {(const char *)test_frame_ping_data, 8}},
    {"PING ACK", FRAME_PING, FRAME_FLAG_ACK, 0, .v.bytes = {(const char *)test_frame_ping_data, 8}},
    {"DATA", FRAME_DATA, 0, 11, .v.bytes = {test_frame_body, sizeof(test_frame_body)}},
    {"DATA, empty, END_STREAM", FRAME_DATA, FRAME_FLAG_END_STREAM, 11, .v.bytes = {"", 0}},
};
#define SAMPLE_COUNT ((int)COUNT(test_frame_cases))

/* The first sample of type t, every member set. */
static const struct test_frame_case *
test_frame_find(uint8_t t)
{
    int i;

    for (i = 0; i < SAMPLE_COUNT; i++)
        if (test_frame_cases[i].type == t)
            return &test_frame_cases[i];
    fail_msg("no sample of type %u", t);
    return NULL;
}

/* Encodes sample c into out; returns what the encoder returns. */
static ssize_t
test_frame_encode_sample(const struct test_frame_case *c, uint8_t *out, size_t cap)
{
    switch (c->type) {
    case FRAME_HELLO:
    case FRAME_WELCOME:
        return frame_hello_encode(out, cap, &c->v.hello, c->type == FRAME_WELCOME);
    case FRAME_BIND:
        return frame_bind_encode(out, cap, &c->v.bind);
    case FRAME_BOUND:
        return frame_bound_encode(out, cap, &c->v.bound);
    case FRAME_OPEN:
        return frame_open_encode(out, cap, c->stream_id, c->flags, &c->v.head);
    case FRAME_REPLY:
        return frame_reply_encode(out, cap, c->stream_id, c->flags, &c->v.head);
    case FRAME_WINDOW:
        return frame_window_encode(out, cap, c->stream_id, c->v.increment);
    case FRAME_RST:
    case FRAME_ERROR:
    case FRAME_GOAWAY:
        return frame_reason_encode(out, cap, c->type, c->stream_id, &c->v.reason);
    case FRAME_PING:
        assert_int_equal(c->v.bytes.len, 8);
        return frame_ping_encode(out, cap, c->flags, (const uint8_t *)c->v.bytes.p);
    case FRAME_DATA:
        if (cap < NGR_FRAME_HEADER_LEN + c->v.bytes.len)
            return NGR_ELIMIT;
        frame_header_encode(out, FRAME_DATA, c->flags, c->stream_id, (uint32_t)c->v.bytes.len);
        memcpy(out + NGR_FRAME_HEADER_LEN, c->v.bytes.p, c->v.bytes.len);
        return (ssize_t)(NGR_FRAME_HEADER_LEN + c->v.bytes.len);
    }
    fail_msg("%s: no encoder for type %u", c->name, c->type);
    return -1;
}

/* Encodes sample c into a test-owned buffer and returns its length. */
static size_t
test_frame_sample(const struct test_frame_case *c, uint8_t *out, size_t cap)
{
    ssize_t n = test_frame_encode_sample(c, out, cap);

    if (n <= 0)
        fail_msg("%s: encode returned %zd", c->name, n);
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
test_frame_decode_whole(const char *name, const uint8_t *bytes, size_t len, struct frame *f)
{
    const uint8_t *p = guard_place(bytes, len);
    ssize_t n = frame_decode(p, len, NGR_FRAME_MAX_PAYLOAD, f);

    if (n != (ssize_t)len)
        fail_msg("%s: frame_decode of the whole %zu bytes gave %zd", name, len, n);
    if (f->length != len - NGR_FRAME_HEADER_LEN || f->payload != p + NGR_FRAME_HEADER_LEN)
        fail_msg("%s: decoded length %u at offset %td, want %zu at %d", name, f->length,
                 f->payload - p, len - NGR_FRAME_HEADER_LEN, NGR_FRAME_HEADER_LEN);
}

static void
test_frame_want(const char *name, const char *what, uint64_t got, uint64_t want)
{
    if (got != want)
        fail_msg("%s: %s is %#llx, want %#llx", name, what, (unsigned long long)got,
                 (unsigned long long)want);
}

static void
test_frame_want_rc(const char *name, const char *what, ssize_t got, ssize_t want)
{
    if (got != want)
        fail_msg("%s: %s gave %zd, want %zd", name, what, got, want);
}

/* got is not NULL, equals want and, unless empty, is borrowed from f's payload (not copied). */
static void
test_frame_want_str(const char *name, const char *what, const struct frame *f, struct frame_str got,
                    struct frame_str want)
{
    if (got.p == NULL)
        fail_msg("%s: %s is NULL", name, what);
    if (got.len != want.len)
        fail_msg("%s: %s is %zu bytes, want %zu", name, what, got.len, want.len);
    if (want.len == 0)
        return;
    if ((const uint8_t *)got.p < f->payload ||
        (const uint8_t *)got.p + got.len > f->payload + f->length)
        fail_msg("%s: %s is not within the payload", name, what);
    if (memcmp(got.p, want.p, want.len) != 0)
        fail_msg("%s: %s is \"%.*s\", want \"%.*s\"", name, what, (int)got.len, got.p,
                 (int)want.len, want.p);
}

/* Each decoded field equals want's, and its name equals want's upper-cased by frame_str_eq. */
static void
test_frame_want_fields(const char *name, const struct frame *f, const struct frame_head *h,
                       const struct frame_field *want, size_t nwant)
{
    size_t i, k;

    test_frame_want(name, "nfields", h->nfields, nwant);
    for (i = 0; i < nwant; i++) {
        char upper[64];

        test_frame_want_str(name, "a field's name", f, h->fields[i].name, want[i].name);
        test_frame_want_str(name, "a field's value", f, h->fields[i].value, want[i].value);
        assert_true(want[i].name.len < sizeof(upper));
        for (k = 0; k < want[i].name.len; k++)
            upper[k] = (char)toupper((unsigned char)want[i].name.p[k]);
        upper[k] = '\0';
        if (!frame_str_eq(h->fields[i].name, upper))
            fail_msg("%s: field %zu is not equal to %s ignoring case", name, i, upper);
    }
}

static void
test_frame_want_head(const struct test_frame_case *c, const struct frame *f,
                     const struct frame_head *h)
{
    const struct frame_head *w = &c->v.head;

    test_frame_want(c->name, "tunnel", h->tunnel, w->tunnel);
    test_frame_want(c->name, "status", h->status, w->status);
    test_frame_want(c->name, "body", h->body, w->body);
    test_frame_want(c->name, "head flags", h->flags, w->flags);
    test_frame_want(c->name, "length", h->length, w->length);
    test_frame_want(c->name, "service_us", h->service_us, w->service_us);
    test_frame_want_str(c->name, "method", f, h->method, w->method);
    test_frame_want_str(c->name, "target", f, h->target, w->target);
    test_frame_want_str(c->name, "client_addr", f, h->client_addr, w->client_addr);
    test_frame_want_str(c->name, "scheme", f, h->scheme, w->scheme);
    test_frame_want_str(c->name, "host", f, h->host, w->host);
    test_frame_want_fields(c->name, f, h, w->fields, w->nfields);
}

/* Decodes a head with room for cap fields (in fields, or none at all), every member filled with
 * junk first, so that the decoder must set what the frame does not carry. */
static int
test_frame_decode_head(const struct frame *f, struct frame_head *h, struct frame_field *fields,
                       size_t cap)
{
    memset(h, 0x5a, sizeof(*h));
    h->fields = cap > 0 ? fields : NULL;
    h->cap_fields = cap;
    return f->type == FRAME_OPEN ? frame_open_decode(f, h) : frame_reply_decode(f, h);
}

static void
test_frame_check_head(const struct test_frame_case *c, const struct frame *f)
{
    struct frame_field fields[NGR_MAX_HEADERS];
    struct frame_head h;
    size_t n = c->v.head.nfields;
    int rc;

    /* Room for every header, and exactly as many as there are, are both fine. */
    if ((rc = test_frame_decode_head(f, &h, fields, NGR_MAX_HEADERS)) != 0)
        fail_msg("%s: decode gave %d", c->name, rc);
    test_frame_want_head(c, f, &h);
    if ((rc = test_frame_decode_head(f, &h, fields, n)) != 0)
        fail_msg("%s: decode with room for exactly %zu fields gave %d", c->name, n, rc);
    test_frame_want_head(c, f, &h);
    /* One slot fewer is not. */
    if (n > 0 && (rc = test_frame_decode_head(f, &h, fields, n - 1)) != NGR_EPROTO)
        fail_msg("%s: decode with room for %zu of %zu fields gave %d", c->name, n - 1, n, rc);
}

/* Decodes f's payload as c's type, every member of the result filled with junk first, and
 * checks every member against c. */
static void
test_frame_check_payload(const struct test_frame_case *c, const struct frame *f)
{
    union {
        struct frame_hello hello;
        struct frame_bind bind;
        struct frame_bound bound;
        uint32_t increment;
        struct frame_reason reason;
    } got;
    const char *name = c->name;
    int rc = 0;

    memset(&got, 0x5a, sizeof(got));
    switch (c->type) {
    case FRAME_HELLO:
    case FRAME_WELCOME:
        rc = frame_hello_decode(f, &got.hello);
        test_frame_want_rc(name, "decode", rc, 0);
        test_frame_want(name, "version", got.hello.version, c->v.hello.version);
        test_frame_want(name, "max_payload", got.hello.max_payload, c->v.hello.max_payload);
        test_frame_want(name, "stream_window", got.hello.stream_window, c->v.hello.stream_window);
        test_frame_want(name, "session_window", got.hello.session_window,
                        c->v.hello.session_window);
        test_frame_want(name, "heartbeat_ms", got.hello.heartbeat_ms, c->v.hello.heartbeat_ms);
        test_frame_want_str(name, "token", f, got.hello.token, c->v.hello.token);
        test_frame_want_str(name, "agent", f, got.hello.agent, c->v.hello.agent);
        break;
    case FRAME_BIND:
        rc = frame_bind_decode(f, &got.bind);
        test_frame_want_rc(name, "decode", rc, 0);
        test_frame_want(name, "handle", got.bind.handle, c->v.bind.handle);
        test_frame_want(name, "proto", got.bind.proto, c->v.bind.proto);
        test_frame_want_str(name, "subdomain", f, got.bind.subdomain, c->v.bind.subdomain);
        test_frame_want_str(name, "target", f, got.bind.target, c->v.bind.target);
        break;
    case FRAME_BOUND:
        rc = frame_bound_decode(f, &got.bound);
        test_frame_want_rc(name, "decode", rc, 0);
        test_frame_want(name, "handle", got.bound.handle, c->v.bound.handle);
        test_frame_want_str(name, "id", f, got.bound.id, c->v.bound.id);
        test_frame_want_str(name, "subdomain", f, got.bound.subdomain, c->v.bound.subdomain);
        test_frame_want_str(name, "public_url", f, got.bound.public_url, c->v.bound.public_url);
        break;
    case FRAME_OPEN:
    case FRAME_REPLY:
        test_frame_check_head(c, f);
        break;
    case FRAME_WINDOW:
        rc = frame_window_decode(f, &got.increment);
        test_frame_want_rc(name, "decode", rc, 0);
        test_frame_want(name, "increment", got.increment, c->v.increment);
        break;
    case FRAME_RST:
    case FRAME_ERROR:
    case FRAME_GOAWAY:
        /* code, ref (not on RST), message */
        test_frame_want(name, "payload length", f->length,
                        4 + (c->type == FRAME_RST ? 0 : 4) + 2 + c->v.reason.message.len);
        rc = frame_reason_decode(f, &got.reason);
        test_frame_want_rc(name, "decode", rc, 0);
        test_frame_want(name, "code", got.reason.code, c->v.reason.code);
        test_frame_want(name, "ref", got.reason.ref, c->want_ref);
        test_frame_want_str(name, "message", f, got.reason.message, c->v.reason.message);
        break;
    case FRAME_PING:
    case FRAME_DATA:
        test_frame_want(name, "payload length", f->length, c->v.bytes.len);
        if (memcmp(f->payload, c->v.bytes.p, c->v.bytes.len) != 0)
            fail_msg("%s: payload differs", name);
        break;
    default:
        fail_msg("%s: no payload check for type %u", name, c->type);
    }
}

/* Every sample, encoded and decoded whole against the guard page, gives back what was encoded. */
static void
test_frame_roundtrip(void **state)
{
    uint8_t buf[1024];
    struct frame f;
    int i;

    (void)state;
    for (i = 0; i < SAMPLE_COUNT; i++) {
        const struct test_frame_case *c = &test_frame_cases[i];
        size_t n = test_frame_sample(c, buf, sizeof(buf));

        test_frame_decode_whole(c->name, buf, n, &f);
        test_frame_want(c->name, "type", f.type, c->type);
        test_frame_want(c->name, "flags", f.flags, c->flags);
        test_frame_want(c->name, "stream id", f.stream_id, c->stream_id);
        test_frame_check_payload(c, &f);
    }
}

#define TEST_FRAME_ROOM 1024

/* Runs check on every sample, encoded into buf with 16 spare bytes after TEST_FRAME_ROOM. */
static void
test_frame_each_sample(void (*check)(const struct test_frame_case *c, uint8_t *buf, size_t n))
{
    uint8_t buf[TEST_FRAME_ROOM + 16];
    int i;

    for (i = 0; i < SAMPLE_COUNT; i++) {
        const struct test_frame_case *c = &test_frame_cases[i];

        check(c, buf, test_frame_sample(c, buf, TEST_FRAME_ROOM));
    }
}

/* Every proper prefix of every sample is "incomplete", never an error or a frame. */
static void
test_frame_check_prefixes(const struct test_frame_case *c, uint8_t *buf, size_t n)
{
    struct frame f;
    size_t k;

    for (k = 0; k < n; k++) {
        const uint8_t *p = guard_place(buf, k);
        ssize_t rc = frame_decode(p, k, NGR_FRAME_MAX_PAYLOAD, &f);
        if (rc != NGR_EAGAIN)
            fail_msg("%s: prefix of %zu/%zu bytes gave %zd", c->name, k, n, rc);
    }
    test_frame_decode_whole(c->name, buf, n, &f);
    test_frame_want(c->name, "type", f.type, c->type);
    test_frame_want_rc(c->name, "payload decode", test_frame_decode_payload(&f), 0);
}

static void
test_frame_every_prefix(void **state)
{
    (void)state;
    test_frame_each_sample(test_frame_check_prefixes);
}

/* A whole frame followed by more bytes takes only its own. */
static void
test_frame_check_followed(const struct test_frame_case *c, uint8_t *buf, size_t n)
{
    struct frame f;
    const uint8_t *p;

    memset(buf + n, 0xff, 16);
    p = guard_place(buf, n + 16);
    test_frame_want_rc(c->name, "decode followed by 16 bytes",
                       frame_decode(p, n + 16, NGR_FRAME_MAX_PAYLOAD, &f), (ssize_t)n);
    test_frame_want(c->name, "type", f.type, c->type);
}

static void
test_frame_followed_by_more(void **state)
{
    (void)state;
    test_frame_each_sample(test_frame_check_followed);
}

/* Every payload cut short is a protocol error, read against the guard page. */
static void
test_frame_check_truncated(const struct test_frame_case *c, uint8_t *buf, size_t n)
{
    struct frame f;
    size_t k;

    if (!test_frame_has_payload_decoder(c->type))
        return;
    for (k = 0; k < n - NGR_FRAME_HEADER_LEN; k++) {
        int rc;

        /* Without its optional service_us, a REPLY is whole (an older client's). */
        if (c->type == FRAME_REPLY && c->v.head.service_us != 0 && k == n - NGR_FRAME_HEADER_LEN - 4)
            continue;
        f.type = c->type;
        f.flags = 0;
        f.stream_id = 1;
        f.length = (uint32_t)k;
        f.payload = guard_place(buf + NGR_FRAME_HEADER_LEN, k);
        rc = test_frame_decode_payload(&f);
        if (rc != NGR_EPROTO)
            fail_msg("%s: payload cut to %zu of %zu gave %d", c->name, k, n - NGR_FRAME_HEADER_LEN,
                     rc);
    }
}

static void
test_frame_truncated_payload(void **state)
{
    (void)state;
    test_frame_each_sample(test_frame_check_truncated);
}

/* A payload with bytes after its last member is as wrong as a short one. */
static void
test_frame_check_garbage(const struct test_frame_case *c, uint8_t *buf, size_t n)
{
    static const uint8_t extra[] = {0x00, 0xff, 'x'};
    struct frame f;
    size_t e, k;

    if (!test_frame_has_payload_decoder(c->type))
        return;
    for (e = 0; e < sizeof(extra); e++) {
        for (k = 1; k <= 4; k++) {
            int rc;

            /* Four more bytes, not all 0, after a REPLY's fields are its optional service_us. */
            if (c->type == FRAME_REPLY && c->v.head.service_us == 0 && k == 4 && extra[e] != 0)
                continue;
            memset(buf + n, extra[e], k);
            frame_header_encode(buf, c->type, 0, 1, (uint32_t)(n - NGR_FRAME_HEADER_LEN + k));
            test_frame_decode_whole(c->name, buf, n + k, &f);
            rc = test_frame_decode_payload(&f);
            if (rc != NGR_EPROTO)
                fail_msg("%s: %zu trailing bytes %#x gave %d", c->name, k, extra[e], rc);
        }
    }
}

static void
test_frame_trailing_garbage(void **state)
{
    (void)state;
    test_frame_each_sample(test_frame_check_garbage);
}

/* Encoding into every buffer smaller than the frame fails cleanly and writes nothing past cap;
 * the exact size succeeds and gives the same bytes. */
static void
test_frame_check_small_buffer(const struct test_frame_case *c, uint8_t *want, size_t n)
{
    size_t cap;
    uint8_t *out;
    ssize_t rc;

    for (cap = 0; cap < n; cap++) {
        out = guard_out(cap);
        rc = test_frame_encode_sample(c, out, cap);
        if (rc != NGR_ELIMIT)
            fail_msg("%s: encode into %zu of %zu bytes gave %zd", c->name, cap, n, rc);
    }
    out = guard_out(n);
    test_frame_want_rc(c->name, "encode into the exact size", test_frame_encode_sample(c, out, n),
                       (ssize_t)n);
    if (memcmp(out, want, n) != 0)
        fail_msg("%s: encode into the exact size gave other bytes", c->name);
}

static void
test_frame_encode_small_buffer(void **state)
{
    (void)state;
    test_frame_each_sample(test_frame_check_small_buffer);
}

/* The reserved stream-id bit is refused, and known from the header alone. */
static void
test_frame_check_reserved_bit(const struct test_frame_case *c, uint8_t *buf, size_t n)
{
    struct frame f;

    buf[5] |= 0x80;
    test_frame_want_rc(c->name, "decode with the reserved bit",
                       frame_decode(guard_place(buf, n), n, NGR_FRAME_MAX_PAYLOAD, &f), NGR_EPROTO);
    test_frame_want_rc(c->name, "decode of the header alone with the reserved bit",
                       frame_decode(guard_place(buf, NGR_FRAME_HEADER_LEN), NGR_FRAME_HEADER_LEN,
                                    NGR_FRAME_MAX_PAYLOAD, &f),
                       NGR_EPROTO);
}

static void
test_frame_reserved_bit(void **state)
{
    (void)state;
    test_frame_each_sample(test_frame_check_reserved_bit);
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
    for (i = 0; i < COUNT(bad); i++) {
        ssize_t n = frame_window_encode(buf, sizeof(buf), 1, bad[i]);

        if (n != NGR_FRAME_HEADER_LEN + 4)
            fail_msg("WINDOW increment %#x: encode gave %zd", bad[i], n);
        test_frame_decode_whole("WINDOW", buf, (size_t)n, &f);
        if (frame_window_decode(&f, &inc) != NGR_EPROTO)
            fail_msg("WINDOW increment %#x accepted", bad[i]);
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

/* A length-prefixed string of n bytes of s, or of n times 'm' when s is NULL. */
static void
test_frame_raw_bytes(struct test_frame_raw *r, const char *s, size_t n)
{
    test_frame_raw_u16(r, (uint16_t)n);
    assert_true(n <= sizeof(r->b) - r->len);
    if (s != NULL)
        memcpy(r->b + r->len, s, n);
    else
        memset(r->b + r->len, 'm', n);
    r->len += n;
}

static void
test_frame_raw_str(struct test_frame_raw *r, const char *s)
{
    test_frame_raw_bytes(r, s, strlen(s));
}

/* Puts the header on r's payload and decodes the whole frame against the guard page. */
static void
test_frame_raw_frame(const char *name, struct test_frame_raw *r, uint8_t type, struct frame *f)
{
    frame_header_encode(r->b, type, 0, 1, (uint32_t)(r->len - NGR_FRAME_HEADER_LEN));
    test_frame_decode_whole(name, r->b, r->len, f);
}

/* Messages: cut to NGR_MAX_MESSAGE on encode, not refused; a peer's message over it is a
 * protocol error. */
static void
test_frame_reason_message_limit(void **state)
{
    static const struct {
        const char *name;
        uint8_t type;
        size_t len;
        size_t want_len; /* encode: what decoding the encoded frame gives */
        int want;        /* decode of a raw frame with a message of len bytes */
    } cases[] = {
        {"ERROR, message of NGR_MAX_MESSAGE", FRAME_ERROR, NGR_MAX_MESSAGE, NGR_MAX_MESSAGE, 0},
        {"ERROR, message of NGR_MAX_MESSAGE + 1", FRAME_ERROR, NGR_MAX_MESSAGE + 1, NGR_MAX_MESSAGE,
         NGR_EPROTO},
        {"ERROR, message of NGR_MAX_MESSAGE + 50", FRAME_ERROR, NGR_MAX_MESSAGE + 50,
         NGR_MAX_MESSAGE, NGR_EPROTO},
        {"GOAWAY, message of NGR_MAX_MESSAGE + 1", FRAME_GOAWAY, NGR_MAX_MESSAGE + 1,
         NGR_MAX_MESSAGE, NGR_EPROTO},
        {"RST, message of NGR_MAX_MESSAGE", FRAME_RST, NGR_MAX_MESSAGE, NGR_MAX_MESSAGE, 0},
        {"RST, message of NGR_MAX_MESSAGE + 1", FRAME_RST, NGR_MAX_MESSAGE + 1, NGR_MAX_MESSAGE,
         NGR_EPROTO},
    };
    char msg[NGR_MAX_MESSAGE + 50];
    uint8_t buf[1024];
    struct test_frame_raw *raw = malloc(sizeof(*raw));
    struct frame f;
    size_t i;

    (void)state;
    assert_non_null(raw);
    memset(msg, 'm', sizeof(msg));
    for (i = 0; i < COUNT(cases); i++) {
        struct frame_reason r = {FRAME_CODE_INTERNAL, 3, {msg, cases[i].len}};
        size_t refs = cases[i].type == FRAME_RST ? 0 : 4;
        ssize_t n = frame_reason_encode(buf, sizeof(buf), cases[i].type, 0, &r);

        test_frame_want_rc(cases[i].name, "encode", n,
                           (ssize_t)(NGR_FRAME_HEADER_LEN + 4 + refs + 2 + cases[i].want_len));
        test_frame_decode_whole(cases[i].name, buf, (size_t)n, &f);
        test_frame_want_rc(cases[i].name, "decode of the encoded frame",
                           frame_reason_decode(&f, &r), 0);
        test_frame_want(cases[i].name, "decoded length", r.message.len, cases[i].want_len);

        raw->len = NGR_FRAME_HEADER_LEN;
        test_frame_raw_u32(raw, FRAME_CODE_INTERNAL);
        if (refs)
            test_frame_raw_u32(raw, 0);
        test_frame_raw_bytes(raw, NULL, cases[i].len);
        test_frame_raw_frame(cases[i].name, raw, cases[i].type, &f);
        test_frame_want_rc(cases[i].name, "decode of a raw frame", frame_reason_decode(&f, &r),
                           cases[i].want);
    }
    free(raw);
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
        total += test_frame_sample(&test_frame_cases[id], all + total, sizeof(all) - total);
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
                const struct test_frame_case *c;
                struct frame f;
                ssize_t n;
                size_t want;
                int rc;

                if (in.len == 0)
                    break;
                n = frame_decode(buf_head(&in), in.len, NGR_FRAME_MAX_PAYLOAD, &f);
                if (n == NGR_EAGAIN)
                    break;
                if (next >= SAMPLE_COUNT)
                    fail_msg("chunk %zu: frame after the last sample", chunk);
                c = &test_frame_cases[next];
                want = off[next + 1] - off[next];
                if (n != (ssize_t)want)
                    fail_msg("chunk %zu, %s: took %zd, want %zu", chunk, c->name, n, want);
                if (memcmp(buf_head(&in), all + off[next], want) != 0)
                    fail_msg("chunk %zu, %s: other bytes", chunk, c->name);
                rc = test_frame_decode_payload(&f);
                if (f.type != c->type || rc != 0)
                    fail_msg("chunk %zu, %s: type %u, payload decode %d", chunk, c->name, f.type,
                             rc);
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

/* A length over the caller's limit is refused from the header alone: nobody waits for 16 MiB
 * that will be refused anyway. At the limit it is only incomplete. */
static void
test_frame_oversized_length(void **state)
{
    static const struct {
        const char *name;
        uint32_t length;
        size_t max;
        ssize_t want;
    } cases[] = {
        {"NGR_FRAME_MAX_PAYLOAD + 1", NGR_FRAME_MAX_PAYLOAD + 1, NGR_FRAME_MAX_PAYLOAD, NGR_ELIMIT},
        {"NGR_FRAME_ABS_MAX_PAYLOAD", NGR_FRAME_ABS_MAX_PAYLOAD, NGR_FRAME_MAX_PAYLOAD, NGR_ELIMIT},
        {"NGR_FRAME_MAX_PAYLOAD at its limit", NGR_FRAME_MAX_PAYLOAD, NGR_FRAME_MAX_PAYLOAD,
         NGR_EAGAIN},
        {"NGR_FRAME_ABS_MAX_PAYLOAD at its limit", NGR_FRAME_ABS_MAX_PAYLOAD,
         NGR_FRAME_ABS_MAX_PAYLOAD, NGR_EAGAIN},
    };
    const struct test_frame_case *open = test_frame_find(FRAME_OPEN);
    uint8_t h[NGR_FRAME_HEADER_LEN];
    uint8_t buf[1024];
    struct frame f;
    size_t i, n;

    (void)state;
    for (i = 0; i < COUNT(cases); i++) {
        frame_header_encode(h, FRAME_DATA, 0, 1, cases[i].length);
        test_frame_want_rc(cases[i].name, "decode of the header",
                           frame_decode(guard_place(h, sizeof(h)), sizeof(h), cases[i].max, &f),
                           cases[i].want);
    }

    /* The caller's limit applies, whatever the frame. */
    n = test_frame_sample(open, buf, sizeof(buf));
    test_frame_want_rc(open->name, "decode with a limit one under its payload",
                       frame_decode(guard_place(buf, n), n, n - NGR_FRAME_HEADER_LEN - 1, &f),
                       NGR_ELIMIT);
    test_frame_want_rc(open->name, "decode with its payload as the limit",
                       frame_decode(guard_place(buf, n), n, n - NGR_FRAME_HEADER_LEN, &f),
                       (ssize_t)n);
    test_frame_want_rc(open->name, "decode with a limit of 0",
                       frame_decode(guard_place(buf, n), n, 0, &f), NGR_ELIMIT);
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
    test_frame_decode_whole("DATA of NGR_FRAME_MAX_PAYLOAD", buf, n, &f);
    assert_int_equal(f.length, NGR_FRAME_MAX_PAYLOAD);
    assert_int_equal(frame_decode(guard_place(buf, n - 1), n - 1, NGR_FRAME_MAX_PAYLOAD, &f),
                     NGR_EAGAIN);
    free(buf);
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

/* The encoders take NGR_MAX_HEADERS fields and refuse one more. */
static void
test_frame_too_many_fields(void **state)
{
    static struct frame_field fields[NGR_MAX_HEADERS + 1];
    static char names[NGR_MAX_HEADERS + 1][16];
    uint8_t *buf = malloc(NGR_SCRATCH_LEN);
    struct frame_field out[NGR_MAX_HEADERS];
    struct frame_head h, d = {.fields = out, .cap_fields = NGR_MAX_HEADERS};
    struct frame f;
    ssize_t n;
    size_t i;

    (void)state;
    assert_non_null(buf);
    for (i = 0; i <= NGR_MAX_HEADERS; i++) {
        snprintf(names[i], sizeof(names[i]), "X-H-%03zu", i);
        fields[i].name = frame_str_c(names[i]);
        fields[i].value = frame_str_c(i % 2 ? "v" : "");
    }

    /* NGR_MAX_HEADERS fields: fine both ways. */
    h = test_frame_find(FRAME_OPEN)->v.head;
    h.fields = fields;
    h.nfields = NGR_MAX_HEADERS;
    n = frame_open_encode(buf, NGR_SCRATCH_LEN, 1, 0, &h);
    assert_true(n > 0);
    test_frame_decode_whole("OPEN with NGR_MAX_HEADERS fields", buf, (size_t)n, &f);
    assert_int_equal(frame_open_decode(&f, &d), 0);
    test_frame_want_fields("OPEN with NGR_MAX_HEADERS fields", &f, &d, fields, NGR_MAX_HEADERS);

    /* One more: refused by the encoders (by the decoder: test_frame_bad_heads). */
    h.nfields = NGR_MAX_HEADERS + 1;
    assert_int_equal(frame_open_encode(buf, NGR_SCRATCH_LEN, 1, 0, &h), NGR_ELIMIT);
    h = test_frame_find(FRAME_REPLY)->v.head;
    h.fields = fields;
    h.nfields = NGR_MAX_HEADERS + 1;
    assert_int_equal(frame_reply_encode(buf, NGR_SCRATCH_LEN, 1, 0, &h), NGR_ELIMIT);
    free(buf);
}

/* Raw heads, written byte by byte: OPEN is tunnel 1, body, flags 0, length, method, target and
 * three empty strings; REPLY is status, body, flags 0, length; then both the field count and
 * the fields. */
struct test_frame_raw_head {
    const char *name;
    uint8_t type;    /* FRAME_OPEN or FRAME_REPLY */
    uint16_t status; /* REPLY */
    uint8_t body;
    uint32_t length;             /* the low half of the u64 */
    const char *method, *target; /* OPEN */
    uint16_t count;              /* the field count as written */
    const char *fields[5];       /* name, value pairs after it, up to a NULL */
    size_t generated;            /* then this many fields "X-H-nnn: v" */
    size_t cap_fields;           /* room in the caller's array */
    int want;
};

#define TEST_FRAME_OPEN_ROW(what, b, m, t, n, ...)                                                 \
    {                                                                                              \
        .name = "OPEN " what, .type = FRAME_OPEN, .body = (b), .method = (m), .target = (t),       \
        .count = (n), __VA_ARGS__                                                                  \
    }
#define TEST_FRAME_REPLY_ROW(st, b, len, w)                                                        \
    {                                                                                              \
        .name = "REPLY status " #st ", body " #b, .type = FRAME_REPLY, .status = (st),             \
        .body = (b), .length = (len), .cap_fields = 4, .want = (w)                                 \
    }

static const struct test_frame_raw_head test_frame_raw_heads[] = {
    /* A well-formed raw OPEN decodes, so the failures below are for the reason given. */
    TEST_FRAME_OPEN_ROW("well-formed", FRAME_BODY_UNKNOWN, "GET", "/", 1,
                        .fields = {"X-Empty-Value", ""}, .cap_fields = 4, .want = 0),
    TEST_FRAME_OPEN_ROW("body past UNKNOWN", FRAME_BODY_UNKNOWN + 1, "GET", "/", 0, .cap_fields = 4,
                        .want = NGR_EPROTO),
    TEST_FRAME_OPEN_ROW("body 0xff", 0xff, "GET", "/", 0, .cap_fields = 4, .want = NGR_EPROTO),
    TEST_FRAME_OPEN_ROW("empty method", FRAME_BODY_NONE, "", "/", 0, .cap_fields = 4,
                        .want = NGR_EPROTO),
    TEST_FRAME_OPEN_ROW("empty target", FRAME_BODY_NONE, "GET", "", 0, .cap_fields = 4,
                        .want = NGR_EPROTO),
    TEST_FRAME_OPEN_ROW("field without a name", FRAME_BODY_NONE, "GET", "/", 2,
                        .fields = {"A", "1", "", "value"}, .cap_fields = 4, .want = NGR_EPROTO),
    /* Too many fields even with room in the caller's array. */
    TEST_FRAME_OPEN_ROW("NGR_MAX_HEADERS + 1 fields", FRAME_BODY_NONE, "GET", "/",
                        NGR_MAX_HEADERS + 1, .generated = NGR_MAX_HEADERS + 1,
                        .cap_fields = NGR_MAX_HEADERS + 10, .want = NGR_EPROTO),
    /* A count far beyond the fields present. */
    TEST_FRAME_OPEN_ROW("count 0xffff, no fields", FRAME_BODY_NONE, "GET", "/", 0xffff,
                        .cap_fields = NGR_MAX_HEADERS, .want = NGR_EPROTO),
    TEST_FRAME_OPEN_ROW("count 3, one field", FRAME_BODY_NONE, "GET", "/", 3, .fields = {"a", "b"},
                        .cap_fields = NGR_MAX_HEADERS, .want = NGR_EPROTO),
    TEST_FRAME_REPLY_ROW(100, FRAME_BODY_LENGTH, 10, 0),
    TEST_FRAME_REPLY_ROW(101, FRAME_BODY_LENGTH, 10, 0),
    TEST_FRAME_REPLY_ROW(200, FRAME_BODY_LENGTH, 10, 0),
    TEST_FRAME_REPLY_ROW(599, FRAME_BODY_LENGTH, 10, 0),
    TEST_FRAME_REPLY_ROW(999, FRAME_BODY_LENGTH, 10, 0),
    TEST_FRAME_REPLY_ROW(0, FRAME_BODY_LENGTH, 10, NGR_EPROTO),
    TEST_FRAME_REPLY_ROW(1, FRAME_BODY_LENGTH, 10, NGR_EPROTO),
    TEST_FRAME_REPLY_ROW(99, FRAME_BODY_LENGTH, 10, NGR_EPROTO),
    TEST_FRAME_REPLY_ROW(1000, FRAME_BODY_LENGTH, 10, NGR_EPROTO),
    TEST_FRAME_REPLY_ROW(0xffff, FRAME_BODY_LENGTH, 10, NGR_EPROTO),
    TEST_FRAME_REPLY_ROW(200, 3, 0, NGR_EPROTO),
};

static void
test_frame_bad_heads(void **state)
{
    static struct frame_field fields[NGR_MAX_HEADERS + 10];
    struct test_frame_raw *r = malloc(sizeof(*r));
    size_t i, k;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < COUNT(test_frame_raw_heads); i++) {
        const struct test_frame_raw_head *c = &test_frame_raw_heads[i];
        struct frame_head h = {.fields = fields, .cap_fields = c->cap_fields};
        struct frame f;
        int rc;

        assert_true(c->cap_fields <= COUNT(fields));
        r->len = NGR_FRAME_HEADER_LEN;
        if (c->type == FRAME_OPEN)
            test_frame_raw_u32(r, 1);
        else
            test_frame_raw_u16(r, c->status);
        test_frame_raw_u8(r, c->body);
        test_frame_raw_u8(r, 0);
        test_frame_raw_u32(r, 0);
        test_frame_raw_u32(r, c->length);
        if (c->type == FRAME_OPEN) {
            test_frame_raw_str(r, c->method);
            test_frame_raw_str(r, c->target);
            test_frame_raw_str(r, "");
            test_frame_raw_str(r, "");
            test_frame_raw_str(r, "");
        }
        test_frame_raw_u16(r, c->count);
        for (k = 0; k < COUNT(c->fields) && c->fields[k] != NULL; k++)
            test_frame_raw_str(r, c->fields[k]);
        for (k = 0; k < c->generated; k++) {
            char name[32];

            snprintf(name, sizeof(name), "X-H-%03zu", k);
            test_frame_raw_str(r, name);
            test_frame_raw_str(r, "v");
        }
        test_frame_raw_frame(c->name, r, c->type, &f);
        rc = c->type == FRAME_OPEN ? frame_open_decode(&f, &h) : frame_reply_decode(&f, &h);
        if (rc != c->want)
            fail_msg("%s: decode gave %d, want %d", c->name, rc, c->want);
    }
    free(r);
}

/* BIND's protections: absent on the wire when there is none (the layout older clients send),
 * else a count and key/value pairs; a count of 0 or over NGR_BIND_OPTS_MAX, or an empty key, is
 * malformed. */
static void
test_frame_bind_options(void **state)
{
    uint8_t buf[4096], plain[256];
    struct frame_bind b, got;
    struct frame f;
    ssize_t n, m;
    size_t i;

    (void)state;
    memset(&b, 0, sizeof(b));
    b.handle = 1;
    b.proto = FRAME_PROTO_HTTP;
    b.subdomain = frame_str_c("app");
    b.target = frame_str_c("localhost:3000");
    m = frame_bind_encode(plain, sizeof(plain), &b);
    assert_true(m > 0);
    b.opts[0].name = frame_str_c("basic_auth");
    b.opts[0].value = frame_str_c("alice:pw");
    b.opts[1].name = frame_str_c("allow_cidr");
    b.opts[1].value = frame_str_c("10.0.0.0/8");
    b.nopts = 2;
    n = frame_bind_encode(buf, sizeof(buf), &b);
    assert_true(n > m);
    assert_memory_equal(buf + NGR_FRAME_HEADER_LEN, plain + NGR_FRAME_HEADER_LEN,
                        (size_t)m - NGR_FRAME_HEADER_LEN); /* the same start: options follow */
    test_frame_decode_whole("BIND with options", buf, (size_t)n, &f);
    assert_int_equal(frame_bind_decode(&f, &got), 0);
    assert_int_equal(got.nopts, 2);
    assert_true(frame_str_eq(got.opts[0].name, "basic_auth"));
    assert_true(frame_str_eq(got.opts[1].value, "10.0.0.0/8"));
    test_frame_decode_whole("BIND without", plain, (size_t)m, &f);
    assert_int_equal(frame_bind_decode(&f, &got), 0);
    assert_int_equal(got.nopts, 0);
    /* A count of 0 (the options present but empty) is malformed. */
    memcpy(buf, plain, (size_t)m);
    buf[m] = 0;
    buf[m + 1] = 0;
    frame_header_encode(buf, FRAME_BIND, 0, 0, (uint32_t)(m + 2 - NGR_FRAME_HEADER_LEN));
    test_frame_decode_whole("BIND with 0 options", buf, (size_t)m + 2, &f);
    assert_int_equal(frame_bind_decode(&f, &got), NGR_EPROTO);
    /* Too many to encode. */
    for (i = 0; i < NGR_BIND_OPTS_MAX; i++)
        b.opts[i] = b.opts[0];
    b.nopts = NGR_BIND_OPTS_MAX + 1;
    assert_int_equal(frame_bind_encode(buf, sizeof(buf), &b), NGR_ELIMIT);
    b.nopts = NGR_BIND_OPTS_MAX;
    n = frame_bind_encode(buf, sizeof(buf), &b);
    assert_true(n > 0);
    test_frame_decode_whole("BIND with the most options", buf, (size_t)n, &f);
    assert_int_equal(frame_bind_decode(&f, &got), 0);
    assert_int_equal(got.nopts, NGR_BIND_OPTS_MAX);
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
    test_frame_decode_whole("HELLO of NGR_FRAME_MAX_PAYLOAD", buf, (size_t)n, &f);
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

/* HELLO's optional resume: absent (older clients) reads as empty, present round-trips, an
 * empty one present is refused; WELCOME never carries it. */
static void
test_frame_hello_resume(void **state)
{
    uint8_t buf[512];
    struct frame_hello h, got;
    struct frame f;
    ssize_t n;

    (void)state;
    memset(&h, 0, sizeof(h));
    h.version = 1;
    h.agent = frame_str_c("a");
    n = frame_hello_encode(buf, sizeof(buf), &h, 0);
    test_frame_decode_whole("HELLO without resume", buf, (size_t)n, &f);
    assert_int_equal(frame_hello_decode(&f, &got), 0);
    assert_int_equal(got.resume.len, 0);
    h.resume = frame_str_c("0123abcd");
    n = frame_hello_encode(buf, sizeof(buf), &h, 0);
    test_frame_decode_whole("HELLO with resume", buf, (size_t)n, &f);
    assert_int_equal(frame_hello_decode(&f, &got), 0);
    assert_int_equal(got.resume.len, 8);
    assert_memory_equal(got.resume.p, "0123abcd", 8);
    n = frame_hello_encode(buf, sizeof(buf), &h, 1);
    test_frame_decode_whole("WELCOME", buf, (size_t)n, &f);
    assert_int_equal(frame_hello_decode(&f, &got), 0);
    assert_int_equal(got.resume.len, 0);
}

/* REPLY's optional service_us: left out when 0 (what older clients send), read when there;
 * present but 0 is malformed, as no encoder writes it. */
static void
test_frame_reply_service_time(void **state)
{
    uint8_t buf[512];
    struct frame_head h, got;
    struct frame f;
    ssize_t n, bare;

    (void)state;
    memset(&h, 0, sizeof(h));
    h.status = 200;
    bare = frame_reply_encode(buf, sizeof(buf), 1, 0, &h);
    assert_true(bare > 0);
    h.service_us = 1500;
    n = frame_reply_encode(buf, sizeof(buf), 1, 0, &h);
    assert_int_equal(n, bare + 4);
    test_frame_decode_whole("REPLY with service_us", buf, (size_t)n, &f);
    assert_int_equal(frame_reply_decode(&f, &got), 0);
    assert_int_equal(got.service_us, 1500);
    memset(buf + n - 4, 0, 4);
    test_frame_decode_whole("REPLY with service_us 0", buf, (size_t)n, &f);
    assert_int_equal(frame_reply_decode(&f, &got), NGR_EPROTO);
    h.service_us = 0;
    n = frame_reply_encode(buf, sizeof(buf), 1, 0, &h);
    test_frame_decode_whole("REPLY without", buf, (size_t)n, &f);
    got.service_us = 7;
    assert_int_equal(frame_reply_decode(&f, &got), 0);
    assert_int_equal(got.service_us, 0);
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
        const struct test_frame_case *c = &test_frame_cases[round % SAMPLE_COUNT];
        size_t n = test_frame_sample(c, buf, sizeof(buf)), off = 0;
        int k;
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
                    fail_msg("round %d, %s: frame_decode gave %zd", round, c->name, rc);
                break;
            }
            prc = test_frame_decode_payload(&f);
            if (prc != 0 && prc != NGR_EPROTO)
                fail_msg("round %d, %s: payload decode gave %d", round, c->name, prc);
            off += (size_t)rc;
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_roundtrip),
        cmocka_unit_test(test_frame_window_bad_increment),
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
        cmocka_unit_test(test_frame_bind_options),
        cmocka_unit_test(test_frame_hello_resume),
        cmocka_unit_test(test_frame_reply_service_time),
        cmocka_unit_test(test_frame_str_helpers),
        cmocka_unit_test(test_frame_mutations),
    };

    return cmocka_run_group_tests_name("frame", tests, guard_setup, guard_teardown);
}
