/* rate_limit.h: a token bucket for a tunnel's request rate (ngrnotok http --rate-limit N/s,
 * --rate-burst B, capped by the gateway's --max-rate): N tokens a second, at most B held; a
 * request takes one or gets 429 with the seconds until the next. Pure arithmetic on a clock in
 * milliseconds (unit-tested). */
#ifndef NGR_RATE_LIMIT_H
#define NGR_RATE_LIMIT_H

#include <stdint.h>

#include "err.h"

struct rate_limit {
    uint32_t per_s;     /* tokens a second; 0: no limit */
    uint32_t burst;     /* the most held */
    uint64_t milli;     /* tokens held, in thousandths */
    uint64_t last_ms;   /* when milli was last brought up to date */
};

/* Parses "N/s" (or "N", "N/m" for a minute's, rounded up to a second's) into a rate a second.
 * Returns 0 or NGR_EINVAL with a reason. */
int rate_limit_parse(const char *s, size_t len, uint32_t *per_s, struct ngr_err *err);
/* A full bucket at now_ms; burst 0 takes the rate itself (one second's worth). */
void rate_limit_init(struct rate_limit *r, uint32_t per_s, uint32_t burst, uint64_t now_ms);
/* Takes a token: 0, or the seconds (at least 1) until one is there. */
uint32_t rate_limit_take(struct rate_limit *r, uint64_t now_ms);

#endif
