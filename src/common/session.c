/* session.c: reading and dispatching frames, the stream table, receive windows and credit,
 * heartbeats and teardown of one control connection; its output (queues, DATA framing, the
 * turns of blocked streams) is session_out.c. See session.h and docs/protocol.md. */
#include "session.h"
#include "session_out.h"
#include "session_preface.h"
#include "err.h"
#include "log.h"
#include "net.h"
#include "tls_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Where the typed senders encode a frame before it is appended to a session's output, and one
 * read's bytes (behind at most a partial frame header moved from a session's input). Private to
 * this file, used within one call: nothing outside sees them. */
static uint8_t session_encode_area[NGR_SCRATCH_LEN];
static uint8_t session_read_area[NGR_FRAME_HEADER_LEN - 1 + NGR_READ_BUDGET];

static void session_on_io(void *arg, uint32_t events);
static void session_on_heartbeat(void *arg);
static uint64_t session_heartbeat_next(const struct session *s, uint64_t now);
static int session_send_ping(struct session *s, uint8_t flags, const uint8_t opaque[8]);
static void session_on_flush(void *arg);
static void session_on_tls_more(void *arg);
static void session_reap(void *arg);
static void session_all_writable(struct session *s);

int
session_init(struct session *s, struct loop *l, int fd, int gateway,
             const struct session_handler *h, void *owner)
{
    memset(s, 0, sizeof(*s));
    s->loop = l;
    s->fd = fd;
    s->h = h;
    s->owner = owner;
    /* Both refill all the time while traffic flows; the heartbeat gives them back when quiet. */
    buf_init_kept(&s->in, NGR_FRAME_HEADER_LEN + NGR_FRAME_MAX_PAYLOAD);
    buf_init_kept(&s->ctl, 2 * (size_t)NGR_SESSION_OUT_HARD);
    buf_init_kept(&s->out, NGR_SESSION_OUT_DATA_MAX + NGR_DIRECT_WRITE * NGR_DATA_SLICES_AT_ONCE);
    s->out_cap = NGR_SESSION_OUT_DATA;
    s->peer_max_payload = NGR_FRAME_MIN_MAX_PAYLOAD;
    s->local_stream_window = NGR_STREAM_WINDOW;
    s->local_session_window = NGR_SESSION_WINDOW;
    s->tune = 1;
    TAILQ_INIT(&s->blocked);
    window_budget_init(&s->budget, NGR_SESSION_BUDGET);
    s->next_id = gateway ? 1 : 2;
    loop_defer_init(&s->flush, session_on_flush, s);
    loop_defer_init(&s->tls_more, session_on_tls_more, s);
    loop_defer_init(&s->reap, session_reap, s);
    s->preface_left = gateway ? NGR_PREFACE_LEN : 0;
    if (!gateway && buf_append(&s->ctl, NGR_PREFACE, NGR_PREFACE_LEN) == 0)
        session__mark_pending(s);
    s->last_rx = loop_now(l);
    s->local_heartbeat_ms = NGR_HEARTBEAT_MS;
    s->dead_after_ms = NGR_DEAD_AFTER_MS;
    /* What the kernel holds unsent is queued ahead of our control frames: small until the
     * link's rate is known (session_tune_unsent). */
    session__set_unsent(s, NGR_UNSENT_MIN);
    loop_timer_init(&s->heartbeat, session_on_heartbeat, s);
    /* Until HELLO/WELCOME sets the interval, the timer is the handshake deadline. */
    loop_timer_start(l, &s->heartbeat, NGR_HANDSHAKE_MS);
    if (loop_io_add(l, &s->io, fd, LOOP_READ | LOOP_HUP, session_on_io, s) != 0) {
        loop_timer_stop(l, &s->heartbeat);
        return NGR_ESYS;
    }
    return 0;
}

