/* tls_cert.h: the gateway's certificate chain and key (PEM files) for TLS handshakes: the
 * public HTTPS listener's (libmicrohttpd asks through tls_cert_retrieve). Re-read on SIGHUP
 * without dropping connections: a handshake in progress keeps the set it started with, which
 * lives until the reload after next. One set per process, since libmicrohttpd's certificate
 * callback carries no context. */
#ifndef NGR_TLS_CERT_H
#define NGR_TLS_CERT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "err.h"

/* Reads and checks cert_path (a PEM chain, the server's certificate first) and key_path (its
 * PEM private key), and makes them the set handshakes use. On error the set in use stays and
 * err says which file and why (a key that does not match the certificate included). */
NGR_MUST_CHECK int tls_cert_load(const char *cert_path, const char *key_path, struct ngr_err *err);
/* 1 once a set is loaded. */
int tls_cert_loaded(void);
/* The certificate's subject names (DNS SANs), comma-separated, for the startup log. */
void tls_cert_names(char *out, size_t outlen);
/* gnutls_certificate_retrieve_function2: the set in use. */
int tls_cert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);
/* Frees every set (at exit). */
void tls_cert_free(void);

#endif
