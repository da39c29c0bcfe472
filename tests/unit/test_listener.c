/* test_listener.c: unit tests of listener.h on a real loop and loopback sockets: connections
 * accepted with their peer's address, non-blocking and close-on-exec; at most one batch per
 * readiness event; a pause, not a spin, when descriptors run out, and accepting again after it;
 * a failed start that says why and closes the socket; stop. Each test is a script (script.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "listener.h"
#include "loop.h"
#include "net.h"

#include "script.h"

#define TEST_LISTENER_MAX 128 /* client connections one test makes */

struct test_listener_env {
    struct loop *l;
    struct listener lis;
    struct net_addr addr;
    int clients[TEST_LISTENER_MAX];
    int nclients;
    int accepted;
    int bad_flags; /* accepted sockets not non-blocking or not close-on-exec */
    char peer[64];
    int turns;
    int in_first_turn; /* accepted during the first turn that accepted any */
    struct rlimit saved;
};

static void
test_listener_on_accept(void *arg, int fd, const struct sockaddr *peer)
{
    struct test_listener_env *e = arg;

    if (!(fcntl(fd, F_GETFL) & O_NONBLOCK) || !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
        e->bad_flags++;
    net_format_ip(peer, e->peer, sizeof(e->peer));
    e->accepted++;
    close(fd);
}

static int
test_listener_setup(void **state)
{
    struct test_listener_env *e = calloc(1, sizeof(*e));
    struct ngr_err err;
    int fd;

    if (e == NULL)
        return -1;
    e->l = loop_new();
    assert_non_null(e->l);
    snprintf(e->addr.host, sizeof(e->addr.host), "127.0.0.1");
    e->addr.port = 0;
    fd = net_listen(&e->addr, NGR_LISTEN_BACKLOG, &err);
    assert_true(fd >= 0);
    assert_true(e->addr.port != 0);
    assert_int_equal(
        listener_start(&e->lis, e->l, fd, "test port", test_listener_on_accept, e, &err), 0);
    *state = e;
    return 0;
}

static int
test_listener_teardown(void **state)
{
    struct test_listener_env *e = *state;
    int i;

    listener_stop(&e->lis);
    listener_stop(&e->lis); /* idempotent */
    for (i = 0; i < e->nclients; i++)
        close(e->clients[i]);
    loop_free(e->l);
    free(e);
    return 0;
}

/* Connects n clients (blocking: loopback connects complete in the kernel's accept queue). */
static void
test_listener_connect(struct test_listener_env *e, int n)
{
    struct sockaddr_in a;
    int i;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(e->addr.port);
    for (i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_true(e->nclients < TEST_LISTENER_MAX);
        e->clients[e->nclients++] = fd;
    }
}

/* Connections are accepted, non-blocking and close-on-exec, with the peer's address; many
 * waiting connections are taken a batch per readiness event, so one busy listener cannot hold
 * the loop, and all of them in the end. */
static int
test_listener_accepts_script(struct test_script *t)
{
    struct test_listener_env *e = t->arg;
    const int n = NGR_LISTENER_BATCH + 20;

    switch (t->phase) {
    case 0:
        test_listener_connect(e, n);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->accepted > 0, "the first accepts");
        /* One readiness event per turn for this listener: one batch so far. */
        assert_int_equal(e->accepted, NGR_LISTENER_BATCH);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->accepted == n, "every connection accepted");
        assert_int_equal(e->bad_flags, 0);
        assert_string_equal(e->peer, "127.0.0.1");
        return 1;
    }
    return 1;
}

static void
test_listener_accepts(void **state)
{
    struct test_listener_env *e = *state;

    test_script_run(e->l, test_listener_accepts_script, e);
}

/* Out of descriptors, the listener stops watching and arms its pause timer instead of waking
 * every turn for a connection it cannot take; after the pause it accepts what waited. */
static int
test_listener_emfile_script(struct test_script *t)
{
    struct test_listener_env *e = t->arg;
    struct rlimit low;
    int probe;

    switch (t->phase) {
    case 0:
        test_listener_connect(e, 1);
        /* The lowest free descriptor is the next one accept would get: allow none past it. */
        probe = dup(0);
        assert_true(probe >= 0);
        close(probe);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &e->saved), 0);
        low = e->saved;
        low.rlim_cur = (rlim_t)probe;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, loop_timer_armed(&e->lis.pause), "the accept pause after EMFILE");
        assert_int_equal(e->accepted, 0);
        assert_int_equal(e->lis.io.events, 0); /* not watched while paused */
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &e->saved), 0);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, e->accepted == 1, "the waiting connection, after the pause");
        assert_false(loop_timer_armed(&e->lis.pause));
        assert_int_equal(e->lis.io.events, LOOP_READ);
        return 1;
    }
    return 1;
}

static void
test_listener_emfile(void **state)
{
    struct test_listener_env *e = *state;

    test_script_run(e->l, test_listener_emfile_script, e);
    setrlimit(RLIMIT_NOFILE, &e->saved); /* also when a phase failed before restoring it */
}

/* A socket the loop cannot watch (a regular file: epoll refuses it): NGR_ESYS with the reason,
 * and the descriptor, owned by the listener from the call on, is closed. */
static void
test_listener_start_fails(void **state)
{
    struct test_listener_env *e = *state;
    struct listener bad;
    struct ngr_err err;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    (void)e;
    assert_true(fd >= 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(listener_start(&bad, e->l, fd, "file", test_listener_on_accept, e, &err),
                     NGR_ESYS);
    assert_int_equal(err.code, NGR_ESYS);
    assert_non_null(strstr(err.msg, "file: epoll_ctl: "));
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
    assert_int_equal(errno, EBADF);
    assert_int_equal(bad.fd, -1);
    listener_stop(&bad); /* nothing to stop */
}

#define TEST_LISTENER_TEST(f)                                                                      \
    cmocka_unit_test_setup_teardown(f, test_listener_setup, test_listener_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_LISTENER_TEST(test_listener_accepts),
        TEST_LISTENER_TEST(test_listener_emfile),
        TEST_LISTENER_TEST(test_listener_start_fails),
    };

    return cmocka_run_group_tests_name("listener", tests, NULL, NULL);
}