void
session_set_tls(struct session *s, struct tls_io *t)
{
    s->tls = t;
    /* Nothing should wait inside GnuTLS after a handshake, but bytes there would never be
     * announced by epoll. */
    if (tls_io_pending(t) > 0)
        loop_defer(s->loop, &s->tls_more);
}

void
session_free(struct session *s)
{
    if (s == NULL)
        return;
    loop_defer_cancel(s->loop, &s->flush);
    loop_defer_cancel(s->loop, &s->tls_more);
    loop_defer_cancel(s->loop, &s->reap);
    loop_timer_stop(s->loop, &s->heartbeat);
    if (s->fd >= 0) {
        loop_io_del(s->loop, &s->io);
        tls_io_free(s->tls); /* close_notify first, if the socket takes it */
        s->tls = NULL;
        close(s->fd);
        s->fd = -1;
    }
    HASH_CLEAR(hh, s->streams);
    /* What streams still in the table hold of the shared budget is what this session holds. */
    if (s->shared != NULL)
        window_budget_give(s->shared, s->budget.used);
    s->budget.used = 0;
    buf_free(&s->in);
    buf_free(&s->ctl);
    buf_free(&s->out);
}

void
session_set_budgets(struct session *s, uint64_t session_limit, struct window_budget *shared)
{
    s->budget.limit = session_limit;
    s->shared = shared;
}

void
session_probe_rtt(struct session *s)
{
    uint64_t now = loop_now(s->loop);
    uint8_t opaque[8] = {0};

    if (s->ping_out || s->fd < 0 || s->closing)
        return;
    memcpy(opaque, &now, sizeof(now) < 8 ? sizeof(now) : 8);
    if (session_send_ping(s, 0, opaque) == 0) {
        s->ping_out = 1;
        s->ping_sent_us = loop_clock_us();
        s->probe_ms = now;
    }
}

void
session_local_hello(const struct session *s, struct frame_hello *h)
{
    memset(h, 0, sizeof(*h));
    h->version = NGR_PROTOCOL_VERSION;
    h->max_payload = NGR_FRAME_MAX_PAYLOAD;
    h->stream_window = s->local_stream_window;
    h->session_window = s->local_session_window;
    h->heartbeat_ms = s->local_heartbeat_ms;
}

void
session_set_liveness(struct session *s, uint32_t heartbeat_ms, uint32_t dead_after_ms)
{
    s->local_heartbeat_ms = heartbeat_ms;
    s->dead_after_ms = dead_after_ms;
}

int
session_check_liveness(uint64_t heartbeat_ms, uint64_t dead_after_ms, const char *peer,
                       struct ngr_err *err)
{
    if (dead_after_ms > heartbeat_ms && heartbeat_ms >= NGR_HEARTBEAT_MIN_MS)
        return 0;
    return err_set(err, NGR_EINVAL,
                   "--dead-after (%.3g s) must be longer than --heartbeat (%.3g s, at least %g "
                   "s), or a quiet %s counts as gone before it is pinged",
                   (double)dead_after_ms / 1000, (double)heartbeat_ms / 1000,
                   NGR_HEARTBEAT_MIN_MS / 1000.0, peer);
}

int
session_check_peer(const struct frame_hello *peer, struct ngr_err *err)
{
    if (peer->max_payload < NGR_FRAME_MIN_MAX_PAYLOAD)
        return err_set(err, NGR_EPROTO, "maximum frame size %u is below %d bytes",
                       peer->max_payload, NGR_FRAME_MIN_MAX_PAYLOAD);
    if (peer->stream_window == 0 || peer->stream_window > 0x7fffffffu ||
        peer->session_window == 0 || peer->session_window > 0x7fffffffu)
        return err_set(err, NGR_EPROTO, "flow-control windows must be 1 to 2^31-1 bytes");
    return 0;
}

