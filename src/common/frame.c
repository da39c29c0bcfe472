/* frame.c: encode and decode control-plane frames (docs/protocol.md). No I/O, no allocation. */
#include "frame.h"
#include "err.h"

#include <string.h>
#include <strings.h>

/* A cursor writing into a caller's buffer; any overflow sticks and fails the encode. */
struct frame_w {
    uint8_t *p;
    size_t cap;
    size_t len;
    int overflow;
};

/* A cursor reading a payload; any short read sticks and fails the decode. */
struct frame_r {
    const uint8_t *p;
    size_t len;
    size_t off;
    int short_read;
};

static void
frame_w_bytes(struct frame_w *w, const void *p, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = 1;
        return;
    }
    if (n > 0)
        memcpy(w->p + w->len, p, n);
    w->len += n;
}

static void
frame_w_u8(struct frame_w *w, uint8_t v)
{
    frame_w_bytes(w, &v, 1);
}

static void
frame_w_u16(struct frame_w *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    frame_w_bytes(w, b, 2);
}

static void
frame_w_u32(struct frame_w *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    frame_w_bytes(w, b, 4);
}

static void
frame_w_u64(struct frame_w *w, uint64_t v)
{
    frame_w_u32(w, (uint32_t)(v >> 32));
    frame_w_u32(w, (uint32_t)v);
}

static void
frame_w_str(struct frame_w *w, struct frame_str s)
{
    if (s.len > NGR_MAX_STRING) {
        w->overflow = 1;
        return;
    }
    frame_w_u16(w, (uint16_t)s.len);
    frame_w_bytes(w, s.p, s.len);
}

