/* latency_hist.h: a latency histogram with fixed bucket bounds, as Prometheus histograms are
 * exposed (cumulative buckets, a sum and a count), and quantiles estimated from it the way
 * PromQL's histogram_quantile does (linear within a bucket). 152 bytes, no allocation: every
 * tunnel has two (its public side's time and its local service's). */
#ifndef NGR_LATENCY_HIST_H
#define NGR_LATENCY_HIST_H

#include <stddef.h>
#include <stdint.h>

#define LATENCY_HIST_BOUNDS 16 /* finite bounds; one more bucket holds the rest (+Inf) */

struct latency_hist {
    uint64_t count;
    uint64_t sum_us;
    uint64_t bucket[LATENCY_HIST_BOUNDS + 1]; /* per bucket, not cumulative */
};

/* The upper bound of bucket i (0 <= i < LATENCY_HIST_BOUNDS), in microseconds. */
uint64_t latency_hist_bound_us(size_t i);
void latency_hist_add(struct latency_hist *h, uint64_t us);
/* The q-quantile (0 < q < 1) in microseconds; 0 for an empty histogram. A quantile in the
 * last (+Inf) bucket is the highest finite bound, as PromQL gives. */
uint64_t latency_hist_quantile_us(const struct latency_hist *h, double q);

#endif
