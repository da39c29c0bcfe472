/* tls_io.h: TLS (GnuTLS) over a connected non-blocking socket, for the control connection. The
 * handshake is driven by the loop's readiness events; after it, reads and writes have the shape
 * of readv and writev (bytes, or -1 with errno), so that session.c and session_out.c call them
 * where they would call those two.
 *
 * Two things differ from a plain socket, and the session minds both:
 * - Written bytes are counted once GnuTLS has encrypted them. A record the socket did not take
 *   whole stays inside GnuTLS (tls_io_unsent); the next write sends its rest first, and the
 *   caller keeps EPOLLOUT armed until it is gone, as it does for its own queues.
 * - Decrypted bytes can wait inside GnuTLS where epoll does not see them (tls_io_pending): a
 *   reader that stops early must come back for them itself. */
#ifndef NGR_TLS_IO_H
#define NGR_TLS_IO_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "err.h"

struct tls_io;

/* A client's credentials: the CA certificates of ca_file (PEM), or with ca_file NULL the
 * system's trust store. Returns 0 or NGR_EINVAL with the reason. */
NGR_MUST_CHECK int tls_io_client_cred(gnutls_certificate_credentials_t *cred, const char *ca_file,
                                      struct ngr_err *err);

/* A client session on fd that checks the server's certificate against cred and its name
 * against host (a DNS name, sent as SNI, or a numeric address). NULL with the reason on error.
 * fd stays the caller's: tls_io_free does not close it. */
struct tls_io *tls_io_client(int fd, gnutls_certificate_credentials_t cred, const char *host,
                             struct ngr_err *err);
/* A server session on fd with cred (its certificate, for instance through a retrieve function);
 * ptr becomes the GnuTLS session's pointer (gnutls_session_get_ptr), for cred's callbacks. */
struct tls_io *tls_io_server(int fd, gnutls_certificate_credentials_t cred, void *ptr,
                             struct ngr_err *err);

/* Goes on with the handshake. Returns 0 once it is done; NGR_EAGAIN when the socket must be
 * ready first, for *events (LOOP_READ or LOOP_WRITE); NGR_ECLOSED if the peer closed or reset
 * the connection; NGR_ETRUST if the peer's certificate failed verification (err says why, from
 * gnutls_certificate_verification_status_print); NGR_EPROTO for any other failure. */
int tls_io_handshake(struct tls_io *t, uint32_t *events, struct ngr_err *err);

/* Reads decrypted bytes into iov[0..cnt) in order, record after record, until they are full
 * or the socket has nothing more. Returns the bytes read, 0 once the peer closed, or -1 with
 * errno EAGAIN (nothing yet) or EPROTO (TLS failed: tls_io_error says why). A short count means
 * the socket had no more, as with readv, and nothing waits inside GnuTLS. With buffered_only,
 * only bytes already decrypted inside GnuTLS are read, and the socket is not touched. */
ssize_t tls_io_readv(struct tls_io *t, const struct iovec *iov, int cnt, int buffered_only);
/* Encrypts and sends iov[0..cnt) in order, at most NGR_TLS_RECORD bytes per record, after the
 * rest of a record left unsent by the last call. Returns the bytes taken (a record that only
 * went partly out counts whole: tls_io_unsent is then set), or -1 with errno EAGAIN (nothing
 * taken) or EPIPE (TLS failed). cnt 0 only sends that rest: 0 once it is out. */
ssize_t tls_io_writev(struct tls_io *t, const struct iovec *iov, int cnt);
/* Decrypted bytes waiting inside GnuTLS. */
size_t tls_io_pending(const struct tls_io *t);
/* 1 while a record is inside GnuTLS, not yet wholly on the socket. */
int tls_io_unsent(const struct tls_io *t);
/* The last failure of a read or write, as a sentence. */
const char *tls_io_error(const struct tls_io *t);
/* t's GnuTLS session, for what this interface does not cover (the tests replace its transport
 * to cut records where they choose). */
gnutls_session_t tls_io_session(const struct tls_io *t);
/* The protocol and cipher, "TLS1.3 AES-256-GCM", for logs. */
void tls_io_describe(const struct tls_io *t, char *out, size_t outlen);

/* Sends close_notify if the socket takes it at once, and frees t (not its fd). NULL is
 * ignored. */
void tls_io_free(struct tls_io *t);

#endif