void
session_set_peer(struct session *s, const struct frame_hello *peer)
{
    s->peer_max_payload =
        peer->max_payload < NGR_FRAME_MAX_PAYLOAD ? peer->max_payload : NGR_FRAME_MAX_PAYLOAD;
    s->peer_stream_window = peer->stream_window;
    s->send_credit = peer->session_window;
    /* Both sides ping at the shorter of the two intervals (an offer under
     * NGR_HEARTBEAT_MIN_MS is ignored). */
    s->heartbeat_ms = peer->heartbeat_ms < s->local_heartbeat_ms &&
                              peer->heartbeat_ms >= NGR_HEARTBEAT_MIN_MS
                          ? peer->heartbeat_ms
                          : s->local_heartbeat_ms;
    loop_timer_start(s->loop, &s->heartbeat, session_heartbeat_next(s, loop_now(s->loop)));
}

/* The typed senders: each encodes into this file's area (the encoder's result, the length or a
 * negative code, goes straight to session_queue), then queues. */

int
session_send_hello(struct session *s, const struct frame_hello *h, int welcome)
{
    return session_queue(s, session_encode_area,
                         frame_hello_encode(session_encode_area, NGR_SCRATCH_LEN, h, welcome), 1);
}

int
session_send_bind(struct session *s, const struct frame_bind *b)
{
    return session_queue(s, session_encode_area,
                         frame_bind_encode(session_encode_area, NGR_SCRATCH_LEN, b), 1);
}

int
session_send_bound(struct session *s, const struct frame_bound *b)
{
    return session_queue(s, session_encode_area,
                         frame_bound_encode(session_encode_area, NGR_SCRATCH_LEN, b), 1);
}

static int
session_send_reason(struct session *s, uint8_t type, uint32_t stream_id, uint32_t code,
                    uint32_t ref, const char *message)
{
    struct frame_reason r;

    memset(&r, 0, sizeof(r));
    r.code = code;
    r.ref = ref;
    r.message = frame_str_c(message);
    return session_queue(
        s, session_encode_area,
        frame_reason_encode(session_encode_area, NGR_SCRATCH_LEN, type, stream_id, &r), 1);
}

int
session_send_error(struct session *s, uint32_t code, uint32_t ref, const char *message)
{
    return session_send_reason(s, FRAME_ERROR, 0, code, ref, message);
}

int
session_send_goaway(struct session *s, uint32_t code, uint32_t last_id, const char *message)
{
    return session_send_reason(s, FRAME_GOAWAY, 0, code, last_id, message);
}

/* OPEN or REPLY: a head, within the output cap. */
static int
session_send_head(struct stream *st, uint8_t type, uint8_t flags, const struct frame_head *h)
{
    ssize_t n;

    if (st->sess == NULL)
        return NGR_ECLOSED;
    if (type == FRAME_OPEN)
        n = frame_open_encode(session_encode_area, NGR_SCRATCH_LEN, st->id, flags, h);
    else
        n = frame_reply_encode(session_encode_area, NGR_SCRATCH_LEN, st->id, flags, h);
    return session_queue(st->sess, session_encode_area, n, 0);
}

int
session_send_open(struct stream *st, uint8_t flags, const struct frame_head *h)
{
    int rc = session_send_head(st, FRAME_OPEN, flags, h);

    if (rc == 0)
        session__return_credit(st->sess, st); /* the window it starts with, if above the initial */
    return rc;
}

int
session_send_reply(struct stream *st, uint8_t flags, const struct frame_head *h)
{
    return session_send_head(st, FRAME_REPLY, flags, h);
}

static int
session_send_ping(struct session *s, uint8_t flags, const uint8_t opaque[8])
{
    return session_queue(s, session_encode_area,
                         frame_ping_encode(session_encode_area, NGR_SCRATCH_LEN, flags, opaque), 1);
}

/* Which side opened an id: ours have the parity of next_id. */
static int
session_id_is_ours(const struct session *s, uint32_t id)
{
    return (id & 1) == (s->next_id & 1);
}

/* A frame for an id that is not in the table: 0 if it was closed (drop the frame), NGR_EPROTO
 * if it was never opened. */
