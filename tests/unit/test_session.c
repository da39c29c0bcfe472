/* test_session.c: unit tests of the control session (session.h). Two sessions share a socketpair
 * in one loop, a gateway (expects the preface) and a client (sends it), or a gateway faces a raw
 * peer that writes bytes by hand. Each test is a script (script.h): a phase waits for a
 * condition, acts, and moves on; a deadline ends a test that stops making progress and says
 * what it was waiting for. Only session.h is used, and session_out.h for the arithmetic of the
 * kernel's unsent limit. One pair shares a loopback TCP connection instead, where that limit
 * applies. Some pairs speak TLS (tls_io.h, certificates from tls_keys.h): the session's reads
 * and writes through the transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_pair.h"
#include "err.h"
#include "frame.h"
#include "loop.h"
#include "session.h"
#include "session_out.h"
#include "tls_io.h"

#include "script.h"
#include "tls_keys.h"

#define TEST_SESSION_POOL 80
#define TEST_SESSION_RAW_CAP (256 * 1024)
#define TEST_SESSION_MIB (1024 * 1024)
/* Body bytes follow a pattern of this period, so a sender may start anywhere in the source
 * buffer at an offset congruent to the receiver's, and a lost or repeated slice shows. */
#define TEST_SESSION_PERIOD (128 * 1024)

struct test_session_env;
struct test_session_side;

struct test_session_stream {
    struct stream st;
    struct test_session_side *side; /* whose session the stream belongs to */
    int used;
    size_t got;       /* body bytes received */
    uint8_t head[64]; /* the first of them */
    size_t bad_bytes; /* bytes off the pattern (when pattern is set) */
    int pattern;
    int data_calls;
    int end_calls; /* on_data calls with end set */
    size_t others_got_at_end; /* body bytes of the side's other streams when end arrived */
    int after_end; /* on_data calls after one with end */
    int data_rc;   /* what on_data returns */
    int resets;    /* on_reset calls */
    uint32_t reset_code;
    char reset_msg[NGR_MAX_MESSAGE + 1];
    int reset_attached; /* still in its session's table, or with room, during on_reset */
    unsigned reset_seq;
    int writable; /* on_writable calls for this stream */
    size_t push_off, push_left; /* test_session_push: what on_writable still sends */
    int push_end;
    size_t pushed; /* bytes it sent, in all */
    int replies;  /* REPLY frames for this stream */
    size_t expect; /* body bytes it is to receive in all, if its side counts turns (else 0) */
};

struct test_session_side {
    struct session s;
    struct test_session_env *e;
    int live; /* initialised and not yet freed */
    int peer_hello;
    struct frame_hello hello; /* the peer's, strings cleared */
    char agent[64];
    size_t agent_len;   /* the whole agent string's length */
    uint32_t agent_sum; /* and a position-weighted sum of its bytes */
    unsigned frames[FRAME_TYPE_MAX + 1];
    int accept;         /* accept OPEN into a pool stream */
    int accept_data_rc; /* data_rc of streams accepted */
    int accept_rc;
    size_t got_at_open; /* body bytes received on all streams when the last OPEN arrived */
    struct test_session_stream *accepted[TEST_SESSION_POOL];
    size_t naccepted;
    char open_method[16];
    char open_target[64];
    char open_host[64];
    uint32_t error_code;
    char error_msg[NGR_MAX_MESSAGE + 1];
    unsigned error_seq;
    uint8_t frame_rc_type; /* on_frame returns frame_rc for frames of this type */
    int frame_rc;
    int closed;
    unsigned closed_seq;
    char reason[256];
    /* Turns of the side's streams in what it receives: the stream of the last DATA, its body
     * bytes since another stream's, how often the stream changed, and the longest run while
     * another stream (one with expect set) still had bytes to come. */
    struct test_session_stream *run_of;
    size_t run, longest_run;
    unsigned switches;
};

/* A peer without a session: what it reads is kept, what it writes is the test's. */
struct test_session_raw {
    struct loop_io io;
    int fd;
    uint8_t in[TEST_SESSION_RAW_CAP];
    size_t len;
    int eof;
    int dropped;         /* more arrived than in holds */
    const uint8_t *feed; /* bytes to write, one per turn */
    size_t feed_len, feed_pos;
};

typedef int (*test_session_script)(struct test_script *t);

struct test_session_env {
    struct loop *l;
    unsigned seq;         /* orders callbacks */
    const void *param;    /* the script's case, if it has a table of them */
    const void *instance; /* the struct test_session_instance this test runs */
    struct test_session_side g, c;
    struct test_session_raw raw;
    /* TLS pairs: body bytes each side consumed, turns that saw a record left inside GnuTLS
     * unsent (either side), and whether decrypted bytes waited inside the client's GnuTLS at
     * the end of a turn's events */
    size_t tls_consumed[2];
    unsigned tls_unsent_seen;
    int tls_pending_seen;
    struct test_session_stream pool[TEST_SESSION_POOL];
    struct test_session_stream *a[TEST_SESSION_POOL]; /* streams the script opened */
};

/* Where the tests encode the frames they queue by hand (session_queue), well-formed or not. */
static uint8_t test_session_area[NGR_SCRATCH_LEN];

/* One run of a script: which, and with which case (test_session_setup puts it in e->param). */
struct test_session_scripted;
struct test_session_instance {
    const struct test_session_scripted *s;
    const void *param;
};

/* The source of every body. */
static uint8_t test_session_body[TEST_SESSION_MIB + TEST_SESSION_PERIOD];

static uint8_t
test_session_pattern(size_t off)
{
    off %= TEST_SESSION_PERIOD;
    return (uint8_t)(off * 7 + (off >> 9));
}

/* Waits in the current phase: the script returns and runs again at the end of the next turn. */
/* Callbacks: they only record; the scripts assert. */

static struct test_session_stream *
test_session_stream_new(struct test_session_env *e, struct test_session_side *d)
{
    size_t i;

    for (i = 0; i < TEST_SESSION_POOL; i++) {
        if (!e->pool[i].used) {
            memset(&e->pool[i], 0, sizeof(e->pool[i]));
            e->pool[i].used = 1;
            e->pool[i].side = d;
            return &e->pool[i];
        }
    }
    return NULL;
}

static void
test_session_copy_str(char *out, size_t cap, struct frame_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;

    if (n > 0)
        memcpy(out, s.p, n);
    out[n] = '\0';
}

/* A checksum that notices a byte lost, repeated or moved. */
static uint32_t
test_session_sum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    size_t i;

    for (i = 0; i < n; i++)
        sum = sum * 31 + p[i] + (uint32_t)i;
    return sum;
}

static const struct stream_ops test_session_stream_ops;

static size_t test_session_got(const struct test_session_side *d);

static int
test_session_on_frame(void *owner, struct session *s, const struct frame *f, struct stream *st)
{
    struct test_session_side *d = owner;
    struct ngr_err why;
    struct frame_hello h;
    struct frame_reason r;
    struct frame_field fields[8];
    struct frame_head head;
    struct test_session_stream *ts;

    if (f->type <= FRAME_TYPE_MAX)
        d->frames[f->type]++;
    switch (f->type) {
    case FRAME_HELLO:
    case FRAME_WELCOME:
        if (frame_hello_decode(f, &h) != 0)
            return NGR_EPROTO;
        test_session_copy_str(d->agent, sizeof(d->agent), h.agent);
        d->agent_len = h.agent.len;
        d->agent_sum = test_session_sum((const uint8_t *)h.agent.p, h.agent.len);
        if (session_check_peer(&h, &why) != 0) {
            snprintf(d->reason, sizeof(d->reason), "%.250s", why.msg);
            return NGR_EPROTO;
        }
        d->hello = h;
        d->hello.token.p = d->hello.agent.p = NULL; /* borrowed for this call only */
        session_set_peer(s, &h);
        d->peer_hello = 1;
        if (f->type == FRAME_HELLO) {
            session_local_hello(s, &h);
            h.agent = frame_str_c("test-gateway");
            return session_queue(s, test_session_area,
                                 frame_hello_encode(test_session_area, NGR_SCRATCH_LEN, &h, 1), 0);
        }
        break;
    case FRAME_OPEN:
        memset(&head, 0, sizeof(head));
        head.fields = fields;
        head.cap_fields = sizeof(fields) / sizeof(fields[0]);
        if (frame_open_decode(f, &head) != 0)
            return NGR_EPROTO;
        test_session_copy_str(d->open_method, sizeof(d->open_method), head.method);
        test_session_copy_str(d->open_target, sizeof(d->open_target), head.target);
        test_session_copy_str(d->open_host, sizeof(d->open_host), head.host);
        if (!d->accept)
            break;
        ts = test_session_stream_new(d->e, d);
        if (ts == NULL) {
            d->accept_rc = NGR_ELIMIT;
            break;
        }
        ts->data_rc = d->accept_data_rc;
        d->got_at_open = test_session_got(d);
        d->accept_rc =
            session_stream_accept(s, &ts->st, f->stream_id, &test_session_stream_ops, ts);
        if (d->accept_rc == 0)
            d->accepted[d->naccepted++] = ts;
        else
            ts->used = 0;
        break;
    case FRAME_ERROR:
        if (frame_reason_decode(f, &r) != 0)
            return NGR_EPROTO;
        d->error_code = r.code;
        test_session_copy_str(d->error_msg, sizeof(d->error_msg), r.message);
        d->error_seq = ++d->e->seq;
        break;
    default:
        break;
    }
    if (d->frame_rc != 0 && f->type == d->frame_rc_type)
        return d->frame_rc;
    return 0;
}

static int
test_session_on_reply(struct stream *st, const struct frame *f)
{
    ((struct test_session_stream *)st->owner)->replies++;
    return 0;
}

/* Whether another stream of ts's side still has bytes to come (of those with expect set). */
static int
test_session_others_pending(const struct test_session_stream *ts)
{
    const struct test_session_side *d = ts->side;
    size_t i;

    for (i = 0; i < d->naccepted; i++)
        if (d->accepted[i] != ts && d->accepted[i]->got < d->accepted[i]->expect)
            return 1;
    return 0;
}

static int
test_session_on_data(struct stream *st, const uint8_t *p, size_t n, int end)
{
    struct test_session_stream *ts = st->owner;
    struct test_session_side *d = ts->side;
    size_t i;

    if (ts->end_calls > 0)
        ts->after_end++;
    for (i = 0; i < n; i++) {
        if (ts->got + i < sizeof(ts->head))
            ts->head[ts->got + i] = p[i];
        if (ts->pattern && p[i] != test_session_pattern(ts->got + i))
            ts->bad_bytes++;
    }
    ts->got += n;
    ts->data_calls++;
    if (d->run_of != ts) {
        if (d->run_of != NULL)
            d->switches++;
        d->run_of = ts;
        d->run = 0;
    }
    d->run += n;
    if (d->run > d->longest_run && test_session_others_pending(ts))
        d->longest_run = d->run;
    if (end) {
        ts->end_calls++;
        ts->others_got_at_end = test_session_got(ts->side) - ts->got;
    }
    return ts->data_rc;
}

static void
test_session_on_reset(struct stream *st, uint32_t code, struct frame_str message)
{
    struct test_session_stream *ts = st->owner;
    struct test_session_side *d = ts->side;

    ts->resets++;
    ts->reset_code = code;
    test_session_copy_str(ts->reset_msg, sizeof(ts->reset_msg), message);
    ts->reset_seq = ++d->e->seq;
    if (session_stream_find(&d->s, st->id) == st || session_send_room(st) != 0)
        ts->reset_attached = 1;
}

/* Sends what room allows of the bytes test_session_push left, as an owner does on
 * on_writable. */
static void
test_session_push_more(struct test_session_stream *ts)
{
    ssize_t n;

    if (ts->push_left == 0 && !ts->push_end)
        return;
    assert_true(ts->push_off % TEST_SESSION_PERIOD + ts->push_left <=
                sizeof(test_session_body));
    n = session_send_data(&ts->st, test_session_body + ts->push_off % TEST_SESSION_PERIOD,
                          ts->push_left, ts->push_end);
    if (n < 0)
        return;
    ts->push_off += (size_t)n;
    ts->push_left -= (size_t)n;
    ts->pushed += (size_t)n;
    if (ts->push_left == 0)
        ts->push_end = 0; /* sent with the last bytes */
}

/* Sends n body bytes from offset off (with END_STREAM on the last if end) as far as room
 * allows now, and the rest as the stream becomes writable; ts->pushed counts them. */
static void
test_session_push(struct test_session_stream *ts, size_t off, size_t n, int end)
{
    ts->push_off = off;
    ts->push_left = n;
    ts->push_end = end;
    test_session_push_more(ts);
}

static void
test_session_on_writable(struct stream *st)
{
    struct test_session_stream *ts = st->owner;

    ts->writable++;
    test_session_push_more(ts);
}

static const struct stream_ops test_session_stream_ops = {
    .on_reply = test_session_on_reply,
    .on_data = test_session_on_data,
    .on_reset = test_session_on_reset,
    .on_writable = test_session_on_writable,
};

static void
test_session_on_closed(void *owner, struct session *s, const char *reason)
{
    struct test_session_side *d = owner;

    d->closed = 1;
    d->closed_seq = ++d->e->seq;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
    session_free(s);
    d->live = 0;
}

static const struct session_handler test_session_handler = {
    .on_frame = test_session_on_frame,
    .on_closed = test_session_on_closed,
};

/* The raw peer. */

static void
test_session_raw_cb(void *arg, uint32_t events)
{
    struct test_session_env *e = arg;
    struct test_session_raw *r = &e->raw;
    ssize_t n;

    (void)events;
    for (;;) {
        if (r->len == sizeof(r->in)) {
            uint8_t drop[4096];
            n = read(r->fd, drop, sizeof(drop)); /* full: keep reading, keep nothing */
            r->dropped = 1;
        } else {
            n = read(r->fd, r->in + r->len, sizeof(r->in) - r->len);
            if (n > 0)
                r->len += (size_t)n;
        }
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            r->eof = 1;
            loop_io_mod(e->l, &r->io, 0); /* EOF stays readable: keep quiet */
        }
        return;
    }
}

/* Writes bytes from the raw peer; the gateway may have gone, so no SIGPIPE and no check. */
static void
test_session_raw_write(struct test_session_env *e, const void *p, size_t n)
{
    (void)!send(e->raw.fd, p, n, MSG_NOSIGNAL);
}

