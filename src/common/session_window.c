/* session_window.c: a session's receive side of flow control: what each stream's window and
 * the session window cost the budgets, how they grow (window.c decides) and start (the lesson
 * of earlier streams), and when credit goes back as WINDOW. docs/protocol.md section 13. */
#include "session.h"
#include "limits.h"
#include "session_out.h"
#include "window.h"

/* Queues WINDOW for a stream (or the session, id 0); it passes the output cap, being an
 * answer to what the peer sent. */
static int
session_send_window(struct session *s, uint32_t stream_id, uint32_t increment)
{
    uint8_t frame[NGR_FRAME_HEADER_LEN + 4];

    return session_queue(s, frame,
                         frame_window_encode(frame, sizeof(frame), stream_id, increment), 1);
}

/* n bytes of windows go back to the session's budget and the shared one. */
void
session__give_budget(struct session *s, uint64_t n)
{
    window_budget_give(&s->budget, n);
    if (s->shared != NULL)
        window_budget_give(s->shared, n);
}

/* Pays for a new stream's initial window: always from the session's budget (the session limit
 * bounds growth, not the streams themselves), from the shared one only within its limit unless
 * force. Returns 0 or NGR_EAGAIN. */
int
session__charge_stream(struct session *s, int force)
{
    uint32_t n = s->local_stream_window;

    if (s->shared != NULL) {
        if (window_budget_take(s->shared, n) != 0) {
            if (!force)
                return NGR_EAGAIN;
            s->shared->used += n;
        }
    }
    s->budget.used += n;
    return 0;
}

/* st's window grows by n bytes, paid from the budgets (the caller made sure they have room),
 * and the session window with it; both go to the peer as credit with the next returns. */
static void
session__grow(struct session *s, struct stream *st, uint32_t n)
{
    if (n == 0)
        return;
    s->budget.used += n;
    if (s->shared != NULL)
        s->shared->used += n;
    st->rwin.size += n;
    st->recv_grown += n;
    s->local_session_window += n;
    s->recv_grown += n;
}

/* What a stream showed its session about the windows new streams need (need bytes), kept
 * unless an earlier lesson, halved by its age, says more. */
void
session__learn(struct session *s, uint32_t need)
{
    uint64_t now = loop_now(s->loop);

    if (need > NGR_STREAM_WINDOW_OPEN_MAX)
        need = NGR_STREAM_WINDOW_OPEN_MAX;
    if (need <= s->local_stream_window ||
        need < window_open_size(0, s->open_window, now - s->open_window_ms))
        return;
    s->open_window = need;
    s->open_window_ms = now;
}

/* A new stream starts with the window its session's earlier streams needed
 * (window_open_size): the part above the initial window is granted as growth, sent by WINDOW
 * once the peer knows the stream, and paid from a quarter of what the budgets have free (of
 * the shared budget, of what is free above its half), so such grants never take the room that
 * other streams' initial windows need. */
void
session__grant_open(struct session *s, struct stream *st)
{
    uint64_t room, now = loop_now(s->loop);
    uint32_t extra;

    if (!s->tune || s->open_window <= st->rwin.base)
        return;
    extra = window_open_size(st->rwin.base, s->open_window, now - s->open_window_ms) -
            st->rwin.base;
    room = window_budget_room(&s->budget);
    if (s->shared != NULL) {
        uint64_t free = window_budget_room(s->shared), half = s->shared->limit / 2;

        free = free > half ? free - half : 0;
        if (free < room)
            room = free;
    }
    room /= 4;
    if (room > 0x7fffffffu - s->local_session_window)
        room = 0x7fffffffu - s->local_session_window;
    if (extra > room)
        extra = (uint32_t)room;
    session__grow(s, st, extra);
}

/* Once a quarter of a window (at most NGR_WINDOW_RETURN_MAX) has gathered, its credit goes
 * back: one frame per quarter window keeps the sender busy without chatter. */
static uint32_t
session_return_at(uint32_t window)
{
    return window / 4 < NGR_WINDOW_RETURN_MAX ? window / 4 : NGR_WINDOW_RETURN_MAX;
}

/* Sends WINDOW for what was drained (stream) or received (session), in batches, with any
 * growth of the window; what a shrinking window gives up is kept back instead. */
void
session__return_credit(struct session *s, struct stream *st)
{
    if (st != NULL && (st->recv_grown > 0 ||
                       (st->recv_consumed > 0 &&
                        st->recv_consumed >= session_return_at(st->rwin.size)))) {
        uint32_t n = st->recv_consumed, cut;

        st->recv_outstanding -= n;
        st->recv_consumed = 0;
        cut = recv_window_forfeit(&st->rwin, n);
        if (cut > 0) {
            session__give_budget(s, cut);
            s->recv_excess += cut;
        }
        n = n - cut + st->recv_grown;
        st->recv_grown = 0;
        if (n > 0)
            session_send_window(s, st->id, n);
    }
    if (s->recv_grown > 0 ||
        (s->recv_consumed > 0 && s->recv_consumed >= session_return_at(s->local_session_window))) {
        uint32_t n = s->recv_consumed;
        uint32_t cut = n < s->recv_excess ? n : s->recv_excess;

        s->recv_outstanding -= n;
        s->recv_consumed = 0;
        s->recv_excess -= cut;
        s->local_session_window -= cut;
        n = n - cut + s->recv_grown;
        s->recv_grown = 0;
        if (n > 0)
            session_send_window(s, 0, n);
    }
}

/* Lets st's window grow by what window.c decides and the budgets allow; the session window
 * grows with it. */
void
session__tune(struct session *s, struct stream *st, uint32_t n)
{
    uint64_t room = window_budget_room(&s->budget);
    uint32_t grow;

    if (s->shared != NULL && window_budget_room(s->shared) < room)
        room = window_budget_room(s->shared);
    if (room > 0x7fffffffu - s->local_session_window)
        room = 0x7fffffffu - s->local_session_window;
    grow = recv_window_on_drain(&st->rwin, n, loop_clock_us(), s->srtt_us,
                                room > UINT32_MAX ? UINT32_MAX : (uint32_t)room);
    if (grow == 0)
        return;
    session__grow(s, st, grow);
    session__learn(s, st->rwin.size);
}
