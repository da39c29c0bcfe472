/* tls_keys.h: certificates for the unit tests, made at run time with GnuTLS: a CA, and a server
 * certificate it signed for localhost and 127.0.0.1 (ECDSA P-256, valid from an hour ago for a
 * day). Server credentials hold the server's chain and key; client credentials trust the CA.
 * Header only; include after cmocka.h. */
#ifndef NGR_TEST_TLS_KEYS_H
#define NGR_TEST_TLS_KEYS_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <time.h>

struct tls_keys {
    gnutls_x509_privkey_t ca_key, key;
    gnutls_x509_crt_t ca, crt;
    gnutls_certificate_credentials_t server; /* crt and key */
    gnutls_certificate_credentials_t client; /* trusts ca */
};

static void
tls_keys_key(gnutls_x509_privkey_t *key)
{
    assert_int_equal(gnutls_x509_privkey_init(key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                  0),
                     0);
}

/* A certificate for key named cn with serial, valid from an hour ago for a day. */
static void
tls_keys_crt(gnutls_x509_crt_t *crt, gnutls_x509_privkey_t key, const char *cn, unsigned serial)
{
    unsigned char sn[4] = {(unsigned char)(serial >> 24), (unsigned char)(serial >> 16),
                           (unsigned char)(serial >> 8), (unsigned char)serial};
    unsigned char id[64];
    size_t idlen = sizeof(id);
    time_t now = time(NULL);

    assert_int_equal(gnutls_x509_crt_init(crt), 0);
    assert_int_equal(gnutls_x509_crt_set_version(*crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(*crt, sn, sizeof(sn)), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(*crt, now - 3600), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(*crt, now + 86400), 0);
    assert_int_equal(gnutls_x509_crt_set_dn_by_oid(*crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                                   (unsigned)strlen(cn)),
                     0);
    assert_int_equal(gnutls_x509_crt_set_key(*crt, key), 0);
    assert_int_equal(gnutls_x509_crt_get_key_id(*crt, 0, id, &idlen), 0);
    assert_int_equal(gnutls_x509_crt_set_subject_key_id(*crt, id, idlen), 0);
}

/* A CA named ca_cn and a server certificate it signed for the DNS name dns and, if ip is not
 * NULL, the IPv4 address ip (4 bytes). */
static void __attribute__((unused))
tls_keys_make_for(struct tls_keys *k, const char *ca_cn, const char *dns, const unsigned char *ip)
{
    unsigned char id[64];
    size_t idlen = sizeof(id);

    memset(k, 0, sizeof(*k));
    tls_keys_key(&k->ca_key);
    tls_keys_crt(&k->ca, k->ca_key, ca_cn, 1);
    assert_int_equal(gnutls_x509_crt_set_basic_constraints(k->ca, 1, -1), 0);
    assert_int_equal(
        gnutls_x509_crt_set_key_usage(k->ca, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN), 0);
    assert_int_equal(gnutls_x509_crt_sign2(k->ca, k->ca, k->ca_key, GNUTLS_DIG_SHA256, 0), 0);

    tls_keys_key(&k->key);
    tls_keys_crt(&k->crt, k->key, dns, 1001);
    assert_int_equal(gnutls_x509_crt_set_basic_constraints(k->crt, 0, -1), 0);
    assert_int_equal(gnutls_x509_crt_set_key_usage(k->crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
    assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(k->crt, GNUTLS_KP_TLS_WWW_SERVER, 0), 0);
    assert_int_equal(gnutls_x509_crt_set_subject_alt_name(k->crt, GNUTLS_SAN_DNSNAME, dns,
                                                          (unsigned)strlen(dns),
                                                          GNUTLS_FSAN_APPEND),
                     0);
    if (ip != NULL)
        assert_int_equal(gnutls_x509_crt_set_subject_alt_name(k->crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                                              GNUTLS_FSAN_APPEND),
                         0);
    assert_int_equal(gnutls_x509_crt_get_key_id(k->ca, 0, id, &idlen), 0);
    assert_int_equal(gnutls_x509_crt_set_authority_key_id(k->crt, id, idlen), 0);
    assert_int_equal(gnutls_x509_crt_sign2(k->crt, k->ca, k->ca_key, GNUTLS_DIG_SHA256, 0), 0);

    assert_int_equal(gnutls_certificate_allocate_credentials(&k->server), 0);
    assert_int_equal(gnutls_certificate_set_x509_key(k->server, &k->crt, 1, k->key), 0);
    assert_int_equal(gnutls_certificate_allocate_credentials(&k->client), 0);
    assert_int_equal(gnutls_certificate_set_x509_trust(k->client, &k->ca, 1), 1);
}

/* For localhost and 127.0.0.1. */
static void __attribute__((unused)) tls_keys_make(struct tls_keys *k, const char *ca_cn)
{
    static const unsigned char loopback[4] = {127, 0, 0, 1};

    tls_keys_make_for(k, ca_cn, "localhost", loopback);
}

static void __attribute__((unused)) tls_keys_free(struct tls_keys *k)
{
    gnutls_certificate_free_credentials(k->server);
    gnutls_certificate_free_credentials(k->client);
    gnutls_x509_crt_deinit(k->crt);
    gnutls_x509_crt_deinit(k->ca);
    gnutls_x509_privkey_deinit(k->key);
    gnutls_x509_privkey_deinit(k->ca_key);
    memset(k, 0, sizeof(*k));
}

#endif
