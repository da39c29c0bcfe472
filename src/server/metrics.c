/* metrics.c: what a finished public request adds to the gateway's counters and its tunnel's;
 * see metrics.h. metrics_text.c shows them. */
#include "metrics.h"
#include "latency_hist.h"
#include "server.h"
#include "tunnel_table.h"

size_t
metrics_class(int status)
{
    return status >= 100 && status <= 599 ? (size_t)(status / 100) : 0;
}

void
metrics_request(struct server *srv, struct tunnel *t, int status, uint64_t duration_us,
                uint32_t service_us)
{
    size_t c = metrics_class(status);

    srv->metrics.requests[c]++;
    if (t == NULL)
        return;
    t->by_class[c]++;
    latency_hist_add(&t->latency, duration_us);
    if (service_us > 0)
        latency_hist_add(&t->service_latency, service_us);
}

