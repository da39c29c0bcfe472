/* tls_io.c: TLS over a non-blocking socket with GnuTLS; see tls_io.h. GnuTLS reads and writes
 * the socket itself (its default transport: recv, and sendmsg with MSG_NOSIGNAL). */
#include "tls_io.h"
#include "limits.h"
#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_io {
    gnutls_session_t gs;
    size_t record;     /* plaintext bytes per record we send */
    int unsent;        /* a record GnuTLS took is not wholly on the socket */
    size_t unsent_len; /* its plaintext bytes (what GnuTLS reports once it is out) */
    int ready;         /* the handshake is done */
    int eof;           /* the peer closed */
    int failed;        /* a read or write failed for good: error says why */
    char error[NGR_ERR_LEN];
};

int
tls_io_client_cred(gnutls_certificate_credentials_t *cred, const char *ca_file, struct ngr_err *err)
{
    int rc = gnutls_certificate_allocate_credentials(cred);

    if (rc < 0)
        return err_set(err, NGR_ENOMEM, "TLS credentials: %s", gnutls_strerror(rc));
    if (ca_file != NULL)
        rc = gnutls_certificate_set_x509_trust_file(*cred, ca_file, GNUTLS_X509_FMT_PEM);
    else
        rc = gnutls_certificate_set_x509_system_trust(*cred);
    if (rc <= 0) {
        gnutls_certificate_free_credentials(*cred);
        *cred = NULL;
        if (ca_file == NULL)
            return err_set(err, NGR_EINVAL, "the system's trust store: %s",
                           rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
        return err_set(err, NGR_EINVAL, "%s: %s", ca_file,
                       rc < 0 ? gnutls_strerror(rc) : "no PEM certificate in it");
    }
    return 0;
}

/* A session of either side, with the program's priorities and cred. */
static struct tls_io *
tls_io_new(int fd, unsigned flags, gnutls_certificate_credentials_t cred, struct ngr_err *err)
{
    struct tls_io *t = calloc(1, sizeof(*t));
    const char *where = NULL;
    int rc;

    if (t == NULL) {
        err_set(err, NGR_ENOMEM, "out of memory");
        return NULL;
    }
    /* No tickets: every connection is a full handshake, and no ticket arrives after it. */
    rc = gnutls_init(&t->gs, flags | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS);
    if (rc < 0) {
        err_set(err, NGR_ENOMEM, "TLS session: %s", gnutls_strerror(rc));
        free(t);
        return NULL;
    }
    if ((rc = gnutls_priority_set_direct(t->gs, NGR_TLS_PRIORITIES, &where)) < 0 ||
        (rc = gnutls_credentials_set(t->gs, GNUTLS_CRD_CERTIFICATE, cred)) < 0) {
        err_set(err, NGR_EINVAL, "TLS session: %s", gnutls_strerror(rc));
        tls_io_free(t);
        return NULL;
    }
    gnutls_transport_set_int(t->gs, fd);
    t->record = NGR_TLS_RECORD;
    return t;
}

struct tls_io *
tls_io_client(int fd, gnutls_certificate_credentials_t cred, const char *host, struct ngr_err *err)
{
    struct tls_io *t = tls_io_new(fd, GNUTLS_CLIENT, cred, err);
    unsigned char addr[16];
    int rc = 0;

    if (t == NULL)
        return NULL;
    /* SNI takes DNS names only; a numeric address is checked against the certificate's IP
     * addresses all the same. */
    if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
        rc = gnutls_server_name_set(t->gs, GNUTLS_NAME_DNS, host, strlen(host));
    if (rc < 0) {
        err_set(err, NGR_EINVAL, "TLS server name %s: %s", host, gnutls_strerror(rc));
        tls_io_free(t);
        return NULL;
    }
    /* The handshake fails unless the chain leads to a trusted CA and names host. */
    gnutls_session_set_verify_cert(t->gs, host, 0);
    return t;
}

struct tls_io *
tls_io_server(int fd, gnutls_certificate_credentials_t cred, void *ptr, struct ngr_err *err)
{
    struct tls_io *t = tls_io_new(fd, GNUTLS_SERVER, cred, err);

    if (t == NULL)
        return NULL;
    gnutls_session_set_ptr(t->gs, ptr);
    return t;
}

/* 1 if rc says the connection itself went away (closed, reset, broken pipe). */
static int
tls_io_gone(int rc)
{
    return rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_PULL_ERROR ||
           rc == GNUTLS_E_PUSH_ERROR || rc == GNUTLS_E_SESSION_EOF;
}

int
tls_io_handshake(struct tls_io *t, uint32_t *events, struct ngr_err *err)
{
    int rc, e;

    do
        rc = gnutls_handshake(t->gs);
    while (rc < 0 && rc != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(rc));
    e = errno; /* the socket's own error, for a pull or push failure */
    if (rc == GNUTLS_E_SUCCESS) {
        size_t max = gnutls_record_get_max_size(t->gs);

        if (max > 0 && max < t->record)
            t->record = max;
        t->ready = 1;
        return 0;
    }
    if (rc == GNUTLS_E_AGAIN) {
        *events = gnutls_record_get_direction(t->gs) ? LOOP_WRITE : LOOP_READ;
        return NGR_EAGAIN;
    }
    if (rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR)
        return err_set(err, NGR_ECLOSED, "the connection failed: %s", strerror(e));
    if (tls_io_gone(rc))
        return err_set(err, NGR_ECLOSED, "the peer closed the connection");
    /* The peer is told why, if the socket takes the alert at once (the peer of a client that
     * does not trust it learns "bad certificate" instead of waiting for its deadline). */
    if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED)
        (void)gnutls_alert_send_appropriate(t->gs, rc);
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        unsigned status = gnutls_session_get_verify_cert_status(t->gs);
        gnutls_datum_t out = {NULL, 0};

        if (gnutls_certificate_verification_status_print(status, gnutls_certificate_type_get(t->gs),
                                                         &out, 0) == 0) {
            err_set(err, NGR_ETRUST, "%s", (const char *)out.data);
            gnutls_free(out.data);
            if (err != NULL) {
                size_t n = strlen(err->msg);

                while (n > 0 && err->msg[n - 1] == ' ')
                    err->msg[--n] = '\0'; /* GnuTLS ends each sentence with a space */
            }
            return NGR_ETRUST;
        }
        return err_set(err, NGR_ETRUST, "%s", gnutls_strerror(rc));
    }
    if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
        return err_set(err, NGR_EPROTO, "the peer refused the handshake: %s",
                       gnutls_alert_get_name(gnutls_alert_get(t->gs)));
    return err_set(err, NGR_EPROTO, "%s", gnutls_strerror(rc));
}

