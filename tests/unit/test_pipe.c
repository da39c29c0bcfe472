/* test_pipe.c: unit tests of pipe.h, the raw byte pipe. Two real sessions (a gateway's and a
 * client's) share a socketpair in one loop; one stream joins them, with a pipe at each end, and
 * each pipe's socket is one end of another socketpair whose other end the test writes and reads:
 *
 *   test <-> a.peer | a.fd <-> pipe a <-> stream (gateway session) ... (client session)
 *        <-> pipe b <-> b.fd | b.peer <-> test
 *
 * Bytes, half-closes, credit, read limits, injected bytes, bytes before the start, a failed
 * socket and a reset are each a script (script.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "loop.h"
#include "pipe.h"
#include "session.h"

#include "script.h"

#define TEST_PIPE_HEAD 64                      /* bytes of what arrives kept for comparison */
#define TEST_PIPE_BULK (4 * NGR_STREAM_WINDOW) /* bytes pushed through a reader that waits */

/* One end of the stream: its pipe and the test's socket to it. */
struct test_pipe_side {
    struct stream st;
    struct pipe_end p;
    int fd;   /* the pipe's socket */
    int peer; /* the test's end */
    int started;
    int done_calls;
    int done_error;
    uint8_t head[TEST_PIPE_HEAD]; /* the first bytes read at peer */
    size_t got;                   /* bytes read at peer */
    size_t bad;                   /* of them, off the pattern (when checked) */
    int eof;                      /* peer read EOF */
    size_t sent;                  /* pattern bytes the test wrote at peer */
};

struct test_pipe_env {
    struct loop *l;
    struct session g, c;
    int g_live, c_live;
    struct test_pipe_side a, b; /* a on the gateway's session, b on the client's */
};

static uint8_t
test_pipe_pattern(size_t off)
{
    return (uint8_t)(off * 13 + (off >> 11));
}

static int
test_pipe_on_frame(void *owner, struct session *s, const struct frame *f, struct stream *st)
{
    return 0; /* no OPEN is sent: the client's end accepts the stream by its id */
}

static void
test_pipe_on_closed(void *owner, struct session *s, const char *reason)
{
    struct test_pipe_env *e = owner;

    if (s == &e->g)
        e->g_live = 0;
    else
        e->c_live = 0;
    session_free(s);
}

static const struct session_handler test_pipe_handler = {
    .on_frame = test_pipe_on_frame,
    .on_closed = test_pipe_on_closed,
};

static void
test_pipe_done(void *owner, struct pipe_end *p, int error)
{
    struct test_pipe_side *x = owner;

    x->done_calls++;
    x->done_error = error;
    pipe_stop(p); /* as every owner does */
}

/* Reads what waits at x's peer socket; check compares it with the pattern. */
static void
test_pipe_read(struct test_pipe_side *x, int check)
{
    uint8_t buf[64 * 1024];
    ssize_t n;
    size_t i;

    while ((n = recv(x->peer, buf, sizeof(buf), 0)) > 0) {
        for (i = 0; i < (size_t)n; i++) {
            if (x->got + i < sizeof(x->head))
                x->head[x->got + i] = buf[i];
            if (check && buf[i] != test_pipe_pattern(x->got + i))
                x->bad++;
        }
        x->got += (size_t)n;
    }
    if (n == 0)
        x->eof = 1;
}

