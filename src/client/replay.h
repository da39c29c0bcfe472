/* replay.h: replays each forwarded request against the local service with libcurl's multi
 * interface, driven by the client's loop, and streams the response back on the same stream. */
#ifndef NGR_REPLAY_H
#define NGR_REPLAY_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "err.h"
#include "frame.h"
#include "session.h"

/* Returns a new engine for cl (borrowed; outlives it), or NULL with a reason. Free with
 * replay_free, after the session closed (every request is dead then); it runs the loop's
 * deferred work. */
struct replay *replay_new(struct client *cl, struct ngr_err *err);
void replay_free(struct replay *r);

/* OPEN for tunnel t (borrowed; it outlives its requests): accepts the stream on cl->sess and
 * starts the request to t's local service. Returns 0; a request that cannot start is reset
 * with a reason, not an error of the session. Returns NGR_EPROTO for a bad stream id,
 * NGR_ENOMEM. */
NGR_MUST_CHECK int replay_open(struct replay *r, const struct client_tunnel *t,
                               uint32_t stream_id, const struct frame_head *h);

/* Turn hook work: resumes the transfers unpaused this turn (curl_easy_pause, which may call
 * the read or write callback at once and queue DATA or WINDOW), then runs libcurl's work due
 * now and collects finished transfers (curl_glue_run_due). Before the loop's deferred work, so
 * the session flush sends what it queued; finished requests are freed by deferrals. */
void replay_resume_and_run_due(struct replay *r);

/* For another transfer to a tunnel's local service (the inspector's replays): the options
 * every request to a local service shares (no proxy, HTTP/1.1, the target as is, nothing
 * decoded, the connect timeout), and those of t's service (a unix socket, TLS checks and CAs).
 * Callbacks, the URL and the request are the caller's. */
void replay_easy_defaults(CURL *e);
void replay_easy_local(struct replay *r, CURL *e, const struct client_tunnel *t);

/* Requests in flight. */
size_t replay_active(const struct replay *r);

#endif