/* The index-th whole frame the raw peer has read, or 0 if it has not arrived. */
static int
test_session_raw_frame(struct test_session_env *e, int index, struct frame *f)
{
    size_t off = 0;
    int i;

    for (i = 0; i <= index; i++) {
        ssize_t n = frame_decode(e->raw.in + off, e->raw.len - off, NGR_FRAME_ABS_MAX_PAYLOAD, f);
        if (n <= 0)
            return 0;
        off += (size_t)n;
    }
    return 1;
}

/* The loop. */

static int
test_session_setup(void **state)
{
    struct test_session_env *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return -1;
    e->instance = *state;
    e->param = e->instance != NULL ? ((const struct test_session_instance *)*state)->param : NULL;
    e->l = loop_new();
    if (e->l == NULL) {
        free(e);
        return -1;
    }
    e->g.e = e->c.e = e;
    e->raw.fd = -1;
    *state = e;
    return 0;
}

static int
test_session_teardown(void **state)
{
    struct test_session_env *e = *state;
    struct test_session_side *sides[2] = {&e->g, &e->c};
    int i;

    /* Close what is still open and let the turn end reap it, streams included (they live in
     * e->pool, so their on_reset has somewhere to write). */
    for (i = 0; i < 2; i++)
        if (sides[i]->live && !sides[i]->s.closing)
            session_close(&sides[i]->s, 0, "test over");
    loop_run_deferred(e->l);
    /* A failed assertion can leave a closing session off every list: free it here. */
    for (i = 0; i < 2; i++)
        if (sides[i]->live) {
            session_free(&sides[i]->s);
            sides[i]->live = 0;
        }
    if (e->raw.fd >= 0) {
        loop_io_del(e->l, &e->raw.io);
        close(e->raw.fd);
    }
    loop_free(e->l);
    free(e);
    return 0;
}

/* A gateway session on one end of a socketpair (or of a TCP connection, if tcp) and a client
 * session on the other; the client queues its HELLO. */
static void
test_session_pair_on(struct test_session_env *e, int tcp)
{
    struct frame_hello h;
    int sv[2];

    if (tcp)
        test_tcp_pair(sv);
    else
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
                         0);
    assert_int_equal(session_init(&e->g.s, e->l, sv[0], 1, &test_session_handler, &e->g), 0);
    e->g.live = 1;
    assert_int_equal(session_init(&e->c.s, e->l, sv[1], 0, &test_session_handler, &e->c), 0);
    e->c.live = 1;
    e->g.accept = e->c.accept = 1;
    session_local_hello(&e->c.s, &h);
    h.agent = frame_str_c("test-client");
    h.token = frame_str_c("secret");
    assert_int_equal(session_queue(&e->c.s, test_session_area,
                                   frame_hello_encode(test_session_area, NGR_SCRATCH_LEN, &h, 0),
                                   0),
                     0);
}

static void
test_session_pair(struct test_session_env *e)
{
    test_session_pair_on(e, 0);
}

/* The certificates of every TLS pair (made once, in main). */
static struct tls_keys test_session_keys;

/* A TLS handshake between the ends of sv (server on sv[0]), driven with poll: the sessions
 * start after it, as control.c's do. */
static void
test_session_tls_handshake(int sv[2], struct tls_io *t[2])
{
    struct ngr_err err;
    int done[2] = {0, 0}, i, rounds = 0;

    t[0] = tls_io_server(sv[0], test_session_keys.server, NULL, &err);
    t[1] = tls_io_client(sv[1], test_session_keys.client, "localhost", &err);
    assert_non_null(t[0]);
    assert_non_null(t[1]);
    while (!done[0] || !done[1]) {
        struct pollfd p[2];

        assert_true(rounds++ < 1000);
        for (i = 0; i < 2; i++) {
            uint32_t want = LOOP_READ;
            int rc = done[i] ? 0 : tls_io_handshake(t[i], &want, &err);

            if (rc != 0 && rc != NGR_EAGAIN)
                fail_msg("TLS handshake, %s: %s", i ? "client" : "server", err.msg);
            done[i] = rc == 0;
            p[i].fd = sv[i];
            p[i].events = done[i] ? 0 : want == LOOP_WRITE ? POLLOUT : POLLIN;
        }
        if (!done[0] || !done[1])
            assert_true(poll(p, 2, 5000) > 0);
    }
}

/* A gateway and a client over TLS, on a socketpair or (tcp) loopback TCP. */
static void
test_session_pair_tls(struct test_session_env *e, int tcp)
{
    struct tls_io *t[2];
    struct frame_hello h;
    int sv[2];

    if (tcp)
        test_tcp_pair(sv);
    else
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
                         0);
    test_session_tls_handshake(sv, t);
    assert_int_equal(session_init(&e->g.s, e->l, sv[0], 1, &test_session_handler, &e->g), 0);
    session_set_tls(&e->g.s, t[0]);
    e->g.live = 1;
    assert_int_equal(session_init(&e->c.s, e->l, sv[1], 0, &test_session_handler, &e->c), 0);
    session_set_tls(&e->c.s, t[1]);
    e->c.live = 1;
    e->g.accept = e->c.accept = 1;
    session_local_hello(&e->c.s, &h);
    h.agent = frame_str_c("test-client");
    h.token = frame_str_c("secret");
    assert_int_equal(session_queue(&e->c.s, test_session_area,
                                   frame_hello_encode(test_session_area, NGR_SCRATCH_LEN, &h, 0),
                                   0),
                     0);
}

/* A gateway session facing a raw peer. */
static void
test_session_raw_pair(struct test_session_env *e)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(session_init(&e->g.s, e->l, sv[0], 1, &test_session_handler, &e->g), 0);
    e->g.live = 1;
    e->g.accept = 1;
    e->raw.fd = sv[1];
    assert_int_equal(
        loop_io_add(e->l, &e->raw.io, sv[1], LOOP_READ | LOOP_HUP, test_session_raw_cb, e), 0);
}

/* The client stops reading and both socket buffers between gateway and client shrink to
 * 16 KiB: what the gateway sends next waits in its own queues, where the test can see it. */
static void
test_session_stall_receiver(struct test_session_env *e)
{
    int small = 16 * 1024;

    assert_int_equal(loop_io_mod(e->l, &e->c.s.io, 0), 0);
    assert_int_equal(setsockopt(e->g.s.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    assert_int_equal(setsockopt(e->c.s.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
}

static int
test_session_ready(struct test_session_env *e)
{
    /* The first round-trip probes are answered too: no frame of theirs arrives later, in a
     * socket that a test then closes unread (a reset, which could lose what the test awaits). */
    return e->g.peer_hello && e->c.peer_hello && !e->g.s.ping_out && !e->c.s.ping_out;
}

/* Opens a stream on d and queues its OPEN. */
static struct test_session_stream *
test_session_open(struct test_session_env *e, struct test_session_side *d, const char *target)
{
    struct test_session_stream *ts = test_session_stream_new(e, d);
    struct frame_head head;

    assert_non_null(ts);
    assert_int_equal(session_stream_open(&d->s, &ts->st, &test_session_stream_ops, ts), 0);
    assert_ptr_equal(session_stream_find(&d->s, ts->st.id), &ts->st);
    memset(&head, 0, sizeof(head));
    head.tunnel = 1;
    head.body = FRAME_BODY_UNKNOWN;
    head.method = frame_str_c("GET");
    head.target = frame_str_c(target);
    head.client_addr = frame_str_c("203.0.113.9");
    head.scheme = frame_str_c("http");
    head.host = frame_str_c("app.example.test");
    assert_int_equal(session_send_open(&ts->st, 0, &head), 0);
    return ts;
}

/* Queues a REPLY for st on its session. */
static void
test_session_reply(struct test_session_stream *ts)
{
    struct frame_head head;

    memset(&head, 0, sizeof(head));
    head.status = 200;
    head.body = FRAME_BODY_UNKNOWN;
    assert_int_equal(
        session_queue(&ts->side->s, test_session_area,
                      frame_reply_encode(test_session_area, NGR_SCRATCH_LEN, ts->st.id, 0, &head),
                      0),
        0);
}

/* Sends n (up to 1 MiB and a bit) pattern bytes on ts, counting from the receiver's offset off. */
static ssize_t
test_session_send(struct test_session_stream *ts, size_t off, size_t n, int end)
{
    assert_true(off % TEST_SESSION_PERIOD + n <= sizeof(test_session_body));
    return session_send_data(&ts->st, test_session_body + off % TEST_SESSION_PERIOD, n, end);
}

static size_t
test_session_got(const struct test_session_side *d)
{
    size_t i, n = 0;

    for (i = 0; i < d->naccepted; i++)
        n += d->accepted[i]->got;
    return n;
}

/* HELLO and WELCOME: each side hears the other's values and applies them. */

static int
test_session_handshake_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a, *b, *x;

    TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
    assert_int_equal(e->g.frames[FRAME_HELLO], 1);
    assert_int_equal(e->g.frames[FRAME_WELCOME], 0);
    assert_int_equal(e->c.frames[FRAME_WELCOME], 1);
    assert_int_equal(e->c.frames[FRAME_HELLO], 0);
    assert_int_equal(e->g.hello.version, NGR_PROTOCOL_VERSION);
    assert_int_equal(e->g.hello.max_payload, NGR_FRAME_MAX_PAYLOAD);
    assert_int_equal(e->g.hello.stream_window, NGR_STREAM_WINDOW);
    assert_int_equal(e->g.hello.session_window, NGR_SESSION_WINDOW);
    assert_int_equal(e->g.hello.heartbeat_ms, NGR_HEARTBEAT_MS);
    assert_int_equal(e->g.hello.token.len, 6);
    assert_string_equal(e->g.agent, "test-client");
    assert_int_equal(e->c.hello.version, NGR_PROTOCOL_VERSION);
    assert_int_equal(e->c.hello.stream_window, NGR_STREAM_WINDOW);
    assert_int_equal(e->c.hello.session_window, NGR_SESSION_WINDOW);
    assert_string_equal(e->c.agent, "test-gateway");
    assert_false(e->g.closed);
    assert_false(e->c.closed);

    /* The gateway opens odd ids, the client even ones; a stream starts with the peer's window. */
    a = test_session_open(e, &e->g, "/a");
    b = test_session_open(e, &e->g, "/b");
    x = test_session_open(e, &e->c, "/x");
    assert_int_equal(a->st.id, 1);
    assert_int_equal(b->st.id, 3);
    assert_int_equal(x->st.id, 2);
    assert_int_equal(session_send_credit(&a->st), NGR_STREAM_WINDOW);
    assert_int_equal(session_send_credit(&x->st), NGR_STREAM_WINDOW);
    assert_null(session_stream_find(&e->g.s, 2));
    assert_null(session_stream_find(&e->g.s, 5));
    assert_ptr_equal(session_stream_find(&e->g.s, 3), &b->st);
    return 1;
}

/* OPEN accepted by the peer, DATA in slices with END_STREAM on the last, REPLY for a known
 * stream, and an empty END_STREAM. */

static int
test_session_data_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a, *cs;
    size_t i;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        a = e->a[0] = test_session_open(e, &e->g, "/hello?x=1");
        /* DATA right behind OPEN, in the same flush: the peer accepts before it arrives. */
        assert_int_equal(test_session_send(a, 0, 40000, 1), 40000);
        assert_int_equal(session_send_credit(&a->st), NGR_STREAM_WINDOW - 40000);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1 && e->c.accepted[0]->end_calls == 1,
                          "the OPEN accepted and 40000 body bytes with END_STREAM");
        cs = e->c.accepted[0];
        assert_int_equal(e->c.accept_rc, 0);
        assert_int_equal(cs->st.id, e->a[0]->st.id);
        assert_ptr_equal(session_stream_find(&e->c.s, cs->st.id), &cs->st);
        assert_string_equal(e->c.open_method, "GET");
        assert_string_equal(e->c.open_target, "/hello?x=1");
        assert_string_equal(e->c.open_host, "app.example.test");
        assert_int_equal(cs->got, 40000);
        assert_true(cs->data_calls >= 1);
        assert_int_equal(cs->after_end, 0);
        assert_int_equal(cs->bad_bytes, 0);
        for (i = 0; i < sizeof(cs->head); i++)
            assert_int_equal(cs->head[i], test_session_pattern(i));
        /* The answer: a head, bytes, then an empty END_STREAM. */
        test_session_reply(cs);
        assert_int_equal(session_send_data(&cs->st, (const uint8_t *)"pong", 4, 0), 4);
        assert_int_equal(session_send_data(&cs->st, NULL, 0, 1), 0);
        t->phase++;
        return 0;
    case 2:
        a = e->a[0];
        TEST_SCRIPT_AWAIT(t, a->end_calls == 1, "the reply's END_STREAM");
        assert_int_equal(a->replies, 1);
        /* A stream's frames reach its ops only, never the session's handler. */
        assert_int_equal(e->g.frames[FRAME_REPLY], 0);
        assert_int_equal(a->got, 4);
        assert_memory_equal(a->head, "pong", 4);
        assert_int_equal(a->data_calls, 2);
        assert_int_equal(a->after_end, 0);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* The stream window: the sender stops at the peer's window until the receiver consumes. The
 * receiver here does not tune its windows (as a peer that does not grow them): its credit
 * comes back as drained, never more. */

static int
test_session_stream_window_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *cs;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->c.s.tune = 0;
        e->a[0] = test_session_open(e, &e->g, "/big");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1, "the OPEN accepted");
        e->c.accepted[0]->pattern = 1;
        assert_int_equal(session_send_credit(&a->st), NGR_STREAM_WINDOW);
        /* More than the window: exactly the window goes. */
        test_session_push(a, 0, NGR_STREAM_WINDOW + 1000, 0);
        t->phase++;
        return 0;
    case 2:
        cs = e->c.accepted[0];
        TEST_SCRIPT_AWAIT(t, cs->got >= NGR_STREAM_WINDOW, "a window of DATA at the receiver");
        assert_int_equal(a->pushed, NGR_STREAM_WINDOW);
        assert_int_equal(session_send_credit(&a->st), 0);
        assert_int_equal(session_send_room(&a->st), 0);
        assert_int_equal(session_send_data(&a->st, test_session_body, 1, 0), 0);
        assert_int_equal(session_send_data(&a->st, test_session_body, 1, 1), 0);
        a->push_left = 0;
        assert_int_equal(cs->got, NGR_STREAM_WINDOW);
        assert_int_equal(cs->end_calls, 0);
        /* A marker behind which any credit would have arrived. */
        test_session_reply(cs);
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, a->replies == 1, "the REPLY behind the DATA");
        assert_int_equal(session_send_credit(&a->st), 0);
        a->writable = 0;
        cs = e->c.accepted[0];
        session_consumed(&cs->st, cs->got);
        t->phase++;
        return 0;
    case 4:
        TEST_SCRIPT_AWAIT(t, a->writable > 0 && session_send_credit(&a->st) > 0,
                          "on_writable with credit for the stream");
        assert_int_equal(session_send_credit(&a->st), NGR_STREAM_WINDOW);
        a->pushed = 0;
        test_session_push(a, NGR_STREAM_WINDOW, NGR_STREAM_WINDOW, 1);
        t->phase++;
        return 0;
    case 5:
        cs = e->c.accepted[0];
        TEST_SCRIPT_AWAIT(t, cs->end_calls == 1, "the second window with END_STREAM");
        assert_int_equal(a->pushed, NGR_STREAM_WINDOW);
        assert_int_equal(session_send_credit(&a->st), 0);
        assert_int_equal(cs->got, 2 * (size_t)NGR_STREAM_WINDOW);
        assert_int_equal(cs->bad_bytes, 0);
        assert_int_equal(cs->after_end, 0);
        assert_int_equal(cs->resets, 0);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* Window growth: a receiver that drains a quarter window in under half its round trip (here
 * a round trip set to 10 s, so any drain is fast) grows the stream's window (here by the one
 * window its budget leaves room for), the session window grows by as much, and the sender gets the growth as credit at once; both are paid
 * from the receiver's budgets. Once the stream was idle (its last DATA set back in time) the
 * drained bytes are kept back until the window is at its base again, and the budgets get them
 * back. */
