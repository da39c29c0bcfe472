/* session_out.c: a session's output. Two queues, control frames and DATA, written control
 * first by one writev per flush (a DATA frame the socket took part of is finished first, since
 * frames never interleave); DATA framed within credit and within the room of its queue, the
 * first bytes of every body with the control frames; and the turns of the streams that found
 * the DATA queue full. See session.h for the calls and docs/protocol.md section 13 for the
 * rules. */
#include "session.h"
#include "session_out.h"
#include "err.h"
#include "net.h"
#include "tls_io.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static void session_wake_blocked(struct session *s);
static void session_tune_unsent(struct session *s);

void
session__end(struct session *s, const char *why)
{
    if (s->closing)
        return;
    if (why != NULL)
        snprintf(s->close_reason, sizeof(s->close_reason), "%s", why);
    s->closing = 1;
    /* After the flush of what is queued (an ERROR, say): deferrals run in the order queued. */
    loop_defer(s->loop, &s->reap);
}

/* Queued output is written once per turn, after the turn hook: the frames of many streams
 * share one write. */
void
session__mark_pending(struct session *s)
{
    loop_defer(s->loop, &s->flush);
}

int
session_queue(struct session *s, const uint8_t *p, ssize_t n, int force)
{
    int rc;

    if (n < 0)
        return (int)n;
    if (s->fd < 0 || s->closing)
        return NGR_ECLOSED;
    /* Forced frames may pass the cap, but not without end: they are answers to what the peer
     * sends, so a peer that sends and never reads is cut off. */
    if (s->ctl.len + (size_t)n >
        (force ? 2 * (size_t)NGR_SESSION_OUT_HARD : NGR_SESSION_OUT_HARD)) {
        session__end(s, "peer does not read its control connection");
        return NGR_ECLOSED;
    }
    rc = buf_append_force(&s->ctl, p, (size_t)n);
    if (rc != 0)
        return rc;
    s->bytes_tx += (uint64_t)n;
    session__mark_pending(s);
    return 0;
}

/* How much of st's body may still go with the control frames: the first NGR_DATA_FIRST bytes of
 * every body do, so a small response is not queued behind another stream's bulk DATA, as long
 * as none of its DATA waits in the DATA queue (its order), the control queue is short, and
 * something is queued at all (else the DATA takes the direct path). */
static size_t
session_first_room(const struct stream *st)
{
    const struct session *s = st->sess;

    if (st->data_in_out || st->data_sent >= NGR_DATA_FIRST || s->ctl.len >= NGR_SESSION_OUT_DATA ||
        s->ctl.len + s->out.len == 0)
        return 0;
    return (size_t)(NGR_DATA_FIRST - st->data_sent);
}

size_t
session_send_credit(const struct stream *st)
{
    int64_t room;

    if (st->sess == NULL || st->sess->closing)
        return 0;
    room = st->send_credit < st->sess->send_credit ? st->send_credit : st->sess->send_credit;
    return room > 0 ? (size_t)room : 0;
}

/* st had credit but no room in the output: it waits its turn for the output to drain. */
static void
session_block(struct session *s, struct stream *st)
{
    if (!st->blocked) {
        st->blocked = 1;
        TAILQ_INSERT_TAIL(&s->blocked, st, blocked_entry);
        s->nblocked++;
    }
}

size_t
session_send_room(struct stream *st)
{
    size_t credit = session_send_credit(st), first, out_room;
    struct session *s = st->sess;

    if (s == NULL || s->closing)
        return 0;

    if (credit == 0)
        return 0;
    /* DATA waits with its owner, not in the output buffer, once that holds s->out_cap:
     * the sender's memory stays small whatever the credit, and what goes next is chosen
     * when the socket can take it. The stream hears on_writable when the buffer drains. A
     * body's first bytes may also go with the control frames (session_first_room). */
    first = session_first_room(st);
    out_room = s->out.len < s->out_cap ? s->out_cap - s->out.len : 0;
    if (credit > first + out_room) {
        session_block(s, st);
        return first + out_room;
    }
    return credit;
}

/* Queues iov[0..cnt) (frame headers and payload slices) on s. When nothing is queued before
 * them and they are large, they go to the socket at once from the caller's memory, and only
 * what the socket does not take is copied: a download's bytes are copied once less. Returns 0,
 * or NGR_ELIMIT (the session is closed) if the output cap would be passed. */
