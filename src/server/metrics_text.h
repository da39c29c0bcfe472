/* metrics_text.h: the text of GET /metrics (admin_api.c), from the counters of metrics.h and
 * each control connection's round trip (control.h). */
#ifndef NGR_METRICS_TEXT_H
#define NGR_METRICS_TEXT_H

#include <stddef.h>

struct server;

/* The text (malloc'd, in *out, its length in *len). Returns 0 or NGR_ENOMEM. */
int metrics_render(const struct server *srv, char **out, size_t *len);

#endif