/* Writes pattern bytes at x's peer until total were written or the socket is full. */
static void
test_pipe_write_pattern(struct test_pipe_side *x, size_t total)
{
    uint8_t buf[64 * 1024];
    size_t i, n;
    ssize_t w;

    while (x->sent < total) {
        n = total - x->sent < sizeof(buf) ? total - x->sent : sizeof(buf);
        for (i = 0; i < n; i++)
            buf[i] = test_pipe_pattern(x->sent + i);
        w = send(x->peer, buf, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        x->sent += (size_t)w;
    }
}

static void
test_pipe_write(struct test_pipe_side *x, const char *s)
{
    assert_int_equal(send(x->peer, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void
test_pipe_socketpair(struct test_pipe_side *x)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    x->fd = sv[0];
    x->peer = sv[1];
}

static void
test_pipe_start(struct test_pipe_side *x)
{
    assert_int_equal(pipe_start(&x->p, x->fd), 0);
    x->started = 1;
}

/* The two sessions, already past their handshake (each has the other's values), and one stream
 * with a pipe at each end; b's pipe starts only if start_b. */
static int
test_pipe_setup(void **state)
{
    struct test_pipe_env *e = calloc(1, sizeof(*e));
    struct frame_hello hg, hc;
    int sv[2];

    if (e == NULL)
        return -1;
    e->l = loop_new();
    assert_non_null(e->l);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(session_init(&e->g, e->l, sv[0], 1, &test_pipe_handler, e), 0);
    assert_int_equal(session_init(&e->c, e->l, sv[1], 0, &test_pipe_handler, e), 0);
    e->g_live = e->c_live = 1;
    session_local_hello(&e->g, &hg);
    session_local_hello(&e->c, &hc);
    session_set_peer(&e->g, &hc);
    session_set_peer(&e->c, &hg);

    test_pipe_socketpair(&e->a);
    test_pipe_socketpair(&e->b);
    assert_int_equal(session_stream_open(&e->g, &e->a.st, &pipe_stream_ops, &e->a.p), 0);
    pipe_init(&e->a.p, e->l, &e->a.st, test_pipe_done, &e->a);
    assert_int_equal(session_stream_accept(&e->c, &e->b.st, e->a.st.id, &pipe_stream_ops, &e->b.p),
                     0);
    pipe_init(&e->b.p, e->l, &e->b.st, test_pipe_done, &e->b);
    test_pipe_start(&e->a);
    *state = e;
    return 0;
}

static int
test_pipe_teardown(void **state)
{
    struct test_pipe_env *e = *state;
    struct test_pipe_side *sides[2] = {&e->a, &e->b};
    int i;

    for (i = 0; i < 2; i++) {
        pipe_stop(&sides[i]->p);
        session_stream_detach(&sides[i]->st);
        close(sides[i]->fd);
        close(sides[i]->peer);
    }
    if (e->g_live)
        session_close(&e->g, 0, "test over");
    if (e->c_live)
        session_close(&e->c, 0, "test over");
    loop_run_deferred(e->l);
    loop_free(e->l);
    free(e);
    return 0;
}

/* Bytes both ways, in order. */
static int
test_pipe_both_ways_script(struct test_script *t)
{
    struct test_pipe_env *e = t->arg;

    switch (t->phase) {
    case 0:
        test_pipe_start(&e->b);
        test_pipe_write(&e->a, "hello");
        t->phase++;
        return 0;
    case 1:
        test_pipe_read(&e->b, 0);
        TEST_SCRIPT_AWAIT(t, e->b.got >= 5, "hello at b");
        assert_int_equal(e->b.got, 5);
        assert_memory_equal(e->b.head, "hello", 5);
        test_pipe_write(&e->b, "world!");
        t->phase++;
        return 0;
    case 2:
        test_pipe_read(&e->a, 0);
        TEST_SCRIPT_AWAIT(t, e->a.got >= 6, "world! at a");
        assert_int_equal(e->a.got, 6);
        assert_memory_equal(e->a.head, "world!", 6);
        assert_int_equal(e->a.p.bytes_read, 5);
        assert_int_equal(e->a.p.bytes_written, 6);
        assert_int_equal(e->b.p.bytes_read, 6);
        assert_int_equal(e->b.p.bytes_written, 5);
        assert_int_equal(e->a.done_calls + e->b.done_calls, 0);
        return 1;
    }
    return 1;
}

static void
test_pipe_both_ways(void **state)
{
    struct test_pipe_env *e = *state;

    test_script_run(e->l, test_pipe_both_ways_script, e);
}

/* Half-close: a's EOF becomes END, and b shuts its socket for writing once the bytes before it
 * are written; b's direction goes on until its own EOF, and then both pipes are done (error 0).
 * The counters the pipe was given count too. */
static uint64_t test_pipe_read_count, test_pipe_write_count;

static int
test_pipe_half_close_script(struct test_script *t)
{
    struct test_pipe_env *e = t->arg;

    switch (t->phase) {
    case 0:
        e->a.p.read_counter = &test_pipe_read_count;
        e->a.p.write_counter = &test_pipe_write_count;
        test_pipe_start(&e->b);
        test_pipe_write(&e->a, "last words");
        assert_int_equal(shutdown(e->a.peer, SHUT_WR), 0);
        t->phase++;
        return 0;
    case 1:
        test_pipe_read(&e->b, 0);
        TEST_SCRIPT_AWAIT(t, e->b.eof, "EOF at b after a's bytes");
        assert_int_equal(e->b.got, 10);
        assert_memory_equal(e->b.head, "last words", 10);
        assert_true(e->a.p.read_eof);
        assert_true(e->b.p.peer_end && e->b.p.shut_wr);
        assert_int_equal(e->a.done_calls + e->b.done_calls, 0); /* the other way is open */
        test_pipe_write(&e->b, "reply");
        t->phase++;
        return 0;
    case 2:
        test_pipe_read(&e->a, 0);
        TEST_SCRIPT_AWAIT(t, e->a.got == 5, "reply at a after a's half-close");
        assert_memory_equal(e->a.head, "reply", 5);
        assert_int_equal(shutdown(e->b.peer, SHUT_WR), 0);
        t->phase++;
        return 0;
    case 3:
        test_pipe_read(&e->a, 0);
        TEST_SCRIPT_AWAIT(t, e->a.done_calls && e->b.done_calls, "both pipes done");
        assert_int_equal(e->a.done_calls, 1);
        assert_int_equal(e->b.done_calls, 1);
        assert_int_equal(e->a.done_error, 0);
        assert_int_equal(e->b.done_error, 0);
        assert_string_equal(pipe_done_reason(0), "both directions done");
        assert_int_equal(test_pipe_read_count, 10);
        assert_int_equal(test_pipe_write_count, 5);
        return 1;
    }
    return 1;
}

static void
test_pipe_half_close(void **state)
{
    struct test_pipe_env *e = *state;

    test_script_run(e->l, test_pipe_half_close_script, e);
}

/* Credit: while b's reader waits, a reads only what the stream's credit allows (one window,
 * held by b's pipe since its socket is full), and nothing else is lost or reordered; once the
 * reader reads, credit comes back and all the bytes arrive in order. */
static int
test_pipe_credit_script(struct test_script *t)
{
    struct test_pipe_env *e = t->arg;

    switch (t->phase) {
    case 0:
        test_pipe_start(&e->b);
        t->phase++;
        return 0;
    case 1:
        test_pipe_write_pattern(&e->a, TEST_PIPE_BULK);
        /* Out of credit, and all that a read has reached b: what b's socket did not take waits
         * in b's pipe, at most one window, and a stopped reading (its socket filled up). */
        TEST_SCRIPT_AWAIT(t,
                          session_send_room(&e->a.st) == 0 &&
                              e->b.p.bytes_written + e->b.p.out.len == e->a.p.bytes_read,
                          "a out of credit, with every byte it read at b");
        assert_true(e->b.p.out.len > 0);
        assert_true(e->b.p.out.len <= NGR_STREAM_WINDOW);
        assert_true(e->a.p.bytes_read - e->b.p.bytes_written <= NGR_STREAM_WINDOW);
        assert_true(e->a.sent < TEST_PIPE_BULK);
        t->phase++;
        return 0;
    case 2:
        test_pipe_write_pattern(&e->a, TEST_PIPE_BULK);
        test_pipe_read(&e->b, 1);
        assert_true(e->b.p.out.len <= NGR_STREAM_WINDOW);
        TEST_SCRIPT_AWAIT(t, e->b.got == TEST_PIPE_BULK, "every byte at b once it reads");
        assert_int_equal(e->b.bad, 0);
        assert_int_equal(e->a.p.bytes_read, TEST_PIPE_BULK);
        return 1;
    }
    return 1;
}

static void
test_pipe_credit(void **state)
{
    struct test_pipe_env *e = *state;

    test_script_run(e->l, test_pipe_credit_script, e);
}

/* A read limit: once that many bytes went, the pipe acts as if EOF came (END goes out). */
static int
test_pipe_read_limit_script(struct test_script *t)
{
    struct test_pipe_env *e = t->arg;

    switch (t->phase) {
    case 0:
        e->a.p.read_limit = 5;
        test_pipe_start(&e->b);
        test_pipe_write(&e->a, "helloworld");
        t->phase++;
        return 0;
    case 1:
        test_pipe_read(&e->b, 0);
        TEST_SCRIPT_AWAIT(t, e->b.eof, "EOF at b after 5 bytes");
        assert_int_equal(e->b.got, 5);
        assert_memory_equal(e->b.head, "hello", 5);
        assert_int_equal(e->a.p.bytes_read, 5);
        return 1;
    }
    return 1;
}

static void
test_pipe_read_limit(void **state)
{
    struct test_pipe_env *e = *state;

    test_script_run(e->l, test_pipe_read_limit_script, e);
}

/* Bytes the owner read itself (libmicrohttpd's extra_in) go first; more than the credit is
 * refused. DATA that arrives before the pipe starts waits in it and is written at the start. */
static int
test_pipe_inject_script(struct test_script *t)
{
    struct test_pipe_env *e = t->arg;
    static uint8_t big[NGR_STREAM_WINDOW + 1];

    switch (t->phase) {
    case 0:
        assert_int_equal(pipe_inject(&e->a.p, (const uint8_t *)"first:", 6), 0);
        test_pipe_write(&e->a, "second");
        t->phase++;
        return 0;
    case 1:
        /* b has not started: the bytes wait in its pipe. */
        TEST_SCRIPT_AWAIT(t, e->b.p.out.len == 12, "12 bytes waiting in b's unstarted pipe");
        test_pipe_read(&e->b, 0);
        assert_int_equal(e->b.got, 0);
        test_pipe_start(&e->b);
        t->phase++;
        return 0;
    case 2:
        test_pipe_read(&e->b, 0);
        TEST_SCRIPT_AWAIT(t, e->b.got == 12, "the 12 bytes at b after its start");
        assert_memory_equal(e->b.head, "first:second", 12);
        assert_int_equal(pipe_inject(&e->a.p, big, sizeof(big)), NGR_ELIMIT);
        return 1;
    }
    return 1;
}

static void
test_pipe_inject(void **state)
{
    struct test_pipe_env *e = *state;

    test_script_run(e->l, test_pipe_inject_script, e);
}

/* A socket that fails ends its pipe with the errno (b's peer is gone: writing there fails). */
static int
test_pipe_socket_error_script(struct test_script *t)
{
    struct test_pipe_env *e = t->arg;

    switch (t->phase) {
    case 0:
        test_pipe_start(&e->b);
        close(e->b.peer);
        e->b.peer = -1;
        test_pipe_write(&e->a, "nobody reads this");
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->b.done_calls > 0, "b's pipe done with an error");
        assert_int_equal(e->b.done_calls, 1);
        assert_true(e->b.done_error == EPIPE || e->b.done_error == ECONNRESET);
        assert_string_equal(pipe_done_reason(e->b.done_error), strerror(e->b.done_error));
        assert_int_equal(e->a.done_calls, 0);
        return 1;
    }
    return 1;
}

static void
test_pipe_socket_error(void **state)
{
    struct test_pipe_env *e = *state;

    test_script_run(e->l, test_pipe_socket_error_script, e);
}

/* A reset reaches the other end's owner through done, as PIPE_RESET, once. */
static int
test_pipe_reset_script(struct test_script *t)
{
    struct test_pipe_env *e = t->arg;

    switch (t->phase) {
    case 0:
        test_pipe_start(&e->b);
        session_stream_reset(&e->a.st, FRAME_CODE_CANCEL, "the public client went away");
        assert_null(e->a.st.sess);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->b.done_calls > 0, "b's pipe done by the reset");
        assert_int_equal(e->b.done_calls, 1);
        assert_int_equal(e->b.done_error, PIPE_RESET);
        assert_null(e->b.st.sess);
        assert_string_equal(pipe_done_reason(PIPE_RESET), "reset by the peer");
        assert_int_equal(e->a.done_calls, 0); /* the side that reset hears nothing */
        return 1;
    }
    return 1;
}

static void
test_pipe_reset(void **state)
{
    struct test_pipe_env *e = *state;

    test_script_run(e->l, test_pipe_reset_script, e);
}

#define TEST_PIPE_TEST(f) cmocka_unit_test_setup_teardown(f, test_pipe_setup, test_pipe_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_PIPE_TEST(test_pipe_both_ways), TEST_PIPE_TEST(test_pipe_half_close),
        TEST_PIPE_TEST(test_pipe_credit),    TEST_PIPE_TEST(test_pipe_read_limit),
        TEST_PIPE_TEST(test_pipe_inject),    TEST_PIPE_TEST(test_pipe_socket_error),
        TEST_PIPE_TEST(test_pipe_reset),
    };

    return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