/* Of frames laid out as iov pairs (header, payload), the bytes still to go of the frame that
 * the first written bytes end in; 0 if they end at a frame's boundary. */
static size_t
session_frame_rest(const struct iovec *iov, int cnt, size_t written)
{
    int i;

    for (i = 0; i + 1 < cnt; i += 2) {
        size_t fsize = iov[i].iov_len + iov[i + 1].iov_len;
        if (written < fsize)
            return written > 0 ? fsize - written : 0;
        written -= fsize;
    }
    return 0;
}

/* slice body bytes of st go out: they take from both credits. */
static void
session_spend(struct session *s, struct stream *st, size_t slice)
{
    st->send_credit -= (int64_t)slice;
    s->send_credit -= (int64_t)slice;
    st->data_sent += slice;
}

static int
session_queue_iov(struct session *s, struct iovec *iov, int cnt, size_t total)
{
    size_t skip = 0;
    int i;

    if (s->out.len == 0 && s->ctl.len == 0 && total >= NGR_DIRECT_WRITE) {
        ssize_t w = s->tls == NULL ? writev(s->fd, iov, cnt) : tls_io_writev(s->tls, iov, cnt);
        /* On any error the bytes are queued: the next flush meets the error and reports it. */
        skip = w > 0 ? (size_t)w : 0;
        session_tune_unsent(s);
        /* A frame the socket took only part of is finished before anything else is written. */
        s->out_frame_left = session_frame_rest(iov, cnt, skip);
    }
    for (i = 0; i < cnt; i++) {
        const uint8_t *b = iov[i].iov_base;
        size_t len = iov[i].iov_len;

        if (skip >= len) {
            skip -= len;
            continue;
        }
        if (buf_append(&s->out, b + skip, len - skip) != 0) {
            session__end(s, "peer does not read its control connection");
            return NGR_ELIMIT;
        }
        skip = 0;
    }
    /* Over TLS, all of it may be taken with the last record not yet wholly out: the flush
     * sends the rest, and arms EPOLLOUT while it cannot. */
    if (s->out.len > 0 || (s->tls != NULL && tls_io_unsent(s->tls)))
        session__mark_pending(s);
    return 0;
}

ssize_t
session_send_data(struct stream *st, const uint8_t *p, size_t n, int end)
{
    struct session *s = st->sess;
    size_t sent = 0;
    int last = 0;

    if (s == NULL || s->closing)
        return NGR_ECLOSED;
    /* The body's first bytes, with the control frames (session_first_room). */
    for (;;) {
        size_t first = session_first_room(st), slice = n - sent, credit = session_send_credit(st);
        uint8_t hdr[NGR_FRAME_HEADER_LEN];
        uint8_t flags = 0;

        if (first == 0)
            break; /* the rest (an END_STREAM too) follows in the DATA queue, behind the control
                    * queue, so after these bytes */
        if (slice > first)
            slice = first;
        if (slice > credit)
            slice = credit;
        if (slice > s->peer_max_payload)
            slice = s->peer_max_payload;
        if (slice == 0 && !(sent == n && end))
            break;
        if (end && sent + slice == n)
            flags = FRAME_FLAG_END_STREAM;
        frame_header_encode(hdr, FRAME_DATA, flags, st->id, (uint32_t)slice);
        if (buf_append_force(&s->ctl, hdr, sizeof(hdr)) != 0 ||
            buf_append_force(&s->ctl, p + sent, slice) != 0) {
            session__end(s, "out of memory");
            return NGR_ENOMEM;
        }
        session__mark_pending(s);
        s->bytes_tx += NGR_FRAME_HEADER_LEN + slice;
        session_spend(s, st, slice);
        sent += slice;
        if (flags || sent == n)
            return (ssize_t)sent;
    }
    /* In batches of up to NGR_DATA_SLICES_AT_ONCE frames, each batch one write or one queueing. */
    while (!last) {
        uint8_t hdr[NGR_DATA_SLICES_AT_ONCE][NGR_FRAME_HEADER_LEN];
        struct iovec iov[2 * NGR_DATA_SLICES_AT_ONCE];
        size_t total = 0, batch_start = sent;
        int cnt = 0;

        while (cnt < 2 * NGR_DATA_SLICES_AT_ONCE) {
            size_t room = session_send_credit(st), slice = n - sent;
            /* This batch's payload joins the output too (its frame headers do not count:
             * session_send_room promised these bytes). */
            size_t queued = s->out.len + (sent - batch_start);
            uint8_t flags = 0;

            if (room > 0 && queued + room > s->out_cap) {
                session_block(s, st); /* on_writable once the output drains */
                room = queued < s->out_cap ? s->out_cap - queued : 0;
            }

            if (slice > room)
                slice = room;
            if (slice > NGR_DATA_SLICE)
                slice = NGR_DATA_SLICE;
            if (slice > s->peer_max_payload)
                slice = s->peer_max_payload;
            if (slice == 0 && !(sent == n && end)) {
                last = 1; /* all sent, or out of credit */
                break;
            }
            if (end && sent + slice == n)
                flags = FRAME_FLAG_END_STREAM;
            frame_header_encode(hdr[cnt / 2], FRAME_DATA, flags, st->id, (uint32_t)slice);
            iov[cnt].iov_base = hdr[cnt / 2];
            iov[cnt++].iov_len = NGR_FRAME_HEADER_LEN;
            iov[cnt].iov_base = (void *)(p + sent);
            iov[cnt++].iov_len = slice;
            total += NGR_FRAME_HEADER_LEN + slice;
            session_spend(s, st, slice);
            sent += slice;
            if (flags || sent == n) {
                last = 1;
                break;
            }
        }
        if (cnt > 0) {
            if (session_queue_iov(s, iov, cnt, total) != 0)
                return NGR_ELIMIT;
            s->bytes_tx += total;
            if (s->out.len > 0)
                st->data_in_out = 1; /* its later DATA must follow what waits there */
        }
    }
    return (ssize_t)sent;
}

