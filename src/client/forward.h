/* forward.h: raw connections to the local service: every stream of a TCP tunnel, and HTTP
 * requests that ask for a protocol upgrade (WebSocket). The request head of an upgrade is
 * written by hand and the response head read up to its blank line; after that, and for TCP
 * from the start, bytes flow through a pipe (pipe.h) in both directions. */
#ifndef NGR_FORWARD_H
#define NGR_FORWARD_H

#include <stdint.h>

#include "client.h"
#include "frame.h"

/* OPEN for TCP tunnel t or an upgrade request on t: accepts the stream and connects to t's
 * local service. Returns 0 (a
 * failure to connect resets the stream) or NGR_EPROTO for a bad stream id. */
NGR_MUST_CHECK int forward_open(struct client *cl, const struct client_tunnel *t,
                                uint32_t stream_id, const struct frame_head *h);

#endif