static int
test_session_window_growth_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *cs;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->a[0] = test_session_open(e, &e->g, "/grow");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1 && !e->c.s.ping_out && e->c.s.srtt_us > 0,
                          "the OPEN accepted and the receiver's round trip measured");
        cs = e->c.accepted[0];
        cs->pattern = 1;
        assert_int_equal(e->c.s.budget.used, NGR_STREAM_WINDOW);
        test_session_push(a, 0, NGR_STREAM_WINDOW, 0);
        t->phase++;
        return 0;
    case 2:
        cs = e->c.accepted[0];
        TEST_SCRIPT_AWAIT(t, cs->got == NGR_STREAM_WINDOW, "a window of DATA at the receiver");
        e->c.s.srtt_us = 10 * 1000 * 1000;
        /* The session's budget leaves room for one more window: growth stops there (the
         * rate alone would have it grow to NGR_WINDOW_GROWTH times). */
        e->c.s.budget.limit = e->c.s.budget.used + NGR_STREAM_WINDOW;
        a->writable = 0;
        session_consumed(&cs->st, NGR_STREAM_WINDOW);
        assert_int_equal(cs->st.rwin.size, 2 * NGR_STREAM_WINDOW);
        assert_int_equal(e->c.s.open_window, 2 * NGR_STREAM_WINDOW); /* the next streams' start */
        assert_int_equal(e->c.s.local_session_window, NGR_SESSION_WINDOW + NGR_STREAM_WINDOW);
        assert_int_equal(e->c.s.budget.used, 2 * NGR_STREAM_WINDOW);
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, a->writable > 0 && session_send_credit(&a->st) == 2 * NGR_STREAM_WINDOW,
                          "credit for the drained window and its growth");
        assert_int_equal(a->st.send_credit, 2 * NGR_STREAM_WINDOW);
        /* The sender may now have twice the base in flight, and the receiver takes it. */
        a->pushed = 0;
        test_session_push(a, NGR_STREAM_WINDOW, 2 * NGR_STREAM_WINDOW, 0);
        t->phase++;
        return 0;
    case 4:
        cs = e->c.accepted[0];
        TEST_SCRIPT_AWAIT(t, cs->got == 3 * NGR_STREAM_WINDOW, "the grown window of DATA");
        assert_int_equal(a->pushed, 2 * NGR_STREAM_WINDOW);
        assert_int_equal(cs->resets, 0);
        assert_int_equal(cs->bad_bytes, 0);
        /* Idle since: the window shrinks as bytes drain, instead of returning them. */
        cs->st.last_data_ms -= NGR_WINDOW_IDLE_MS;
        a->writable = 0;
        assert_int_equal(test_session_send(a, 3 * NGR_STREAM_WINDOW, 1, 0), 0); /* no credit */
        session_consumed(&cs->st, NGR_STREAM_WINDOW);
        /* Not idle yet (no DATA since): returned as usual (no room left to grow). */
        t->phase++;
        return 0;
    case 5:
        TEST_SCRIPT_AWAIT(t, a->writable > 0, "credit for the drained quarter");
        cs = e->c.accepted[0];
        /* Idle now: the next DATA finds the stream quiet for NGR_WINDOW_IDLE_MS. */
        cs->st.last_data_ms = loop_now(e->l) - NGR_WINDOW_IDLE_MS;
        e->c.s.tune = 0;
        assert_true(test_session_send(a, 3 * NGR_STREAM_WINDOW, 1, 0) == 1);
        t->phase++;
        return 0;
    case 6: {
        uint64_t used;
        cs = e->c.accepted[0];
        TEST_SCRIPT_AWAIT(t, cs->got == 3 * NGR_STREAM_WINDOW + 1, "one byte after the quiet");
        assert_true(cs->st.rwin.excess > 0);
        assert_int_equal(cs->st.rwin.excess, cs->st.rwin.size - NGR_STREAM_WINDOW);
        used = e->c.s.budget.used;
        a->writable = 0;
        /* Everything still held drains: all of it is kept back while the window shrinks. */
        session_consumed(&cs->st, cs->st.recv_outstanding - cs->st.recv_consumed);
        assert_int_equal(cs->st.rwin.size, NGR_STREAM_WINDOW + cs->st.rwin.excess);
        assert_true(e->c.s.budget.used < used);
        assert_int_equal(e->c.s.budget.used, cs->st.rwin.size);
        return 1;
    }
    }
    return 0;
}

/* The shared budget: a stream whose initial window it cannot pay for is not opened
 * (NGR_EAGAIN), and one that ends gives its window back. */
static int
test_session_shared_budget_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    static struct window_budget shared;
    struct test_session_stream *x;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        window_budget_init(&shared, 2 * NGR_STREAM_WINDOW + 100);
        session_set_budgets(&e->g.s, NGR_SESSION_BUDGET, &shared);
        e->a[0] = test_session_open(e, &e->g, "/one");
        e->a[1] = test_session_open(e, &e->g, "/two");
        assert_int_equal(shared.used, 2 * NGR_STREAM_WINDOW);
        x = test_session_stream_new(e, &e->g);
        assert_non_null(x);
        assert_int_equal(session_stream_open(&e->g.s, &x->st, &test_session_stream_ops, x),
                         NGR_EAGAIN);
        assert_null(x->st.sess);
        session_stream_end(&e->a[0]->st, FRAME_CODE_CANCEL, "done");
        assert_int_equal(shared.used, NGR_STREAM_WINDOW);
        assert_int_equal(session_stream_open(&e->g.s, &x->st, &test_session_stream_ops, x), 0);
        assert_int_equal(shared.used, 2 * NGR_STREAM_WINDOW);
        e->a[2] = x;
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2, "the two OPENs accepted");
        session_close(&e->g.s, 0, "test over");
        t->phase++;
        return 0;
    case 2:
        /* The closed session's streams were detached: what they held goes back. */
        TEST_SCRIPT_AWAIT(t, e->g.closed, "the session reaped");
        assert_int_equal(shared.used, 0);
        return 1;
    }
    return 0;
}

/* Control frames go ahead of queued DATA: with DATA of one stream waiting in the output (the
 * receiver stopped reading), an OPEN queued after it reaches the receiver before it, and so
 * does a small body (the first NGR_DATA_FIRST bytes of a body go with the control frames);
 * only the DATA frame already begun on the socket is finished first. */
static int
test_session_control_first_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0];
    static size_t written_before;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->c.s.tune = 0;
        e->a[0] = test_session_open(e, &e->g, "/bulk");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1, "the OPEN accepted");
        /* The receiver stops reading; the sender pushes until its output holds DATA. */
        test_session_stall_receiver(e);
        e->c.accepted[0]->pattern = 1;
        test_session_push(a, 0, NGR_STREAM_WINDOW, 0);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->g.s.out.len > NGR_FRAME_HEADER_LEN + e->g.s.out_frame_left,
                          "DATA waiting in the sender's output");
        /* At most this much DATA can reach the receiver before the OPEN below: all but the
         * payload of the whole frames queued behind the one begun. */
        {
            const uint8_t *q = buf_head(&e->g.s.out);
            size_t off = e->g.s.out_frame_left, queued = 0;
            while (off < e->g.s.out.len) {
                queued += frame_size(q + off) - NGR_FRAME_HEADER_LEN;
                off += frame_size(q + off);
            }
            assert_int_equal(off, e->g.s.out.len);
            assert_true(queued > 0);
            written_before = a->pushed - queued;
        }
        e->a[1] = test_session_open(e, &e->g, "/small");
        /* A small body: it goes with the control frames too, whole, with its END_STREAM. */
        assert_int_equal(test_session_send(e->a[1], 0, 1000, 1), 1000);
        assert_int_equal(loop_io_mod(e->l, &e->c.s.io, LOOP_READ | LOOP_HUP), 0);
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2 && e->c.accepted[0]->got == NGR_STREAM_WINDOW &&
                                 e->c.accepted[1]->end_calls == 1,
                          "the second OPEN, its body and the whole window of DATA");
        assert_true(e->c.got_at_open <= written_before);
        assert_int_equal(e->c.accepted[1]->got, 1000);
        assert_true(e->c.accepted[1]->others_got_at_end <= written_before);
        assert_int_equal(e->c.accepted[1]->bad_bytes, 0);
        assert_true(e->c.got_at_open < NGR_STREAM_WINDOW);
        assert_int_equal(e->c.accepted[0]->bad_bytes, 0);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* Two bulk streams take turns in the DATA queue: their windows grown far past the queue's cap
 * (so credit never stops them and no WINDOW comes back during the bodies), both push 1 MiB
 * while the receiver does not read, and both end up waiting for room. As the queue drains they
 * are woken in turn, and each turn fills the queue from its level up to NGR_SESSION_OUT_DATA:
 * the receiver sees the bodies whole, alternating, and never more than NGR_SESSION_OUT_DATA
 * body bytes of one stream while the other still has bytes to come. */
#define TEST_SESSION_GROWN (NGR_WINDOW_GROWTH * NGR_STREAM_WINDOW)
#define TEST_SESSION_WARM (NGR_STREAM_WINDOW / 4)

static int
test_session_turns_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *b = e->a[1], *ca, *cb;
    int i;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->a[0] = test_session_open(e, &e->g, "/bulk-a");
        e->a[1] = test_session_open(e, &e->g, "/bulk-b");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2 && !e->c.s.ping_out && e->c.s.srtt_us > 0,
                          "both OPENs accepted and the receiver's round trip measured");
        for (i = 0; i < 2; i++) {
            e->c.accepted[i]->pattern = 1;
            test_session_push(e->a[i], 0, TEST_SESSION_WARM, 0);
        }
        t->phase++;
        return 0;
    case 2:
        ca = e->c.accepted[0];
        cb = e->c.accepted[1];
        TEST_SCRIPT_AWAIT(t, ca->got == TEST_SESSION_WARM && cb->got == TEST_SESSION_WARM,
                          "a quarter window of DATA on each stream");
        /* A quarter window drained well within a round trip (here 1000 s): each window grows
         * the most one step allows, NGR_WINDOW_GROWTH times, and then stays (no tuning, and
         * nothing consumed, from here on). */
        e->c.s.srtt_us = 1000 * 1000 * 1000;
        session_consumed(&ca->st, TEST_SESSION_WARM);
        session_consumed(&cb->st, TEST_SESSION_WARM);
        assert_int_equal(ca->st.rwin.size, TEST_SESSION_GROWN);
        assert_int_equal(cb->st.rwin.size, TEST_SESSION_GROWN);
        e->c.s.tune = 0;
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t,
                          session_send_credit(&a->st) == TEST_SESSION_GROWN &&
                              session_send_credit(&b->st) == TEST_SESSION_GROWN,
                          "credit for the grown windows");
        /* The receiver stops reading and its socket holds little: the sender's DATA queue
         * decides what goes next. */
        test_session_stall_receiver(e);
        e->c.run_of = NULL;
        e->c.run = e->c.longest_run = 0;
        e->c.switches = 0;
        for (i = 0; i < 2; i++) {
            e->c.accepted[i]->expect = TEST_SESSION_WARM + TEST_SESSION_MIB;
            e->a[i]->pushed = 0;
            test_session_push(e->a[i], TEST_SESSION_WARM, TEST_SESSION_MIB, 1);
        }
        /* Both have credit for their whole body, and both wait for room, a before b. */
        assert_true(a->pushed < TEST_SESSION_MIB && b->pushed < TEST_SESSION_MIB);
        assert_true(e->g.s.out.len >= NGR_SESSION_OUT_DATA);
        assert_true(a->st.blocked && b->st.blocked);
        assert_int_equal(e->g.s.nblocked, 2);
        assert_ptr_equal(TAILQ_FIRST(&e->g.s.blocked), &a->st);
        t->phase++;
        return 0;
    case 4:
        TEST_SCRIPT_AWAIT(t, e->g.s.want_write, "the sender's output waiting for the socket");
        assert_int_equal(loop_io_mod(e->l, &e->c.s.io, LOOP_READ | LOOP_HUP), 0);
        t->phase++;
        return 0;
    case 5:
        ca = e->c.accepted[0];
        cb = e->c.accepted[1];
        TEST_SCRIPT_AWAIT(t, ca->end_calls == 1 && cb->end_calls == 1,
                          "both bodies with END_STREAM");
        assert_int_equal(a->pushed, TEST_SESSION_MIB);
        assert_int_equal(b->pushed, TEST_SESSION_MIB);
        for (i = 0; i < 2; i++) {
            struct test_session_stream *cs = e->c.accepted[i];
            assert_int_equal(cs->got, TEST_SESSION_WARM + TEST_SESSION_MIB);
            assert_int_equal(cs->bad_bytes, 0);
            assert_int_equal(cs->after_end, 0);
            assert_int_equal(cs->resets, 0);
        }
        /* The bound: no WINDOW reaches the sender during the bodies (nothing is consumed, and
         * the session's credit goes back once 2 MiB arrived, with the last frame), so no
         * on_writable comes but a stream's turn in s->blocked. A turn fills the DATA queue
         * from its level up to NGR_SESSION_OUT_DATA and no further (the room is counted in
         * body bytes, the body's start no longer goes with the control frames), and the
         * stream goes behind the other, which waits there whenever it has body left (its
         * credit always passes the room). So one stream's bytes between two of the other's
         * are one turn, at most NGR_SESSION_OUT_DATA; so is the first run, what a's first
         * call queued, the part the socket took at once included. */
        assert_true(e->c.longest_run > 0);
        assert_true(e->c.longest_run <= NGR_SESSION_OUT_DATA);
        /* Hence the first body to end came in at least TEST_SESSION_MIB / NGR_SESSION_OUT_DATA
         * runs, with one of the other's between each two. */
        assert_true(e->c.switches >= 2 * (TEST_SESSION_MIB / NGR_SESSION_OUT_DATA) - 2);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* The session window bounds bytes in flight: 32 streams of 256 KiB use all 8 MiB, so one
 * more stream with stream credit left cannot send; the receiver returns session credit as the
 * bytes arrive, consumed or not, while each stream's own credit waits for session_consumed. */