/* n bytes of DATA left the head of s->out: consumes them, and remembers how much of the frame
 * they end in is still to go (the frames in s->out are whole, so each header can be read). */
static void
session_data_written(struct session *s, size_t n)
{
    const uint8_t *p = buf_head(&s->out);
    size_t left = s->out_frame_left, off = 0;

    while (off < n) {
        size_t take;
        if (left == 0)
            left = frame_size(p + off);
        take = left < n - off ? left : n - off;
        left -= take;
        off += take;
    }
    s->out_frame_left = left;
    buf_consume(&s->out, n);
}

/* What the link delivers in us microseconds, within [lo, hi]. */
static size_t
session_bytes_in(uint64_t bytes_per_s, unsigned us, size_t lo, size_t hi)
{
    uint64_t n = bytes_per_s / (1000000 / us);

    if (n < lo)
        return lo;
    return n > hi ? hi : (size_t)n;
}

size_t
session__unsent_for_rate(uint64_t bytes_per_s)
{
    return session_bytes_in(bytes_per_s, NGR_UNSENT_US, NGR_UNSENT_MIN, NGR_UNSENT_MAX);
}

size_t
session__out_cap_for_rate(uint64_t bytes_per_s)
{
    return session_bytes_in(bytes_per_s, NGR_SESSION_OUT_DATA_US, NGR_SESSION_OUT_DATA,
                            NGR_SESSION_OUT_DATA_MAX);
}

/* A limit moving from cur toward target: down at once, up by twice at most per reading, so
 * one high sample (a fast first hop filling, a burst) does not put megabytes ahead of the
 * control frames. */
static size_t
session_step(size_t cur, size_t target)
{
    return target > 2 * cur ? 2 * cur : target;
}

int
session__near(const struct session *s)
{
    return s->min_rtt_us != 0 && s->min_rtt_us <= NGR_UNSENT_NEAR_US;
}

void
session__set_unsent(struct session *s, size_t lowat)
{
    int v = (int)lowat;

    (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v));
    s->unsent_lowat = lowat;
}

/* Bytes went to the socket: the kernel's unsent bytes and the DATA queue's cap follow the
 * link's rate, so that a slow link keeps little ahead of control frames and a fast one is
 * written in large pieces, each wakeup moving up to the limit, without its bodies stopping and
 * being held by their owners at every turn. At most every NGR_UNSENT_TUNE_MS, so a limit set
 * while the rate was high (a fast first hop filling) comes down within that time. */