/* A read or write failed for good with rc: remembered, so the caller can say why. */
static void
tls_io_fail(struct tls_io *t, ssize_t rc)
{
    t->failed = 1;
    if (rc == GNUTLS_E_REHANDSHAKE)
        snprintf(t->error, sizeof(t->error), "the peer asked for a renegotiation (not done here)");
    else if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
        snprintf(t->error, sizeof(t->error), "TLS alert from the peer: %s",
                 gnutls_alert_get_name(gnutls_alert_get(t->gs)));
    else
        snprintf(t->error, sizeof(t->error), "TLS: %s", gnutls_strerror((int)rc));
}

ssize_t
tls_io_readv(struct tls_io *t, const struct iovec *iov, int cnt, int buffered_only)
{
    size_t total = 0, off = 0;
    int i = 0;

    while (i < cnt && !t->eof && !t->failed) {
        ssize_t r;

        if (off == iov[i].iov_len) {
            i++;
            off = 0;
            continue;
        }
        if (buffered_only && gnutls_record_check_pending(t->gs) == 0)
            break;
        r = gnutls_record_recv(t->gs, (uint8_t *)iov[i].iov_base + off, iov[i].iov_len - off);
        if (r > 0) {
            off += (size_t)r;
            total += (size_t)r;
        } else if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION) {
            t->eof = 1; /* close_notify, or the socket's end without it */
        } else if (r == GNUTLS_E_AGAIN) {
            break;
        } else if (r == GNUTLS_E_REHANDSHAKE || gnutls_error_is_fatal((int)r)) {
            tls_io_fail(t, r);
        }
        /* Other errors that are not fatal (GNUTLS_E_INTERRUPTED, a warning alert): read on. */
    }
    if (total > 0)
        return (ssize_t)total;
    if (t->eof)
        return 0;
    errno = t->failed ? EPROTO : EAGAIN;
    return -1;
}

