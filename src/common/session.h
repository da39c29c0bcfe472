/* session.h: one control connection, shared by gateway and client: frame input and output,
 * the stream table, credit-based flow control (session and per stream), heartbeats, and a
 * deferred close. What a frame means (handshake, heads, bodies) is the owner's business: the
 * session hands it over through struct session_handler. docs/protocol.md has the rules.
 *
 * Ownership: the owner allocates struct session (usually embedded) and struct stream (embedded
 * in its own per-request object), and frees both after the callbacks say they are done. */
#ifndef NGR_SESSION_H
#define NGR_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uthash.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "loop.h"
#include "window.h"

struct session;
struct stream;
struct tls_io;

/* What a stream's owner does with its frames: one table per kind of stream end (an HTTP
 * request, a raw pipe). Every stream has one, set when it is opened or accepted; the session
 * dispatches every stream frame through it and nothing else. st->owner is the owner's object. */
struct stream_ops {
    /* REPLY. NULL for streams that never get a response head (a REPLY is then a protocol
     * error). Return 0 or a negative code (closes the session). */
    int (*on_reply)(struct stream *st, const struct frame *f);
    /* Body bytes, already checked against the windows; end is set on the last. The owner calls
     * session_consumed as it drains them. Return 0 or a negative code (resets the stream). */
    int (*on_data)(struct stream *st, const uint8_t *p, size_t n, int end);
    /* The stream was reset (by the peer, by the session, or because the session closed); it is
     * already detached. */
    void (*on_reset)(struct stream *st, uint32_t code, struct frame_str message);
    /* Credit arrived for this stream or for the whole session: send more. */
    void (*on_writable)(struct stream *st);
};

struct stream {
    UT_hash_handle hh;
    uint32_t id;
    struct session *sess;         /* NULL once detached (session gone or stream closed) */
    int64_t send_credit;          /* bytes we may still send on this stream */
    uint32_t recv_outstanding;    /* bytes received and not yet returned as credit */
    uint32_t recv_consumed;       /* of those, drained by our consumer, not yet returned */
    uint32_t recv_grown;          /* window growth not yet sent as credit */
    struct recv_window rwin;      /* how much the peer may send (window.h) */
    uint64_t last_data_ms;        /* the last DATA received: idle windows shrink */
    uint64_t data_sent;           /* body bytes sent */
    uint64_t data_received;       /* body bytes received */
    int data_in_out;              /* some of them went to the DATA queue (session_send_data) */
    TAILQ_ENTRY(stream) blocked_entry; /* in sess->blocked while blocked is set */
    int blocked;                  /* had credit but no room in the output: woken as it drains */
    const struct stream_ops *ops; /* set by the owner: what kind of end this stream has */
    void *owner;
};

/* The session owner's callbacks. Stream events (DATA, RST, WINDOW, REPLY) reach a stream only
 * through its stream_ops, never through these. */
struct session_handler {
    /* A frame for the owner: HELLO, WELCOME, BIND, BOUND, ERROR, GOAWAY, OPEN (the stream is not
     * known yet). Return 0, or a negative code to close the session with a protocol error.
     * payload pointers are borrowed for the call only. */
    int (*on_frame)(void *owner, struct session *s, const struct frame *f, struct stream *st);
    /* The session is closed (at the end of the turn that closed it, after its last flush):
     * every stream still attached was detached first and got on_reset with FRAME_CODE_CANCEL.
     * The owner frees its objects here, the session included (session_free). */
    void (*on_closed)(void *owner, struct session *s, const char *reason);
};

struct session {
    struct loop *loop;
    struct loop_io io;
    int fd;
    struct tls_io *tls;      /* NULL: plain TCP; else every byte goes through it (tls_io.h) */
    struct loop_defer tls_more; /* TLS: decrypted bytes wait inside GnuTLS, read them */
    const struct session_handler *h;
    void *owner;

    struct buf in;           /* a partial frame between reads */
    struct buf ctl;          /* frames other than DATA waiting for the socket: they go first */
    struct buf out;          /* DATA frames waiting for the socket */
    size_t out_frame_left;   /* bytes of out's first frame still to write, once it is begun */
    int want_write;          /* EPOLLOUT armed */
    size_t unsent_lowat;     /* TCP_NOTSENT_LOWAT set on fd (session_tune_unsent) */
    uint64_t unsent_tuned_ms; /* when the delivery rate was last read */
    size_t out_cap;          /* DATA queued in out only below this (session_tune_unsent) */
    TAILQ_HEAD(stream_blocked, stream) blocked; /* streams with credit but no room in out, in the order they
                                   * asked: woken, in that order, as out drains */
    size_t nblocked;
    struct loop_defer flush; /* queued output: written at the end of the turn */

