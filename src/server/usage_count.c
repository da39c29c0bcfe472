/* usage_count.c: counts per key; see usage_count.h. */
#include "usage_count.h"

#include <stdlib.h>
#include <string.h>

static struct usage_count *
usage_find(struct usage_count *table, const void *key, size_t len)
{
    struct usage_count *u = NULL;

    if (len <= USAGE_KEY_MAX)
        HASH_FIND(hh, table, key, len, u);
    return u;
}

unsigned
usage_get(struct usage_count *const *table, const void *key, size_t len)
{
    struct usage_count *u = usage_find(*table, key, len);

    return u != NULL ? u->n : 0;
}

int
usage_add(struct usage_count **table, const void *key, size_t len)
{
    struct usage_count *u;

    if (len > USAGE_KEY_MAX)
        return NGR_EINVAL;
    u = usage_find(*table, key, len);
    if (u == NULL) {
        u = calloc(1, sizeof(*u));
        if (u == NULL)
            return NGR_ENOMEM;
        memcpy(u->key, key, len);
        u->len = len;
        HASH_ADD(hh, *table, key[0], len, u);
    }
    u->n++;
    return 0;
}

void
usage_drop(struct usage_count **table, const void *key, size_t len)
{
    struct usage_count *u = usage_find(*table, key, len);

    if (u == NULL)
        return;
    if (--u->n == 0) {
        HASH_DELETE(hh, *table, u);
        free(u);
    }
}

void
usage_clear(struct usage_count **table)
{
    struct usage_count *u, *tmp;

    HASH_ITER(hh, *table, u, tmp)
    {
        HASH_DELETE(hh, *table, u);
        free(u);
    }
}
