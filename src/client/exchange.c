/* exchange.c: the consumers of finished requests, in the order they were added; see
 * exchange.h. */
#include "exchange.h"

int
exchange_observe(struct exchange_observers *o, exchange_cb cb, void *arg)
{
    if (o->n >= NGR_EXCHANGE_OBSERVERS)
        return NGR_ELIMIT;
    o->list[o->n].cb = cb;
    o->list[o->n].arg = arg;
    o->n++;
    return 0;
}

void
exchange_publish(const struct exchange_observers *o, const struct exchange *x)
{
    size_t i;

    for (i = 0; i < o->n; i++)
        o->list[i].cb(o->list[i].arg, x);
}