static int
session_unknown_id(const struct session *s, uint32_t id)
{
    if (id == 0)
        return NGR_EPROTO;
    if (session_id_is_ours(s, id))
        return id < s->next_id ? 0 : NGR_EPROTO;
    return id <= s->peer_max_id ? 0 : NGR_EPROTO;
}

struct stream *
session_stream_find(struct session *s, uint32_t id)
{
    struct stream *st = NULL;

    HASH_FIND(hh, s->streams, &id, sizeof(id), st);
    return st;
}

void
session_streams_unseen(struct session *s, uint32_t ref, void (*fn)(struct stream *st, void *arg),
                       void *arg)
{
    struct stream *st, *tmp;

    HASH_ITER(hh, s->streams, st, tmp) {
        if (st->id > ref && (st->id & 1) == (s->next_id & 1))
            fn(st, arg);
    }
}

static void
session_stream_add(struct session *s, struct stream *st, uint32_t id, const struct stream_ops *ops,
                   void *owner)
{
    memset(&st->hh, 0, sizeof(st->hh));
    st->id = id;
    st->sess = s;
    st->ops = ops;
    st->owner = owner;
    st->send_credit = s->peer_stream_window;
    st->recv_outstanding = 0;
    st->recv_consumed = 0;
    st->recv_grown = 0;
    st->data_sent = 0;
    st->data_received = 0;
    st->data_in_out = 0;
    st->blocked = 0;
    recv_window_init(&st->rwin, s->local_stream_window, loop_clock_us());
    session__grant_open(s, st);
    st->last_data_ms = loop_now(s->loop);
    /* The round trip that tuning its window needs, measured as the stream starts (again after
     * NGR_RTT_PROBE_MS, while streams come). */
    if (s->tune && (s->srtt_us == 0 || loop_now(s->loop) - s->probe_ms >= NGR_RTT_PROBE_MS))
        session_probe_rtt(s);
    HASH_ADD(hh, s->streams, id, sizeof(st->id), st);
    s->nstreams++;
}

int
session_stream_open(struct session *s, struct stream *st, const struct stream_ops *ops, void *owner)
{
    if (s->closing)
        return NGR_ECLOSED;
    if (s->next_id > 0x7ffffffdu)
        return NGR_ELIMIT; /* ids exhausted: the owner should start a fresh session */
    if (session__charge_stream(s, 0) != 0)
        return NGR_EAGAIN;
    session_stream_add(s, st, s->next_id, ops, owner);
    s->next_id += 2;
    return 0;
}

int
session_stream_accept(struct session *s, struct stream *st, uint32_t id,
                      const struct stream_ops *ops, void *owner)
{
    if (id == 0 || session_id_is_ours(s, id) || id <= s->peer_max_id)
        return NGR_EPROTO;
    s->peer_max_id = id;
    (void)session__charge_stream(s, 1);
    session_stream_add(s, st, id, ops, owner);
    session__return_credit(s, st); /* the window it starts with, if above the initial one */
    return 0;
}

int
session_stream_skip(struct session *s, uint32_t id)
{
    if (id == 0 || session_id_is_ours(s, id) || id <= s->peer_max_id)
        return NGR_EPROTO;
    s->peer_max_id = id;
    return 0;
}

void
session_stream_detach(struct stream *st)
{
    struct session *s = st->sess;

    if (s == NULL)
        return;
    HASH_DELETE(hh, s->streams, st);
    s->nstreams--;
    if (st->blocked) {
        TAILQ_REMOVE(&s->blocked, st, blocked_entry);
        s->nblocked--;
        st->blocked = 0;
    }
    st->sess = NULL;
    /* Toward a near peer, a body larger than the initial window waited for credit: the next
     * streams start with a window that holds it. */
    if (session__near(s) && st->data_received > st->rwin.base)
        session__learn(s, st->data_received < NGR_STREAM_WINDOW_NEAR ? (uint32_t)st->data_received
                                                                   : NGR_STREAM_WINDOW_NEAR);
    /* Its window goes back to the budgets, and what it grew comes off the session window. */
    session__give_budget(s, st->rwin.size);
    s->recv_excess += st->rwin.size - st->rwin.base;
}