#define TEST_SESSION_NWIN (NGR_SESSION_WINDOW / NGR_STREAM_WINDOW)

static int
test_session_session_window_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *last = e->a[TEST_SESSION_NWIN];
    int i;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        for (i = 0; i <= TEST_SESSION_NWIN; i++)
            e->a[i] = test_session_open(e, &e->g, "/many");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == TEST_SESSION_NWIN + 1, "every OPEN accepted");
        for (i = 0; i <= TEST_SESSION_NWIN; i++) {
            assert_int_equal(e->c.accepted[i]->st.id, e->a[i]->st.id);
            e->c.accepted[i]->pattern = 1;
        }
        assert_int_equal(session_send_credit(&last->st), NGR_STREAM_WINDOW);
        for (i = 0; i < TEST_SESSION_NWIN; i++)
            test_session_push(e->a[i], 0, NGR_STREAM_WINDOW, 0);
        /* The credit is 8 MiB, the output holds at most NGR_SESSION_OUT_DATA of DATA (and the
         * frame headers of the batch that reached it): the rest waits with its streams. */
        assert_true(e->g.s.out.len <= NGR_SESSION_OUT_DATA + NGR_DATA_SLICES_AT_ONCE *
                                                                  NGR_FRAME_HEADER_LEN);
        assert_true(test_session_got(&e->c) + e->g.s.out.len < NGR_SESSION_WINDOW);
        t->phase++;
        return 0;
    case 2:
        /* Pushed as the output drains; no session credit comes back before all of it arrives. */
        TEST_SCRIPT_AWAIT(t, test_session_got(&e->c) == NGR_SESSION_WINDOW,
                          "the session window of DATA at the receiver");
        for (i = 0; i < TEST_SESSION_NWIN; i++)
            assert_int_equal(e->a[i]->pushed, NGR_STREAM_WINDOW);
        t->phase++;
        return 0;
    case 3:
        /* Session credit reaches every stream through its own ops. */
        TEST_SCRIPT_AWAIT(t, last->writable > 0 && session_send_credit(&last->st) > 0,
                          "on_writable and credit on the last stream");
        assert_int_equal(session_send_credit(&last->st), NGR_STREAM_WINDOW);
        test_session_push(last, 0, NGR_STREAM_WINDOW, 1);
        t->phase++;
        return 0;
    case 4:
        TEST_SCRIPT_AWAIT(t, e->c.accepted[TEST_SESSION_NWIN]->end_calls == 1,
                          "the ninth stream's MiB with END_STREAM");
        assert_int_equal(e->c.accepted[TEST_SESSION_NWIN]->got, NGR_STREAM_WINDOW);
        assert_int_equal(test_session_got(&e->c), NGR_SESSION_WINDOW + NGR_STREAM_WINDOW);
        for (i = 0; i <= TEST_SESSION_NWIN; i++)
            assert_int_equal(e->c.accepted[i]->bad_bytes, 0);
        /* Nothing was consumed: the first eight streams heard of the session credit, but have
         * no stream credit back, so no room. */
        for (i = 0; i < TEST_SESSION_NWIN; i++) {
            assert_true(e->a[i]->writable > 0);
            assert_int_equal(session_send_credit(&e->a[i]->st), 0);
        }
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* RST both ways: the other side hears on_reset with the code and message; the side that reset
 * hears nothing and can no longer send. */

static int
test_session_reset_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *b = e->a[1], *ca, *cb;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->a[0] = test_session_open(e, &e->g, "/a");
        e->a[1] = test_session_open(e, &e->g, "/b");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2, "both OPENs accepted");
        session_stream_reset(&a->st, FRAME_CODE_TIMEOUT, "no response head in time");
        assert_null(session_stream_find(&e->g.s, a->st.id));
        assert_int_equal(session_send_room(&a->st), 0);
        assert_int_equal(session_send_data(&a->st, (const uint8_t *)"x", 1, 0), NGR_ECLOSED);
        session_stream_reset(&a->st, FRAME_CODE_INTERNAL, "twice"); /* detached: nothing */
        cb = e->c.accepted[1];
        session_stream_reset(&cb->st, FRAME_CODE_REFUSED, "connection refused by localhost:3000");
        assert_null(session_stream_find(&e->c.s, cb->st.id));
        t->phase++;
        return 0;
    case 2:
        ca = e->c.accepted[0];
        cb = e->c.accepted[1];
        TEST_SCRIPT_AWAIT(t, ca->resets > 0 && b->resets > 0, "on_reset on both sides");
        assert_int_equal(ca->resets, 1);
        assert_int_equal(ca->reset_code, FRAME_CODE_TIMEOUT);
        assert_string_equal(ca->reset_msg, "no response head in time");
        assert_false(ca->reset_attached);
        assert_null(session_stream_find(&e->c.s, ca->st.id));
        assert_int_equal(b->resets, 1);
        assert_int_equal(b->reset_code, FRAME_CODE_REFUSED);
        assert_string_equal(b->reset_msg, "connection refused by localhost:3000");
        assert_false(b->reset_attached);
        assert_null(session_stream_find(&e->g.s, b->st.id));
        assert_int_equal(a->resets, 0);
        assert_int_equal(cb->resets, 0);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* Frames for a stream one side has closed are dropped there; the session goes on. */

static int
test_session_closed_id_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *b = e->a[1], *ca;
    uint8_t *out = test_session_area;
    struct frame_head head;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->a[0] = test_session_open(e, &e->g, "/a");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1, "the OPEN accepted");
        ca = e->c.accepted[0];
        session_stream_detach(&ca->st); /* the client forgets it without telling the gateway */
        assert_null(session_stream_find(&e->c.s, a->st.id));
        session_stream_detach(&ca->st); /* twice: nothing */
        /* The gateway still thinks it open: DATA, then an RST, both for the closed id. */
        assert_int_equal(session_send_data(&a->st, (const uint8_t *)"late bytes", 10, 1), 10);
        session_stream_reset(&a->st, FRAME_CODE_CANCEL, "public client went away");
        e->a[1] = test_session_open(e, &e->g, "/b");
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2, "the second OPEN accepted");
        ca = e->c.accepted[0];
        assert_int_equal(ca->data_calls, 0);
        assert_int_equal(ca->resets, 0);
        assert_false(e->c.closed);
        assert_int_equal(e->c.accepted[1]->st.id, b->st.id);
        /* Now the client sends WINDOW, REPLY and DATA for id 1, which the gateway has reset. */
        assert_int_equal(session_queue(&e->c.s, out,
                                       frame_window_encode(out, NGR_SCRATCH_LEN, a->st.id, 4096),
                                       1),
                         0);
        memset(&head, 0, sizeof(head));
        head.status = 204;
        assert_int_equal(session_queue(&e->c.s, out,
                                       frame_reply_encode(out, NGR_SCRATCH_LEN, a->st.id, 0, &head),
                                       0),
                         0);
        frame_header_encode(out, FRAME_DATA, FRAME_FLAG_END_STREAM, a->st.id, 3);
        memcpy(out + NGR_FRAME_HEADER_LEN, "abc", 3);
        assert_int_equal(session_queue(&e->c.s, out, NGR_FRAME_HEADER_LEN + 3, 0), 0);
        test_session_reply(e->c.accepted[1]); /* the marker */
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, b->replies == 1 || e->g.closed, "the REPLY for the live stream");
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        assert_int_equal(e->g.frames[FRAME_REPLY], 0);
        assert_int_equal(a->replies, 0);
        assert_int_equal(a->writable, 0);
        assert_int_equal(a->data_calls, 0);
        assert_int_equal(a->resets, 0);
        assert_int_equal(e->g.frames[FRAME_ERROR] + e->c.frames[FRAME_ERROR], 0);
        return 1;
    }
    return 0;
}

/* Frames the receiving client must refuse: it closes with a protocol error and tells the
 * gateway in an ERROR frame. Each case writes one frame into the scratch area. */
struct test_session_bad {
    const char *name;
    size_t (*build)(uint8_t *out);
    const char *reason; /* a substring of the close reason */
};

static size_t
test_session_bad_data_never_opened(uint8_t *out)
{
    frame_header_encode(out, FRAME_DATA, 0, 5, 3);
    memcpy(out + NGR_FRAME_HEADER_LEN, "abc", 3);
    return NGR_FRAME_HEADER_LEN + 3;
}

static size_t
test_session_bad_window_never_opened(uint8_t *out)
{
    return (size_t)frame_window_encode(out, NGR_SCRATCH_LEN, 7, 100);
}

static size_t
test_session_bad_rst_never_opened(uint8_t *out)
{
    struct frame_reason r = {FRAME_CODE_CANCEL, 0, {"gone", 4}};

    return (size_t)frame_reason_encode(out, NGR_SCRATCH_LEN, FRAME_RST, 9, &r);
}

static size_t
test_session_bad_reply_never_opened(uint8_t *out)
{
    struct frame_head head;

    memset(&head, 0, sizeof(head));
    head.status = 200;
    return (size_t)frame_reply_encode(out, NGR_SCRATCH_LEN, 11, 0, &head);
}

/* An even id: the client's own kind, which it never opened. */
static size_t
test_session_bad_reply_own_id(uint8_t *out)
{
    struct frame_head head;

    memset(&head, 0, sizeof(head));
    head.status = 200;
    return (size_t)frame_reply_encode(out, NGR_SCRATCH_LEN, 2, 0, &head);
}

static size_t
test_session_bad_window_own_id(uint8_t *out)
{
    return (size_t)frame_window_encode(out, NGR_SCRATCH_LEN, 4, 100);
}

static size_t
test_session_bad_data_stream0(uint8_t *out)
{
    frame_header_encode(out, FRAME_DATA, 0, 0, 3);
    memcpy(out + NGR_FRAME_HEADER_LEN, "abc", 3);
    return NGR_FRAME_HEADER_LEN + 3;
}

static size_t
test_session_bad_rst_stream0(uint8_t *out)
{
    struct frame_reason r = {FRAME_CODE_CANCEL, 0, {"gone", 4}};

    return (size_t)frame_reason_encode(out, NGR_SCRATCH_LEN, FRAME_RST, 0, &r);
}

static size_t
test_session_bad_too_large(uint8_t *out)
{
    /* The header alone is enough to refuse it. */
    frame_header_encode(out, FRAME_DATA, 0, 1, NGR_FRAME_MAX_PAYLOAD + 1);
    return NGR_FRAME_HEADER_LEN;
}

static size_t
test_session_bad_unknown_type(uint8_t *out)
{
    frame_header_encode(out, FRAME_TYPE_MAX + 1, 0, 0, 0);
    return NGR_FRAME_HEADER_LEN;
}

static size_t
test_session_bad_reserved_bit(uint8_t *out)
{
    static const uint8_t opaque[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ssize_t n = frame_ping_encode(out, NGR_SCRATCH_LEN, 0, opaque);

    out[5] |= 0x80;
    return (size_t)n;
}

static size_t
test_session_bad_ping_short(uint8_t *out)
{
    frame_header_encode(out, FRAME_PING, 0, 0, 4);
    memset(out + NGR_FRAME_HEADER_LEN, 0, 4);
    return NGR_FRAME_HEADER_LEN + 4;
}

static size_t
test_session_bad_ping_stream(uint8_t *out)
{
    frame_header_encode(out, FRAME_PING, 0, 3, 8);
    memset(out + NGR_FRAME_HEADER_LEN, 0, 8);
    return NGR_FRAME_HEADER_LEN + 8;
}

static size_t
test_session_bad_window_zero(uint8_t *out)
{
    frame_header_encode(out, FRAME_WINDOW, 0, 0, 4);
    memset(out + NGR_FRAME_HEADER_LEN, 0, 4);
    return NGR_FRAME_HEADER_LEN + 4;
}

/* Credit past 2^31-1 for the session. */
static size_t
test_session_bad_window_overflow(uint8_t *out)
{
    return (size_t)frame_window_encode(out, NGR_SCRATCH_LEN, 0, 0x7fffffffu);
}

/* Connection-level frames must use stream 0. */
static size_t
test_session_bad_bind_stream(uint8_t *out)
{
    struct frame_bind b;
    ssize_t n;

    memset(&b, 0, sizeof(b));
    b.handle = 1;
    b.proto = FRAME_PROTO_HTTP;
    n = frame_bind_encode(out, NGR_SCRATCH_LEN, &b);
    out[8] = 1;
    return (size_t)n;
}

static size_t
test_session_bad_goaway_stream(uint8_t *out)
{
    struct frame_reason r = {FRAME_CODE_NONE, 0, {"bye", 3}};
    ssize_t n = frame_reason_encode(out, NGR_SCRATCH_LEN, FRAME_GOAWAY, 0, &r);

    out[8] = 5;
    return (size_t)n;
}

static const struct test_session_bad test_session_bad_cases[] = {
    {"DATA on a never-opened id", test_session_bad_data_never_opened,
     "bad frame (type 0, stream 5)"},
    {"WINDOW on a never-opened id", test_session_bad_window_never_opened,
     "bad frame (type 7, stream 7)"},
    {"RST on a never-opened id", test_session_bad_rst_never_opened, "bad frame (type 8, stream 9)"},
    {"REPLY on a never-opened id", test_session_bad_reply_never_opened,
     "bad frame (type 6, stream 11)"},
    {"REPLY on an id of the receiver's", test_session_bad_reply_own_id,
     "bad frame (type 6, stream 2)"},
    {"WINDOW on an id of the receiver's", test_session_bad_window_own_id,
     "bad frame (type 7, stream 4)"},
    {"DATA on stream 0", test_session_bad_data_stream0, "bad frame (type 0, stream 0)"},
    {"RST on stream 0", test_session_bad_rst_stream0, "bad frame (type 8, stream 0)"},
    {"a frame over the maximum payload", test_session_bad_too_large,
     "frame larger than the maximum frame size"},
    {"an unknown type", test_session_bad_unknown_type, "malformed frame header"},
    {"the reserved stream-id bit", test_session_bad_reserved_bit, "malformed frame header"},
    {"PING of 4 bytes", test_session_bad_ping_short, "bad frame (type 9, stream 0)"},
    {"PING on a stream", test_session_bad_ping_stream, "bad frame (type 9, stream 3)"},
    {"WINDOW of 0", test_session_bad_window_zero, "bad frame (type 7, stream 0)"},
    {"WINDOW past 2^31-1", test_session_bad_window_overflow, "bad frame (type 7, stream 0)"},
    {"BIND on a stream", test_session_bad_bind_stream, "bad frame (type 3, stream 1)"},
    {"GOAWAY on a stream", test_session_bad_goaway_stream, "bad frame (type 10, stream 5)"},
};

static int
test_session_bad_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    const struct test_session_bad *bad = e->param;
    size_t n;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        n = bad->build(test_session_area);
        assert_true(n >= NGR_FRAME_HEADER_LEN);
        assert_int_equal(session_queue(&e->g.s, test_session_area, (ssize_t)n, 0), 0);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.closed && e->g.closed, "both sessions closed");
        if (strstr(e->c.reason, bad->reason) == NULL)
            fail_msg("%s: the client closed with \"%s\", expected \"%s\"", bad->name, e->c.reason,
                     bad->reason);
        assert_int_equal(e->g.frames[FRAME_ERROR], 1);
        assert_int_equal(e->g.error_code, FRAME_CODE_PROTOCOL);
        assert_string_equal(e->g.error_msg, e->c.reason);
        assert_true(e->g.error_seq < e->g.closed_seq);
        assert_string_equal(e->g.reason, "peer closed the connection");
        return 1;
    }
    return 0;
}

