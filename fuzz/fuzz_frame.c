/* fuzz_frame.c: libFuzzer target for the frame codec. Decodes the input as a stream of frames,
 * runs the payload decoder of each frame's type, and checks that what decodes re-encodes to the
 * same bytes; any mismatch aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for any frame our encoders may produce, and some. */
static uint8_t fuzz_frame_out[NGR_SCRATCH_LEN + 64];

static void
fuzz_frame_check(int ok)
{
    if (!ok)
        abort();
}

/* The re-encoded frame n (from fuzz_frame_out) carries the same payload as f. */
static void
fuzz_frame_same_payload(const struct frame *f, ssize_t n)
{
    fuzz_frame_check(n == (ssize_t)(NGR_FRAME_HEADER_LEN + f->length));
    fuzz_frame_check(memcmp(fuzz_frame_out + NGR_FRAME_HEADER_LEN, f->payload, f->length) == 0);
    fuzz_frame_check(fuzz_frame_out[3] == f->type);
}

/* The re-encoded frame is byte for byte the decoded one, header included. */
static void
fuzz_frame_same_frame(const struct frame *f, ssize_t n)
{
    fuzz_frame_same_payload(f, n);
    fuzz_frame_check(
        memcmp(fuzz_frame_out, f->payload - NGR_FRAME_HEADER_LEN, NGR_FRAME_HEADER_LEN) == 0);
}

static void
fuzz_frame_head(const struct frame *f)
{
    static struct frame_field fields[NGR_MAX_HEADERS];
    struct frame_field few[4];
    struct frame_head h = {.fields = fields, .cap_fields = NGR_MAX_HEADERS};
    struct frame_head s = {.fields = few, .cap_fields = 4};
    int open = f->type == FRAME_OPEN;
    int rc, rcs;
    ssize_t n;

    rc = open ? frame_open_decode(f, &h) : frame_reply_decode(f, &h);
    fuzz_frame_check(rc == 0 || rc == NGR_EPROTO);
    /* With room for fewer fields the answer is the same, unless there are more than that. */
    rcs = open ? frame_open_decode(f, &s) : frame_reply_decode(f, &s);
    fuzz_frame_check(rcs == 0 || rcs == NGR_EPROTO);
    if (rc != 0) {
        fuzz_frame_check(rcs != 0);
        return;
    }
    fuzz_frame_check(h.nfields <= NGR_MAX_HEADERS);
    fuzz_frame_check(rcs == (h.nfields <= 4 ? 0 : NGR_EPROTO));
    if (open) {
        fuzz_frame_check(h.method.len > 0 && h.target.len > 0);
        n = frame_open_encode(fuzz_frame_out, sizeof(fuzz_frame_out), f->stream_id, f->flags, &h);
    } else {
        fuzz_frame_check(h.status >= 100 && h.status <= 999);
        n = frame_reply_encode(fuzz_frame_out, sizeof(fuzz_frame_out), f->stream_id, f->flags, &h);
    }
    fuzz_frame_check(h.body <= FRAME_BODY_UNKNOWN);
    fuzz_frame_same_frame(f, n);
}

/* Runs the decoders for f's type and re-encodes what they accept. */
static void
fuzz_frame_one(const struct frame *f)
{
    struct frame_hello hello;
    struct frame_bind bind;
    struct frame_bound bound;
    struct frame_reason reason;
    uint32_t inc;
    ssize_t n;
    int rc;

    switch (f->type) {
    case FRAME_HELLO:
    case FRAME_WELCOME:
        rc = frame_hello_decode(f, &hello);
        fuzz_frame_check(rc == 0 || rc == NGR_EPROTO);
        if (rc != 0)
            break;
        n = frame_hello_encode(fuzz_frame_out, sizeof(fuzz_frame_out), &hello,
                               f->type == FRAME_WELCOME);
        fuzz_frame_same_payload(f, n);
        break;
    case FRAME_BIND:
        rc = frame_bind_decode(f, &bind);
        fuzz_frame_check(rc == 0 || rc == NGR_EPROTO);
        if (rc != 0)
            break;
        n = frame_bind_encode(fuzz_frame_out, sizeof(fuzz_frame_out), &bind);
        fuzz_frame_same_payload(f, n);
        break;
    case FRAME_BOUND:
        rc = frame_bound_decode(f, &bound);
        fuzz_frame_check(rc == 0 || rc == NGR_EPROTO);
        if (rc != 0)
            break;
        n = frame_bound_encode(fuzz_frame_out, sizeof(fuzz_frame_out), &bound);
        fuzz_frame_same_payload(f, n);
        break;
    case FRAME_OPEN:
    case FRAME_REPLY:
        fuzz_frame_head(f);
        break;
    case FRAME_WINDOW:
        rc = frame_window_decode(f, &inc);
        fuzz_frame_check(rc == 0 || rc == NGR_EPROTO);
        if (rc != 0)
            break;
        fuzz_frame_check(inc >= 1 && inc <= 0x7fffffffu);
        n = frame_window_encode(fuzz_frame_out, sizeof(fuzz_frame_out), f->stream_id, inc);
        fuzz_frame_same_payload(f, n);
        break;
    case FRAME_RST:
    case FRAME_ERROR:
    case FRAME_GOAWAY:
        rc = frame_reason_decode(f, &reason);
        fuzz_frame_check(rc == 0 || rc == NGR_EPROTO);
        if (rc != 0)
            break;
        fuzz_frame_check(reason.message.len <= NGR_MAX_MESSAGE);
        fuzz_frame_check(f->type != FRAME_RST || reason.ref == 0);
        n = frame_reason_encode(fuzz_frame_out, sizeof(fuzz_frame_out), f->type, f->stream_id,
                                &reason);
        fuzz_frame_same_payload(f, n);
        break;
    case FRAME_PING:
        if (f->length != 8)
            break;
        n = frame_ping_encode(fuzz_frame_out, sizeof(fuzz_frame_out), f->flags, f->payload);
        fuzz_frame_same_payload(f, n);
        break;
    case FRAME_DATA:
        break;
    default:
        abort(); /* frame_decode let an unknown type through */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct frame f;
        const uint8_t *p = data + off;
        size_t len = size - off;
        ssize_t n = frame_decode(p, len, NGR_FRAME_MAX_PAYLOAD, &f), k;

        if (n < 0) {
            fuzz_frame_check(n == NGR_EAGAIN || n == NGR_EPROTO || n == NGR_ELIMIT);
            /* Incomplete means: every byte present was a proper prefix of a frame. */
            if (n == NGR_EAGAIN && len >= NGR_FRAME_HEADER_LEN)
                fuzz_frame_check(((size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]) >
                                 len - NGR_FRAME_HEADER_LEN);
            break;
        }
        fuzz_frame_check((size_t)n == NGR_FRAME_HEADER_LEN + f.length && (size_t)n <= len);
        fuzz_frame_check(f.payload == p + NGR_FRAME_HEADER_LEN);
        fuzz_frame_check(f.type <= FRAME_TYPE_MAX && f.stream_id <= 0x7fffffffu);
        /* Any shorter view of the same bytes is incomplete. */
        for (k = 0; k < n; k += (k < NGR_FRAME_HEADER_LEN || n - k <= 2) ? 1 : n - k - 2) {
            struct frame g;
            fuzz_frame_check(frame_decode(p, (size_t)k, NGR_FRAME_MAX_PAYLOAD, &g) == NGR_EAGAIN);
        }
        fuzz_frame_one(&f);
        off += (size_t)n;
    }
    return 0;
}