void
session_stream_reset(struct stream *st, uint32_t code, const char *message)
{
    struct session *s = st->sess;

    if (s == NULL)
        return;
    session_send_reason(s, FRAME_RST, st->id, code, 0, message);
    session_stream_detach(st);
}

void
session_stream_end(struct stream *st, uint32_t code, const char *message)
{
    if (code != FRAME_CODE_NONE)
        session_stream_reset(st, code, message);
    else
        session_stream_detach(st);
}

void
session_consumed(struct stream *st, size_t n)
{
    struct session *s = st->sess;

    if (s == NULL || n == 0)
        return;
    st->recv_consumed += (uint32_t)n;
    if (s->tune)
        session__tune(s, st, (uint32_t)n);
    /* The round trip that tuning needs, measured again while streams keep draining. */
    if (s->tune && loop_now(s->loop) - s->probe_ms >= NGR_RTT_PROBE_MS)
        session_probe_rtt(s);
    session__return_credit(s, st);
}

void
session_close(struct session *s, uint32_t code, const char *fmt, ...)
{
    va_list ap;

    if (s->closing)
        return;
    va_start(ap, fmt);
    vsnprintf(s->close_reason, sizeof(s->close_reason), fmt, ap);
    va_end(ap);
    if (code != 0 && s->fd >= 0)
        session_send_error(s, code, 0, s->close_reason);
    session__end(s, NULL);
}

/* Session credit arrived: every stream may move again. */
static void
session_all_writable(struct session *s)
{
    struct stream *st, *tmp;

    HASH_ITER(hh, s->streams, st, tmp)
    st->ops->on_writable(st);
}

/* The session itself resets a stream (the peer broke its rules): the peer gets RST, and the
 * owner hears of it like any reset, so its request, pipe or transfer ends too. */
static void
session_reset_both(struct session *s, struct stream *st, uint32_t code, const char *why)
{
    session_stream_reset(st, code, why);
    st->ops->on_reset(st, code, frame_str_c(why));
}

