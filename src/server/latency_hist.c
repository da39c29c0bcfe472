/* latency_hist.c: see latency_hist.h. */
#include "latency_hist.h"

/* 1 ms to 5 min: small responses on loopback land in the first buckets, long polls (the
 * default response timeout is 300 s) in the last. */
static const uint64_t latency_hist_bounds_us[LATENCY_HIST_BOUNDS] = {
    1000,    2500,    5000,     10000,    25000,    50000,    100000,   250000,
    500000,  1000000, 2500000,  5000000,  10000000, 30000000, 60000000, 300000000,
};

uint64_t
latency_hist_bound_us(size_t i)
{
    return i < LATENCY_HIST_BOUNDS ? latency_hist_bounds_us[i] : UINT64_MAX;
}

void
latency_hist_add(struct latency_hist *h, uint64_t us)
{
    size_t lo = 0, hi = LATENCY_HIST_BOUNDS;

    /* The first bound >= us (le: "less than or equal"), by bisection; none: +Inf. */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (latency_hist_bounds_us[mid] >= us)
            hi = mid;
        else
            lo = mid + 1;
    }
    h->bucket[lo]++;
    h->count++;
    h->sum_us += us;
}

uint64_t
latency_hist_quantile_us(const struct latency_hist *h, double q)
{
    double rank, below = 0;
    size_t i;

    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    rank = q * (double)h->count;
    for (i = 0; i <= LATENCY_HIST_BOUNDS; i++) {
        double n = (double)h->bucket[i];

        if (n > 0 && below + n >= rank) {
            double lo, up;

            if (i == LATENCY_HIST_BOUNDS)
                return latency_hist_bounds_us[LATENCY_HIST_BOUNDS - 1];
            lo = i == 0 ? 0 : (double)latency_hist_bounds_us[i - 1];
            up = (double)latency_hist_bounds_us[i];
            return (uint64_t)(lo + (up - lo) * ((rank - below) / n));
        }
        below += n;
    }
    return latency_hist_bounds_us[LATENCY_HIST_BOUNDS - 1];
}
