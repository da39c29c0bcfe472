/* metrics_text.h: the text of GET /metrics (admin_api.c), from the counters of metrics.h and
 * each control connection's round trip (control.h). */
#ifndef NGR_METRICS_TEXT_H
#define NGR_METRICS_TEXT_H

#include <stddef.h>
#include <sys/types.h>

struct server;

/* A scrape, made piece by piece as libmicrohttpd sends it (so that its memory stays a piece's,
 * NGR_METRICS_PIECE, however many tunnels there are): new, read until it returns 0, free. A
 * tunnel that goes meanwhile is left out of the families not yet sent. NULL: out of memory. */
struct metrics_scrape *metrics_scrape_new(const struct server *srv);
/* Up to max bytes of the text into out: their count, 0 at its end, -1 out of memory. */
ssize_t metrics_scrape_read(struct metrics_scrape *s, char *out, size_t max);
void metrics_scrape_free(struct metrics_scrape *s);
/* The whole text at once (malloc'd, in *out, its length in *len), for tests. 0 or NGR_ENOMEM. */
int metrics_render(const struct server *srv, char **out, size_t *len);

#endif