/* Handles one frame the session itself understands, or hands it to the owner. */
static int
session_dispatch(struct session *s, const struct frame *f)
{
    struct stream *st = NULL;
    uint32_t inc;
    int rc;

    switch (f->type) {
    case FRAME_PING:
        if (f->length != 8 || f->stream_id != 0)
            return NGR_EPROTO;
        if (f->flags & FRAME_FLAG_ACK) {
            if (s->ping_out) {
                uint64_t sample = loop_clock_us() - s->ping_sent_us;
                s->srtt_us = s->srtt_us == 0 ? sample : (7 * s->srtt_us + sample) / 8;
                if (s->min_rtt_us == 0 || sample < s->min_rtt_us)
                    s->min_rtt_us = sample;
                s->last_rtt_us = sample;
                s->rtt_samples++;
                s->ping_out = 0;
            }
            return 0;
        }
        return session_send_ping(s, FRAME_FLAG_ACK, f->payload);
    case FRAME_WINDOW:
        if (frame_window_decode(f, &inc) != 0)
            return NGR_EPROTO;
        if (f->stream_id == 0) {
            if (s->send_credit + inc > 0x7fffffff)
                return NGR_EPROTO;
            s->send_credit += inc;
            session_all_writable(s);
            return 0;
        }
        st = session_stream_find(s, f->stream_id);
        if (st == NULL)
            return session_unknown_id(s, f->stream_id);
        if (st->send_credit + inc > 0x7fffffff)
            return NGR_EPROTO;
        st->send_credit += inc;
        st->ops->on_writable(st);
        return 0;
    case FRAME_DATA:
        if (f->stream_id == 0)
            return NGR_EPROTO;
        if ((uint64_t)s->recv_outstanding + f->length > s->local_session_window)
            return NGR_ELIMIT;
        s->recv_outstanding += f->length;
        st = session_stream_find(s, f->stream_id);
        if (st == NULL) {
            if ((rc = session_unknown_id(s, f->stream_id)) != 0)
                return rc;
            s->recv_consumed += f->length; /* a closed stream's bytes still count: return them */
            session__return_credit(s, NULL);
            return 0;
        }
        st->recv_outstanding += f->length;
        st->data_received += f->length;
        if (loop_now(s->loop) - st->last_data_ms >= NGR_WINDOW_IDLE_MS && st->rwin.size > st->rwin.base)
            recv_window_idle(&st->rwin, loop_clock_us());
        st->last_data_ms = loop_now(s->loop);
        /* The session window bounds bytes in flight, not bytes parked in slow streams (each
         * stream's own window bounds those): its credit goes back on receipt, so one slow
         * reader cannot starve the other streams of the session. */
        s->recv_consumed += f->length;
        session__return_credit(s, NULL);
        if (st->recv_outstanding > st->rwin.size) {
            session_reset_both(s, st, FRAME_CODE_FLOW_CONTROL, "stream window exceeded");
            return 0;
        }
        rc = st->ops->on_data(st, f->payload, f->length, (f->flags & FRAME_FLAG_END_STREAM) != 0);
        if (rc == NGR_EPROTO && s->refused_counter != NULL)
            (*s->refused_counter)++;
        if (rc != 0 && st->sess != NULL)
            session_reset_both(s, st, rc == NGR_EPROTO ? FRAME_CODE_PROTOCOL : FRAME_CODE_INTERNAL,
                               rc == NGR_EPROTO ? "DATA out of order" : "stream failed");
        return 0;
    case FRAME_RST: {
        struct frame_reason r;
        if (frame_reason_decode(f, &r) != 0)
            return NGR_EPROTO;
        st = session_stream_find(s, f->stream_id);
        if (st == NULL)
            return session_unknown_id(s, f->stream_id);
        session_stream_detach(st);
        st->ops->on_reset(st, r.code, r.message);
        return 0;
    }
    case FRAME_HELLO:
    case FRAME_WELCOME:
    case FRAME_BIND:
    case FRAME_BOUND:
    case FRAME_GOAWAY:
    case FRAME_ERROR:
        if (f->stream_id != 0)
            return NGR_EPROTO;
        return s->h->on_frame(s->owner, s, f, NULL);
    case FRAME_REPLY:
        st = session_stream_find(s, f->stream_id);
        if (st == NULL)
            return session_unknown_id(s, f->stream_id);
        /* A kind of stream without on_reply never gets a response head. */
        return st->ops->on_reply != NULL ? st->ops->on_reply(st, f) : NGR_EPROTO;
    default:
        return s->h->on_frame(s->owner, s, f, NULL);
    }
}

/* Decodes and dispatches every whole frame in p; returns the bytes used, or a negative code
 * after closing the session. */
