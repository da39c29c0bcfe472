/* live_stats.h: what the terminal's header says about the last minute of requests: how many a
 * second, and the median and 90th percentile of their durations. A bounded ring of the last
 * NGR_LIVE_DURATIONS durations and a count per second over NGR_LIVE_WINDOW_MS; pure, no
 * allocation (the caller places the struct), times in ms of any monotonic clock. */
#ifndef NGR_LIVE_STATS_H
#define NGR_LIVE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define LIVE_STATS_SECONDS (NGR_LIVE_WINDOW_MS / 1000)

struct live_stats {
    uint64_t start_ms;                      /* when counting began: the rate's first minute */
    uint64_t done_ms[NGR_LIVE_DURATIONS];   /* when each kept request ended */
    uint32_t dur_ms[NGR_LIVE_DURATIONS];    /* and how long it took */
    size_t next, n;                         /* the ring: next slot written, slots in use */
    uint64_t sec_stamp[LIVE_STATS_SECONDS]; /* which second (ms / 1000) each count is for */
    uint32_t sec_count[LIVE_STATS_SECONDS];
    uint32_t scratch[NGR_LIVE_DURATIONS]; /* live_stats_summary sorts here */
};

struct live_summary {
    size_t count;    /* durations in the window (at most NGR_LIVE_DURATIONS) */
    double per_s;    /* requests a second over the window (or since start, if shorter) */
    uint64_t p50_ms; /* 0 when count is 0 */
    uint64_t p90_ms;
};

/* Empties s; now_ms starts its first window. */
void live_stats_init(struct live_stats *s, uint64_t now_ms);
/* One request ended at done_ms after duration_ms. O(1). */
void live_stats_add(struct live_stats *s, uint64_t done_ms, uint64_t duration_ms);
/* The window ending at now_ms. Percentiles are nearest-rank over the durations kept. */
void live_stats_summary(struct live_stats *s, uint64_t now_ms, struct live_summary *out);

#endif
