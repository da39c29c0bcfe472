/* test_curl_glue.c: unit tests of curl_glue.h, the libcurl multi on our loop and its parked
 * kept-alive sockets. A real multi and a real loop fetch from a tiny HTTP/1.1 server that the
 * test itself serves from the same loop (127.0.0.1, port 0): it answers every request head with
 * "ok" and keeps the connection open until the test closes it. Each test is a script the turn
 * hook runs; a deadline ends one that stops making progress and says what it waited for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curl_glue.h"
#include "err.h"
#include "loop.h"

#include "script.h"

#define TEST_GLUE_CONNS 8
#define TEST_GLUE_QUIET_MS 200   /* how long a closed parked socket is watched for spinning */
#define TEST_GLUE_QUIET_TURNS 40 /* turns allowed in that time (polling makes one per 20 ms) */

static const char test_glue_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

struct test_glue_env;

/* One connection accepted by the test's server. */
struct test_glue_conn {
    struct loop_io io;
    struct test_glue_env *e;
    int fd;
    char in[4096];
    size_t len;
};

struct test_glue_env {
    struct loop *l;
    struct curl_glue g;
    unsigned turns;

    int lfd; /* the server */
    struct loop_io lio;
    char url[64];
    struct test_glue_conn conns[TEST_GLUE_CONNS];
    int accepted;

    CURL *easy; /* one handle for every request, as replay.c's pool reuses them */
    int in_multi;
    int done; /* transfers finished */
    CURLcode result;
    char body[64];
    size_t body_len;
    int bypass_closes;         /* closes made by libcurl without the glue's close callback */
    curl_socket_t last_socket; /* the socket libcurl made last */
    int sockets;               /* sockets libcurl made */

    curl_socket_t fd; /* the client's socket of the first request */
    unsigned mark_turns;
    uint64_t mark_ms;
};

/* The server. */

static void
test_glue_conn_close(struct test_glue_conn *c)
{
    if (c->fd < 0)
        return;
    loop_io_del(c->e->l, &c->io);
    close(c->fd);
    c->fd = -1;
}

static void
test_glue_conn_io(void *arg, uint32_t events)
{
    struct test_glue_conn *c = arg;
    ssize_t n = recv(c->fd, c->in + c->len, sizeof(c->in) - c->len, 0);
    char *blank;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        test_glue_conn_close(c);
        return;
    }
    c->len += (size_t)n;
    while ((blank = memmem(c->in, c->len, "\r\n\r\n", 4)) != NULL) {
        size_t used = (size_t)(blank - c->in) + 4;
        /* a few dozen bytes into an empty socket buffer: never short */
        assert_int_equal(send(c->fd, test_glue_answer, sizeof(test_glue_answer) - 1, MSG_NOSIGNAL),
                         (ssize_t)sizeof(test_glue_answer) - 1);
        memmove(c->in, c->in + used, c->len - used);
        c->len -= used;
    }
}

static void
test_glue_accept(void *arg, uint32_t events)
{
    struct test_glue_env *e = arg;
    struct test_glue_conn *c;
    int fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return;
    assert_true(e->accepted < TEST_GLUE_CONNS);
    c = &e->conns[e->accepted++];
    c->e = e;
    c->fd = fd;
    c->len = 0;
    assert_int_equal(loop_io_add(e->l, &c->io, fd, LOOP_READ, test_glue_conn_io, c), 0);
}

/* Closes every connection the server holds (the service drops its idle keep-alives). */
static void
test_glue_server_close_all(struct test_glue_env *e)
{
    int i;

    for (i = 0; i < e->accepted; i++)
        test_glue_conn_close(&e->conns[i]);
}

/* The client. */

static size_t
test_glue_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct test_glue_env *e = arg;
    size_t n = size * nmemb;

    if (n > sizeof(e->body) - e->body_len)
        return 0;
    memcpy(e->body + e->body_len, p, n);
    e->body_len += n;
    return n;
}

/* Stands for libcurl closing a socket without the glue's close callback (libcurl 7.88 does so
 * for sockets that never connected and for its resolver's socketpair). */
static int
test_glue_close_bypass(void *arg, curl_socket_t s)
{
    struct test_glue_env *e = arg;

    e->bypass_closes++;
    return close(s);
}

static void
test_glue_on_done(void *owner, CURL *easy, CURLcode result)
{
    struct test_glue_env *e = owner;

    assert_ptr_equal(easy, e->easy);
    assert_int_equal(curl_multi_remove_handle(e->g.multi, easy), CURLM_OK);
    e->in_multi = 0;
    e->result = result;
    e->done++;
}