/* Sends the rest of a record GnuTLS holds. Returns 0 (out, or there was none), NGR_EAGAIN, or
 * NGR_ECLOSED (failed). */
static int
tls_io_flush(struct tls_io *t)
{
    ssize_t r;

    if (!t->unsent)
        return 0;
    do
        r = gnutls_record_send(t->gs, NULL, 0);
    while (r == GNUTLS_E_INTERRUPTED);
    if (r == GNUTLS_E_AGAIN)
        return NGR_EAGAIN;
    if (r < 0) {
        tls_io_fail(t, r);
        return NGR_ECLOSED;
    }
    t->unsent = 0;
    /* GnuTLS reports the record's plaintext once it is out: if that is not what was counted
     * when it was taken, the caller's count of bytes sent is wrong, so the connection ends. */
    if ((size_t)r != t->unsent_len) {
        t->failed = 1;
        snprintf(t->error, sizeof(t->error), "TLS: a record of %zd bytes went out, %zu counted", r,
                 t->unsent_len);
        return NGR_ECLOSED;
    }
    return 0;
}

ssize_t
tls_io_writev(struct tls_io *t, const struct iovec *iov, int cnt)
{
    size_t total = 0;
    int i, rc;

    if (!t->failed && (rc = tls_io_flush(t)) != 0) {
        errno = rc == NGR_EAGAIN ? EAGAIN : EPIPE;
        return -1;
    }
    if (t->failed) {
        errno = EPIPE;
        return -1;
    }
    for (i = 0; i < cnt; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;

        while (left > 0) {
            size_t n = left < t->record ? left : t->record;
            ssize_t r = gnutls_record_send(t->gs, p, n);

            if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                /* GnuTLS encrypted the record and holds what the socket did not take: the
                 * bytes are taken, and the next call sends the rest with NULL, 0 (GnuTLS's
                 * rule) before anything new. The caller's queues only ever lose what was
                 * counted, so nothing else is sent between. */
                t->unsent = 1;
                t->unsent_len = n;
                total += n;
                if (r == GNUTLS_E_AGAIN || tls_io_flush(t) != 0)
                    return (ssize_t)total;
                p += n;
                left -= n;
                continue;
            }
            if (r <= 0) {
                tls_io_fail(t, r);
                if (total > 0)
                    return (ssize_t)total;
                errno = EPIPE;
                return -1;
            }
            if ((size_t)r < n)
                t->record = (size_t)r; /* the peer allows smaller records */
            p += r;
            left -= (size_t)r;
            total += (size_t)r;
        }
    }
    return (ssize_t)total;
}

size_t
tls_io_pending(const struct tls_io *t)
{
    return gnutls_record_check_pending(t->gs);
}

int
tls_io_unsent(const struct tls_io *t)
{
    return t->unsent;
}

const char *
tls_io_error(const struct tls_io *t)
{
    return t->failed ? t->error : "TLS: no error";
}

gnutls_session_t
tls_io_session(const struct tls_io *t)
{
    return t->gs;
}

void
tls_io_describe(const struct tls_io *t, char *out, size_t outlen)
{
    const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(t->gs));
    const char *c = gnutls_cipher_get_name(gnutls_cipher_get(t->gs));

    snprintf(out, outlen, "%s %s", v != NULL ? v : "TLS", c != NULL ? c : "");
}

void
tls_io_free(struct tls_io *t)
{
    if (t == NULL)
        return;
    /* One try, never waiting: the connection closes whatever the socket says. */
    if (t->ready && !t->failed && !t->eof)
        (void)gnutls_bye(t->gs, GNUTLS_SHUT_WR);
    gnutls_deinit(t->gs);
    free(t);
}
