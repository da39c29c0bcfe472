/* test_tls_io.c: unit tests of the TLS transport (tls_io.h) over loopback TCP, both ends on one
 * loop: the handshake driven by readiness, bulk bytes both ways through small socket buffers
 * (records the socket takes only in part), a peer that closes mid-handshake, decrypted bytes
 * left inside GnuTLS by a short read and read without the socket, close_notify, and
 * certificates that fail verification. The certificates are made at run time (tls_keys.h). The
 * session over TLS is tested in test_session.c. */
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_pair.h"
#include "err.h"
#include "limits.h"
#include "loop.h"
#include "tls_io.h"

#include "script.h"
#include "tls_keys.h"

#define TEST_TLS_BULK (4 * 1024 * 1024) /* bytes each way */
/* bytes: SO_SNDBUF and SO_RCVBUF in the bulk test, less than a record. Not less than this:
 * with 4 or 8 KiB, loopback TCP itself stalls both ways (a window that never reopens past its
 * 64 KiB MSS), TLS or not. */
#define TEST_TLS_SMALL_BUF 16384

/* One end: a TLS session on a socket, a handshake, and a byte stream each way. */
struct test_tls_end {
    struct test_tls_env *e;
    int fd;
    struct loop_io io;
    struct tls_io *t;
    int done; /* the handshake ended, rc says how */
    int rc;
    struct ngr_err err;
    const uint8_t *src; /* what it sends */
    size_t to_send, sent;
    uint8_t seed; /* of what it receives */
    size_t got, bad;
    int eof, failed;
    unsigned unsent_seen; /* writes that left a record inside GnuTLS */
    unsigned reads;
};

struct test_tls_env {
    struct loop *l;
    struct tls_keys keys;
    struct test_tls_end srv, cli;
    int raw_fd; /* a peer without TLS, in the mid-handshake tests */
    struct loop_io raw_io;
    size_t raw_got;
    int raw_closes; /* close the raw peer once it read something */
};

static uint8_t test_tls_a[TEST_TLS_BULK], test_tls_b[TEST_TLS_BULK];

static uint8_t
test_tls_pattern(uint8_t seed, size_t off)
{
    return (uint8_t)(seed + off * 7 + (off >> 11));
}

/* Reads what arrived, checking it against the pattern, through two iovecs of odd sizes. */
static void
test_tls_read(struct test_tls_end *d)
{
    static uint8_t buf[7 + 50000];

    for (;;) {
        struct iovec iov[2] = {{buf, 7}, {buf + 7, sizeof(buf) - 7}};
        ssize_t n = tls_io_readv(d->t, iov, 2, 0);
        size_t i;

        if (n < 0) {
            if (errno != EAGAIN)
                d->failed = 1;
            return;
        }
        if (n == 0) {
            d->eof = 1;
            return;
        }
        d->reads++;
        for (i = 0; i < (size_t)n; i++)
            if (buf[i] != test_tls_pattern(d->seed, d->got + i))
                d->bad++;
        d->got += (size_t)n;
        if ((size_t)n < sizeof(buf))
            return; /* a short read: nothing waits inside GnuTLS */
    }
}

/* Writes what is left, in two iovecs (1000 bytes, then up to 100 KB), until the socket is
 * full. */
static void
test_tls_write(struct test_tls_end *d)
{
    while (d->sent < d->to_send || tls_io_unsent(d->t)) {
        size_t left = d->to_send - d->sent, a = left < 1000 ? left : 1000;
        size_t b = left - a < 100000 ? left - a : 100000;
        struct iovec iov[2] = {{(void *)(d->src + d->sent), a},
                               {(void *)(d->src + d->sent + a), b}};
        ssize_t n = tls_io_writev(d->t, iov, left > 0 ? 2 : 0);

        if (n < 0) {
            if (errno != EAGAIN)
                d->failed = 1;
            return;
        }
        d->sent += (size_t)n;
        if (tls_io_unsent(d->t)) {
            d->unsent_seen++;
            return; /* the socket is full */
        }
    }
}

static void
test_tls_watch(struct test_tls_end *d, uint32_t events)
{
    assert_int_equal(loop_io_mod(d->e->l, &d->io, events), 0);
}

