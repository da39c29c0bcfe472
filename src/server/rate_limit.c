/* rate_limit.c: a token bucket; see rate_limit.h. */
#include "rate_limit.h"
#include "limits.h"

#include <stdlib.h>
#include <string.h>

int
rate_limit_parse(const char *s, size_t len, uint32_t *per_s, struct ngr_err *err)
{
    unsigned long long n = 0;
    size_t i = 0;
    int minute = 0;

    while (i < len && s[i] >= '0' && s[i] <= '9' && n <= NGR_RATE_MAX)
        n = n * 10 + (unsigned)(s[i++] - '0');
    if (i < len && (len - i == 2 && s[i] == '/' && (s[i + 1] == 's' || s[i + 1] == 'm')))
        minute = s[i + 1] == 'm', i = len;
    if (i == 0 || i != len || n == 0 || n > NGR_RATE_MAX)
        return err_set(err, NGR_EINVAL,
                       "rate \"%.*s\": expected requests a second as N/s (or a minute, N/m), "
                       "1 to %d a second",
                       (int)(len > 32 ? 32 : len), s, NGR_RATE_MAX);
    *per_s = minute ? (uint32_t)((n + 59) / 60) : (uint32_t)n;
    return 0;
}

void
rate_limit_init(struct rate_limit *r, uint32_t per_s, uint32_t burst, uint64_t now_ms)
{
    r->per_s = per_s;
    r->burst = burst != 0 ? burst : per_s;
    r->milli = (uint64_t)r->burst * 1000;
    r->last_ms = now_ms;
}

uint32_t
rate_limit_take(struct rate_limit *r, uint64_t now_ms)
{
    uint64_t cap = (uint64_t)r->burst * 1000;

    if (r->per_s == 0)
        return 0;
    if (now_ms > r->last_ms) {
        /* per_s tokens a second are per_s thousandths a millisecond. */
        uint64_t add = (now_ms - r->last_ms) * r->per_s;

        r->milli = add >= cap - r->milli ? cap : r->milli + add;
        r->last_ms = now_ms;
    }
    if (r->milli >= 1000) {
        r->milli -= 1000;
        return 0;
    }
    /* Seconds until 1000 thousandths are there, rounded up. */
    return (uint32_t)(((1000 - r->milli) + (uint64_t)r->per_s * 1000 - 1) /
                      ((uint64_t)r->per_s * 1000));
}