    /* negotiated in HELLO/WELCOME */
    uint32_t peer_max_payload;
    uint32_t peer_stream_window; /* credit the peer grants each stream we open or it opens */
    uint32_t local_stream_window;
    uint32_t local_session_window;
    uint32_t heartbeat_ms;       /* agreed: the shorter of the two offers (0 until then) */
    uint32_t local_heartbeat_ms; /* ours, offered in HELLO/WELCOME (session_set_liveness) */
    uint32_t dead_after_ms;      /* silence that ends the session; ours, not negotiated */

    int64_t send_credit;       /* session-level credit for our DATA */
    uint32_t recv_outstanding; /* session-level bytes received, not yet returned */
    uint32_t recv_consumed;    /* of those, ready to return (on receipt, see session.c) */
    uint32_t recv_grown;       /* session window growth not yet sent as credit */
    uint32_t recv_excess;      /* session window still to give up (streams shrank or ended) */
    int tune;                  /* receive windows grow (1, the default) or stay as offered */
    struct window_budget budget;  /* this session's stream windows */
    uint32_t open_window;         /* what earlier streams needed: new ones start there */
    uint64_t open_window_ms;      /* when that was learned (it halves with age) */
    struct window_budget *shared; /* the whole process's, or NULL */

    struct stream *streams; /* uthash by id */
    size_t nstreams;
    uint32_t next_id;     /* the next id we open: odd on the gateway, even on the client */
    uint32_t peer_max_id; /* the highest id the peer opened */

    uint64_t last_rx; /* ms: any byte from the peer proves it alive */
    struct loop_timer heartbeat;
    uint64_t ping_sent_us; /* the PING in flight (ping_out), sent at this time */
    int ping_out;
    uint64_t probe_ms; /* when the last round-trip probe went out */
    uint64_t srtt_us;  /* smoothed round trip, from PING and its ACK; 0 until measured */
    uint64_t min_rtt_us; /* the least of those samples: the path's own round trip */
    uint64_t last_rtt_us; /* the latest sample alone (ngrnotok diagnose counts them) */
    uint64_t rtt_samples; /* samples taken on this session */

    size_t preface_left; /* gateway: preface bytes still to check */
    int closing;
    char close_reason[128];
    struct loop_defer reap; /* closed: the owner hears on_closed at the end of the turn */

    uint64_t bytes_rx, bytes_tx;
    uint64_t *refused_counter; /* the owner's count of malformed or forbidden frames, or NULL */
};

/* Starts a session on a connected socket. gateway selects odd ids for what this side opens.
 * Returns 0 or NGR_ESYS. */
NGR_MUST_CHECK int session_init(struct session *s, struct loop *l, int fd, int gateway,
                                const struct session_handler *h, void *owner);
/* Makes s read and write through t, a TLS session on its fd whose handshake is done; s owns t
 * from now on (session_free frees it). Call it right after session_init, in the same turn. */
void session_set_tls(struct session *s, struct tls_io *t);
/* Closes the fd (and its TLS session) and frees buffers and the stream table (not the
 * streams). */
void session_free(struct session *s);
/* The memory budgets of s's receive windows (window.h): its own limit in bytes, and the whole
 * process's budget, shared by every session (NULL: none), which must outlive s. By default a
 * session has NGR_SESSION_BUDGET and no shared budget. */
void session_set_budgets(struct session *s, uint64_t session_limit, struct window_budget *shared);

/* The PING interval this side offers and the silence after which it takes the peer for dead
 * (--heartbeat, --dead-after; NGR_HEARTBEAT_MS and NGR_DEAD_AFTER_MS unless set). Call before
 * HELLO/WELCOME goes out. dead_after_ms must exceed heartbeat_ms. */
void session_set_liveness(struct session *s, uint32_t heartbeat_ms, uint32_t dead_after_ms);
/* Checks --heartbeat and --dead-after as given: the interval at least NGR_HEARTBEAT_MIN_MS and
 * the silence longer, or a quiet peer ("client", "gateway") would count as dead before it is
 * pinged. Returns 0, or NGR_EINVAL with the reason. */
int session_check_liveness(uint64_t heartbeat_ms, uint64_t dead_after_ms, const char *peer,
                           struct ngr_err *err);
/* Checks the peer's HELLO or WELCOME values (frame size, windows). Returns 0, or NGR_EPROTO with
 * the reason in err. */
NGR_MUST_CHECK int session_check_peer(const struct frame_hello *peer, struct ngr_err *err);
/* Applies the peer's HELLO or WELCOME (checked) and starts heartbeats. */
void session_set_peer(struct session *s, const struct frame_hello *peer);
/* Our own values for HELLO/WELCOME. */
void session_local_hello(const struct session *s, struct frame_hello *h);

/* Sends a PING to measure the round trip (srtt_us, min_rtt_us), unless one is in flight or the
 * session is closing. Sessions probe by themselves while streams come; an idle one's owner that
 * shows the round trip asks here. */