/* The owner's on_frame returning an error closes the session with a protocol error. */

static int
test_session_owner_refuses_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct frame_bind b;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->g.frame_rc_type = FRAME_BIND;
        e->g.frame_rc = NGR_EINVAL;
        memset(&b, 0, sizeof(b));
        b.handle = 1;
        b.proto = FRAME_PROTO_HTTP;
        b.subdomain = frame_str_c("myapp");
        b.target = frame_str_c("localhost:3000");
        assert_int_equal(session_queue(&e->c.s, test_session_area,
                                       frame_bind_encode(test_session_area, NGR_SCRATCH_LEN, &b),
                                       0),
                         0);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.closed && e->g.closed, "both sessions closed");
        assert_int_equal(e->g.frames[FRAME_BIND], 1);
        assert_string_equal(e->g.reason, "bad frame (type 3, stream 0)");
        assert_int_equal(e->c.error_code, FRAME_CODE_PROTOCOL);
        assert_string_equal(e->c.error_msg, "bad frame (type 3, stream 0)");
        assert_string_equal(e->c.reason, "peer closed the connection");
        return 1;
    }
    return 0;
}

/* on_data returning an error resets that stream and nothing else: NGR_EPROTO as a protocol
 * error, anything else as an internal one. */
struct test_session_data_fail {
    const char *name;
    int rc;
    uint32_t code;
    const char *message;
};

static const struct test_session_data_fail test_session_data_fail_cases[] = {
    {"ENOMEM", NGR_ENOMEM, FRAME_CODE_INTERNAL, "stream failed"},
    {"EPROTO", NGR_EPROTO, FRAME_CODE_PROTOCOL, "DATA out of order"},
};

static int
test_session_data_fails_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    const struct test_session_data_fail *fc = e->param;
    struct test_session_stream *a = e->a[0], *b = e->a[1], *ca;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->c.accept_data_rc = fc->rc;
        e->a[0] = test_session_open(e, &e->g, "/a");
        assert_int_equal(session_send_data(&e->a[0]->st, (const uint8_t *)"abc", 3, 0), 3);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, a->resets > 0, "on_reset for the stream whose on_data failed");
        assert_int_equal(a->reset_code, fc->code);
        assert_string_equal(a->reset_msg, fc->message);
        ca = e->c.accepted[0];
        assert_int_equal(ca->data_calls, 1);
        /* The owner whose on_data failed hears the reset too, so it can end its request. */
        assert_int_equal(ca->resets, 1);
        assert_null(session_stream_find(&e->c.s, ca->st.id));
        assert_null(session_stream_find(&e->g.s, a->st.id));
        assert_int_equal(session_send_data(&a->st, (const uint8_t *)"d", 1, 0), NGR_ECLOSED);
        /* The session goes on. */
        e->c.accept_data_rc = 0;
        e->a[1] = test_session_open(e, &e->g, "/b");
        assert_int_equal(session_send_data(&e->a[1]->st, (const uint8_t *)"ok", 2, 1), 2);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2 && e->c.accepted[1]->end_calls == 1,
                          "a second stream's body");
        assert_int_equal(e->c.accepted[1]->st.id, b->st.id);
        assert_memory_equal(e->c.accepted[1]->head, "ok", 2);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* A sender that ignores its credit: the receiver delivers the window, resets the stream with
 * FLOW_CONTROL, and the session goes on. */

static int
test_session_overrun_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *ca;
    uint8_t *out = test_session_area;
    size_t sent;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->a[0] = test_session_open(e, &e->g, "/overrun");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1, "the OPEN accepted");
        e->c.accepted[0]->pattern = 1;
        /* Whole frames by hand, past the credit session_send_data would respect. */
        for (sent = 0; sent <= NGR_STREAM_WINDOW; sent += NGR_FRAME_MAX_PAYLOAD) {
            size_t n = sent == NGR_STREAM_WINDOW ? 1 : NGR_FRAME_MAX_PAYLOAD;
            frame_header_encode(out, FRAME_DATA, 0, a->st.id, (uint32_t)n);
            memcpy(out + NGR_FRAME_HEADER_LEN, test_session_body + sent % TEST_SESSION_PERIOD, n);
            assert_int_equal(session_queue(&e->g.s, out, (ssize_t)(NGR_FRAME_HEADER_LEN + n), 0),
                             0);
        }
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, a->resets > 0 || e->c.closed, "RST for the overrun");
        assert_false(e->c.closed);
        assert_int_equal(a->reset_code, FRAME_CODE_FLOW_CONTROL);
        assert_string_equal(a->reset_msg, "stream window exceeded");
        ca = e->c.accepted[0];
        assert_int_equal(ca->got, NGR_STREAM_WINDOW);
        assert_int_equal(ca->bad_bytes, 0);
        assert_null(session_stream_find(&e->c.s, ca->st.id));
        /* The session is fine: a new stream carries a body. */
        e->a[1] = test_session_open(e, &e->g, "/after");
        assert_int_equal(session_send_data(&e->a[1]->st, (const uint8_t *)"ok", 2, 1), 2);
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2 && e->c.accepted[1]->end_calls == 1,
                          "a second stream's body");
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* The peer ends the session: each side's on_closed comes after on_reset for every stream
 * still attached; a stream reset earlier is not reset again. */

static int
test_session_peer_closes_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *b = e->a[1], *x = e->a[2], *ts;
    size_t i;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->a[0] = test_session_open(e, &e->g, "/a");
        e->a[1] = test_session_open(e, &e->g, "/b");
        e->a[2] = test_session_open(e, &e->c, "/x");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 2 && e->g.naccepted == 1, "three OPENs accepted");
        session_stream_reset(&a->st, FRAME_CODE_TIMEOUT, "no response head in time");
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->c.accepted[0]->resets == 1, "the RST for the first stream");
        session_close(&e->c.s, 0, "client quits");
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, e->c.closed && e->g.closed, "both sessions closed");
        assert_string_equal(e->c.reason, "client quits");
        assert_string_equal(e->g.reason, "peer closed the connection");
        assert_int_equal(e->g.frames[FRAME_ERROR], 0); /* code 0: no ERROR frame */
        /* Client side: the stream reset before, once; the others at the close. */
        assert_int_equal(e->c.accepted[0]->resets, 1);
        assert_int_equal(e->c.accepted[0]->reset_code, FRAME_CODE_TIMEOUT);
        for (i = 1; i < 3; i++) {
            ts = i == 1 ? e->c.accepted[1] : x;
            assert_int_equal(ts->resets, 1);
            assert_int_equal(ts->reset_code, FRAME_CODE_CANCEL);
            assert_false(ts->reset_attached);
            assert_true(ts->reset_seq < e->c.closed_seq);
        }
        /* Gateway side: the stream it reset itself hears nothing. */
        assert_int_equal(a->resets, 0);
        for (i = 0; i < 2; i++) {
            ts = i == 0 ? b : e->g.accepted[0];
            assert_int_equal(ts->resets, 1);
            assert_int_equal(ts->reset_code, FRAME_CODE_CANCEL);
            assert_string_equal(ts->reset_msg, "tunnel session closed");
            assert_false(ts->reset_attached);
            assert_true(ts->reset_seq < e->g.closed_seq);
        }
        return 1;
    }
    return 0;
}

/* The raw peer closes its socket: the gateway's on_closed, after on_reset for its streams. */

static int
test_session_socket_closed_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    int i;

    switch (t->phase) {
    case 0:
        for (i = 0; i < 2; i++)
            e->a[i] = test_session_open(e, &e->g, "/s");
        test_session_raw_write(e, NGR_PREFACE, NGR_PREFACE_LEN);
        t->phase++;
        return 0;
    case 1:
        /* The gateway is under way (both OPENs sent): now hang up. */
        TEST_SCRIPT_AWAIT(t, test_session_raw_frame(e, 1, &(struct frame){0}),
                          "two OPEN frames at the raw peer");
        loop_io_del(e->l, &e->raw.io);
        close(e->raw.fd);
        e->raw.fd = -1;
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->g.closed, "the gateway's on_closed");
        assert_string_equal(e->g.reason, "peer closed the connection");
        for (i = 0; i < 2; i++) {
            assert_int_equal(e->a[i]->resets, 1);
            assert_int_equal(e->a[i]->reset_code, FRAME_CODE_CANCEL);
            assert_false(e->a[i]->reset_attached);
            assert_true(e->a[i]->reset_seq < e->g.closed_seq);
        }
        return 1;
    }
    return 0;
}

/* session_close with a code: ERROR reaches the peer's on_frame; once closing, nothing more can
 * be queued, opened or sent, and a second close changes nothing. */

static int
test_session_close_code_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *ts;
    static const uint8_t opaque[8];

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->c.s.tune = 0; /* no round-trip probe whose ACK would reach the closed socket */
        e->a[0] = test_session_open(e, &e->g, "/a");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1, "the OPEN accepted");
        session_close(&e->c.s, FRAME_CODE_AUTH, "token %s refused", "abc");
        session_close(&e->c.s, FRAME_CODE_INTERNAL, "a second close");
        assert_int_equal(
            session_queue(&e->c.s, test_session_area,
                          frame_ping_encode(test_session_area, NGR_SCRATCH_LEN, 0, opaque), 1),
            NGR_ECLOSED);
        ts = test_session_stream_new(e, &e->c);
        assert_non_null(ts);
        assert_int_equal(session_stream_open(&e->c.s, &ts->st, &test_session_stream_ops, ts),
                         NGR_ECLOSED);
        ts->used = 0;
        assert_int_equal(session_send_room(&e->c.accepted[0]->st), 0);
        assert_int_equal(session_send_data(&e->c.accepted[0]->st, (const uint8_t *)"x", 1, 0),
                         NGR_ECLOSED);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->c.closed && e->g.closed, "both sessions closed");
        assert_string_equal(e->c.reason, "token abc refused");
        assert_int_equal(e->g.frames[FRAME_ERROR], 1);
        assert_int_equal(e->g.error_code, FRAME_CODE_AUTH);
        assert_string_equal(e->g.error_msg, "token abc refused");
        assert_true(e->g.error_seq < e->g.closed_seq);
        assert_string_equal(e->g.reason, "peer closed the connection");
        assert_int_equal(a->resets, 1);
        assert_int_equal(a->reset_code, FRAME_CODE_CANCEL);
        assert_int_equal(e->c.accepted[0]->resets, 1);
        return 1;
    }
    return 0;
}

/* The output cap: frames queued past NGR_SESSION_OUT_HARD close the session; forced ones (the
 * answers a session owes its peer) may pass it, but not once the session is closing. */

static int
test_session_output_cap_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    const size_t n = NGR_FRAME_HEADER_LEN + NGR_FRAME_MAX_PAYLOAD;
    struct test_session_stream *ts;
    uint8_t *out = test_session_area;
    size_t i;

    switch (t->phase) {
    case 0:
        /* Nothing is written between these calls: all of it waits in the output buffer. */
        for (i = 0; i < NGR_SESSION_OUT_HARD / n; i++) {
            frame_header_encode(out, FRAME_DATA, 0, 1, NGR_FRAME_MAX_PAYLOAD);
            memset(out + NGR_FRAME_HEADER_LEN, (int)i, NGR_FRAME_MAX_PAYLOAD);
            assert_int_equal(session_queue(&e->g.s, out, (ssize_t)n, 0), 0);
        }
        assert_int_equal(session_queue(&e->g.s, out, (ssize_t)n, 1), 0);
        ts = test_session_stream_new(e, &e->g);
        assert_non_null(ts);
        assert_int_equal(session_stream_open(&e->g.s, &ts->st, &test_session_stream_ops, ts),
                         0); /* not closing yet */
        assert_int_equal(session_queue(&e->g.s, out, (ssize_t)n, 0), NGR_ECLOSED);
        assert_int_equal(session_queue(&e->g.s, out, (ssize_t)n, 1), NGR_ECLOSED);
        assert_int_equal(session_queue(&e->g.s, out, NGR_EPROTO, 0), NGR_EPROTO);
        e->a[0] = ts;
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->g.closed, "the gateway to close");
        assert_string_equal(e->g.reason, "peer does not read its control connection");
        assert_int_equal(e->a[0]->resets, 1);
        return 1;
    }
    return 0;
}

/* The kernel's unsent limit follows the link: what it delivers in NGR_UNSENT_US (and the DATA
 * queue's cap in NGR_SESSION_OUT_DATA_US), within their bounds. */