static ssize_t
session_decode(struct session *s, const uint8_t *p, size_t len)
{
    size_t used = 0;

    if (s->preface_left > 0) {
        struct preface_refusal r;
        ssize_t n = preface_check(NGR_PREFACE_LEN - s->preface_left, p, len, &r);

        if (n < 0) {
            if (r.reply != NULL) {
                buf_append_force(&s->ctl, r.reply, r.reply_len);
                session__mark_pending(s);
            }
            session_close(s, 0, "%s", r.why);
            return NGR_EPROTO;
        }
        s->preface_left -= (size_t)n;
        used = (size_t)n;
    }

    while (used < len && !s->closing) {
        struct frame f;
        ssize_t n = frame_decode(p + used, len - used, NGR_FRAME_MAX_PAYLOAD, &f);
        int rc;

        if (n == NGR_EAGAIN)
            break;
        if (n < 0) {
            if (s->refused_counter != NULL)
                (*s->refused_counter)++;
            session_close(s, FRAME_CODE_PROTOCOL, "%s",
                          n == NGR_ELIMIT ? "frame larger than the maximum frame size"
                                          : "malformed frame header");
            return n;
        }
        rc = session_dispatch(s, &f);
        if (rc != 0 && !s->closing && s->refused_counter != NULL)
            (*s->refused_counter)++;
        if (rc != 0 && !s->closing) {
            if (rc == NGR_ELIMIT)
                session_close(s, FRAME_CODE_FLOW_CONTROL, "session window exceeded");
            else
                session_close(s, FRAME_CODE_PROTOCOL, "bad frame (type %u, stream %u)", f.type,
                              f.stream_id);
            return rc;
        }
        used += (size_t)n;
    }
    return (ssize_t)used;
}

/* Bytes still missing from the partial frame kept in s->in: to its header's end while the
 * header is incomplete, else to the frame's end (a whole kept header was checked by
 * frame_decode, so the length is within the maximum). 0 if nothing is kept. */
static size_t
session_in_missing(const struct session *s)
{
    if (s->in.len == 0)
        return 0;
    if (s->in.len < NGR_FRAME_HEADER_LEN)
        return NGR_FRAME_HEADER_LEN - s->in.len;
    return frame_size(buf_head(&s->in)) - s->in.len;
}

/* Reads and decodes up to NGR_READ_BUDGET bytes. buffered_only (TLS): only the bytes already
 * decrypted inside GnuTLS, never the socket. */
static void
session_read(struct session *s, int buffered_only)
{
    size_t total = 0;

    while (total < NGR_READ_BUDGET && !s->closing) {
        /* One readv: first the rest of the partial frame kept from the last read (straight into
         * s->in, so a frame that trickles in is never copied), then the shared read area, whose
         * frames are decoded in place. A kept header that is itself incomplete (at most 8
         * bytes, not yet checked) moves to the front of the area instead. Only a partial frame
         * at the end of the area is copied, into s->in. */
        size_t have = s->in.len < NGR_FRAME_HEADER_LEN ? s->in.len : 0;
        size_t need = have > 0 ? 0 : session_in_missing(s);
        size_t room = NGR_READ_BUDGET - total, got, len;
        struct iovec iov[2];
        ssize_t n, used;
        int cnt = 0;

        if (need > 0) {
            iov[cnt].iov_base = buf_reserve(&s->in, need, 0);
            if (iov[cnt].iov_base == NULL) {
                session_close(s, 0, "out of memory");
                return;
            }
            iov[cnt++].iov_len = need;
        }
        memcpy(session_read_area, buf_head(&s->in), have);
        iov[cnt].iov_base = session_read_area + have;
        iov[cnt++].iov_len = room;
        n = s->tls == NULL ? readv(s->fd, iov, cnt)
                           : tls_io_readv(s->tls, iov, cnt, buffered_only);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                session_close(s, 0, "read: %s",
                              s->tls == NULL ? strerror(errno) : tls_io_error(s->tls));
            return;
        }
        if (n == 0) {
            session_close(s, 0, "peer closed the connection");
            return;
        }
        total += (size_t)n;
        s->bytes_rx += (uint64_t)n;
        s->last_rx = loop_now(s->loop);
        got = (size_t)n < need ? (size_t)n : need;
        buf_commit(&s->in, got);
        buf_consume(&s->in, have);
        len = have + (size_t)n - got;
        if (need > 0 && session_in_missing(s) == 0) {
            /* The kept frame is whole: it goes first. */
            used = session_decode(s, buf_head(&s->in), s->in.len);
            if (used < 0 || s->closing)
                return;
            buf_consume(&s->in, s->in.len);
        }
        if (len > 0) {
            used = session_decode(s, session_read_area, len);
            if (used < 0 || s->closing)
                return;
            /* What is left is the start of one frame, within the buffer's limit. */
            if ((size_t)used < len &&
                buf_append(&s->in, session_read_area + used, len - (size_t)used) != 0) {
                session_close(s, 0, "out of memory");
                return;
            }
        }
        /* A short read drained the socket: skip the read that would only say EAGAIN (epoll is
         * level-triggered and reports what arrives next). Over TLS too: a short read leaves
         * nothing inside GnuTLS. */
        if ((size_t)n < need + room)
            return;
    }
    /* The budget is spent. Over TLS, the rest of a record may wait decrypted inside GnuTLS,
     * where epoll does not see it: it is read at the end of this turn, and only it (what the
     * socket holds is reported in the next turn). */
    if (s->tls != NULL && !s->closing && tls_io_pending(s->tls) > 0)
        loop_defer(s->loop, &s->tls_more);
}

