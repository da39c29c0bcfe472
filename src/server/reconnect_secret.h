/* reconnect_secret.h: the secret a client keeps to take its names back after a lost connection
 * or a restart of either side (docs/protocol.md section 10). WELCOME hands one out; a later
 * HELLO presents it as resume. A secret is a random nonce and the gateway's HMAC-SHA-256 of it
 * under a key kept in the state directory, so a secret is checked without a table and only this
 * gateway's secrets pass. What the gateway stores of it is its holder id, a SHA-256 digest: a
 * leaked state file gives no secret away. GnuTLS does the hashing and the randomness. */
#ifndef NGR_RECONNECT_SECRET_H
#define NGR_RECONNECT_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

#define RECONNECT_KEY_LEN 32                  /* bytes of the signing key */
#define RECONNECT_SECRET_LEN NGR_SECRET_LEN   /* hex digits: 16 bytes of nonce, 16 of HMAC */
#define RECONNECT_HOLDER_LEN 32               /* hex digits of a holder id */

/* A fresh random key. Returns 0 or NGR_ESYS. */
NGR_MUST_CHECK int reconnect_key_new(uint8_t key[RECONNECT_KEY_LEN]);
/* A new secret under key, NUL-terminated. Returns 0 or NGR_ESYS. */
NGR_MUST_CHECK int reconnect_secret_new(const uint8_t key[RECONNECT_KEY_LEN],
                                        char out[RECONNECT_SECRET_LEN + 1]);
/* 1 if s (len bytes) is a secret made under key (compared in constant time), else 0. */
int reconnect_secret_valid(const uint8_t key[RECONNECT_KEY_LEN], const char *s, size_t len);
/* The holder id of secret s: what reservations store. NUL-terminated. */
void reconnect_secret_holder(const char *s, size_t len, char out[RECONNECT_HOLDER_LEN + 1]);

#endif
