/* tcp_pair.h: a connected pair of TCP sockets on loopback for unit tests that need a real
 * TCP connection (TCP_INFO, TCP_NOTSENT_LOWAT, TLS over it): sv[0] the accepted end, sv[1] the
 * connecting end, both non-blocking. Header-only, like guard.h. */
#ifndef NGR_TEST_TCP_PAIR_H
#define NGR_TEST_TCP_PAIR_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static inline void
test_tcp_pair(int sv[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 1), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
    sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(sv[1] >= 0);
    assert_int_equal(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
    sv[0] = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(sv[0] >= 0);
    close(ls);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

#endif