static const uint8_t *
frame_r_bytes(struct frame_r *r, size_t n)
{
    const uint8_t *p;

    if (r->short_read || n > r->len - r->off) {
        r->short_read = 1;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

static uint8_t
frame_r_u8(struct frame_r *r)
{
    const uint8_t *b = frame_r_bytes(r, 1);
    return b ? b[0] : 0;
}

static uint16_t
frame_r_u16(struct frame_r *r)
{
    const uint8_t *b = frame_r_bytes(r, 2);
    return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

static uint32_t
frame_r_u32(struct frame_r *r)
{
    const uint8_t *b = frame_r_bytes(r, 4);
    return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static uint64_t
frame_r_u64(struct frame_r *r)
{
    uint64_t hi = frame_r_u32(r);
    return hi << 32 | frame_r_u32(r);
}

static struct frame_str
frame_r_str(struct frame_r *r)
{
    struct frame_str s = {"", 0};
    size_t n = frame_r_u16(r);
    const uint8_t *b = frame_r_bytes(r, n);

    if (b != NULL) {
        s.p = (const char *)b;
        s.len = n;
    }
    return s;
}

static void
frame_r_init(struct frame_r *r, const struct frame *f)
{
    r->p = f->payload;
    r->len = f->length;
    r->off = 0;
    r->short_read = 0;
}

/* A payload must be read exactly: trailing bytes are as wrong as missing ones. */
static int
frame_r_done(const struct frame_r *r)
{
    return (r->short_read || r->off != r->len) ? NGR_EPROTO : 0;
}

/* Starts a frame: leaves room for the header, written by frame_w_finish once the length is
 * known. */
static void
frame_w_start(struct frame_w *w, uint8_t *out, size_t cap)
{
    w->p = out;
    w->cap = cap;
    w->len = 0;
    w->overflow = cap < NGR_FRAME_HEADER_LEN;
    if (!w->overflow)
        w->len = NGR_FRAME_HEADER_LEN;
}

static ssize_t
frame_w_finish(struct frame_w *w, uint8_t type, uint8_t flags, uint32_t stream_id)
{
    size_t payload;

    if (w->overflow)
        return NGR_ELIMIT;
    payload = w->len - NGR_FRAME_HEADER_LEN;
    if (payload > NGR_FRAME_MAX_PAYLOAD)
        return NGR_ELIMIT;
    frame_header_encode(w->p, type, flags, stream_id, (uint32_t)payload);
    return (ssize_t)w->len;
}

void
frame_header_encode(uint8_t out[NGR_FRAME_HEADER_LEN], uint8_t type, uint8_t flags,
                    uint32_t stream_id, uint32_t length)
{
    out[0] = (uint8_t)(length >> 16);
    out[1] = (uint8_t)(length >> 8);
    out[2] = (uint8_t)length;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)(stream_id >> 24) & 0x7f;
    out[6] = (uint8_t)(stream_id >> 16);
    out[7] = (uint8_t)(stream_id >> 8);
    out[8] = (uint8_t)stream_id;
}

size_t
frame_size(const uint8_t p[NGR_FRAME_HEADER_LEN])
{
    return NGR_FRAME_HEADER_LEN + ((size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]);
}

ssize_t
frame_decode(const uint8_t *p, size_t len, size_t max_payload, struct frame *f)
{
    uint32_t length;

    if (len < NGR_FRAME_HEADER_LEN)
        return NGR_EAGAIN;
    length = (uint32_t)(frame_size(p) - NGR_FRAME_HEADER_LEN);
    if (length > max_payload)
        return NGR_ELIMIT;
    if (p[5] & 0x80)
        return NGR_EPROTO;
    if (p[3] > FRAME_TYPE_MAX)
        return NGR_EPROTO;
    if (len - NGR_FRAME_HEADER_LEN < length)
        return NGR_EAGAIN;
    f->length = length;
    f->type = p[3];
    f->flags = p[4];
    f->stream_id = (uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
    f->payload = p + NGR_FRAME_HEADER_LEN;
    return (ssize_t)(NGR_FRAME_HEADER_LEN + length);
}

ssize_t
frame_hello_encode(uint8_t *out, size_t cap, const struct frame_hello *h, int welcome)
{
    struct frame_w w;

    frame_w_start(&w, out, cap);
    frame_w_u16(&w, h->version);
    frame_w_u32(&w, h->max_payload);
    frame_w_u32(&w, h->stream_window);
    frame_w_u32(&w, h->session_window);
    frame_w_u32(&w, h->heartbeat_ms);
    frame_w_str(&w, h->token);
    frame_w_str(&w, h->agent);
    if (!welcome && h->resume.len > 0)
        frame_w_str(&w, h->resume);
    return frame_w_finish(&w, welcome ? FRAME_WELCOME : FRAME_HELLO, 0, 0);
}

int
frame_hello_decode(const struct frame *f, struct frame_hello *h)
{
    struct frame_r r;

    frame_r_init(&r, f);
    h->version = frame_r_u16(&r);
    h->max_payload = frame_r_u32(&r);
    h->stream_window = frame_r_u32(&r);
    h->session_window = frame_r_u32(&r);
    h->heartbeat_ms = frame_r_u32(&r);
    h->token = frame_r_str(&r);
    h->agent = frame_r_str(&r);
    h->resume.p = "";
    h->resume.len = 0;
    if (f->type == FRAME_HELLO && !r.short_read && r.off < r.len) {
        h->resume = frame_r_str(&r);
        if (h->resume.len == 0 && !r.short_read)
            return NGR_EPROTO; /* present means not empty: encoders leave it out */
    }
    return frame_r_done(&r);
}

ssize_t
frame_bind_encode(uint8_t *out, size_t cap, const struct frame_bind *b)
{
    struct frame_w w;

    frame_w_start(&w, out, cap);
    frame_w_u32(&w, b->handle);
    frame_w_u8(&w, b->proto);
    frame_w_str(&w, b->subdomain);
    frame_w_str(&w, b->target);
    if (b->nopts > NGR_BIND_OPTS_MAX)
        w.overflow = 1;
    else if (b->nopts > 0) {
        size_t i;

        frame_w_u16(&w, (uint16_t)b->nopts);
        for (i = 0; i < b->nopts; i++) {
            frame_w_str(&w, b->opts[i].name);
            frame_w_str(&w, b->opts[i].value);
        }
    }
    return frame_w_finish(&w, FRAME_BIND, 0, 0);
}

int
frame_bind_decode(const struct frame *f, struct frame_bind *b)
{
    struct frame_r r;

    frame_r_init(&r, f);
    b->handle = frame_r_u32(&r);
    b->proto = frame_r_u8(&r);
    b->subdomain = frame_r_str(&r);
    b->target = frame_r_str(&r);
    b->nopts = 0;
    if (!r.short_read && r.off < r.len) {
        size_t n = frame_r_u16(&r), i;

        if (n == 0 || n > NGR_BIND_OPTS_MAX)
            return NGR_EPROTO;
        for (i = 0; i < n; i++) {
            b->opts[i].name = frame_r_str(&r);
            b->opts[i].value = frame_r_str(&r);
            if (b->opts[i].name.len == 0 && !r.short_read)
                return NGR_EPROTO;
        }
        b->nopts = n;
    }
    return frame_r_done(&r);
}

ssize_t
frame_bound_encode(uint8_t *out, size_t cap, const struct frame_bound *b)
{
    struct frame_w w;

    frame_w_start(&w, out, cap);
    frame_w_u32(&w, b->handle);
    frame_w_str(&w, b->id);
    frame_w_str(&w, b->subdomain);
    frame_w_str(&w, b->public_url);
    return frame_w_finish(&w, FRAME_BOUND, 0, 0);
}

int
frame_bound_decode(const struct frame *f, struct frame_bound *b)
{
    struct frame_r r;

    frame_r_init(&r, f);
    b->handle = frame_r_u32(&r);
    b->id = frame_r_str(&r);
    b->subdomain = frame_r_str(&r);
    b->public_url = frame_r_str(&r);
    return frame_r_done(&r);
}

static void
frame_w_fields(struct frame_w *w, const struct frame_head *h)
{
    size_t i;

    if (h->nfields > NGR_MAX_HEADERS) {
        w->overflow = 1;
        return;
    }
    frame_w_u16(w, (uint16_t)h->nfields);
    for (i = 0; i < h->nfields; i++) {
        frame_w_str(w, h->fields[i].name);
        frame_w_str(w, h->fields[i].value);
    }
}

static int
frame_r_fields(struct frame_r *r, struct frame_head *h)
{
    size_t n = frame_r_u16(r), i;

    if (n > h->cap_fields || n > NGR_MAX_HEADERS)
        return NGR_EPROTO;
    for (i = 0; i < n; i++) {
        h->fields[i].name = frame_r_str(r);
        h->fields[i].value = frame_r_str(r);
        if (h->fields[i].name.len == 0 && !r->short_read)
            return NGR_EPROTO; /* a header needs a name */
    }
    h->nfields = n;
    return 0;
}

static int
frame_body_valid(uint8_t body)
{
    return body <= FRAME_BODY_UNKNOWN;
}

ssize_t
frame_open_encode(uint8_t *out, size_t cap, uint32_t stream_id, uint8_t frame_flags,
                  const struct frame_head *h)
{
    struct frame_w w;

    frame_w_start(&w, out, cap);
    frame_w_u32(&w, h->tunnel);
    frame_w_u8(&w, h->body);
    frame_w_u8(&w, h->flags);
    frame_w_u64(&w, h->length);
    frame_w_str(&w, h->method);
    frame_w_str(&w, h->target);
    frame_w_str(&w, h->client_addr);
    frame_w_str(&w, h->scheme);
    frame_w_str(&w, h->host);
    frame_w_fields(&w, h);
    return frame_w_finish(&w, FRAME_OPEN, frame_flags, stream_id);
}

int
frame_open_decode(const struct frame *f, struct frame_head *h)
{
    struct frame_r r;

    frame_r_init(&r, f);
    h->tunnel = frame_r_u32(&r);
    h->body = frame_r_u8(&r);
    h->flags = frame_r_u8(&r);
    h->length = frame_r_u64(&r);
    h->service_us = 0;
    h->method = frame_r_str(&r);
    h->target = frame_r_str(&r);
    h->client_addr = frame_r_str(&r);
    h->scheme = frame_r_str(&r);
    h->host = frame_r_str(&r);
    h->status = 0;
    if (frame_r_fields(&r, h) != 0)
        return NGR_EPROTO;
    if (!frame_body_valid(h->body) || h->method.len == 0 || h->target.len == 0)
        return NGR_EPROTO;
    return frame_r_done(&r);
}

ssize_t
frame_reply_encode(uint8_t *out, size_t cap, uint32_t stream_id, uint8_t frame_flags,
                   const struct frame_head *h)
{
    struct frame_w w;

    frame_w_start(&w, out, cap);
    frame_w_u16(&w, h->status);
    frame_w_u8(&w, h->body);
    frame_w_u8(&w, h->flags);
    frame_w_u64(&w, h->length);
    frame_w_fields(&w, h);
    if (h->service_us > 0)
        frame_w_u32(&w, h->service_us);
    return frame_w_finish(&w, FRAME_REPLY, frame_flags, stream_id);
}

int
frame_reply_decode(const struct frame *f, struct frame_head *h)
{
    struct frame_r r;
    static const struct frame_str empty = {"", 0};

    frame_r_init(&r, f);
    h->status = frame_r_u16(&r);
    h->body = frame_r_u8(&r);
    h->flags = frame_r_u8(&r);
    h->length = frame_r_u64(&r);
    h->tunnel = 0;
    h->method = h->target = h->client_addr = h->scheme = h->host = empty;
    if (frame_r_fields(&r, h) != 0)
        return NGR_EPROTO;
    if (!frame_body_valid(h->body) || h->status < 100 || h->status > 999)
        return NGR_EPROTO;
    h->service_us = 0;
    if (!r.short_read && r.off < r.len) { /* optional: older clients leave it out */
        h->service_us = frame_r_u32(&r);
        if (h->service_us == 0 && !r.short_read)
            return NGR_EPROTO; /* present means not 0: encoders leave it out */
    }
    return frame_r_done(&r);
}

ssize_t
frame_window_encode(uint8_t *out, size_t cap, uint32_t stream_id, uint32_t increment)
{
    struct frame_w w;

    frame_w_start(&w, out, cap);
    frame_w_u32(&w, increment);
    return frame_w_finish(&w, FRAME_WINDOW, 0, stream_id);
}

int
frame_window_decode(const struct frame *f, uint32_t *increment)
{
    struct frame_r r;

    frame_r_init(&r, f);
    *increment = frame_r_u32(&r);
    if (*increment == 0 || *increment > 0x7fffffffu)
        return NGR_EPROTO;
    return frame_r_done(&r);
}

ssize_t
frame_reason_encode(uint8_t *out, size_t cap, uint8_t type, uint32_t stream_id,
                    const struct frame_reason *r)
{
    struct frame_w w;
    struct frame_str msg = r->message;

    if (msg.len > NGR_MAX_MESSAGE)
        msg.len = NGR_MAX_MESSAGE;
    frame_w_start(&w, out, cap);
    frame_w_u32(&w, r->code);
    if (type != FRAME_RST)
        frame_w_u32(&w, r->ref);
    frame_w_str(&w, msg);
    return frame_w_finish(&w, type, 0, stream_id);
}

int
frame_reason_decode(const struct frame *f, struct frame_reason *r)
{
    struct frame_r rd;

    frame_r_init(&rd, f);
    r->code = frame_r_u32(&rd);
    r->ref = f->type == FRAME_RST ? 0 : frame_r_u32(&rd);
    r->message = frame_r_str(&rd);
    if (r->message.len > NGR_MAX_MESSAGE)
        return NGR_EPROTO;
    return frame_r_done(&rd);
}

ssize_t
frame_ping_encode(uint8_t *out, size_t cap, uint8_t flags, const uint8_t opaque[8])
{
    struct frame_w w;

    frame_w_start(&w, out, cap);
    frame_w_bytes(&w, opaque, 8);
    return frame_w_finish(&w, FRAME_PING, flags, 0);
}

struct frame_str
frame_str_c(const char *s)
{
    struct frame_str r = {s ? s : "", s ? strlen(s) : 0};
    return r;
}

int
frame_str_eq(struct frame_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && strncasecmp(s.p, c, n) == 0;
}
