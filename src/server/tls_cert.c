/* tls_cert.c: the gateway's certificates and keys for TLS, one per listener; see tls_cert.h. */
#include "tls_cert.h"
#include "limits.h"
#include "readfile.h"

#include <arpa/inet.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_cert_set {
    gnutls_pcert_st pcert[NGR_TLS_CHAIN_MAX];
    unsigned int n;
    gnutls_privkey_t key;
    char names[256]; /* DNS names and IP addresses of the first certificate */
};

/* The public HTTPS listener's (libmicrohttpd's callback has no context). */
static struct tls_cert *tls_cert_https;

static void
tls_cert_set_free(struct tls_cert_set *s)
{
    unsigned i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++)
        gnutls_pcert_deinit(&s->pcert[i]);
    if (s->key != NULL)
        gnutls_privkey_deinit(s->key);
    free(s);
}

/* The DNS and IP subject alternative names of the certificate in pem, comma-separated. */
static void
tls_cert_read_names(const gnutls_datum_t *pem, char *out, size_t outlen)
{
    gnutls_x509_crt_t crt;
    unsigned i;
    size_t o = 0;

    out[0] = '\0';
    if (gnutls_x509_crt_init(&crt) != 0)
        return;
    if (gnutls_x509_crt_import(crt, pem, GNUTLS_X509_FMT_PEM) == 0) {
        for (i = 0;; i++) {
            char name[256], ip[INET6_ADDRSTRLEN];
            size_t len = sizeof(name) - 1;
            int type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len, NULL);
            const char *shown = name;

            if (type < 0)
                break;
            if (type == GNUTLS_SAN_IPADDRESS && (len == 4 || len == 16))
                shown = inet_ntop(len == 4 ? AF_INET : AF_INET6, name, ip, sizeof(ip));
            else if (type != GNUTLS_SAN_DNSNAME)
                continue;
            else
                name[len] = '\0';
            if (shown == NULL)
                continue;
            o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0, "%s%s", o ? "," : "",
                                  shown);
            if (o >= outlen) {
                out[outlen - 1] = '\0';
                break;
            }
        }
    }
    gnutls_x509_crt_deinit(crt);
}

int
tls_cert_load(struct tls_cert *c, const char *cert_path, const char *key_path, struct ngr_err *err)
{
    struct tls_cert_set *s;
    gnutls_certificate_credentials_t check;
    gnutls_datum_t cert, key;
    char *ctext = NULL, *ktext = NULL;
    size_t clen, klen;
    int rc;

    if (readfile(cert_path, NGR_TLS_FILE_MAX, &ctext, &clen, err) != 0)
        return err->code;
    if (readfile(key_path, NGR_TLS_FILE_MAX, &ktext, &klen, err) != 0) {
        free(ctext);
        return err->code;
    }
    cert.data = (unsigned char *)ctext;
    cert.size = (unsigned)clen;
    key.data = (unsigned char *)ktext;
    key.size = (unsigned)klen;
    s = calloc(1, sizeof(*s));
    rc = s == NULL ? GNUTLS_E_MEMORY_ERROR : 0;
    /* GnuTLS checks the key against the certificate when both go into credentials. */
    if (rc == 0 && (rc = gnutls_certificate_allocate_credentials(&check)) == 0) {
        rc = gnutls_certificate_set_x509_key_mem2(check, &cert, &key, GNUTLS_X509_FMT_PEM, NULL,
                                                  0);
        gnutls_certificate_free_credentials(check);
        if (rc < 0)
            err_set(err, NGR_EINVAL, "%s with %s: %s", cert_path, key_path, gnutls_strerror(rc));
    }
    if (rc >= 0) {
        s->n = NGR_TLS_CHAIN_MAX;
        rc = gnutls_pcert_list_import_x509_raw(s->pcert, &s->n, &cert, GNUTLS_X509_FMT_PEM, 0);
        if (rc < 0) {
            s->n = 0;
            err_set(err, NGR_EINVAL, "%s: %s", cert_path, gnutls_strerror(rc));
        }
    }
    if (rc >= 0 && ((rc = gnutls_privkey_init(&s->key)) < 0 ||
                    (rc = gnutls_privkey_import_x509_raw(s->key, &key, GNUTLS_X509_FMT_PEM, NULL,
                                                         0)) < 0))
        err_set(err, NGR_EINVAL, "%s: %s", key_path, gnutls_strerror(rc));
    if (rc >= 0)
        tls_cert_read_names(&cert, s->names, sizeof(s->names));
    memset(ktext, 0, klen); /* the key's bytes are a secret */
    free(ktext);
    free(ctext);
    if (rc < 0) {
        if (s == NULL)
            err_set(err, NGR_ENOMEM, "out of memory");
        tls_cert_set_free(s);
        return err->code;
    }
    tls_cert_set_free(c->prev);
    c->prev = c->cur;
    c->cur = s;
    return 0;
}

int
tls_cert_loaded(const struct tls_cert *c)
{
    return c->cur != NULL;
}

void
tls_cert_names(const struct tls_cert *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", c->cur != NULL ? c->cur->names : "");
}

void
tls_cert_free(struct tls_cert *c)
{
    tls_cert_set_free(c->prev);
    tls_cert_set_free(c->cur);
    c->prev = c->cur = NULL;
}

/* Hands c's set in use to a handshake. */
static int
tls_cert_give(const struct tls_cert *c, gnutls_pcert_st **pcert, unsigned int *pcert_length,
              gnutls_privkey_t *pkey)
{
    if (c == NULL || c->cur == NULL)
        return -1;
    *pcert = c->cur->pcert;
    *pcert_length = c->cur->n;
    *pkey = c->cur->key;
    return 0;
}

void
tls_cert_set_https(struct tls_cert *c)
{
    tls_cert_https = c;
}

int
tls_cert_retrieve_https(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                        const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                        gnutls_pcert_st **pcert, unsigned int *pcert_length,
                        gnutls_privkey_t *pkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    return tls_cert_give(tls_cert_https, pcert, pcert_length, pkey);
}

/* Our own sessions' callback: the session's pointer is the listener's struct tls_cert. */
static int
tls_cert_retrieve_own(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    return tls_cert_give(gnutls_session_get_ptr(session), pcert, pcert_length, pkey);
}

int
tls_cert_credentials(gnutls_certificate_credentials_t *cred, struct ngr_err *err)
{
    int rc = gnutls_certificate_allocate_credentials(cred);

    if (rc < 0)
        return err_set(err, NGR_ENOMEM, "TLS credentials: %s", gnutls_strerror(rc));
    gnutls_certificate_set_retrieve_function2(*cred, tls_cert_retrieve_own);
    return 0;
}