static void
test_session_unsent_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(session__unsent_for_rate(0), NGR_UNSENT_MIN);
    assert_int_equal(session__unsent_for_rate(12500000), NGR_UNSENT_MIN); /* 100 Mbit/s */
    assert_int_equal(session__unsent_for_rate(125000000), 125000);       /* 1 Gbit/s */
    assert_int_equal(session__unsent_for_rate(UINT64_MAX), NGR_UNSENT_MAX);
    assert_int_equal(session__out_cap_for_rate(12500000), NGR_SESSION_OUT_DATA);
    assert_int_equal(session__out_cap_for_rate(1000000000), 2000000); /* 8 Gbit/s */
    assert_int_equal(session__out_cap_for_rate(UINT64_MAX), NGR_SESSION_OUT_DATA_MAX);
}

/* A sender toward a near peer (here across loopback TCP) reads the connection's rate while it
 * writes and raises the kernel's unsent limit from the 16 KiB it starts with (a limit that
 * made a bulk sender on loopback write and wake several times as often), by twice at most per
 * reading, and the DATA queue's cap with it; toward a far peer both stay at their least. The
 * peer's distance is set by hand (the gateway, here the sender, measures no round trip of its
 * own with tuning off), so the test does not depend on how fast this machine answers a PING.
 * The rate is read at most every NGR_UNSENT_TUNE_MS, so the body goes on, a MiB at a time,
 * until it is. */
static void
test_session_unsent_consume(struct test_session_env *e, size_t *consumed)
{
    struct test_session_stream *cs = e->c.accepted[0];

    if (cs->got > *consumed) {
        session_consumed(&cs->st, cs->got - *consumed);
        *consumed = cs->got;
    }
}


/* New streams start with the window earlier streams of the session needed: toward a near peer,
 * the body a stream received past its initial window; granted by WINDOW after the OPEN (an
 * accepted stream's at once, an opened one's behind its OPEN), from a quarter of the budget's
 * room, and forgotten as it ages. A far peer learns nothing from a body alone. */
#define TEST_SESSION_LEARNED (NGR_STREAM_WINDOW + NGR_STREAM_WINDOW / 2)

static int
test_session_open_window_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *cs;
    size_t k = e->c.naccepted;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->a[0] = test_session_open(e, &e->g, "/far");
        t->phase++;
        return 0;
    case 1:
    case 5:
        /* A body of one and a half initial windows, then the receiver ends the stream. */
        TEST_SCRIPT_AWAIT(t, k == (t->phase == 1 ? 1u : 2u), "the OPEN accepted");
        cs = e->c.accepted[k - 1];
        cs->pattern = 1;
        assert_int_equal(cs->st.rwin.size, NGR_STREAM_WINDOW);
        test_session_push(a, 0, NGR_STREAM_WINDOW, 0);
        t->phase++;
        return 0;
    case 2:
    case 6:
        cs = e->c.accepted[k - 1];
        TEST_SCRIPT_AWAIT(t, cs->got == NGR_STREAM_WINDOW, "the first window of the body");
        a->writable = 0;
        e->c.s.srtt_us = 0; /* no round trip, no growth: only the body can teach */
        session_consumed(&cs->st, NGR_STREAM_WINDOW);
        assert_int_equal(cs->st.rwin.size, NGR_STREAM_WINDOW);
        t->phase++;
        return 0;
    case 3:
    case 7:
        TEST_SCRIPT_AWAIT(t, a->writable > 0, "credit for the drained window");
        test_session_push(a, NGR_STREAM_WINDOW, NGR_STREAM_WINDOW / 2, 1);
        t->phase++;
        return 0;
    case 4:
    case 8:
        cs = e->c.accepted[k - 1];
        TEST_SCRIPT_AWAIT(t, cs->end_calls == 1, "the whole body");
        assert_int_equal(cs->got, TEST_SESSION_LEARNED);
        assert_int_equal(cs->bad_bytes, 0);
        /* The least round trip, as the PINGs would have measured it on each path. */
        e->c.s.min_rtt_us = t->phase == 4 ? 10 * 1000 : 100;
        session_stream_end(&cs->st, FRAME_CODE_NONE, NULL);
        if (t->phase == 4) {
            assert_int_equal(e->c.s.open_window, 0); /* far: nothing learned */
            e->a[0] = test_session_open(e, &e->g, "/near");
        } else {
            assert_int_equal(e->c.s.open_window, TEST_SESSION_LEARNED);
            e->a[1] = test_session_open(e, &e->g, "/after");
        }
        t->phase++;
        return 0;
    case 9:
        /* The next stream starts with the body's size: credit for it reaches the sender. */
        TEST_SCRIPT_AWAIT(t, k == 3 && e->a[1]->st.send_credit == TEST_SESSION_LEARNED,
                          "the third stream's grant");
        cs = e->c.accepted[2];
        assert_int_equal(cs->st.rwin.size, TEST_SESSION_LEARNED);
        assert_int_equal(cs->st.rwin.base, NGR_STREAM_WINDOW);
        /* A budget with little room grants a quarter of what is left after the stream's own
         * initial window. */
        e->c.s.budget.limit = e->c.s.budget.used + NGR_STREAM_WINDOW + 4 * 4096;
        e->a[2] = test_session_open(e, &e->g, "/tight");
        t->phase++;
        return 0;
    case 10:
        TEST_SCRIPT_AWAIT(t, k == 4 && e->a[2]->st.send_credit == NGR_STREAM_WINDOW + 4096,
                          "the fourth stream's smaller grant");
        assert_int_equal(e->c.accepted[3]->st.rwin.size, NGR_STREAM_WINDOW + 4096);
        e->c.s.budget.limit = NGR_SESSION_BUDGET;
        /* A lesson older than NGR_WINDOW_LEARNED_HALF_MS is worth half: less than the initial
         * window here, so no grant. */
        e->c.s.open_window_ms = loop_now(e->l) - NGR_WINDOW_LEARNED_HALF_MS;
        e->a[3] = test_session_open(e, &e->g, "/old");
        t->phase++;
        return 0;
    case 11:
        TEST_SCRIPT_AWAIT(t, k == 5, "the fifth OPEN accepted");
        assert_int_equal(e->c.accepted[4]->st.rwin.size, NGR_STREAM_WINDOW);
        /* The opening side grants too, behind its OPEN: the peer would refuse a WINDOW for a
         * stream it does not know yet. */
        e->g.s.open_window = 2 * NGR_STREAM_WINDOW;
        e->g.s.open_window_ms = loop_now(e->l);
        e->a[4] = test_session_open(e, &e->g, "/granted");
        assert_int_equal(e->a[4]->st.rwin.size, 2 * NGR_STREAM_WINDOW);
        t->phase++;
        return 0;
    case 12:
        TEST_SCRIPT_AWAIT(t, k == 6 && e->c.accepted[5]->st.send_credit == 2 * NGR_STREAM_WINDOW,
                          "the opened stream's grant at its peer");
        assert_false(e->c.closed);
        assert_false(e->g.closed);
        assert_int_equal(e->a[3]->st.send_credit, NGR_STREAM_WINDOW);
        return 1;
    }
    return -1;
}

/* The receiver drains what came; the sender starts another MiB once the last has gone. */
static void
test_session_unsent_pump(struct test_session_env *e, size_t *consumed)
{
    test_session_unsent_consume(e, consumed);
    if (e->a[0]->push_left == 0)
        test_session_push(e->a[0], e->a[0]->push_off, TEST_SESSION_MIB, 0);
}

static int
test_session_unsent_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *a = e->a[0], *cs;
    static size_t consumed;
    static uint64_t tuned_at;
    int lowat = 0;
    socklen_t len = sizeof(lowat);

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        assert_int_equal(e->g.s.unsent_lowat, NGR_UNSENT_MIN);
        assert_int_equal(getsockopt(e->g.s.fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, &len), 0);
        assert_int_equal(lowat, NGR_UNSENT_MIN);
        e->g.s.tune = 0;
        e->g.s.min_rtt_us = NGR_UNSENT_NEAR_US + 1; /* far */
        e->a[0] = test_session_open(e, &e->g, "/bulk");
        consumed = 0;
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1, "the OPEN accepted");
        e->c.accepted[0]->pattern = 1;
        /* The next write reads the rate (else a reading is due 100 ms after the handshake's,
         * and a fast transfer may be over by then). */
        e->g.s.unsent_tuned_ms = tuned_at = 0;
        test_session_push(a, 0, TEST_SESSION_MIB, 0);
        t->phase++;
        return 0;
    case 2:
        test_session_unsent_pump(e, &consumed);
        TEST_SCRIPT_AWAIT(t, e->g.s.unsent_tuned_ms != tuned_at || e->g.closed,
                          "a reading while the peer is far");
        assert_int_equal(e->g.s.unsent_lowat, NGR_UNSENT_MIN);
        assert_int_equal(e->g.s.out_cap, NGR_SESSION_OUT_DATA);
        e->g.s.min_rtt_us = 1; /* near */
        e->g.s.unsent_tuned_ms = 0; /* read again at the next write, and there is one */
        if (a->push_left == 0)
            test_session_push(a, a->pushed, TEST_SESSION_MIB, 0);
        t->phase++;
        return 0;
    case 3:
        test_session_unsent_pump(e, &consumed);
        TEST_SCRIPT_AWAIT(t, e->g.s.unsent_lowat > NGR_UNSENT_MIN || e->g.closed,
                          "the sender to read the connection's rate");
        assert_false(e->g.closed);
        assert_int_equal(getsockopt(e->g.s.fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, &len), 0);
        assert_int_equal((size_t)lowat, e->g.s.unsent_lowat);
        assert_true(e->g.s.unsent_lowat <= 2 * NGR_UNSENT_MIN); /* up by twice at most */
        assert_true(e->g.s.out_cap >= NGR_SESSION_OUT_DATA &&
                    e->g.s.out_cap <= 2 * NGR_SESSION_OUT_DATA);
        t->phase++;
        return 0;
    case 4:
        cs = e->c.accepted[0];
        test_session_unsent_consume(e, &consumed);
        TEST_SCRIPT_AWAIT(t, a->push_left == 0 && cs->got == a->pushed,
                          "every byte pushed at the receiver");
        assert_int_equal(cs->bad_bytes, 0);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* What reaches the gateway's control port instead of the preface, fed whole or a byte per
 * turn. */
struct test_session_preface {
    const char *name;
    const char *bytes;
    size_t len;
    const char *reason; /* a substring of the close reason */
    int http;           /* answered with an HTTP 400 */
    int split;
};

static const struct test_session_preface test_session_prefaces[] = {
    {"HTTP", "GET / HTTP/1.1\r\nHost: tunnel.example\r\n\r\n", 40, "HTTP client", 1, 0},
    {"HTTP split", "GET / HTTP/1.1\r\nHost: tunnel.example\r\n\r\n", 40, "HTTP client", 1, 1},
    {"TLS", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11, "TLS", 0, 0},
    {"TLS split", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11, "TLS", 0, 1},
    {"preface off at its last letter", "\x89NGRNOX\n", 8, "bad preface", 0, 0},
    {"preface off at its last letter, split", "\x89NGRNOX\nmore", 12, "bad preface", 0, 1},
    {"a NUL", "\0\0\0\0", 4, "bad preface", 0, 0},
};

static int
test_session_preface_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    const struct test_session_preface *c = e->param;
    const char *end;
    unsigned long clen;
    char *num_end;

    switch (t->phase) {
    case 0:
        if (!c->split) {
            test_session_raw_write(e, c->bytes, c->len);
        } else if (e->raw.feed_pos < c->len && !e->g.closed) {
            test_session_raw_write(e, c->bytes + e->raw.feed_pos++, 1);
            t->awaiting = "the bytes written one per turn";
            return 0;
        }
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->g.closed && e->raw.eof, "the gateway to close");
        if (strstr(e->g.reason, c->reason) == NULL)
            fail_msg("%s: closed with \"%s\", expected \"%s\"", c->name, e->g.reason, c->reason);
        if (!c->http) {
            assert_int_equal(e->raw.len, 0);
            return 1;
        }
        e->raw.in[e->raw.len < sizeof(e->raw.in) ? e->raw.len : sizeof(e->raw.in) - 1] = '\0';
        assert_true(e->raw.len > 30);
        assert_memory_equal(e->raw.in, "HTTP/1.1 400 Bad Request\r\n", 26);
        end = strstr((const char *)e->raw.in, "\r\n\r\n");
        assert_non_null(end);
        num_end = strstr((const char *)e->raw.in, "Content-Length: ");
        assert_non_null(num_end);
        clen = strtoul(num_end + 16, &num_end, 10);
        assert_int_equal(clen, e->raw.len - (size_t)(end + 4 - (const char *)e->raw.in));
        assert_non_null(strstr(end, "control port"));
        return 1;
    }
    return 0;
}

/* The gateway refuses a frame over the maximum payload from a raw client too, with ERROR. */

static int
test_session_raw_too_large_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    uint8_t bytes[NGR_PREFACE_LEN + NGR_FRAME_HEADER_LEN];
    struct frame f;
    struct frame_reason r;

    switch (t->phase) {
    case 0:
        memcpy(bytes, NGR_PREFACE, NGR_PREFACE_LEN);
        frame_header_encode(bytes + NGR_PREFACE_LEN, FRAME_HELLO, 0, 0, NGR_FRAME_MAX_PAYLOAD + 1);
        test_session_raw_write(e, bytes, sizeof(bytes));
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->g.closed && e->raw.eof, "the gateway to close");
        assert_string_equal(e->g.reason, "frame larger than the maximum frame size");
        assert_true(test_session_raw_frame(e, 0, &f));
        assert_int_equal(f.type, FRAME_ERROR);
        assert_int_equal(frame_reason_decode(&f, &r), 0);
        assert_int_equal(r.code, FRAME_CODE_PROTOCOL);
        assert_int_equal(r.message.len, strlen(e->g.reason));
        assert_memory_equal(r.message.p, e->g.reason, r.message.len);
        assert_false(test_session_raw_frame(e, 1, &f));
        return 1;
    }
    return 0;
}

/* PING is answered with ACK and the same 8 bytes; a PING with ACK is not answered. The first
 * (with the preface) is fed a byte per turn, so both are read in pieces. */

static const uint8_t test_session_opaque1[8] = {0, 1, 2, 3, 0xfc, 0xfd, 0xfe, 0xff};
static const uint8_t test_session_opaque2[8] = {'n', 'g', 'r', 0, 'p', 'i', 'n', 'g'};

static void
test_session_assert_ack(struct test_session_env *e, int index, const uint8_t opaque[8])
{
    struct frame f;

    assert_true(test_session_raw_frame(e, index, &f));
    assert_int_equal(f.type, FRAME_PING);
    assert_int_equal(f.flags, FRAME_FLAG_ACK);
    assert_int_equal(f.stream_id, 0);
    assert_int_equal(f.length, 8);
    assert_memory_equal(f.payload, opaque, 8);
}