void session_probe_rtt(struct session *s);

/* Typed senders: each encodes one frame and queues it, to be written at the end of the turn.
 * Control frames (HELLO, BIND, BOUND, ERROR, GOAWAY) pass the output cap, within bounds, since
 * they answer the peer; OPEN and REPLY do not. Each returns 0, NGR_ELIMIT when the frame does
 * not fit in one frame (nothing queued, the session is unharmed), NGR_ENOMEM, or NGR_ECLOSED
 * when the session (or the stream) is closing or was closed here for not reading its output.
 * Strings are borrowed for the call. */
int session_send_hello(struct session *s, const struct frame_hello *h, int welcome);
int session_send_bind(struct session *s, const struct frame_bind *b);
int session_send_bound(struct session *s, const struct frame_bound *b);
/* ERROR: code, the BIND handle it concerns (or 0), and a message (cut at NGR_MAX_MESSAGE). */
int session_send_error(struct session *s, uint32_t code, uint32_t ref, const char *message);
/* GOAWAY: code, the last stream id the sender will process, and a message. */
int session_send_goaway(struct session *s, uint32_t code, uint32_t last_id, const char *message);
/* Queues one frame already encoded by the caller: n bytes at frame, or n itself if it is
 * negative (an encoder's failure, passed on). For frames no typed sender covers; the tests
 * write malformed ones with it. force passes the output cap as the control frames do. Returns
 * as the typed senders do. */
int session_queue(struct session *s, const uint8_t *frame, ssize_t n, int force);
/* OPEN and REPLY on an attached stream, with FRAME_FLAG_* flags. */
NGR_MUST_CHECK int session_send_open(struct stream *st, uint8_t flags, const struct frame_head *h);
NGR_MUST_CHECK int session_send_reply(struct stream *st, uint8_t flags, const struct frame_head *h);

/* Streams. The owner embeds struct stream; open registers a new id (ours) and accept registers
 * the peer's (from OPEN). ops (static, never NULL) receives the stream's frames, with owner in
 * st->owner. Returns 0, NGR_ECLOSED, NGR_EPROTO (bad or reused id), NGR_ELIMIT (ids spent) or,
 * for open only, NGR_EAGAIN: the shared budget cannot pay for the stream's initial window
 * (accept cannot refuse it: the peer was promised that window in HELLO). */
NGR_MUST_CHECK int session_stream_open(struct session *s, struct stream *st,
                                       const struct stream_ops *ops, void *owner);
NGR_MUST_CHECK int session_stream_accept(struct session *s, struct stream *st, uint32_t id,
                                         const struct stream_ops *ops, void *owner);
/* The peer's OPEN of id is not taken (we sent GOAWAY before it came, so the peer sends it again
 * elsewhere): its id counts as used, and its later frames are dropped. NGR_EPROTO as for
 * session_stream_accept. */
int session_stream_skip(struct session *s, uint32_t id);
/* Removes the stream from the table. (Session credit was returned as its bytes arrived.) */
void session_stream_detach(struct stream *st);
struct stream *session_stream_find(struct session *s, uint32_t id);
/* Calls fn on each stream this side opened whose id is above ref (the peer's GOAWAY: the last
 * it processed), in no order; fn may end the stream. */
void session_streams_unseen(struct session *s, uint32_t ref, void (*fn)(struct stream *st, void *arg),
                            void *arg);

/* How many body bytes may be sent on st now: the credit (min of stream and session credit),
 * within the room left in the session's output (its out_cap). When the output is
 * what stops it, st hears on_writable once the output drains. */
size_t session_send_room(struct stream *st);
/* The credit alone: what the peer allows st to send, queued or not. */
size_t session_send_credit(const struct stream *st);
/* Sends up to n bytes as DATA (sliced), within credit; end adds END_STREAM on the last slice
 * if all n bytes went. Returns bytes sent (>= 0) or a negative code. n = 0 with end sends an
 * empty END_STREAM frame. */
ssize_t session_send_data(struct stream *st, const uint8_t *p, size_t n, int end);
/* Resets st with code and message and detaches it. Does nothing to a detached stream. */
void session_stream_reset(struct stream *st, uint32_t code, const char *message);
/* How an owner ends its stream: session_stream_reset, or with FRAME_CODE_NONE detached quietly
 * (both directions ended, or the peer reset it). Does nothing to a detached stream. */
void session_stream_end(struct stream *st, uint32_t code, const char *message);
/* The owner drained n bytes of st's DATA: credit goes back to the peer in batches. */
void session_consumed(struct stream *st, size_t n);

/* Sends ERROR (if code) and closes after a last flush; the owner hears on_closed at the end
 * of the turn (a loop deferral). Safe to call more than once and from inside callbacks. */
void session_close(struct session *s, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
