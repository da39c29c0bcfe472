/* test_forward.c: unit tests of forward.h, the client's raw streams. A gateway session and the
 * client's session share a socketpair in one loop; the gateway opens streams, the client's
 * OPEN handler hands them to forward_open as control.c does, and forward.c connects to a local
 * service the test serves on 127.0.0.1 (port 0) from the same loop. Each test is a script the
 * turn hook runs; a deadline ends one that stops making progress and says what it waited for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "err.h"
#include "forward.h"
#include "frame.h"
#include "loop.h"
#include "net.h"
#include "session.h"

#include "script.h"

#define TEST_FWD_CAP 4096

struct test_fwd_env;

/* The gateway's end of a stream: what reached it. */
struct test_fwd_stream {
    struct stream st;
    struct test_fwd_env *e;
    int replies;
    uint16_t status;
    char upgrade[32]; /* the REPLY's Upgrade field */
    char data[TEST_FWD_CAP];
    size_t len;
    int ended;
    int resets;
    uint32_t reset_code;
    char reset_msg[NGR_MAX_MESSAGE + 1];
};

struct test_fwd_env {
    struct loop *l;

    struct client cl; /* the client: its session, options and resolved local address */
    struct session gw;
    int gw_live, gw_hello, cl_hello;
    struct test_fwd_stream ts;

    int lfd; /* the local service */
    struct loop_io lio;
    int sfd; /* its one accepted connection */
    struct loop_io sio;
    char in[TEST_FWD_CAP];
    size_t in_len;
    int in_eof;
};

static void
test_fwd_copy(char *out, size_t cap, struct frame_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;

    memcpy(out, s.p, n);
    out[n] = '\0';
}

/* The local service: accepts one connection and keeps what it reads. */

static void
test_fwd_service_io(void *arg, uint32_t events)
{
    struct test_fwd_env *e = arg;
    ssize_t n = recv(e->sfd, e->in + e->in_len, sizeof(e->in) - e->in_len, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        e->in_eof = 1;
        loop_io_del(e->l, &e->sio);
        return;
    }
    e->in_len += (size_t)n;
}

static void
test_fwd_service_accept(void *arg, uint32_t events)
{
    struct test_fwd_env *e = arg;
    int fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return;
    assert_int_equal(e->sfd, -1);
    e->sfd = fd;
    assert_int_equal(loop_io_add(e->l, &e->sio, fd, LOOP_READ, test_fwd_service_io, e), 0);
}

