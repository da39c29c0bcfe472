/* diagnose_responder.c: answers the built-in responder tunnel's requests on their streams; see
 * diagnose_responder.h. */
#include "diagnose_responder.h"
#include "limits.h"
#include "session.h"

#include <stdlib.h>
#include <string.h>

/* One request. */
struct diagnose_req {
    struct stream st;
    struct loop *loop;
    const uint8_t *src; /* the body's bytes, repeated: "ok\n" or the pattern */
    size_t src_len;
    uint64_t left; /* body bytes still to send */
    uint64_t sent; /* body bytes sent */
    int req_ended; /* the request's END_STREAM arrived */
    int end_sent;  /* ours went */
    struct loop_defer free;
};

/* The bytes every body repeats: printable, so a person who opens /bytes sees text. */
static uint8_t diagnose_pattern[NGR_DATA_SLICE];

static void
diagnose_req_free(void *arg)
{
    free(arg);
}

/* Both directions are over (or the stream is gone): freed at the end of the turn, since a
 * callback of this stream may be on the stack. */
static void
diagnose_req_finish(struct diagnose_req *q)
{
    session_stream_end(&q->st, FRAME_CODE_NONE, NULL);
    loop_defer(q->loop, &q->free);
}

/* Sends what the credit allows of the body, END_STREAM with its last byte. */
static void
diagnose_req_pump(struct diagnose_req *q)
{
    size_t room, n, off;
    ssize_t sent;

    while (q->left > 0 && q->st.sess != NULL) {
        room = session_send_room(&q->st);
        if (room == 0)
            return; /* on_writable brings us back */
        off = (size_t)(q->sent % q->src_len);
        n = q->src_len - off;
        if (n > room)
            n = room;
        if (n > q->left)
            n = (size_t)q->left;
        sent = session_send_data(&q->st, q->src + off, n, n == q->left);
        if (sent < 0) {
            diagnose_req_finish(q);
            return;
        }
        q->left -= (uint64_t)sent;
        q->sent += (uint64_t)sent;
        if (q->left == 0)
            q->end_sent = 1;
        if ((size_t)sent < n)
            return;
    }
    if (q->end_sent && q->req_ended)
        diagnose_req_finish(q);
}

static int
diagnose_req_on_data(struct stream *st, const uint8_t *p, size_t n, int end)
{
    struct diagnose_req *q = st->owner;

    (void)p;
    session_consumed(st, n); /* dropped: the credit goes back at once */
    if (end) {
        q->req_ended = 1;
        if (q->end_sent)
            diagnose_req_finish(q);
    }
    return 0;
}

static void
diagnose_req_on_reset(struct stream *st, uint32_t code, struct frame_str message)
{
    struct diagnose_req *q = st->owner;

    (void)code;
    (void)message;
    loop_defer(q->loop, &q->free);
}

static void
diagnose_req_on_writable(struct stream *st)
{
    diagnose_req_pump(st->owner);
}

static const struct stream_ops diagnose_req_ops = {
    .on_data = diagnose_req_on_data,
    .on_reset = diagnose_req_on_reset,
    .on_writable = diagnose_req_on_writable,
};

int
diagnose_responder_open(void *arg, const struct client_tunnel *t, uint32_t stream_id,
                        const struct frame_head *h)
{
    static const char ok[] = "ok\n";
    struct client *cl = arg;
    struct diagnose_req *q;
    struct frame_head r;
    struct frame_field fields[2];
    int bytes, head, rc;

    (void)t;
    if (diagnose_pattern[0] == 0)
        for (size_t i = 0; i < sizeof(diagnose_pattern); i++)
            diagnose_pattern[i] = (i % 64) == 63 ? '\n' : (uint8_t)('a' + i % 26);
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NGR_ENOMEM;
    q->loop = cl->loop;
    loop_defer_init(&q->free, diagnose_req_free, q);
    rc = session_stream_accept(&cl->sess, &q->st, stream_id, &diagnose_req_ops, q);
    if (rc != 0) {
        free(q);
        return rc == NGR_ECLOSED ? 0 : rc;
    }
    q->req_ended = h->body == FRAME_BODY_NONE || (h->body == FRAME_BODY_LENGTH && h->length == 0);
    /* The target is matched whole, a query included: nothing a visitor sends chooses a size. */
    bytes = h->target.len == strlen(DIAGNOSE_RESPONDER_BYTES) &&
            memcmp(h->target.p, DIAGNOSE_RESPONDER_BYTES, h->target.len) == 0;
    head = frame_str_eq(h->method, "HEAD");
    memset(&r, 0, sizeof(r));
    fields[0].name = frame_str_c("Content-Type");
    fields[0].value = frame_str_c(bytes ? "application/octet-stream" : "text/plain");
    fields[1].name = frame_str_c("Cache-Control");
    fields[1].value = frame_str_c("no-store");
    r.status = 200;
    r.body = FRAME_BODY_LENGTH;
    r.length = bytes ? NGR_DIAGNOSE_BODY : sizeof(ok) - 1;
    r.fields = fields;
    r.nfields = 2;
    r.service_us = 1;
    if (session_send_reply(&q->st, head ? FRAME_FLAG_END_STREAM : 0, &r) != 0) {
        diagnose_req_finish(q);
        return 0;
    }
    q->src = bytes ? diagnose_pattern : (const uint8_t *)ok;
    q->src_len = bytes ? sizeof(diagnose_pattern) : sizeof(ok) - 1;
    if (head)
        q->end_sent = 1;
    else
        q->left = r.length;
    diagnose_req_pump(q);
    return 0;
}
