/* live_view.h: what `ngrnotok http|tcp|start` prints on stdout while it runs: each tunnel's
 * Forwarding line, then one line per finished request (time, method, path, status, duration,
 * bytes). On a terminal (and TERM not "dumb") a status header is kept at the top, redrawn in
 * place: connection state, round trip to the gateway, open streams, requests a second and
 * p50/p90 durations over the last minute. Elsewhere plain lines only, with no escape codes.
 * --log-format json: one JSON object per line instead; --quiet: the URLs alone.
 *
 * Output goes through a bounded buffer written at the end of each loop turn, and only as far
 * as stdout takes it without blocking; a reader that stops reading loses request lines (the
 * count is printed once it reads again), never the loop. */
#ifndef NGR_LIVE_VIEW_H
#define NGR_LIVE_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "err.h"
#include "exchange.h"
#include "live_stats.h"

struct client;
struct client_tunnel;
struct live_view;

/* Returns a new view of cl (borrowed; outlives it) writing to fd, or NULL (out of memory).
 * The header is drawn when fd is a terminal, TERM is set and not "dumb", the mode is
 * CLI_OUTPUT_TEXT and the terminal is tall enough. Subscribes itself to cl->exchanges. */
struct live_view *live_view_new(struct client *cl, int fd, enum cli_output mode);
/* Puts the terminal back (scroll region), writes what is left (waiting at most a second for
 * stdout), frees v: after the replay engine, when no exchange can come. NULL does nothing. */
void live_view_free(struct live_view *v);
/* Tunnel t was bound (again): its Forwarding line, or its URL alone (quiet), or a JSON
 * object. */
void live_view_forwarding(struct live_view *v, const struct client_tunnel *t);
/* The inspector listens at url ("http://127.0.0.1:4040", ASCII from our own formatting): an
 * "Inspector URL" line, or a JSON object; nothing with --quiet. */
void live_view_inspector(struct live_view *v, const char *url);
/* 1 if v draws the header (tests, docs). */
int live_view_has_header(const struct live_view *v);

/* Formatting, pure (unit-tested). Each writes one line with its '\n' into out (cap bytes) and
 * returns its length, cut to cap - 1 if longer. clock: "HH:MM:SS" for text, an ISO 8601 UTC
 * time with milliseconds for JSON; name: the tunnel's config name, "" for none. */
size_t live_view_format_text(char *out, size_t cap, const struct exchange *x, const char *clock,
                             const char *name);
size_t live_view_format_json(char *out, size_t cap, const struct exchange *x, const char *clock,
                             const char *name);
/* s as the inside of a JSON string ('"', '\\' and control characters escaped), into out;
 * returns the length written, cut (never inside an escape) to fit cap - 1. */
size_t live_view_json_escape(char *out, size_t cap, const char *s);

/* What the header shows. */
struct live_header {
    const char *state; /* "online", "reconnecting", "connecting", "stopping" */
    uint64_t rtt_us;   /* 0: not measured yet */
    size_t streams;    /* open on the session */
    struct live_summary sum;
};
/* The header's rows below its first (the state row), each cut to cols columns and ended with
 * ESC [ K (clear to the end of the row) and "\r\n"; the caller places them. Returns the
 * length. */
size_t live_view_format_stats(char *out, size_t cap, const struct live_header *h, unsigned cols);

#endif