static void
test_fwd_service_send(struct test_fwd_env *e, const char *s)
{
    assert_int_equal(send(e->sfd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* The gateway's stream ops. */

static int
test_fwd_on_reply(struct stream *st, const struct frame *f)
{
    struct test_fwd_stream *ts = st->owner;
    struct frame_field fields[8];
    struct frame_head h;
    size_t i;

    memset(&h, 0, sizeof(h));
    h.fields = fields;
    h.cap_fields = sizeof(fields) / sizeof(fields[0]);
    if (frame_reply_decode(f, &h) != 0)
        return NGR_EPROTO;
    ts->replies++;
    ts->status = h.status;
    for (i = 0; i < h.nfields; i++)
        if (frame_str_eq(h.fields[i].name, "upgrade"))
            test_fwd_copy(ts->upgrade, sizeof(ts->upgrade), h.fields[i].value);
    return 0;
}

static int
test_fwd_on_data(struct stream *st, const uint8_t *p, size_t n, int end)
{
    struct test_fwd_stream *ts = st->owner;

    assert_true(n <= sizeof(ts->data) - ts->len);
    memcpy(ts->data + ts->len, p, n);
    ts->len += n;
    ts->ended |= end;
    session_consumed(st, n);
    return 0;
}

static void
test_fwd_on_reset(struct stream *st, uint32_t code, struct frame_str message)
{
    struct test_fwd_stream *ts = st->owner;

    ts->resets++;
    ts->reset_code = code;
    test_fwd_copy(ts->reset_msg, sizeof(ts->reset_msg), message);
}

static void
test_fwd_on_writable(struct stream *st)
{
}

static const struct stream_ops test_fwd_stream_ops = {
    .on_reply = test_fwd_on_reply,
    .on_data = test_fwd_on_data,
    .on_reset = test_fwd_on_reset,
    .on_writable = test_fwd_on_writable,
};

/* The two sessions' owners. */

static int
test_fwd_gw_frame(void *owner, struct session *s, const struct frame *f, struct stream *st)
{
    struct test_fwd_env *e = owner;
    struct frame_hello h;
    struct ngr_err why;

    if (f->type != FRAME_HELLO || frame_hello_decode(f, &h) != 0 ||
        session_check_peer(&h, &why) != 0)
        return NGR_EPROTO;
    session_set_peer(s, &h);
    session_local_hello(s, &h);
    e->gw_hello = 1;
    return session_send_hello(s, &h, 1);
}

/* What control.c does with the frames forward.c needs: WELCOME, then each OPEN. */
static int
test_fwd_cl_frame(void *owner, struct session *s, const struct frame *f, struct stream *st)
{
    struct test_fwd_env *e = owner;
    struct frame_hello h;
    struct frame_head head;
    struct ngr_err why;

    switch (f->type) {
    case FRAME_WELCOME:
        if (frame_hello_decode(f, &h) != 0 || session_check_peer(&h, &why) != 0)
            return NGR_EPROTO;
        session_set_peer(s, &h);
        e->cl_hello = 1;
        return 0;
    case FRAME_OPEN:
        memset(&head, 0, sizeof(head));
        head.fields = e->cl.control_fields;
        head.cap_fields = NGR_MAX_HEADERS;
        if (frame_open_decode(f, &head) != 0)
            return NGR_EPROTO;
        return forward_open(&e->cl, &e->cl.tunnels[0], f->stream_id, &head);
    default:
        return NGR_EPROTO;
    }
}

static void
test_fwd_closed(void *owner, struct session *s, const char *reason)
{
    session_free(s);
}

static const struct session_handler test_fwd_gw_handler = {
    .on_frame = test_fwd_gw_frame,
    .on_closed = test_fwd_closed,
};
static const struct session_handler test_fwd_cl_handler = {
    .on_frame = test_fwd_cl_frame,
    .on_closed = test_fwd_closed,
};

/* The harness. */

/* A local service on 127.0.0.1; listening or not, its port is the client's local address. */
static void
test_fwd_service(struct test_fwd_env *e, int listening)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    struct ngr_err err;

    e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(e->lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(e->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(e->lfd, (struct sockaddr *)&a, &alen), 0);
    snprintf(e->cl.opt.tunnels[0].local.host, sizeof(e->cl.opt.tunnels[0].local.host),
             "127.0.0.1");
    e->cl.opt.tunnels[0].local.port = ntohs(a.sin_port);
    e->cl.opt.ntunnels = e->cl.ntunnels = 1;
    e->cl.tunnels[0].opt = &e->cl.opt.tunnels[0];
    e->cl.tunnels[0].handle = 1;
    net_format_addr(&e->cl.opt.tunnels[0].local, e->cl.tunnels[0].local_text,
                    sizeof(e->cl.tunnels[0].local_text));
    assert_int_equal(
        net_resolve_all(&e->cl.opt.tunnels[0].local, &e->cl.tunnels[0].local_resolved, &err), 0);
    if (listening) {
        assert_int_equal(listen(e->lfd, 4), 0);
        assert_int_equal(loop_io_add(e->l, &e->lio, e->lfd, LOOP_READ, test_fwd_service_accept, e),
                         0);
    } else {
        close(e->lfd); /* bound and closed: nothing listens on the port */
        e->lfd = -1;
    }
}

static int
test_fwd_setup(void **state)
{
    struct test_fwd_env *e = calloc(1, sizeof(*e));
    struct frame_hello h;
    int sv[2];

    if (e == NULL)
        return -1;
    e->l = loop_new();
    assert_non_null(e->l);
    e->lfd = e->sfd = -1;
    e->ts.e = e;
    e->cl.loop = e->l;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(session_init(&e->gw, e->l, sv[0], 1, &test_fwd_gw_handler, e), 0);
    e->gw_live = 1;
    assert_int_equal(session_init(&e->cl.sess, e->l, sv[1], 0, &test_fwd_cl_handler, e), 0);
    e->cl.sess_live = 1;
    session_local_hello(&e->cl.sess, &h);
    assert_int_equal(session_send_hello(&e->cl.sess, &h, 0), 0);
    *state = e;
    return 0;
}

static int
test_fwd_teardown(void **state)
{
    struct test_fwd_env *e = *state;

    /* The sessions' ends reset what is still open; forward.c frees its connections in
     * deferrals run here. */
    session_close(&e->gw, 0, "test over");
    session_close(&e->cl.sess, 0, "test over");
    loop_run_deferred(e->l);
    if (e->sfd >= 0) {
        if (!e->in_eof)
            loop_io_del(e->l, &e->sio);
        close(e->sfd);
    }
    if (e->lfd >= 0) {
        loop_io_del(e->l, &e->lio);
        close(e->lfd);
    }
    loop_free(e->l);
    free(e);
    return 0;
}

/* Opens the gateway's stream with an OPEN for the client: an upgrade to WebSocket of GET
 * /chat, or a TCP connection. */
static void
test_fwd_open(struct test_fwd_env *e, int upgrade)
{
    struct frame_field fields[3] = {
        {frame_str_c("Host"), frame_str_c("app.example.test")},
        {frame_str_c("Upgrade"), frame_str_c("websocket")},
        {frame_str_c("Connection"), frame_str_c("Upgrade")},
    };
    struct frame_head h;

    memset(&h, 0, sizeof(h));
    h.tunnel = 1;
    h.body = FRAME_BODY_UNKNOWN;
    h.client_addr = frame_str_c("203.0.113.9");
    if (upgrade) {
        h.flags = FRAME_HEAD_UPGRADE;
        h.method = frame_str_c("GET");
        h.target = frame_str_c("/chat");
        h.scheme = frame_str_c("http");
        h.host = frame_str_c("app.example.test");
        h.fields = fields;
        h.nfields = 3;
    } else {
        h.method = frame_str_c("CONNECT"); /* as public_tcp.c sends it */
        h.target = frame_str_c("203.0.113.9:40000");
        h.scheme = frame_str_c("tcp");
        h.host = frame_str_c("");
    }
    assert_int_equal(session_stream_open(&e->gw, &e->ts.st, &test_fwd_stream_ops, &e->ts), 0);
    assert_int_equal(session_send_open(&e->ts.st, 0, &h), 0);
}

static int
test_fwd_ready(const struct test_fwd_env *e)
{
    return e->gw_hello && e->cl_hello;
}

/* Nothing listens: the stream is reset REFUSED, with the address and the reason. */
static int
test_fwd_refused_script(struct test_script *t)
{
    struct test_fwd_env *e = t->arg;
    char want[NGR_MAX_MESSAGE];

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_fwd_ready(e), "the handshake");
        test_fwd_open(e, 0);
        t->phase = 1;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->ts.resets > 0, "the stream's reset");
        assert_int_equal(e->ts.reset_code, FRAME_CODE_REFUSED);
        snprintf(want, sizeof(want), "connect 127.0.0.1:%u: %s", e->cl.opt.tunnels[0].local.port,
                 strerror(ECONNREFUSED));
        assert_string_equal(e->ts.reset_msg, want);
        assert_int_equal(e->ts.replies, 0);
        return 1;
    default:
        return 1;
    }
}

