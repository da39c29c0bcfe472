/* heap_trim.h: gives the heap's free pages back to the kernel a while after memory was freed.
 *
 * glibc returns only the top of its heap by itself (past M_TRIM_THRESHOLD); a free page in the
 * middle stays resident, and the next allocation placed on it reuses it dirty. So what one
 * burst of big transfers wrote stayed resident for good, and a small request whose buffer
 * landed there held all of it: libcurl allocates its 256 KiB receive buffer for every
 * transfer and touches only what it reads into it. One malloc_trim a while after frees
 * (NGR_HEAP_TRIM_MS) gives those pages back, so an allocation costs the pages its owner writes
 * (docs/performance.md). */
#ifndef NGR_HEAP_TRIM_H
#define NGR_HEAP_TRIM_H

#include "loop.h"

/* Gives free heap pages back; malloc_trim by default, a counter in tests. */
typedef void (*heap_trim_fn)(void);

struct heap_trim {
    struct loop *loop;
    struct loop_timer timer; /* armed from the first note after a trim */
    heap_trim_fn fn;
    unsigned long trims; /* trims run so far */
};

/* fn NULL: malloc_trim(0). Arms nothing. */
void heap_trim_init(struct heap_trim *t, struct loop *l, heap_trim_fn fn);
/* Something was freed (a request, a connection): the heap is trimmed NGR_HEAP_TRIM_MS after the
 * first such note since the last trim, so a steady load trims once per period and a burst is
 * trimmed once it is over. Cheap enough for every request. */
void heap_trim_note(struct heap_trim *t);
/* Disarms; idempotent. */
void heap_trim_stop(struct heap_trim *t);

#endif
