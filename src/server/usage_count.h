/* usage_count.h: how many of something each key holds now (control connections per source
 * address, tunnels per token), for the limits on them. A uthash table of counts; a key whose
 * count falls to 0 is freed. */
#ifndef NGR_USAGE_COUNT_H
#define NGR_USAGE_COUNT_H

#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "err.h"

#define USAGE_KEY_MAX 64 /* bytes of a key: an address string or a token digest */

struct usage_count {
    UT_hash_handle hh;
    uint8_t key[USAGE_KEY_MAX];
    size_t len;
    unsigned n;
};

/* The count for key (0 if none). */
unsigned usage_get(struct usage_count *const *table, const void *key, size_t len);
/* One more for key; returns 0, or NGR_ENOMEM (nothing counted), or NGR_EINVAL (key too long). */
NGR_MUST_CHECK int usage_add(struct usage_count **table, const void *key, size_t len);
/* One less for key (nothing if it has none). */
void usage_drop(struct usage_count **table, const void *key, size_t len);
/* Frees every count. */
void usage_clear(struct usage_count **table);

#endif