static void
session_on_io(void *arg, uint32_t events)
{
    struct session *s = arg;

    if (s->closing)
        return;
    if (events & (LOOP_READ | LOOP_HUP | LOOP_ERR))
        session_read(s, 0);
    if (!s->closing && (events & LOOP_WRITE) && session__flush(s) != 0)
        session_close(s, 0, "write failed");
}

/* When the heartbeat timer fires next: one interval on, or sooner when the peer's silence
 * reaches dead_after_ms before that, so a dead peer is noticed on time, not up to an interval
 * late. */
static uint64_t
session_heartbeat_next(const struct session *s, uint64_t now)
{
    uint64_t silent = now - s->last_rx, next = s->heartbeat_ms;

    if (silent < s->dead_after_ms && s->dead_after_ms - silent < next)
        next = s->dead_after_ms - silent;
    return next > 0 ? next : 1;
}

static void
session_on_heartbeat(void *arg)
{
    struct session *s = arg;
    uint64_t now = loop_now(s->loop);
    uint8_t opaque[8] = {0};

    if (s->closing)
        return;
    if (s->heartbeat_ms == 0) {
        session_close(s, FRAME_CODE_PROTOCOL, "handshake not finished in %d ms", NGR_HANDSHAKE_MS);
        return;
    }
    if (now - s->last_rx >= s->dead_after_ms) {
        session_close(s, 0, "peer silent for %llu ms", (unsigned long long)(now - s->last_rx));
        return;
    }
    buf_trim(&s->in);
    buf_trim(&s->ctl);
    buf_trim(&s->out);
    if (now - s->last_rx >= s->heartbeat_ms) {
        memcpy(opaque, &now, sizeof(now) < 8 ? sizeof(now) : 8);
        if (session_send_ping(s, 0, opaque) == 0 && !s->ping_out) {
            s->ping_out = 1;
            s->ping_sent_us = loop_clock_us();
        }
    }
    loop_timer_start(s->loop, &s->heartbeat, session_heartbeat_next(s, now));
}

static void
session_on_flush(void *arg)
{
    struct session *s = arg;

    if (s->fd >= 0 && session__flush(s) != 0 && !s->closing)
        session_close(s, 0, "write failed");
}

static void
session_on_tls_more(void *arg)
{
    struct session *s = arg;

    if (!s->closing && s->fd >= 0)
        session_read(s, 1);
}

/* The deferral of a closed session, after its last flush: detaches every stream, tells each
 * stream's owner, then the session's owner, which frees the session. */
static void
session_reap(void *arg)
{
    struct session *s = arg;
    struct stream *st, *tmp;
    static const struct frame_str gone = {"tunnel session closed", 21};

    HASH_ITER(hh, s->streams, st, tmp)
    {
        session_stream_detach(st);
        st->ops->on_reset(st, FRAME_CODE_CANCEL, gone);
    }
    loop_timer_stop(s->loop, &s->heartbeat);
    s->h->on_closed(s->owner, s, s->close_reason);
}
