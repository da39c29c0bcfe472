/* tunnel_table.c: two uthash indexes over the same tunnels, and the rings of pools; see
 * tunnel_table.h. */
#include "tunnel_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "err.h"
#include "session.h"

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

void
tunnel_retire(struct tunnel *t)
{
    t->retired = 1;
    if (t->streams == 0)
        tunnel_free(t);
}

void
tunnel_stream_end(struct tunnel *t)
{
    t->streams--;
    if (t->retired && t->streams == 0)
        tunnel_free(t);
}

int
tunnel_table_add(struct tunnel_table *tt, struct tunnel *t)
{
    struct tunnel *e = NULL;
    size_t len = strlen(t->slot);

    t->pool_next = t->pool_prev = t->pool_turn = t;
    if (len > 0) {
        HASH_FIND(hh_slot, tt->by_slot, t->slot, len, e);
        if (e != NULL && (!e->pool || !t->pool || strcmp(e->holder, t->holder) != 0)) {
            t->pool_next = t->pool_prev = t->pool_turn = NULL;
            return NGR_EEXIST;
        }
        if (e != NULL) { /* joins the ring, last in turn */
            t->pool_next = e;
            t->pool_prev = e->pool_prev;
            e->pool_prev->pool_next = t;
            e->pool_prev = t;
        } else {
            HASH_ADD_KEYPTR(hh_slot, tt->by_slot, t->slot, len, t);
        }
    }
    HASH_ADD(hh_id, tt->by_id, id, strlen(t->id), t);
    return 0;
}

size_t
tunnel_table_remove(struct tunnel_table *tt, struct tunnel *t)
{
    struct tunnel *e = NULL, *next = t->pool_next;
    size_t len = strlen(t->slot), left = 0;

    HASH_DELETE(hh_id, tt->by_id, t);
    if (len > 0) {
        HASH_FIND(hh_slot, tt->by_slot, t->slot, len, e);
        if (next != t) {
            left = tunnel_pool_size(t) - 1;
            if (e->pool_turn == t)
                e->pool_turn = next;
            t->pool_prev->pool_next = next;
            next->pool_prev = t->pool_prev;
            if (e == t) { /* the next member stands for the ring in the index */
                next->pool_turn = t->pool_turn;
                HASH_DELETE(hh_slot, tt->by_slot, t);
                HASH_ADD_KEYPTR(hh_slot, tt->by_slot, next->slot, len, next);
            }
        } else {
            HASH_DELETE(hh_slot, tt->by_slot, t);
        }
    }
    t->pool_next = t->pool_prev = t->pool_turn = NULL;
    return left;
}

struct tunnel *
tunnel_table_find_slot(const struct tunnel_table *tt, const char *slot, size_t len)
{
    struct tunnel *t = NULL;

    HASH_FIND(hh_slot, tt->by_slot, slot, len, t);
    return t;
}

/* "http:" and name into slot (NGR_SLOT_LEN bytes); returns its length, or 0 if name is too
 * long to be one. */
static size_t
tunnel_slot_of_name(char *slot, const char *name, size_t len)
{
    if (len > NGR_MAX_SUBDOMAIN)
        return 0;
    memcpy(slot, "http:", 5);
    memcpy(slot + 5, name, len);
    return 5 + len;
}

struct tunnel *
tunnel_table_find_subdomain(const struct tunnel_table *tt, const char *name, size_t len)
{
    char slot[NGR_SLOT_LEN];
    size_t n = tunnel_slot_of_name(slot, name, len);

    return n > 0 ? tunnel_table_find_slot(tt, slot, n) : NULL;
}

/* t's session is closing (its client gone, the teardown not yet run): routing passes it over. */
static int
tunnel_closing(const struct tunnel *t)
{
    return t->sess != NULL && t->sess->closing;
}

struct tunnel *
tunnel_table_route(struct tunnel_table *tt, const char *slot, size_t len)
{
    struct tunnel *e = tunnel_table_find_slot(tt, slot, len), *t;
    size_t n;

    if (e == NULL || e->pool_next == e)
        return e;
    n = tunnel_pool_size(e);
    do {
        t = e->pool_turn;
        e->pool_turn = t->pool_next;
    } while (tunnel_closing(t) && --n > 0);
    return t;
}

struct tunnel *
tunnel_table_route_subdomain(struct tunnel_table *tt, const char *name, size_t len)
{
    char slot[NGR_SLOT_LEN];
    size_t n = tunnel_slot_of_name(slot, name, len);

    return n > 0 ? tunnel_table_route(tt, slot, n) : NULL;
}

size_t
tunnel_pool_size(const struct tunnel *t)
{
    const struct tunnel *m = t;
    size_t n = 0;

    if (t->pool_next == NULL)
        return 0;
    do {
        n++;
        m = m->pool_next;
    } while (m != t);
    return n;
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