static void
test_tls_on_io(void *arg, uint32_t events)
{
    struct test_tls_end *d = arg;
    uint32_t want = LOOP_READ;

    (void)events;
    if (!d->done) {
        d->rc = tls_io_handshake(d->t, &want, &d->err);
        if (d->rc == NGR_EAGAIN) {
            test_tls_watch(d, want);
            return;
        }
        d->done = 1;
        test_tls_watch(d, d->rc == 0 ? LOOP_READ : 0);
        if (d->rc != 0)
            return;
    }
    if (d->eof || d->failed) {
        test_tls_watch(d, 0);
        return;
    }
    test_tls_read(d);
    test_tls_write(d);
    test_tls_watch(d, (d->eof || d->failed)
                          ? 0
                          : LOOP_READ |
                                (d->sent < d->to_send || tls_io_unsent(d->t) ? LOOP_WRITE : 0));
}

static void
test_tls_end_start(struct test_tls_env *e, struct test_tls_end *d, int fd, struct tls_io *t)
{
    d->e = e;
    d->fd = fd;
    d->t = t;
    assert_non_null(t);
    /* Both ends start at once: the client writes its ClientHello, the server waits for it. */
    assert_int_equal(loop_io_add(e->l, &d->io, fd, LOOP_READ | LOOP_WRITE, test_tls_on_io, d), 0);
}

/* A server and a client (checking host) on a fresh loopback connection. */
static void
test_tls_pair(struct test_tls_env *e, gnutls_certificate_credentials_t client_cred,
              const char *host)
{
    struct ngr_err err;
    int sv[2];

    test_tcp_pair(sv);
    test_tls_end_start(e, &e->srv, sv[0], tls_io_server(sv[0], e->keys.server, NULL, &err));
    test_tls_end_start(e, &e->cli, sv[1], tls_io_client(sv[1], client_cred, host, &err));
}

static void
test_tls_end_free(struct test_tls_env *e, struct test_tls_end *d)
{
    if (d->e == NULL)
        return;
    loop_io_del(e->l, &d->io);
    tls_io_free(d->t);
    d->t = NULL;
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
}

static int
test_tls_setup(void **state)
{
    struct test_tls_env *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return -1;
    e->l = loop_new();
    if (e->l == NULL) {
        free(e);
        return -1;
    }
    e->raw_fd = -1;
    e->srv.fd = e->cli.fd = -1;
    tls_keys_make(&e->keys, "ngrnotok unit test CA");
    *state = e;
    return 0;
}

static int
test_tls_teardown(void **state)
{
    struct test_tls_env *e = *state;

    test_tls_end_free(e, &e->srv);
    test_tls_end_free(e, &e->cli);
    if (e->raw_fd >= 0) {
        loop_io_del(e->l, &e->raw_io);
        close(e->raw_fd);
    }
    tls_keys_free(&e->keys);
    loop_free(e->l);
    free(e);
    return 0;
}

static int
test_tls_handshakes_done(const struct test_tls_env *e)
{
    return e->srv.done && e->cli.done;
}

/* The handshake, then 4 MiB each way at once through 16 KiB socket buffers: records go out in
 * pieces, the rest waiting inside GnuTLS, and every byte arrives in order. */