static void
test_fwd_refused(void **state)
{
    struct test_fwd_env *e = *state;

    test_fwd_service(e, 0);
    test_script_run(e->l, test_fwd_refused_script, e);
}

/* An upgrade: the request head reaches the service as written from the OPEN, its 101 becomes
 * REPLY, the bytes it sent right after the head come first, then bytes flow both ways. */
static int
test_fwd_upgrade_script(struct test_script *t)
{
    struct test_fwd_env *e = t->arg;
    static const char head[] = "GET /chat HTTP/1.1\r\nHost: app.example.test\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_fwd_ready(e), "the handshake");
        test_fwd_open(e, 1);
        t->phase = 1;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->in_len >= sizeof(head) - 1, "the request head at the service");
        assert_int_equal(e->in_len, sizeof(head) - 1);
        assert_memory_equal(e->in, head, sizeof(head) - 1);
        e->in_len = 0;
        test_fwd_service_send(e, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n\r\nhello");
        t->phase = 2;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->ts.replies == 1 && e->ts.len == 5, "REPLY and the first bytes");
        assert_int_equal(e->ts.status, 101);
        assert_string_equal(e->ts.upgrade, "websocket");
        assert_memory_equal(e->ts.data, "hello", 5);
        assert_int_equal(session_send_data(&e->ts.st, (const uint8_t *)"ping", 4, 0), 4);
        t->phase = 3;
        return 0;
    case 3:
        TEST_SCRIPT_AWAIT(t, e->in_len == 4, "the gateway's bytes at the service");
        assert_memory_equal(e->in, "ping", 4);
        test_fwd_service_send(e, "pong");
        t->phase = 4;
        return 0;
    case 4:
        TEST_SCRIPT_AWAIT(t, e->ts.len == 9, "the service's answer at the gateway");
        assert_memory_equal(e->ts.data, "hellopong", 9);
        assert_int_equal(e->ts.resets, 0);
        assert_int_equal(e->ts.ended, 0);
        return 1;
    default:
        return 1;
    }
}

static void
test_fwd_upgrade(void **state)
{
    struct test_fwd_env *e = *state;

    test_fwd_service(e, 1);
    test_script_run(e->l, test_fwd_upgrade_script, e);
}

/* A TCP stream: no head either way, bytes both ways, and the service's close ends the
 * stream with END_STREAM. */
static int
test_fwd_tcp_script(struct test_script *t)
{
    struct test_fwd_env *e = t->arg;
    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_fwd_ready(e), "the handshake");
        test_fwd_open(e, 0);
        assert_int_equal(session_send_data(&e->ts.st, (const uint8_t *)"abc", 3, 0), 3);
        t->phase = 1;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->in_len == 3, "the bytes at the service");
        assert_memory_equal(e->in, "abc", 3);
        test_fwd_service_send(e, "xyz");
        shutdown(e->sfd, SHUT_WR);
        t->phase = 2;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->ts.ended, "END_STREAM at the gateway");
        assert_int_equal(e->ts.len, 3);
        assert_memory_equal(e->ts.data, "xyz", 3);
        assert_int_equal(e->ts.replies, 0);
        assert_int_equal(e->ts.resets, 0);
        return 1;
    default:
        return 1;
    }
}

static void
test_fwd_tcp(void **state)
{
    struct test_fwd_env *e = *state;

    test_fwd_service(e, 1);
    test_script_run(e->l, test_fwd_tcp_script, e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fwd_refused, test_fwd_setup, test_fwd_teardown),
        cmocka_unit_test_setup_teardown(test_fwd_upgrade, test_fwd_setup, test_fwd_teardown),
        cmocka_unit_test_setup_teardown(test_fwd_tcp, test_fwd_setup, test_fwd_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