static int
test_session_ping_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    static uint8_t feed[NGR_PREFACE_LEN + NGR_FRAME_HEADER_LEN + 8];
    uint8_t two[2 * (NGR_FRAME_HEADER_LEN + 8)];
    ssize_t n;

    switch (t->phase) {
    case 0:
        memcpy(feed, NGR_PREFACE, NGR_PREFACE_LEN);
        n = frame_ping_encode(feed + NGR_PREFACE_LEN, sizeof(feed) - NGR_PREFACE_LEN, 0,
                              test_session_opaque1);
        assert_int_equal(n, NGR_FRAME_HEADER_LEN + 8);
        e->raw.feed = feed;
        e->raw.feed_len = sizeof(feed);
        t->phase++;
        return 0;
    case 1:
        if (e->raw.feed_pos < e->raw.feed_len) {
            test_session_raw_write(e, e->raw.feed + e->raw.feed_pos++, 1);
            t->awaiting = "the bytes written one per turn";
            return 0;
        }
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, test_session_raw_frame(e, 0, &(struct frame){0}) || e->g.closed,
                          "the first ACK");
        assert_false(e->g.closed);
        test_session_assert_ack(e, 0, test_session_opaque1);
        assert_int_equal(e->raw.len, NGR_FRAME_HEADER_LEN + 8);
        /* An ACK (not answered), then a PING (answered), in one write. */
        n = frame_ping_encode(two, sizeof(two), FRAME_FLAG_ACK, test_session_opaque1);
        assert_int_equal(
            frame_ping_encode(two + n, sizeof(two) - (size_t)n, 0, test_session_opaque2), n);
        test_session_raw_write(e, two, sizeof(two));
        t->phase++;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, test_session_raw_frame(e, 1, &(struct frame){0}) || e->g.closed,
                          "the second ACK");
        assert_false(e->g.closed);
        test_session_assert_ack(e, 1, test_session_opaque2);
        assert_int_equal(e->raw.len, 2 * (NGR_FRAME_HEADER_LEN + 8));
        assert_int_equal(e->g.frames[FRAME_PING], 0); /* the session's business, not the owner's */
        return 1;
    }
    return 0;
}

/* Writes the next n bytes (or what is left) of the raw peer's feed. Returns 0 once all is
 * written or the gateway closed, 1 after a piece (the script waits a turn). */
static int
test_session_feed_piece(struct test_session_env *e, size_t n)
{
    if (e->raw.feed_pos >= e->raw.feed_len || e->g.closed)
        return 0;
    if (n > e->raw.feed_len - e->raw.feed_pos)
        n = e->raw.feed_len - e->raw.feed_pos;
    test_session_raw_write(e, e->raw.feed + e->raw.feed_pos, n);
    e->raw.feed_pos += n;
    return 1;
}

/* Frames cut at every place, header included: 300 PINGs written in pieces of 1 to 40 bytes,
 * one piece per turn, come back as 300 ACKs in order. The session keeps the partial frame of
 * one read and decodes it with the next. */
#define TEST_SESSION_CUT_PINGS 300

static int
test_session_cut_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    static uint8_t feed[NGR_PREFACE_LEN + TEST_SESSION_CUT_PINGS * (NGR_FRAME_HEADER_LEN + 8)];
    static size_t piece;
    uint8_t opaque[8];
    size_t i;

    switch (t->phase) {
    case 0:
        memcpy(feed, NGR_PREFACE, NGR_PREFACE_LEN);
        for (i = 0; i < TEST_SESSION_CUT_PINGS; i++) {
            memset(opaque, (int)(i & 0xff), sizeof(opaque));
            opaque[0] = (uint8_t)(i >> 8);
            assert_int_equal(
                frame_ping_encode(feed + NGR_PREFACE_LEN + i * (NGR_FRAME_HEADER_LEN + 8),
                                  NGR_FRAME_HEADER_LEN + 8, 0, opaque),
                NGR_FRAME_HEADER_LEN + 8);
        }
        e->raw.feed = feed;
        e->raw.feed_len = sizeof(feed);
        piece = 0;
        t->phase++;
        return 0;
    case 1:
        if (test_session_feed_piece(e, piece++ % 40 + 1)) {
            t->awaiting = "the pieces written one per turn";
            return 0;
        }
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(
            t,
            test_session_raw_frame(e, TEST_SESSION_CUT_PINGS - 1, &(struct frame){0}) ||
                e->g.closed,
            "the last ACK");
        assert_false(e->g.closed);
        assert_int_equal(e->raw.len, TEST_SESSION_CUT_PINGS * (NGR_FRAME_HEADER_LEN + 8));
        for (i = 0; i < TEST_SESSION_CUT_PINGS; i++) {
            memset(opaque, (int)(i & 0xff), sizeof(opaque));
            opaque[0] = (uint8_t)(i >> 8);
            test_session_assert_ack(e, (int)i, opaque);
        }
        return 1;
    }
    return 0;
}

/* A frame near the maximum size that trickles in (a HELLO with a 60,000-byte agent, written
 * in pieces of 700 to 1,300 bytes, one per turn) arrives whole and in order, and the PING
 * behind it in the same pieces is answered after it. */
#define TEST_SESSION_TRICKLE_AGENT 60000

static int
test_session_trickle_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    static uint8_t feed[NGR_PREFACE_LEN + NGR_SCRATCH_LEN + NGR_FRAME_HEADER_LEN + 8];
    static char agent[TEST_SESSION_TRICKLE_AGENT];
    static size_t piece;
    struct frame_hello h;
    struct frame f;
    ssize_t n;
    size_t i, len;

    switch (t->phase) {
    case 0:
        for (i = 0; i < sizeof(agent); i++)
            agent[i] = (char)('a' + (i * 7 + i / 251) % 26);
        memset(&h, 0, sizeof(h));
        session_local_hello(&e->g.s, &h);
        h.agent.p = agent;
        h.agent.len = sizeof(agent);
        memcpy(feed, NGR_PREFACE, NGR_PREFACE_LEN);
        n = frame_hello_encode(feed + NGR_PREFACE_LEN, NGR_SCRATCH_LEN, &h, 0);
        assert_true(n > TEST_SESSION_TRICKLE_AGENT);
        len = NGR_PREFACE_LEN + (size_t)n;
        n = frame_ping_encode(feed + len, sizeof(feed) - len, 0, test_session_opaque1);
        assert_int_equal(n, NGR_FRAME_HEADER_LEN + 8);
        e->raw.feed = feed;
        e->raw.feed_len = len + (size_t)n;
        piece = 0;
        t->phase++;
        return 0;
    case 1:
        if (test_session_feed_piece(e, 700 + (piece++ * 397) % 601)) {
            t->awaiting = "the pieces written one per turn";
            return 0;
        }
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, test_session_raw_frame(e, 1, &f) || e->g.closed,
                          "WELCOME and the PING's ACK");
        assert_false(e->g.closed);
        assert_int_equal(e->g.peer_hello, 1);
        assert_int_equal(e->g.agent_len, TEST_SESSION_TRICKLE_AGENT);
        assert_int_equal(e->g.agent_sum, test_session_sum((const uint8_t *)agent, sizeof(agent)));
        assert_true(test_session_raw_frame(e, 0, &f));
        assert_int_equal(f.type, FRAME_WELCOME);
        test_session_assert_ack(e, 1, test_session_opaque1);
        return 1;
    }
    return 0;
}

/* A quiet session pings at the interval the peer asked for in HELLO. */

static int
test_session_heartbeat_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    uint8_t bytes[NGR_PREFACE_LEN + 256];
    uint8_t ack[NGR_FRAME_HEADER_LEN + 8];
    struct frame_hello h;
    struct frame f;
    ssize_t n;

    switch (t->phase) {
    case 0:
        memset(&h, 0, sizeof(h));
        h.version = NGR_PROTOCOL_VERSION;
        h.max_payload = NGR_FRAME_MAX_PAYLOAD;
        h.stream_window = NGR_STREAM_WINDOW;
        h.session_window = NGR_SESSION_WINDOW;
        h.heartbeat_ms = 100;
        h.agent = frame_str_c("raw");
        memcpy(bytes, NGR_PREFACE, NGR_PREFACE_LEN);
        n = frame_hello_encode(bytes + NGR_PREFACE_LEN, sizeof(bytes) - NGR_PREFACE_LEN, &h, 0);
        assert_true(n > 0);
        test_session_raw_write(e, bytes, NGR_PREFACE_LEN + (size_t)n);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, test_session_raw_frame(e, 1, &f) || e->g.closed,
                          "WELCOME, then a PING after 100 ms of quiet");
        assert_false(e->g.closed);
        assert_true(test_session_raw_frame(e, 0, &f));
        assert_int_equal(f.type, FRAME_WELCOME);
        assert_true(test_session_raw_frame(e, 1, &f));
        assert_int_equal(f.type, FRAME_PING);
        assert_int_equal(f.flags, 0);
        assert_int_equal(f.stream_id, 0);
        assert_int_equal(f.length, 8);
        n = frame_ping_encode(ack, sizeof(ack), FRAME_FLAG_ACK, f.payload);
        test_session_raw_write(e, ack, (size_t)n);
        t->phase++;
        return 0;
    case 2:
        /* Answered, and still quiet: the next PING comes, and the session stays open. */
        TEST_SCRIPT_AWAIT(t, test_session_raw_frame(e, 2, &f) || e->g.closed, "a second PING");
        assert_false(e->g.closed);
        assert_int_equal(f.type, FRAME_PING);
        assert_int_equal(f.flags, 0);
        return 1;
    }
    return 0;
}

/* session_check_peer: the limits a peer's HELLO or WELCOME must respect. */
struct test_session_peer_case {
    const char *name;
    uint32_t max_payload, stream_window, session_window; /* 0: ours */
    int zero_max_payload, zero_stream, zero_session;     /* set that value to 0 instead */
    int rc;
    const char *reason; /* a word the refusal must name, or NULL */
};

static const struct test_session_peer_case test_session_peer_cases[] = {
    {"our own values", 0, 0, 0, 0, 0, 0, 0, NULL},
    {"the extremes allowed", NGR_FRAME_ABS_MAX_PAYLOAD, 1, 0x7fffffffu, 0, 0, 0, 0, NULL},
    {"frame size below the minimum", NGR_FRAME_MIN_MAX_PAYLOAD - 1, 0, 0, 0, 0, 0, NGR_EPROTO,
     "65535"},
    {"frame size 0", 0, 0, 0, 1, 0, 0, NGR_EPROTO, "frame size"},
    {"stream window 0", 0, 0, 0, 0, 1, 0, NGR_EPROTO, "window"},
    {"stream window 2^31", 0, 0x80000000u, 0, 0, 0, 0, NGR_EPROTO, "window"},
    {"session window 0", 0, 0, 0, 0, 0, 1, NGR_EPROTO, "window"},
    {"session window 2^32-1", 0, 0, 0xffffffffu, 0, 0, 0, NGR_EPROTO, "window"},
};

static void
test_session_check_peer(void **state)
{
    struct test_session_env *e = *state;
    struct frame_hello h, ok;
    struct ngr_err why;
    size_t i;

    test_session_pair(e);
    session_local_hello(&e->g.s, &ok);
    assert_int_equal(ok.version, NGR_PROTOCOL_VERSION);
    for (i = 0; i < sizeof(test_session_peer_cases) / sizeof(test_session_peer_cases[0]); i++) {
        const struct test_session_peer_case *c = &test_session_peer_cases[i];
        int rc;

        h = ok;
        if (c->max_payload || c->zero_max_payload)
            h.max_payload = c->max_payload;
        if (c->stream_window || c->zero_stream)
            h.stream_window = c->stream_window;
        if (c->session_window || c->zero_session)
            h.session_window = c->session_window;
        memset(&why, 0, sizeof(why));
        rc = session_check_peer(&h, &why);
        if (rc != c->rc)
            fail_msg("%s: returned %d, want %d", c->name, rc, c->rc);
        if (c->reason != NULL && strstr(why.msg, c->reason) == NULL)
            fail_msg("%s: reason \"%s\" does not name \"%s\"", c->name, why.msg, c->reason);
        if (c->rc != 0 && why.code != c->rc)
            fail_msg("%s: err.code %d, want %d", c->name, why.code, c->rc);
    }
}

/* session_stream_accept takes only new ids of the peer's kind, in increasing order. No loop.
 * The steps run in order: each sees the ids the steps before it accepted. */
struct test_session_accept_step {
    int gateway; /* on the gateway's session, else the client's */
    int stream;  /* which of four pool streams */
    uint32_t id;
    int rc;
    int detach; /* then detach it again (the id counts as closed) */
    const char *why;
};

static const struct test_session_accept_step test_session_accept_steps[] = {
    {0, 0, 0, NGR_EPROTO, 0, "id 0"},
    {0, 0, 2, NGR_EPROTO, 0, "the client's own kind"},
    {0, 0, 3, 0, 0, "a new gateway id"},
    {0, 1, 3, NGR_EPROTO, 0, "reused"},
    {0, 1, 1, NGR_EPROTO, 0, "below the highest"},
    {0, 1, 9, 0, 0, "a gap is fine"},
    {1, 2, 1, NGR_EPROTO, 0, "the gateway's own kind"},
    {1, 2, 4, 0, 1, "a new client id"},
    {1, 3, 4, NGR_EPROTO, 0, "closed"},
    {1, 3, 6, 0, 0, "the next one"},
};

static void
test_session_accept_ids(void **state)
{
    struct test_session_env *e = *state;
    struct test_session_stream *ts[4];
    size_t i;

    test_session_pair(e);
    for (i = 0; i < 4; i++) {
        ts[i] = test_session_stream_new(e, i < 2 ? &e->c : &e->g);
        assert_non_null(ts[i]);
    }
    for (i = 0; i < sizeof(test_session_accept_steps) / sizeof(test_session_accept_steps[0]); i++) {
        const struct test_session_accept_step *c = &test_session_accept_steps[i];
        struct session *sess = c->gateway ? &e->g.s : &e->c.s;
        struct test_session_stream *t = ts[c->stream];
        int rc = session_stream_accept(sess, &t->st, c->id, &test_session_stream_ops, t);

        if (rc != c->rc)
            fail_msg("step %zu (%s): id %u returned %d, want %d", i, c->why, c->id, rc, c->rc);
        if (rc == 0) {
            assert_ptr_equal(session_stream_find(sess, c->id), &t->st);
            assert_ptr_equal(t->st.owner, t);
            assert_ptr_equal(t->st.ops, &test_session_stream_ops);
        }
        if (c->detach) {
            session_stream_detach(&t->st);
            assert_null(session_stream_find(sess, c->id));
        }
    }
    /* The client's first stream is still there after the second was accepted. */
    assert_ptr_equal(session_stream_find(&e->c.s, 3), &ts[0]->st);
    session_free(NULL);
}

