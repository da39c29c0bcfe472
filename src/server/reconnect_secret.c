/* reconnect_secret.c: reconnect secrets, signed with the gateway's key; see reconnect_secret.h. */
#include "reconnect_secret.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#define RECONNECT_NONCE 16 /* bytes */
#define RECONNECT_MAC 16   /* bytes of the HMAC kept */

static void
reconnect_hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The HMAC of the nonce's hex digits, as hex. Returns 0 or NGR_ESYS. */
static int
reconnect_mac(const uint8_t key[RECONNECT_KEY_LEN], const char *nonce_hex,
              char out[2 * RECONNECT_MAC + 1])
{
    uint8_t mac[32];

    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, RECONNECT_KEY_LEN, nonce_hex,
                         2 * RECONNECT_NONCE, mac) != 0)
        return NGR_ESYS;
    reconnect_hex(mac, RECONNECT_MAC, out);
    return 0;
}

int
reconnect_key_new(uint8_t key[RECONNECT_KEY_LEN])
{
    return gnutls_rnd(GNUTLS_RND_KEY, key, RECONNECT_KEY_LEN) == 0 ? 0 : NGR_ESYS;
}

int
reconnect_secret_new(const uint8_t key[RECONNECT_KEY_LEN], char out[RECONNECT_SECRET_LEN + 1])
{
    uint8_t nonce[RECONNECT_NONCE];

    if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, sizeof(nonce)) != 0)
        return NGR_ESYS;
    reconnect_hex(nonce, sizeof(nonce), out);
    return reconnect_mac(key, out, out + 2 * RECONNECT_NONCE);
}

int
reconnect_secret_valid(const uint8_t key[RECONNECT_KEY_LEN], const char *s, size_t len)
{
    char nonce[2 * RECONNECT_NONCE + 1], mac[2 * RECONNECT_MAC + 1];
    unsigned diff = 0;
    size_t i;

    if (len != RECONNECT_SECRET_LEN)
        return 0;
    for (i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    memcpy(nonce, s, 2 * RECONNECT_NONCE);
    nonce[2 * RECONNECT_NONCE] = '\0';
    if (reconnect_mac(key, nonce, mac) != 0)
        return 0;
    for (i = 0; i < 2 * RECONNECT_MAC; i++)
        diff |= (unsigned)(mac[i] ^ s[2 * RECONNECT_NONCE + i]);
    return diff == 0;
}

void
reconnect_secret_holder(const char *s, size_t len, char out[RECONNECT_HOLDER_LEN + 1])
{
    uint8_t d[32];

    memset(d, 0, sizeof(d));
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, s, len, d) != 0)
        memset(d, 0, sizeof(d));
    reconnect_hex(d, RECONNECT_HOLDER_LEN / 2, out);
}
