/* tunnel_table.c: two uthash indexes over the same tunnels; see tunnel_table.h. */
#include "tunnel_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "err.h"

struct tunnel *
tunnel_new(void)
{
    struct tunnel *t = calloc(1, sizeof(*t));
    uint8_t rnd[8];
    size_t i;

    if (t == NULL)
        return NULL;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        free(t);
        return NULL;
    }
    t->id[0] = 't';
    t->id[1] = 'n';
    t->id[2] = '_';
    for (i = 0; i < sizeof(rnd); i++)
        snprintf(t->id + 3 + 2 * i, 3, "%02x", rnd[i]);
    t->created_at = time(NULL);
    return t;
}

void
tunnel_free(struct tunnel *t)
{
    if (t == NULL)
        return;
    free(t->rules);
    free(t);
}

int
tunnel_table_add(struct tunnel_table *tt, struct tunnel *t)
{
    struct tunnel *old = NULL;
    size_t len = strlen(t->subdomain);

    if (len > 0) {
        HASH_FIND(hh_name, tt->by_name, t->subdomain, len, old);
        if (old != NULL)
            return NGR_EEXIST;
        HASH_ADD(hh_name, tt->by_name, subdomain, len, t);
    }
    HASH_ADD(hh_id, tt->by_id, id, strlen(t->id), t);
    return 0;
}

void
tunnel_table_remove(struct tunnel_table *tt, struct tunnel *t)
{
    if (t->subdomain[0] != '\0')
        HASH_DELETE(hh_name, tt->by_name, t);
    HASH_DELETE(hh_id, tt->by_id, t);
}

struct tunnel *
tunnel_table_find_subdomain(const struct tunnel_table *tt, const char *name, size_t len)
{
    struct tunnel *t = NULL;

    HASH_FIND(hh_name, tt->by_name, name, len, t);
    return t;
}

struct tunnel *
tunnel_table_find_id(const struct tunnel_table *tt, const char *id, size_t len)
{
    struct tunnel *t = NULL;

    HASH_FIND(hh_id, tt->by_id, id, len, t);
    return t;
}

size_t
tunnel_table_count(const struct tunnel_table *tt)
{
    return HASH_CNT(hh_id, tt->by_id);
}

struct tunnel *
tunnel_table_first(const struct tunnel_table *tt)
{
    return tt->by_id;
}

struct tunnel *
tunnel_table_next(struct tunnel *t)
{
    return t->hh_id.next;
}