/* Starts one GET on the shared handle. */
static void
test_glue_get(struct test_glue_env *e)
{
    assert_false(e->in_multi);
    e->body_len = 0;
    e->result = CURLE_OK;
    assert_int_equal(curl_multi_add_handle(e->g.multi, e->easy), CURLM_OK);
    e->in_multi = 1;
}

/* The request that finished last was answered "ok". */
static void
test_glue_assert_ok(const struct test_glue_env *e)
{
    assert_int_equal(e->result, CURLE_OK);
    assert_int_equal(e->body_len, 2);
    assert_memory_equal(e->body, "ok", 2);
}

/* libcurl made a socket (called after our open callback): the newest one is the request's. */
static int
test_glue_on_sockopt(void *arg, curl_socket_t s, curlsocktype purpose)
{
    struct test_glue_env *e = arg;

    e->last_socket = s;
    e->sockets++;
    return CURL_SOCKOPT_OK;
}

static curl_socket_t
test_glue_socket_of(const struct test_glue_env *e)
{
    assert_true(e->last_socket != CURL_SOCKET_BAD);
    return e->last_socket;
}

/* Once the first request is answered: its socket, parked. Returns 0 until then. */
static int
test_glue_first_parked(struct test_glue_env *e)
{
    if (e->done < 1)
        return 0;
    test_glue_assert_ok(e);
    e->fd = test_glue_socket_of(e);
    assert_int_equal(curl_glue_watch_of(&e->g, e->fd), CURL_GLUE_PARKED);
    return 1;
}

/* The harness. */

/* What the client's turn hook does (through replay.c), after each step of a script. */
static void
test_glue_after(void *arg)
{
    struct test_glue_env *e = arg;

    e->turns++;
    curl_glue_run_due(&e->g);
}

/* Runs one script on the test's loop, libcurl's due work after each step. */
static void
test_glue_run(struct test_glue_env *e, int (*script)(struct test_script *t))
{
    test_script_run_after(e->l, script, e, test_glue_after);
}

static int
test_glue_setup(void **state)
{
    struct test_glue_env *e = calloc(1, sizeof(*e));
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    struct ngr_err err;

    if (e == NULL)
        return -1;
    e->l = loop_new();
    assert_non_null(e->l);
    e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(e->lfd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(e->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(e->lfd, 16), 0);
    assert_int_equal(getsockname(e->lfd, (struct sockaddr *)&a, &alen), 0);
    snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u/", ntohs(a.sin_port));
    assert_int_equal(loop_io_add(e->l, &e->lio, e->lfd, LOOP_READ, test_glue_accept, e), 0);

    assert_int_equal(curl_glue_init(&e->g, e->l, 4, test_glue_on_done, e, &err), 0);
    e->easy = curl_easy_init();
    assert_non_null(e->easy);
    curl_easy_setopt(e->easy, CURLOPT_URL, e->url);
    curl_easy_setopt(e->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, test_glue_on_body);
    curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(e->easy, CURLOPT_SOCKOPTFUNCTION, test_glue_on_sockopt);
    curl_easy_setopt(e->easy, CURLOPT_SOCKOPTDATA, e);
    curl_glue_setup_easy(&e->g, e->easy);
    e->fd = e->last_socket = CURL_SOCKET_BAD;
    *state = e;
    return 0;
}

static int
test_glue_teardown(void **state)
{
    struct test_glue_env *e = *state;

    if (e->in_multi)
        curl_multi_remove_handle(e->g.multi, e->easy);
    curl_easy_cleanup(e->easy);
    curl_glue_free(&e->g);
    test_glue_server_close_all(e);
    loop_io_del(e->l, &e->lio);
    close(e->lfd);
    loop_free(e->l);
    free(e);
    return 0;
}

/* Sequential requests go on one connection, whose socket stays registered in epoll between
 * them: parked after each, taken up again by the next, never deleted and added again. */
static int
test_glue_reuse_script(struct test_script *t)
{
    struct test_glue_env *e = t->arg;
    switch (t->phase) {
    case 0:
        test_glue_get(e);
        t->phase = 1;
        return 0;
    case 1:
    case 2:
    case 3:
        TEST_SCRIPT_AWAIT(t, e->done == t->phase, "a request to finish");
        test_glue_assert_ok(e);
        if (t->phase == 1)
            e->fd = test_glue_socket_of(e);
        assert_int_equal(test_glue_socket_of(e), e->fd);
        assert_int_equal(curl_glue_watch_of(&e->g, e->fd), CURL_GLUE_PARKED);
        assert_int_equal(e->accepted, 1);
        assert_int_equal(e->sockets, 1);
        assert_int_equal(e->g.counts.added, 1);
        assert_int_equal(e->g.counts.deleted, 0);
        assert_int_equal(e->g.counts.forgotten, 0);
        assert_int_equal(e->g.counts.parked, t->phase);
        assert_int_equal(e->g.counts.reused, t->phase - 1);
        if (t->phase == 3)
            return 1;
        test_glue_get(e);
        t->phase++;
        return 0;
    default:
        return 1;
    }
}

static void
test_glue_reuse(void **state)
{
    test_glue_run(*state, test_glue_reuse_script);
}

/* The service closes the kept-alive connection while it is parked: the event takes the socket
 * out of epoll and the table once, the loop goes quiet (no wake-up every turn for a hung-up
 * socket nobody reads), and the next request connects afresh. */
static int
test_glue_peer_close_script(struct test_script *t)
{
    struct test_glue_env *e = t->arg;
    switch (t->phase) {
    case 0:
        test_glue_get(e);
        t->phase = 1;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, test_glue_first_parked(e), "the first request to finish");
        test_glue_server_close_all(e);
        t->phase = 2;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, curl_glue_watch_of(&e->g, e->fd) == CURL_GLUE_NONE,
                          "the parked socket to leave the table");
        assert_int_equal(e->g.counts.deleted, 1);
        e->mark_turns = e->turns;
        e->mark_ms = loop_now(e->l);
        t->phase = 3;
        return 0;
    case 3:
        if (e->turns - e->mark_turns > TEST_GLUE_QUIET_TURNS)
            fail_msg("%u turns in %llu ms after the parked socket closed: the loop spins",
                     e->turns - e->mark_turns, (unsigned long long)(loop_now(e->l) - e->mark_ms));
        TEST_SCRIPT_AWAIT(t, loop_now(e->l) >= e->mark_ms + TEST_GLUE_QUIET_MS,
                          "the quiet period to pass");
        assert_int_equal(e->g.counts.deleted, 1);
        test_glue_get(e);
        t->phase = 4;
        return 0;
    case 4:
        TEST_SCRIPT_AWAIT(t, e->done == 2, "the second request to finish");
        test_glue_assert_ok(e);
        assert_int_equal(e->accepted, 2);
        assert_int_equal(e->g.counts.added, 2);
        assert_int_equal(e->g.counts.reused, 0);
        assert_int_equal(curl_glue_watch_of(&e->g, test_glue_socket_of(e)), CURL_GLUE_PARKED);
        return 1;
    default:
        return 1;
    }
}

