/* capture.c: a request's heads and bodies as the inspector keeps them; see capture.h. */
#include "capture.h"

#include "limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct capture *
capture_new(size_t body_max)
{
    struct capture *c = calloc(1, sizeof(*c));
    struct timespec ts;

    if (c == NULL)
        return NULL;
    c->body_max = body_max;
    buf_init(&c->req, NGR_INSPECT_HEAD_MAX + body_max);
    buf_init(&c->resp, NGR_INSPECT_HEAD_MAX + body_max);
    clock_gettime(CLOCK_REALTIME, &ts);
    c->start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    return c;
}

void
capture_free(struct capture *c)
{
    if (c == NULL)
        return;
    buf_free(&c->req);
    buf_free(&c->resp);
    free(c);
}

/* Appends to a head still being built: within NGR_INSPECT_HEAD_MAX, else the direction is cut
 * and the rest of its head left out. */
static void
capture_head_append(struct buf *b, unsigned *cut, const void *p, size_t n)
{
    if (*cut)
        return;
    if (b->len + n > NGR_INSPECT_HEAD_MAX || buf_append(b, p, n) != 0)
        *cut = 1;
}

static void
capture_body_append(struct buf *b, size_t head, uint64_t *seen, size_t max, const void *p, size_t n,
                    unsigned *cut)
{
    size_t kept = b->len - head, room = kept < max ? max - kept : 0;

    *seen += n;
    if (n > room)
        *cut = 1;
    if (n > room)
        n = room;
    if (n > 0 && buf_append(b, p, n) != 0)
        *cut = 1;
}

void
capture_request_head(struct capture *c, const struct frame_head *h)
{
    char framing[48] = "";
    size_t i, need, flen = 0;
    uint8_t *p;

    /* The framing the OPEN carries apart from the fields, as the local service sees it. */
    if (h->body == FRAME_BODY_LENGTH)
        flen = (size_t)snprintf(framing, sizeof(framing), "Content-Length: %llu\r\n",
                                (unsigned long long)h->length);
    else if (h->body == FRAME_BODY_UNKNOWN)
        flen = (size_t)snprintf(framing, sizeof(framing), "Transfer-Encoding: chunked\r\n");
    /* Sized first and copied in one piece: this runs for every request while the inspector
     * is on, and one reserve costs less than an append per piece. */
    need = h->method.len + 1 + h->target.len + 11 + flen + 2;
    for (i = 0; i < h->nfields; i++)
        need += h->fields[i].name.len + 2 + h->fields[i].value.len + 2;
    if (need > NGR_INSPECT_HEAD_MAX || (p = buf_reserve(&c->req, need, 0)) == NULL) {
        c->req_cut = 1; /* a head without its end would read as fields: keep none of it */
        return;
    }
#define CAPTURE_PUT(src, n) (memcpy(p, (src), (n)), p += (n))
    CAPTURE_PUT(h->method.p, h->method.len);
    CAPTURE_PUT(" ", 1);
    CAPTURE_PUT(h->target.p, h->target.len);
    CAPTURE_PUT(" HTTP/1.1\r\n", 11);
    for (i = 0; i < h->nfields; i++) {
        CAPTURE_PUT(h->fields[i].name.p, h->fields[i].name.len);
        CAPTURE_PUT(": ", 2);
        CAPTURE_PUT(h->fields[i].value.p, h->fields[i].value.len);
        CAPTURE_PUT("\r\n", 2);
    }
    CAPTURE_PUT(framing, flen);
    CAPTURE_PUT("\r\n", 2);
#undef CAPTURE_PUT
    buf_commit(&c->req, need);
    c->req_head = c->req.len;
}

void
capture_request_raw_head(struct capture *c, const char *p, size_t n)
{
    unsigned cut = 0;

    capture_head_append(&c->req, &cut, p, n);
    if (cut) {
        buf_free(&c->req);
        c->req_cut = 1;
    }
    c->req_head = c->req.len;
}

void
capture_request_body(struct capture *c, const void *p, size_t n)
{
    unsigned cut = c->req_cut;

    if (c->req_head == 0) { /* its head was not kept: neither is its body */
        c->req_body += n;
        c->req_cut = 1;
        return;
    }
    capture_body_append(&c->req, c->req_head, &c->req_body, c->body_max, p, n, &cut);
    c->req_cut = cut;
}

void
capture_response_status(struct capture *c, const char *p, size_t n)
{
    unsigned cut = 0;

    buf_free(&c->resp);
    c->resp_head = 0;
    c->resp_cut = 0;
    capture_head_append(&c->resp, &cut, p, n);
    c->resp_cut = cut;
}

void
capture_response_fields(struct capture *c, const char *p, size_t n)
{
    unsigned cut = c->resp_cut;

    capture_head_append(&c->resp, &cut, p, n);
    c->resp_cut = cut;
}

void
capture_response_head_end(struct capture *c)
{
    unsigned cut = c->resp_cut;

    capture_head_append(&c->resp, &cut, "\r\n", 2);
    if (cut) {
        buf_free(&c->resp);
        c->resp_cut = 1;
    }
    c->resp_head = c->resp.len;
}

void
capture_response_body(struct capture *c, const void *p, size_t n)
{
    unsigned cut = c->resp_cut;

    if (c->resp_head == 0 && c->resp.len > 0)
        return; /* no complete head: a body would read as its fields */
    capture_body_append(&c->resp, c->resp_head, &c->resp_body, c->body_max, p, n, &cut);
    c->resp_cut = cut;
}

static void
capture_shrink_buf(struct buf *b)
{
    uint8_t *p;

    /* A little slack is cheaper to keep (it is counted) than a realloc's copy per request. */
    if (b->data == NULL || b->cap - b->len <= NGR_INSPECT_SLACK)
        return;
    if (b->off > 0)
        memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
    if (b->len == 0) {
        buf_free(b);
        return;
    }
    p = realloc(b->data, b->len);
    if (p != NULL) { /* else the larger block stays, and is counted */
        b->data = p;
        b->cap = b->len;
    }
}

void
capture_shrink(struct capture *c)
{
    capture_shrink_buf(&c->req);
    capture_shrink_buf(&c->resp);
    c->req.limit = c->req.len; /* nothing more fits */
    c->resp.limit = c->resp.len;
}

size_t
capture_cost(const struct capture *c)
{
    return sizeof(*c) + c->req.cap + c->resp.cap;
}
