/* session_out.h: what session.c and session_out.c share and nobody else calls (libuv's
 * double-underscore names for internals). */
#ifndef NGR_SESSION_OUT_H
#define NGR_SESSION_OUT_H

#include "session.h"

/* Queued output is written once per turn, after the turn hook (a loop deferral): the frames of
 * many streams share one write. */
void session__mark_pending(struct session *s);
/* Writes what is queued, control frames first. Returns 0, or NGR_ECLOSED if the socket
 * failed. */
int session__flush(struct session *s);

#endif
