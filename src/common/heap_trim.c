/* heap_trim.c: malloc_trim on a timer after frees; see heap_trim.h. */
#include "heap_trim.h"

#include "limits.h"

#include <malloc.h>

static void
heap_trim_malloc(void)
{
    malloc_trim(0);
}

static void
heap_trim_on_timer(void *arg)
{
    struct heap_trim *t = arg;

    t->fn();
    t->trims++;
}

void
heap_trim_init(struct heap_trim *t, struct loop *l, heap_trim_fn fn)
{
    t->loop = l;
    t->fn = fn != NULL ? fn : heap_trim_malloc;
    t->trims = 0;
    loop_timer_init(&t->timer, heap_trim_on_timer, t);
}

void
heap_trim_note(struct heap_trim *t)
{
    if (loop_timer_armed(&t->timer))
        return;
    /* Out of memory for the timer heap: no trim this time, which costs memory, not service. */
    (void)loop_timer_start(t->loop, &t->timer, NGR_HEAP_TRIM_MS);
}

void
heap_trim_stop(struct heap_trim *t)
{
    loop_timer_stop(t->loop, &t->timer);
}
