/* session_preface.h: the gateway's check of a new control connection's first bytes, which must
 * be the preface (docs/protocol.md section 2); what is not gets words its sender can show: an
 * HTTP answer for a browser or curl, a log line naming TLS, or a PROXY header from a peer not
 * trusted. Pure: session.c closes the session with what it says. */
#ifndef NGR_SESSION_PREFACE_H
#define NGR_SESSION_PREFACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Why the bytes are not the preface. */
struct preface_refusal {
    const char *why;   /* for the log: what the sender seems to be */
    const char *reply; /* bytes to send back before closing, or NULL */
    size_t reply_len;
};

/* Checks p[0..len) against the preface from its byte off (what matched before). Returns how
 * many bytes matched (all of them, up to the preface's end), or -1 with r filled. */
ssize_t preface_check(size_t off, const uint8_t *p, size_t len, struct preface_refusal *r);

#endif
