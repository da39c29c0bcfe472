/* inspect_ring.c: the inspector's last exchanges within a count and a byte budget; see
 * inspect_ring.h. */
#include "inspect_ring.h"

#include <stdlib.h>
#include <string.h>

void
inspect_ring_init(struct inspect_ring *g, size_t max_n, size_t budget)
{
    memset(g, 0, sizeof(*g));
    TAILQ_INIT(&g->list);
    g->max_n = max_n > 0 ? max_n : 1;
    g->budget = budget;
    g->next_id = 1;
}

static void
inspect_ring_drop(struct inspect_ring *g, struct inspect_entry *e)
{
    TAILQ_REMOVE(&g->list, e, link);
    g->n--;
    g->bytes -= e->cost;
    capture_free(e->cap);
    free(e);
}

void
inspect_ring_clear(struct inspect_ring *g)
{
    struct inspect_entry *e;

    while ((e = TAILQ_FIRST(&g->list)) != NULL)
        inspect_ring_drop(g, e);
}

struct inspect_entry *
inspect_ring_add(struct inspect_ring *g, const struct inspect_record *rec, struct capture *cap)
{
    size_t elen = rec->error != NULL ? strlen(rec->error) + 1 : 0, cost;
    struct inspect_entry *e, *old;

    if (cap != NULL)
        capture_shrink(cap);
    cost = sizeof(*e) + elen + (cap != NULL ? capture_cost(cap) : 0);
    if (cost > g->budget) {
        capture_free(cap);
        return NULL;
    }
    e = malloc(sizeof(*e) + elen);
    if (e == NULL) {
        capture_free(cap);
        return NULL;
    }
    while ((old = TAILQ_FIRST(&g->list)) != NULL &&
           (g->n >= g->max_n || g->bytes + cost > g->budget)) {
        inspect_ring_drop(g, old);
        g->dropped++;
    }
    e->id = g->next_id++;
    e->rec = *rec;
    e->rec.error = NULL;
    if (rec->error != NULL)
        e->rec.error = memcpy((char *)(e + 1), rec->error, elen);
    e->cap = cap;
    e->cost = cost;
    TAILQ_INSERT_TAIL(&g->list, e, link);
    g->n++;
    g->bytes += cost;
    return e;
}

struct inspect_entry *
inspect_ring_find(const struct inspect_ring *g, uint64_t id)
{
    struct inspect_entry *e;

    TAILQ_FOREACH(e, &g->list, link)
    if (e->id == id)
        return e;
    return NULL;
}
