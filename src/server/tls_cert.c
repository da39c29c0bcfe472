/* tls_cert.c: the gateway's certificate and key for TLS; see tls_cert.h. */
#include "tls_cert.h"
#include "limits.h"
#include "readfile.h"

#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_cert_set {
    gnutls_pcert_st pcert[NGR_TLS_CHAIN_MAX];
    unsigned int n;
    gnutls_privkey_t key;
    char names[256]; /* DNS names of the first certificate */
};

/* The set in use, and the one before it (a handshake may still hold it). */
static struct tls_cert_set *tls_cert_cur, *tls_cert_prev;

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

/* The DNS subject alternative names of crt, comma-separated. */
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
            char name[256];
            size_t len = sizeof(name) - 1;
            int type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len, NULL);

            if (type < 0)
                break;
            if (type != GNUTLS_SAN_DNSNAME)
                continue;
            name[len] = '\0';
            o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0, "%s%s", o ? "," : "",
                                  name);
            if (o >= outlen) {
                out[outlen - 1] = '\0';
                break;
            }
        }
    }
    gnutls_x509_crt_deinit(crt);
}

int
tls_cert_load(const char *cert_path, const char *key_path, struct ngr_err *err)
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
    tls_cert_set_free(tls_cert_prev);
    tls_cert_prev = tls_cert_cur;
    tls_cert_cur = s;
    return 0;
}

int
tls_cert_loaded(void)
{
    return tls_cert_cur != NULL;
}

void
tls_cert_names(char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", tls_cert_cur != NULL ? tls_cert_cur->names : "");
}

int
tls_cert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                  const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                  gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (tls_cert_cur == NULL)
        return -1;
    *pcert = tls_cert_cur->pcert;
    *pcert_length = tls_cert_cur->n;
    *pkey = tls_cert_cur->key;
    return 0;
}

void
tls_cert_free(void)
{
    tls_cert_set_free(tls_cert_prev);
    tls_cert_set_free(tls_cert_cur);
    tls_cert_prev = tls_cert_cur = NULL;
}