/* Over TLS: 4 MiB one way, or each way at once, on loopback TCP with 16 KiB socket buffers,
 * so the socket takes TLS records in part and the session's flush must wait, EPOLLOUT armed,
 * for a record that GnuTLS holds while the session's own queues are empty. Neither side tunes
 * its windows: no PING would flush such a record by the way, and one way, nothing but the
 * flush's own EPOLLOUT moves the last one. Every byte arrives, in order. */
#define TEST_SESSION_TLS_BULK (4 * TEST_SESSION_MIB)

struct test_session_tls_bulk_case {
    const char *name;
    int both; /* the client sends too */
};

static const struct test_session_tls_bulk_case test_session_tls_bulk_cases[] = {
    {"one way", 0},
    {"each way", 1},
};

static int
test_session_tls_bulk_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    const struct test_session_tls_bulk_case *c = e->param;
    struct test_session_stream *cs[2];
    int small = 16 * 1024, i, n = c->both ? 2 : 1;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->g.s.tune = e->c.s.tune = 0;
        e->a[0] = test_session_open(e, &e->g, "/down");
        if (c->both)
            e->a[1] = test_session_open(e, &e->c, "/up");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1 && e->g.naccepted == (size_t)(n - 1),
                          "the OPENs accepted");
        for (i = 0; i < 2; i++) {
            struct session *sess = i ? &e->c.s : &e->g.s;

            assert_int_equal(setsockopt(sess->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
                             0);
            assert_int_equal(setsockopt(sess->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
                             0);
        }
        e->c.accepted[0]->pattern = 1;
        if (c->both)
            e->g.accepted[0]->pattern = 1;
        t->phase++;
        return 0;
    case 2:
        cs[0] = e->c.accepted[0];
        cs[1] = c->both ? e->g.accepted[0] : NULL;
        for (i = 0; i < n; i++) {
            struct test_session_stream *ts = e->a[i];
            size_t left = TEST_SESSION_TLS_BULK - ts->pushed;

            if (ts->push_left == 0 && left > 0)
                test_session_push(ts, ts->pushed, left < TEST_SESSION_MIB ? left : TEST_SESSION_MIB,
                                  left <= TEST_SESSION_MIB);
            if (cs[i]->got > e->tls_consumed[i]) {
                session_consumed(&cs[i]->st, cs[i]->got - e->tls_consumed[i]);
                e->tls_consumed[i] = cs[i]->got;
            }
        }
        if (tls_io_unsent(e->g.s.tls) || tls_io_unsent(e->c.s.tls))
            e->tls_unsent_seen++;
        TEST_SCRIPT_AWAIT(t, cs[0]->end_calls == 1 && (!c->both || cs[1]->end_calls == 1),
                          "4 MiB with END_STREAM");
        for (i = 0; i < n; i++) {
            assert_int_equal(cs[i]->got, TEST_SESSION_TLS_BULK);
            assert_int_equal(cs[i]->bad_bytes, 0);
            assert_int_equal(cs[i]->after_end, 0);
            assert_int_equal(cs[i]->resets, 0);
        }
        assert_true(e->tls_unsent_seen > 0);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

/* A transport for the gateway's TLS session that cuts one record: the cut_at-th write
 * (counted from arming) takes half its bytes, then every write fails with EAGAIN until the
 * test lets them through again. */
static struct {
    int armed, calls, cut_at, blocked;
} test_session_cut;

static ssize_t
test_session_cut_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int cnt)
{
    int fd = (int)(long)ptr;

    if (test_session_cut.blocked) {
        errno = EAGAIN;
        return -1;
    }
    if (test_session_cut.armed && ++test_session_cut.calls == test_session_cut.cut_at) {
        struct iovec half = {iov[0].iov_base, iov[0].iov_len / 2};

        test_session_cut.blocked = 1;
        return writev(fd, &half, 1);
    }
    return writev(fd, (const struct iovec *)iov, cnt);
}

/* Over TLS: the last record of everything queued goes out only in part, so the session's own
 * queues are empty while GnuTLS holds the record's rest. The flush must keep EPOLLOUT armed
 * for it: nothing else is coming (no tuning, so no PING), and without it the body's end would
 * never leave. One DATA frame of 64 KiB is five records (its header's and four of 16 KiB):
 * the fifth write is cut. */
static int
test_session_tls_cut_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *cs;
    gnutls_session_t gs;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->g.s.tune = e->c.s.tune = 0;
        e->a[0] = test_session_open(e, &e->g, "/cut");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1 && e->g.s.ctl.len == 0 && !e->g.s.want_write,
                          "the OPEN accepted, the gateway's queues empty");
        e->c.accepted[0]->pattern = 1;
        gs = tls_io_session(e->g.s.tls);
        memset(&test_session_cut, 0, sizeof(test_session_cut));
        gnutls_transport_set_vec_push_function(gs, test_session_cut_push);
        test_session_cut.cut_at = 5;
        test_session_cut.armed = 1;
        /* Written at once (nothing queued before it), taken whole by TLS, the last record
         * cut. */
        assert_int_equal(test_session_send(e->a[0], 0, NGR_DIRECT_WRITE, 1), NGR_DIRECT_WRITE);
        assert_int_equal(test_session_cut.calls, 5);
        assert_true(tls_io_unsent(e->g.s.tls));
        assert_int_equal(e->g.s.out.len, 0);
        assert_int_equal(e->g.s.ctl.len, 0);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, !e->g.s.flush.queued, "the turn's flush");
        /* It tried again (still cut): EPOLLOUT is armed for the rest. */
        assert_true(tls_io_unsent(e->g.s.tls));
        assert_true(e->g.s.want_write);
        test_session_cut.blocked = 0;
        t->phase++;
        return 0;
    case 3:
        cs = e->c.accepted[0];
        TEST_SCRIPT_AWAIT(t, cs->end_calls == 1, "the body's end");
        assert_int_equal(cs->got, NGR_DIRECT_WRITE);
        assert_int_equal(cs->bad_bytes, 0);
        assert_false(tls_io_unsent(e->g.s.tls));
        assert_false(e->g.s.want_write);
        return 1;
    }
    return 0;
}

/* Over TLS: a read that spends its budget inside a record leaves the record's rest decrypted
 * inside GnuTLS, where epoll does not see it. With nothing more on the socket, the session
 * still reads it, in the same turn. 256 KiB of body in four DATA frames are the window's
 * worth: 262,180 bytes, sent while the client does not read, so the client's one read of
 * NGR_READ_BUDGET (262,144) ends 36 bytes before the last record's end. No PING or WINDOW
 * follows (neither side tunes its windows), so nothing else would wake the client. */
static int
test_session_tls_budget_script(struct test_script *t)
{
    struct test_session_env *e = t->arg;
    struct test_session_stream *cs;
    int big = 1024 * 1024;

    if (e->c.live && e->c.s.tls != NULL && tls_io_pending(e->c.s.tls) > 0)
        e->tls_pending_seen = 1;
    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_session_ready(e), "HELLO and WELCOME");
        e->g.s.tune = e->c.s.tune = 0;
        e->a[0] = test_session_open(e, &e->g, "/window");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->c.naccepted == 1, "the OPEN accepted");
        e->c.accepted[0]->pattern = 1;
        assert_int_equal(setsockopt(e->g.s.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
        assert_int_equal(loop_io_mod(e->l, &e->c.s.io, 0), 0);
        assert_int_equal(test_session_send(e->a[0], 0, NGR_STREAM_WINDOW, 1), NGR_STREAM_WINDOW);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t,
                          e->g.s.out.len == 0 && e->g.s.ctl.len == 0 &&
                              !tls_io_unsent(e->g.s.tls),
                          "all of the body in the socket (SO_SNDBUF large enough)");
        assert_int_equal(loop_io_mod(e->l, &e->c.s.io, LOOP_READ | LOOP_HUP), 0);
        t->phase++;
        return 0;
    case 3:
        cs = e->c.accepted[0];
        TEST_SCRIPT_AWAIT(t, cs->end_calls == 1, "the body's end");
        assert_int_equal(cs->got, NGR_STREAM_WINDOW);
        assert_int_equal(cs->bad_bytes, 0);
        assert_true(e->tls_pending_seen);
        assert_int_equal(tls_io_pending(e->c.s.tls), 0);
        assert_false(e->g.closed);
        assert_false(e->c.closed);
        return 1;
    }
    return 0;
}

#define TEST_SESSION_NCASES(cases) (sizeof(cases) / sizeof(cases[0]))

/* Every scripted test: how its sessions start, and its script. A script with a table of cases
 * (each case struct starts with its name) runs once per case, as a test named after it. */
struct test_session_scripted {
    const char *name;
    test_session_script script;
    int raw; /* a gateway facing a raw peer, else a gateway and a client (2: across TCP; 3:
              * over TLS on a socketpair; 4: over TLS across TCP) */
    const void *cases;
    size_t ncases, case_size;
};

static const struct test_session_scripted test_session_scripts[] = {
    {"handshake", test_session_handshake_script, 0, NULL, 1, 0},
    {"open and data", test_session_data_script, 0, NULL, 1, 0},
    {"stream window", test_session_stream_window_script, 0, NULL, 1, 0},
    {"session window", test_session_session_window_script, 0, NULL, 1, 0},
    {"window growth", test_session_window_growth_script, 0, NULL, 1, 0},
    {"control frames first", test_session_control_first_script, 0, NULL, 1, 0},
    {"bulk streams take turns", test_session_turns_script, 0, NULL, 1, 0},
    {"shared budget", test_session_shared_budget_script, 0, NULL, 1, 0},
    {"new streams start with what earlier ones needed", test_session_open_window_script, 0, NULL,
     1, 0},
    {"unsent limit follows a near peer", test_session_unsent_script, 2, NULL, 1, 0},
    {"stream reset", test_session_reset_script, 0, NULL, 1, 0},
    {"closed id dropped", test_session_closed_id_script, 0, NULL, 1, 0},
    {"bad frame", test_session_bad_script, 0, test_session_bad_cases,
     TEST_SESSION_NCASES(test_session_bad_cases), sizeof(test_session_bad_cases[0])},
    {"owner refuses frame", test_session_owner_refuses_script, 0, NULL, 1, 0},
    {"data fails", test_session_data_fails_script, 0, test_session_data_fail_cases,
     TEST_SESSION_NCASES(test_session_data_fail_cases), sizeof(test_session_data_fail_cases[0])},
    {"stream overrun", test_session_overrun_script, 0, NULL, 1, 0},
    {"peer closes", test_session_peer_closes_script, 0, NULL, 1, 0},
    {"socket closed", test_session_socket_closed_script, 1, NULL, 1, 0},
    {"close code", test_session_close_code_script, 0, NULL, 1, 0},
    {"bad preface", test_session_preface_script, 1, test_session_prefaces,
     TEST_SESSION_NCASES(test_session_prefaces), sizeof(test_session_prefaces[0])},
    {"raw too large", test_session_raw_too_large_script, 1, NULL, 1, 0},
    {"output cap", test_session_output_cap_script, 1, NULL, 1, 0},
    {"ping", test_session_ping_script, 1, NULL, 1, 0},
    {"cut frames", test_session_cut_script, 1, NULL, 1, 0},
    {"trickled frame", test_session_trickle_script, 1, NULL, 1, 0},
    {"heartbeat", test_session_heartbeat_script, 1, NULL, 1, 0},
    {"over TLS: open and data", test_session_data_script, 3, NULL, 1, 0},
    {"over TLS: 4 MiB, records cut by the socket", test_session_tls_bulk_script, 4,
     test_session_tls_bulk_cases, TEST_SESSION_NCASES(test_session_tls_bulk_cases),
     sizeof(test_session_tls_bulk_cases[0])},
    {"over TLS: the read budget ends inside a record", test_session_tls_budget_script, 3, NULL,
     1, 0},
    {"over TLS: the last record queued goes out in part", test_session_tls_cut_script, 3, NULL,
     1, 0},
};

static void
test_session_scripted_test(void **state)
{
    struct test_session_env *e = *state;
    const struct test_session_instance *in = e->instance;

    if (in->s->raw == 3 || in->s->raw == 4)
        test_session_pair_tls(e, in->s->raw == 4);
    else if (in->s->raw == 2)
        test_session_pair_on(e, 1);
    else if (in->s->raw)
        test_session_raw_pair(e);
    else
        test_session_pair(e);
    test_script_run(e->l, in->s->script, e);
}

#define TEST_SESSION_MAX_TESTS 80

int
main(void)
{
    static char names[TEST_SESSION_MAX_TESTS][160];
    static struct test_session_instance instances[TEST_SESSION_MAX_TESTS];
    static struct CMUnitTest tests[TEST_SESSION_MAX_TESTS];
    size_t i, j, n = 0;
    int rc;

    tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
        test_session_check_peer, test_session_setup, test_session_teardown);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(
        test_session_accept_ids, test_session_setup, test_session_teardown);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_session_unsent_arithmetic);
    for (i = 0; i < TEST_SESSION_NCASES(test_session_scripts); i++) {
        const struct test_session_scripted *sc = &test_session_scripts[i];

        for (j = 0; j < sc->ncases; j++) {
            const void *param =
                sc->cases != NULL ? (const char *)sc->cases + j * sc->case_size : NULL;
            assert_true(n < TEST_SESSION_MAX_TESTS);
            instances[n].s = sc;
            instances[n].param = param;
            if (param != NULL)
                snprintf(names[n], sizeof(names[n]), "%s: %s", sc->name,
                         *(const char *const *)param);
            else
                snprintf(names[n], sizeof(names[n]), "%s", sc->name);
            tests[n] = (struct CMUnitTest){names[n], test_session_scripted_test, test_session_setup,
                                           test_session_teardown, &instances[n]};
            n++;
        }
    }
    for (i = 0; i < sizeof(test_session_body); i++)
        test_session_body[i] = test_session_pattern(i);
    tls_keys_make(&test_session_keys, "ngrnotok session test CA");
    rc = _cmocka_run_group_tests("session", tests, n, NULL, NULL);
    tls_keys_free(&test_session_keys);
    return rc;
}
