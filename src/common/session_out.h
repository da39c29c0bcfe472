/* session_out.h: what session.c, session_out.c and session_window.c share and nobody else
 * calls (libuv's double-underscore names for internals). */
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
/* Receive windows (session_window.c). n bytes of windows go back to the budgets. */
void session__give_budget(struct session *s, uint64_t n);
/* Pays for a new stream's initial window: always from the session's budget, from the shared
 * one only within its limit unless force. Returns 0 or NGR_EAGAIN. */
int session__charge_stream(struct session *s, int force);
/* A new stream's window starts where earlier streams needed it (the grant, sent with the next
 * returns). */
void session__grant_open(struct session *s, struct stream *st);
/* Sends WINDOW for what was drained (st) or received (the session), in batches, with any
 * growth; st may be NULL. */
void session__return_credit(struct session *s, struct stream *st);
/* What a stream showed about the windows new streams need (need bytes): kept unless an
 * earlier lesson, halved by its age, says more. */
void session__learn(struct session *s, uint32_t need);
/* st's window may grow after n drained bytes (window.c decides, the budgets allow). */
void session__tune(struct session *s, struct stream *st, uint32_t n);

/* Sets s's unsent limit to lowat (nothing to do on a socketpair, which has no such option). */
void session__set_unsent(struct session *s, size_t lowat);

#endif
