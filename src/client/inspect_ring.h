/* inspect_ring.h: the exchanges the local inspector keeps: the last N, within a byte budget,
 * oldest dropped first. Each holds its capture (capture.h) and what the visitor got; nothing
 * is formatted here (the JSON is built only when the API is asked: inspect_api.h). Pure: no
 * I/O, no clock. */
#ifndef NGR_INSPECT_RING_H
#define NGR_INSPECT_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "capture.h"
#include "err.h"

/* What a finished exchange was, besides its bytes. */
struct inspect_record {
    size_t tunnel;        /* its tunnel: an index into the client's tunnels */
    int status;           /* the status the visitor got; 0: none */
    const char *error;    /* NULL: answered in full; else why not (copied) */
    uint64_t received_ms; /* the loop's clock: the request arrived, */
    uint64_t head_ms;     /* the local service's head went back (0: never), */
    uint64_t done_ms;     /* it ended */
    uint64_t replay_of;   /* the id of the exchange it replays (the inspector's), or 0 */
};

struct inspect_entry {
    TAILQ_ENTRY(inspect_entry) link;
    uint64_t id;               /* 1, 2, ... in the order they were kept; never reused in a run */
    struct inspect_record rec; /* rec.error points into this allocation */
    struct capture *cap;       /* owned */
    size_t cost;               /* bytes counted against the budget */
};

TAILQ_HEAD(inspect_list, inspect_entry);

struct inspect_ring {
    struct inspect_list list; /* oldest first */
    size_t n, max_n;          /* entries kept, and at most */
    size_t bytes, budget;     /* bytes they cost, and at most */
    uint64_t next_id;
    uint64_t dropped; /* entries let go for the count or the budget */
};

/* Empty, keeping at most max_n (>= 1) entries costing at most budget bytes in all. */
void inspect_ring_init(struct inspect_ring *g, size_t max_n, size_t budget);
/* Frees every entry. */
void inspect_ring_clear(struct inspect_ring *g);

/* Keeps an exchange: takes ownership of cap (NULL: nothing captured), shrunk first, and drops
 * the oldest entries until the new one fits the count and the budget. Returns the entry
 * (borrowed: valid until it is dropped or cleared), or NULL if out of memory or larger than the
 * whole budget (cap is freed then). */
struct inspect_entry *inspect_ring_add(struct inspect_ring *g, const struct inspect_record *rec,
                                       struct capture *cap);
/* The entry with this id, or NULL (never kept, or dropped since). */
struct inspect_entry *inspect_ring_find(const struct inspect_ring *g, uint64_t id);

#endif