static void
session_tune_unsent(struct session *s)
{
    uint64_t now = loop_now(s->loop), rate;
    size_t lowat;

    if (s->unsent_tuned_ms != 0 && now - s->unsent_tuned_ms < NGR_UNSENT_TUNE_MS)
        return;
    s->unsent_tuned_ms = now;
    /* Only a near peer's rate is read from our socket: across a WAN the rate the kernel sees
     * can be a first hop's (a local proxy filling, samples of hundreds of MB/s on a
     * 100 Mbit/s path), and the limits stay at their least, which fills any such link. */
    if (!session__near(s))
        rate = 0;
    else if (net_delivery_rate(s->fd, &rate) != 0)
        return;
    lowat = session_step(s->unsent_lowat, session__unsent_for_rate(rate));
    if (lowat != s->unsent_lowat)
        session__set_unsent(s, lowat);
    s->out_cap = session_step(s->out_cap, session__out_cap_for_rate(rate));
}

/* Writes what is queued: control frames go ahead of DATA (WINDOW, PING and its ACK, REPLY and
 * OPEN heads do not wait behind bulk bytes), except that a DATA frame the socket took only
 * part of is finished first. One writev: the rest of that frame, the control frames, then
 * the DATA. Returns 0, or NGR_ECLOSED if the socket failed. */
int
session__flush(struct session *s)
{
    int wrote = 0, more;

    for (;;) {
        struct iovec iov[3];
        size_t a = s->out_frame_left < s->out.len ? s->out_frame_left : s->out.len;
        size_t b = s->ctl.len, c = s->out.len - a, w, data;
        ssize_t n;
        int cnt = 0;

        if (a + b + c == 0) {
            /* Over TLS, the rest of a record GnuTLS took may still be waiting for the socket. */
            if (s->tls != NULL && tls_io_unsent(s->tls) && tls_io_writev(s->tls, NULL, 0) < 0 &&
                errno != EAGAIN)
                return NGR_ECLOSED;
            break;
        }
        if (a > 0) {
            iov[cnt].iov_base = (void *)buf_head(&s->out);
            iov[cnt++].iov_len = a;
        }
        if (b > 0) {
            iov[cnt].iov_base = (void *)buf_head(&s->ctl);
            iov[cnt++].iov_len = b;
        }
        if (c > 0) {
            iov[cnt].iov_base = (void *)(buf_head(&s->out) + a);
            iov[cnt++].iov_len = c;
        }
        n = s->tls == NULL ? writev(s->fd, iov, cnt) : tls_io_writev(s->tls, iov, cnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return NGR_ECLOSED;
        }
        w = (size_t)n;
        wrote = 1;
        data = w < a ? w : a;
        if (w > a + b)
            data += w - a - b;
        buf_consume(&s->ctl, w <= a ? 0 : (w - a < b ? w - a : b));
        session_data_written(s, data);
        if (w < a + b + c)
            break;
    }
    if (wrote)
        session_tune_unsent(s);
    more = s->out.len > 0 || s->ctl.len > 0 || (s->tls != NULL && tls_io_unsent(s->tls));
    if (more && !s->want_write) {
        s->want_write = 1;
        loop_io_mod(s->loop, &s->io, LOOP_READ | LOOP_HUP | LOOP_WRITE);
    } else if (!more && s->want_write) {
        s->want_write = 0;
        loop_io_mod(s->loop, &s->io, LOOP_READ | LOOP_HUP);
    }
    if (s->out.len < s->out_cap / 2 && !s->closing)
        session_wake_blocked(s);
    return 0;
}

/* The output drained: the streams that found it full move again, in the order they found it
 * so. Only those that were blocked before this pass are woken; one that blocks again now goes
 * to the end of the next pass, so streams take turns. Stops once the output is full again. */
static void
session_wake_blocked(struct session *s)
{
    size_t n = s->nblocked; /* those blocked before this pass, even if some go meanwhile */
    struct stream *st;

    while (n-- > 0 && (st = TAILQ_FIRST(&s->blocked)) != NULL && !s->closing &&
           s->out.len < s->out_cap) {
        TAILQ_REMOVE(&s->blocked, st, blocked_entry);
        s->nblocked--;
        st->blocked = 0;
        st->ops->on_writable(st);
    }
}
