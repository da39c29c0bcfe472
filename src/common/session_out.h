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
/* Closes s the way session_close does, without an ERROR: why (NULL: the reason already in
 * s->close_reason) is kept, and the owner hears on_closed at the end of the turn. Does nothing
 * to a session already closing. */
void session__end(struct session *s, const char *why);
/* The kernel's unsent limit (TCP_NOTSENT_LOWAT) for a control connection that delivers
 * bytes_per_s: NGR_UNSENT_US of it, within NGR_UNSENT_MIN and NGR_UNSENT_MAX. */
size_t session__unsent_for_rate(uint64_t bytes_per_s);
/* The DATA queue's cap for that rate: NGR_SESSION_OUT_DATA_US of it, within
 * NGR_SESSION_OUT_DATA and NGR_SESSION_OUT_DATA_MAX. */
size_t session__out_cap_for_rate(uint64_t bytes_per_s);
/* Whether s's peer is near (loopback, a LAN): its least PING round trip is known and at most
 * NGR_UNSENT_NEAR_US. */
int session__near(const struct session *s);
/* Sets s's unsent limit to lowat (nothing to do on a socketpair, which has no such option). */
void session__set_unsent(struct session *s, size_t lowat);

#endif