static void
test_glue_peer_close(void **state)
{
    test_glue_run(*state, test_glue_peer_close_script);
}

/* libcurl closes the parked socket without the glue's close callback and opens a new one that
 * gets the same descriptor number (808b6a8): the stale watch is forgotten when the open
 * callback hands the number out, and the new socket gets a watch of its own, not the parked
 * one's (whose epoll entry went with the old socket). */
static int
test_glue_number_reused_script(struct test_script *t)
{
    struct test_glue_env *e = t->arg;
    switch (t->phase) {
    case 0:
        curl_easy_setopt(e->easy, CURLOPT_CLOSESOCKETFUNCTION, test_glue_close_bypass);
        curl_easy_setopt(e->easy, CURLOPT_CLOSESOCKETDATA, e);
        test_glue_get(e);
        t->phase = 1;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, test_glue_first_parked(e), "the first request to finish");
        /* In one go, before the loop hears of the hang-up: libcurl finds the cached connection
         * dead when the next request looks for one, closes it (bypassing the glue) and opens
         * a socket that gets the lowest free number, the one just closed. */
        test_glue_server_close_all(e);
        test_glue_get(e);
        curl_glue_run_due(&e->g);
        t->phase = 2;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->done == 2, "the second request to finish");
        test_glue_assert_ok(e);
        assert_int_equal(e->bypass_closes, 1);
        assert_int_equal(e->accepted, 2);
        assert_int_equal(e->sockets, 2);
        assert_int_equal(test_glue_socket_of(e), e->fd); /* the number came back */
        assert_int_equal(e->g.counts.forgotten, 1);
        assert_int_equal(e->g.counts.reused, 0);
        assert_int_equal(e->g.counts.added, 2);
        assert_int_equal(e->g.counts.deleted, 0);
        assert_int_equal(curl_glue_watch_of(&e->g, e->fd), CURL_GLUE_PARKED);
        return 1;
    default:
        return 1;
    }
}

static void
test_glue_number_reused(void **state)
{
    test_glue_run(*state, test_glue_number_reused_script);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_glue_reuse, test_glue_setup, test_glue_teardown),
        cmocka_unit_test_setup_teardown(test_glue_peer_close, test_glue_setup, test_glue_teardown),
        cmocka_unit_test_setup_teardown(test_glue_number_reused, test_glue_setup,
                                        test_glue_teardown),
    };
    int rc;

    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
