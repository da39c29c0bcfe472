/* tls_cert.h: a TLS listener's certificate chain and key (PEM files), one struct tls_cert per
 * listener: the control port's and the public HTTPS listener's. Re-read on SIGHUP without
 * dropping connections: a handshake in progress keeps the set it started with, which lives
 * until the reload after next. Handshakes get the set in use through GnuTLS's certificate
 * callback: libmicrohttpd's (tls_cert_retrieve_https, whose listener is registered here, since
 * that callback carries no context of ours) or our own sessions' (tls_cert_credentials: the
 * GnuTLS session's pointer names the struct tls_cert). */
#ifndef NGR_TLS_CERT_H
#define NGR_TLS_CERT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "err.h"

struct tls_cert_set;

/* One listener's certificate: zeroed, it has none. */
struct tls_cert {
    struct tls_cert_set *cur;  /* what new handshakes get */
    struct tls_cert_set *prev; /* the one before: a handshake under way may still hold it */
};

/* Reads and checks cert_path (a PEM chain, the server's certificate first) and key_path (its
 * PEM private key), and makes them the set c's handshakes use. On error the set in use stays
 * and err says which file and why (a key that does not match the certificate included). */
NGR_MUST_CHECK int tls_cert_load(struct tls_cert *c, const char *cert_path, const char *key_path,
                                 struct ngr_err *err);
/* 1 once a set is loaded. */
int tls_cert_loaded(const struct tls_cert *c);
/* The certificate's subject names (DNS SANs, then IP addresses), comma-separated, for logs. */
void tls_cert_names(const struct tls_cert *c, char *out, size_t outlen);
/* Frees both sets (at exit). */
void tls_cert_free(struct tls_cert *c);

/* The public HTTPS listener's certificate, which tls_cert_retrieve_https hands out; c must
 * outlive the daemon. */
void tls_cert_set_https(struct tls_cert *c);
/* gnutls_certificate_retrieve_function2 for libmicrohttpd: the HTTPS listener's set in use. */
int tls_cert_retrieve_https(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                            const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                            gnutls_pcert_st **pcert, unsigned int *pcert_length,
                            gnutls_privkey_t *pkey);
/* Server credentials for our own TLS sessions: each handshake gets the set in use of the
 * struct tls_cert that is its session's pointer (tls_io_server's ptr). Returns 0 or NGR_ENOMEM;
 * free with gnutls_certificate_free_credentials. */
NGR_MUST_CHECK int tls_cert_credentials(gnutls_certificate_credentials_t *cred,
                                        struct ngr_err *err);

#endif
