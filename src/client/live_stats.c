/* live_stats.c: the last minute of requests for the terminal's header; see live_stats.h. */
#include "live_stats.h"

#include <stdlib.h>
#include <string.h>

void
live_stats_init(struct live_stats *s, uint64_t now_ms)
{
    memset(s, 0, sizeof(*s));
    s->start_ms = now_ms;
}

void
live_stats_add(struct live_stats *s, uint64_t done_ms, uint64_t duration_ms)
{
    uint64_t sec = done_ms / 1000;
    size_t b = (size_t)(sec % LIVE_STATS_SECONDS);

    s->done_ms[s->next] = done_ms;
    s->dur_ms[s->next] = duration_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)duration_ms;
    s->next = (s->next + 1) % NGR_LIVE_DURATIONS;
    if (s->n < NGR_LIVE_DURATIONS)
        s->n++;
    if (s->sec_stamp[b] != sec) { /* the bucket last counted a second a minute ago or more */
        s->sec_stamp[b] = sec;
        s->sec_count[b] = 0;
    }
    s->sec_count[b]++;
}

static int
live_stats_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest duration with at least pct% of them at or below it. */
static uint64_t
live_stats_rank(const uint32_t *sorted, size_t n, unsigned pct)
{
    size_t rank = (n * pct + 99) / 100;

    return sorted[rank > 0 ? rank - 1 : 0];
}

void
live_stats_summary(struct live_stats *s, uint64_t now_ms, struct live_summary *out)
{
    uint64_t since = now_ms > NGR_LIVE_WINDOW_MS ? now_ms - NGR_LIVE_WINDOW_MS : 0;
    uint64_t now_sec = now_ms / 1000, total = 0, span_ms;
    size_t i, n = 0;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < s->n; i++)
        if (s->done_ms[i] > since && s->done_ms[i] <= now_ms)
            s->scratch[n++] = s->dur_ms[i];
    if (n > 0) {
        qsort(s->scratch, n, sizeof(s->scratch[0]), live_stats_cmp);
        out->p50_ms = live_stats_rank(s->scratch, n, 50);
        out->p90_ms = live_stats_rank(s->scratch, n, 90);
    }
    out->count = n;
    /* The seconds of the window, this one included: counted whole, so a burst just now shows
     * at once rather than a minute later. */
    for (i = 0; i < LIVE_STATS_SECONDS; i++)
        if (s->sec_stamp[i] + LIVE_STATS_SECONDS > now_sec && s->sec_stamp[i] <= now_sec)
            total += s->sec_count[i];
    span_ms = now_ms - s->start_ms;
    if (span_ms > NGR_LIVE_WINDOW_MS)
        span_ms = NGR_LIVE_WINDOW_MS;
    if (span_ms < 1000)
        span_ms = 1000;
    out->per_s = (double)total * 1000.0 / (double)span_ms;
}
