/* test_service_notify.c: unit tests of service_notify.h: the datagrams each call sends to
 * $NOTIFY_SOCKET (a socket the test binds), none without the variable, and none at all in a
 * build without libsystemd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service_notify.h"

struct notify_sock {
    char dir[64];
    char path[96];
    int fd;
};

static int
test_notify_setup(void **state)
{
    static struct notify_sock ns;
    struct sockaddr_un sa;

    snprintf(ns.dir, sizeof(ns.dir), "/tmp/ngr-notify-XXXXXX");
    assert_non_null(mkdtemp(ns.dir));
    snprintf(ns.path, sizeof(ns.path), "%s/notify", ns.dir);
    ns.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(ns.fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ns.path);
    assert_int_equal(bind(ns.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", ns.path, 1), 0);
    *state = &ns;
    return 0;
}

static int
test_notify_teardown(void **state)
{
    struct notify_sock *ns = *state;

    unsetenv("NOTIFY_SOCKET");
    close(ns->fd);
    unlink(ns->path);
    rmdir(ns->dir);
    return 0;
}

/* The next datagram, or "" when none comes within wait_ms. */
static const char *
test_notify_next(struct notify_sock *ns, int wait_ms)
{
    static char buf[2048];
    struct pollfd p = {.fd = ns->fd, .events = POLLIN};
    ssize_t n;

    buf[0] = '\0';
    if (poll(&p, 1, wait_ms) != 1)
        return buf;
    n = recv(ns->fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static void
test_notify_each_state(void **state)
{
    struct notify_sock *ns = *state;
    const char *m;

    if (!service_notify_built_in()) {
        /* Without libsystemd every call is a no-op: nothing reaches the socket. */
        service_notify_ready("listening");
        service_notify_reloading();
        service_notify_stopping();
        assert_string_equal(test_notify_next(ns, 100), "");
        return;
    }
    service_notify_ready("listening: control 127.0.0.1:8080");
    assert_string_equal(test_notify_next(ns, 5000),
                        "READY=1\nSTATUS=listening: control 127.0.0.1:8080");
    service_notify_ready(NULL);
    assert_string_equal(test_notify_next(ns, 5000), "READY=1");
    /* A status is one line: what follows a newline is not sent as another assignment. */
    service_notify_ready("one\nMAINPID=1");
    assert_string_equal(test_notify_next(ns, 5000), "READY=1\nSTATUS=one");
    service_notify_reloading();
    m = test_notify_next(ns, 5000);
    assert_true(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    assert_true(strlen(m) > 27 && strspn(m + 27, "0123456789") == strlen(m + 27));
    service_notify_stopping();
    assert_string_equal(test_notify_next(ns, 5000), "STOPPING=1");
}

static void
test_notify_unset_sends_nothing(void **state)
{
    struct notify_sock *ns = *state;

    unsetenv("NOTIFY_SOCKET");
    service_notify_ready("listening");
    service_notify_reloading();
    service_notify_stopping();
    assert_string_equal(test_notify_next(ns, 100), "");
}

static void
test_notify_socket_gone(void **state)
{
    struct notify_sock *ns = *state;

    /* Nobody at that path: the calls fail quietly and return. */
    assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/ngr-notify", 1), 0);
    service_notify_ready("listening");
    service_notify_stopping();
    assert_string_equal(test_notify_next(ns, 100), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notify_each_state, test_notify_setup,
                                        test_notify_teardown),
        cmocka_unit_test_setup_teardown(test_notify_unset_sends_nothing, test_notify_setup,
                                        test_notify_teardown),
        cmocka_unit_test_setup_teardown(test_notify_socket_gone, test_notify_setup,
                                        test_notify_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
