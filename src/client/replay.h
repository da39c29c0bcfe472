/* replay.h: replays each forwarded request against the local service with libcurl's multi
 * interface, driven by the client's loop, and streams the response back on the same stream. */
#ifndef NGR_REPLAY_H
#define NGR_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "err.h"
#include "frame.h"
#include "session.h"

/* Returns a new engine for cl (borrowed; outlives it), or NULL with a reason. Free with
 * replay_free. */
struct replay *replay_new(struct client *cl, struct ngr_err *err);
void replay_free(struct replay *r);

/* OPEN for our tunnel: accepts the stream on cl->sess and starts the local request. Returns 0;
 * a request that cannot start is reset with a reason, not an error of the session. Returns
 * NGR_EPROTO for a bad stream id. */
int replay_open(struct replay *r, uint32_t stream_id, const struct frame_head *h);

/* Stream events from control.c. */
int replay_on_data(struct stream *st, const uint8_t *p, size_t n, int end);
void replay_on_reset(struct stream *st, uint32_t code, struct frame_str message);
void replay_on_writable(struct stream *st);

/* End of a loop turn: resumes paused transfers, runs libcurl's due timeouts, frees finished
 * requests. Must run before the session flush. */
void replay_turn_end(struct replay *r);

/* Requests in flight. */
size_t replay_active(const struct replay *r);

#endif