static int
test_tls_bulk_script(struct test_script *t)
{
    struct test_tls_env *e = t->arg;
    char desc[64];
    int small = TEST_TLS_SMALL_BUF;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_tls_handshakes_done(e), "both handshakes");
        if (e->srv.rc != 0 || e->cli.rc != 0)
            fail_msg("handshake: server %d (%s), client %d (%s)", e->srv.rc, e->srv.err.msg,
                     e->cli.rc, e->cli.err.msg);
        tls_io_describe(e->cli.t, desc, sizeof(desc));
        assert_non_null(strstr(desc, "TLS1.3"));
        assert_int_equal(tls_io_pending(e->cli.t), 0);
        assert_int_equal(tls_io_pending(e->srv.t), 0);
        assert_int_equal(setsockopt(e->srv.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        assert_int_equal(setsockopt(e->cli.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        assert_int_equal(setsockopt(e->cli.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        assert_int_equal(setsockopt(e->srv.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        e->srv.src = test_tls_a;
        e->srv.to_send = TEST_TLS_BULK;
        e->cli.seed = 1;
        e->cli.src = test_tls_b;
        e->cli.to_send = TEST_TLS_BULK;
        e->srv.seed = 2;
        test_tls_watch(&e->srv, LOOP_READ | LOOP_WRITE);
        test_tls_watch(&e->cli, LOOP_READ | LOOP_WRITE);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, e->cli.got == TEST_TLS_BULK && e->srv.got == TEST_TLS_BULK,
                          "4 MiB each way");
        assert_int_equal(e->cli.bad, 0);
        assert_int_equal(e->srv.bad, 0);
        assert_false(e->cli.failed || e->srv.failed);
        /* The small buffers cut records: their rest waited inside GnuTLS, and went first. */
        assert_true(e->srv.unsent_seen + e->cli.unsent_seen > 0);
        assert_false(tls_io_unsent(e->srv.t));
        assert_false(tls_io_unsent(e->cli.t));
        return 1;
    }
    return 0;
}

static void
test_tls_bulk(void **state)
{
    struct test_tls_env *e = *state;

    /* By address: the certificate names 127.0.0.1 as well as localhost. */
    test_tls_pair(e, e->keys.client, "127.0.0.1");
    test_script_run(e->l, test_tls_bulk_script, e);
}

/* The handshake by DNS name (SNI), then a short read leaves the rest of a record decrypted
 * inside GnuTLS, where the socket does not show it: tls_io_pending says so, and a buffered-only
 * read takes it without touching the socket, which still holds the next record. Then
 * close_notify: the reader sees the end. */
static int
test_tls_pending_script(struct test_script *t)
{
    struct test_tls_env *e = t->arg;
    static uint8_t big[64 * 1024];
    uint8_t small[100];
    struct iovec iov;
    int queued = 0;
    ssize_t n;
    size_t i;

    switch (t->phase) {
    case 0:
        TEST_SCRIPT_AWAIT(t, test_tls_handshakes_done(e), "both handshakes");
        if (e->srv.rc != 0 || e->cli.rc != 0)
            fail_msg("handshake: server %d (%s), client %d (%s)", e->srv.rc, e->srv.err.msg,
                     e->cli.rc, e->cli.err.msg);
        /* From here the test reads and writes itself. */
        test_tls_watch(&e->srv, 0);
        test_tls_watch(&e->cli, 0);
        iov.iov_base = test_tls_a;
        iov.iov_len = NGR_TLS_RECORD + 3616;
        assert_int_equal(tls_io_writev(e->cli.t, &iov, 1), NGR_TLS_RECORD + 3616);
        assert_false(tls_io_unsent(e->cli.t));
        t->phase++;
        return 0;
    case 1:
        /* Two records: 16384 and 3616 bytes, 22 bytes of TLS 1.3 framing each. */
        assert_int_equal(ioctl(e->srv.fd, FIONREAD, &queued), 0);
        TEST_SCRIPT_AWAIT(t, queued == NGR_TLS_RECORD + 3616 + 2 * 22, "both records");
        iov.iov_base = small;
        iov.iov_len = sizeof(small);
        assert_int_equal(tls_io_readv(e->srv.t, &iov, 1, 0), sizeof(small));
        assert_int_equal(tls_io_pending(e->srv.t), NGR_TLS_RECORD - sizeof(small));
        assert_int_equal(ioctl(e->srv.fd, FIONREAD, &queued), 0);
        assert_int_equal(queued, 3616 + 22); /* GnuTLS read one record, exactly */
        iov.iov_base = big;
        iov.iov_len = sizeof(big);
        n = tls_io_readv(e->srv.t, &iov, 1, 1);
        assert_int_equal(n, NGR_TLS_RECORD - sizeof(small));
        assert_int_equal(tls_io_pending(e->srv.t), 0);
        assert_int_equal(ioctl(e->srv.fd, FIONREAD, &queued), 0);
        assert_int_equal(queued, 3616 + 22); /* the socket was not read */
        for (i = 0; i < sizeof(small); i++)
            assert_int_equal(small[i], test_tls_a[i]);
        assert_memory_equal(big, test_tls_a + sizeof(small), (size_t)n);
        /* Buffered only, with nothing buffered: nothing, and still not the socket. */
        assert_int_equal(tls_io_readv(e->srv.t, &iov, 1, 1), -1);
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(ioctl(e->srv.fd, FIONREAD, &queued), 0);
        assert_int_equal(queued, 3616 + 22);
        /* A normal read takes the second record. */
        assert_int_equal(tls_io_readv(e->srv.t, &iov, 1, 0), 3616);
        assert_memory_equal(big, test_tls_a + NGR_TLS_RECORD, 3616);
        assert_int_equal(tls_io_readv(e->srv.t, &iov, 1, 0), -1);
        assert_int_equal(errno, EAGAIN);
        /* The client says goodbye (close_notify) and closes. */
        loop_io_del(e->l, &e->cli.io);
        tls_io_free(e->cli.t);
        e->cli.t = NULL;
        close(e->cli.fd);
        e->cli.fd = -1;
        e->cli.e = NULL;
        t->phase++;
        return 0;
    case 2:
        assert_int_equal(ioctl(e->srv.fd, FIONREAD, &queued), 0);
        TEST_SCRIPT_AWAIT(t, queued > 0, "the close_notify");
        iov.iov_base = big;
        iov.iov_len = sizeof(big);
        assert_int_equal(tls_io_readv(e->srv.t, &iov, 1, 0), 0);
        assert_int_equal(tls_io_readv(e->srv.t, &iov, 1, 0), 0); /* and it stays ended */
        return 1;
    }
    return 0;
}

static void
test_tls_pending(void **state)
{
    struct test_tls_env *e = *state;

    test_tls_pair(e, e->keys.client, "localhost");
    test_script_run(e->l, test_tls_pending_script, e);
}

/* A peer without TLS: reads what comes, and closes once it read something (raw_closes). */
static void
test_tls_raw_cb(void *arg, uint32_t events)
{
    struct test_tls_env *e = arg;
    uint8_t buf[4096];
    ssize_t n;

    (void)events;
    while ((n = read(e->raw_fd, buf, sizeof(buf))) > 0)
        e->raw_got += (size_t)n;
    if (n == 0 || (e->raw_closes && e->raw_got > 0)) {
        loop_io_del(e->l, &e->raw_io);
        close(e->raw_fd);
        e->raw_fd = -1;
    }
}

static int
test_tls_client_done_script(struct test_script *t)
{
    struct test_tls_env *e = t->arg;

    TEST_SCRIPT_AWAIT(t, e->cli.done, "the client's handshake to end");
    return 1;
}

static int
test_tls_server_done_script(struct test_script *t)
{
    struct test_tls_env *e = t->arg;

    TEST_SCRIPT_AWAIT(t, e->srv.done, "the server's handshake to end");
    return 1;
}

static int
test_tls_both_done_script(struct test_script *t)
{
    struct test_tls_env *e = t->arg;

    TEST_SCRIPT_AWAIT(t, test_tls_handshakes_done(e), "both handshakes to end");
    return 1;
}

/* The gateway closes after the ClientHello (a plain gateway does that on a TLS client): the
 * client's handshake ends with NGR_ECLOSED, at once and not at a deadline. */
static void
test_tls_server_closes(void **state)
{
    struct test_tls_env *e = *state;
    struct ngr_err err;
    int sv[2];

    test_tcp_pair(sv);
    e->raw_fd = sv[0];
    e->raw_closes = 1;
    assert_int_equal(loop_io_add(e->l, &e->raw_io, sv[0], LOOP_READ, test_tls_raw_cb, e), 0);
    test_tls_end_start(e, &e->cli, sv[1], tls_io_client(sv[1], e->keys.client, "localhost", &err));
    test_script_run(e->l, test_tls_client_done_script, e);
    assert_true(e->raw_got > 0);
    assert_int_equal(e->cli.rc, NGR_ECLOSED);
    assert_int_equal(e->cli.err.code, NGR_ECLOSED);
}

/* A client that sends its ClientHello and closes: the server's handshake ends with
 * NGR_ECLOSED. */
static void
test_tls_client_closes(void **state)
{
    struct test_tls_env *e = *state;
    struct ngr_err err;
    struct tls_io *c;
    uint32_t want = 0;
    int sv[2];

    test_tcp_pair(sv);
    c = tls_io_client(sv[1], e->keys.client, "localhost", &err);
    assert_non_null(c);
    assert_int_equal(tls_io_handshake(c, &want, &err), NGR_EAGAIN);
    assert_int_equal(want, LOOP_READ); /* the ClientHello went out: the answer is awaited */
    tls_io_free(c);
    close(sv[1]);
    test_tls_end_start(e, &e->srv, sv[0], tls_io_server(sv[0], e->keys.server, NULL, &err));
    test_script_run(e->l, test_tls_server_done_script, e);
    if (e->srv.rc != NGR_ECLOSED)
        fail_msg("server: %d (%s)", e->srv.rc, e->srv.err.msg);
}

/* Certificates that do not verify: one from a CA the client does not trust, and one that does
 * not name the host. The client's handshake ends with NGR_ETRUST and GnuTLS's reason; the
 * server's ends too, not at a deadline. */
static void
test_tls_untrusted_ca(void **state)
{
    struct test_tls_env *e = *state;
    struct tls_keys other;

    tls_keys_make(&other, "another CA");
    test_tls_pair(e, other.client, "localhost");
    test_script_run(e->l, test_tls_both_done_script, e);
    assert_int_equal(e->cli.rc, NGR_ETRUST);
    assert_non_null(strstr(e->cli.err.msg, "NOT trusted"));
    assert_non_null(strstr(e->cli.err.msg, "issuer is unknown"));
    assert_true(e->cli.err.msg[strlen(e->cli.err.msg) - 1] != ' ');
    /* The client said why (an alert): the server's handshake fails at once too. */
    if (e->srv.rc != NGR_EPROTO || strstr(e->srv.err.msg, "refused") == NULL)
        fail_msg("server: %d (%s)", e->srv.rc, e->srv.err.msg);
    test_tls_end_free(e, &e->cli);
    test_tls_end_free(e, &e->srv);
    tls_keys_free(&other);
}

static void
test_tls_wrong_name(void **state)
{
    struct test_tls_env *e = *state;

    test_tls_pair(e, e->keys.client, "gateway.example.test");
    test_script_run(e->l, test_tls_client_done_script, e);
    assert_int_equal(e->cli.rc, NGR_ETRUST);
    assert_non_null(strstr(e->cli.err.msg, "does not match"));
}

/* Credentials from a PEM file, and the refusals of a missing or empty one. */
static void
test_tls_client_cred_file(void **state)
{
    struct test_tls_env *e = *state;
    char path[] = "/tmp/ngrnotok-test-ca-XXXXXX";
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_datum_t pem = {NULL, 0};
    struct ngr_err err;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(gnutls_x509_crt_export2(e->keys.ca, GNUTLS_X509_FMT_PEM, &pem), 0);
    assert_int_equal(write(fd, pem.data, pem.size), (ssize_t)pem.size);
    gnutls_free(pem.data);
    close(fd);
    assert_int_equal(tls_io_client_cred(&cred, path, &err), 0);
    test_tls_pair(e, cred, "localhost");
    test_script_run(e->l, test_tls_both_done_script, e);
    assert_int_equal(e->cli.rc, 0);
    assert_int_equal(e->srv.rc, 0);
    test_tls_end_free(e, &e->cli);
    test_tls_end_free(e, &e->srv);
    gnutls_certificate_free_credentials(cred);

    /* A file with no certificate, and no file. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a certificate\n", 18), 18);
    close(fd);
    assert_int_equal(tls_io_client_cred(&cred, path, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_null(cred);
    unlink(path);
    assert_int_equal(tls_io_client_cred(&cred, path, &err), NGR_EINVAL);
    assert_non_null(strstr(err.msg, path));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_bulk, test_tls_setup, test_tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_pending, test_tls_setup, test_tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_server_closes, test_tls_setup, test_tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_closes, test_tls_setup, test_tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_untrusted_ca, test_tls_setup, test_tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_wrong_name, test_tls_setup, test_tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_cred_file, test_tls_setup,
                                        test_tls_teardown),
    };
    size_t i;

    for (i = 0; i < TEST_TLS_BULK; i++) {
        test_tls_a[i] = test_tls_pattern(1, i);
        test_tls_b[i] = test_tls_pattern(2, i);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
