/* http_request_head.h: a public request's head as libmicrohttpd parsed it -> the head its OPEN
 * carries (docs/protocol.md, section 16): checked (http_request_check.h), hop-by-hop fields
 * removed, X-Forwarded-For/-Proto/-Host said by us and the client's own dropped, an upgrade recognised, the body kind from Content-Length and
 * Transfer-Encoding. And, beside it, the filter on the way back: which fields of a REPLY become
 * response headers. Pure: works on arrays of struct frame_field, so it is tested without
 * libmicrohttpd. */
#ifndef NGR_HTTP_REQUEST_HEAD_H
#define NGR_HTTP_REQUEST_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "error_page.h"
#include "frame.h"
#include "limits.h"

/* A request as received; everything borrowed. fields are in arrival order (at most
 * NGR_MAX_HEADERS); method, target, host (NULL: none) and client_ip are C strings. */
struct http_request {
    const char *method;
    const char *scheme; /* "http" or "https": how the public client reached us */
    const char *target;
    const char *host;
    const char *client_ip;
    const struct frame_field *fields;
    size_t nfields;
    int drop_authorization; /* the gateway checked basic auth: Authorization stops here */
};

/* Where a head's results are written: the fields sent on. One per process (the gateway's
 * context holds it); valid until the next build. */
struct http_request_scratch {
    struct frame_field out[NGR_MAX_HEADERS + 4];
};

/* Fills h (all of it but h->tunnel) for rq: method, target, client address, scheme, host, the
 * body kind and length, FRAME_HEAD_UPGRADE for an upgrade request, and the fields to send on,
 * which point into rq, sc and the strings of rq. First the head is checked
 * (http_request_check.h). Returns 0, or NGR_EPROTO (framing a smuggler could use, a bad name,
 * value or target: 400), NGR_EINVAL (a malformed Content-Length: 400) or NGR_ELIMIT (more than
 * NGR_MAX_HEADERS fields to send: 431) with the page in why. */
NGR_MUST_CHECK int http_request_head_build(const struct http_request *rq,
                                           struct http_request_scratch *sc, struct frame_head *h,
                                           struct error_page *why);

/* Where a head's Connection fields are, found once per head, so that checking each of its
 * fields looks at those alone rather than at every field again. */
struct http_request_head_hops {
    const struct frame_field *fields;
    size_t first, end; /* the Connection fields lie in [first, end) */
};

struct http_request_head_hops http_request_head_hops(const struct frame_field *fields, size_t n);
/* 1 if a field must not be forwarded: hop-by-hop, or named in a Connection field. */
int http_request_head_is_hop(const struct http_request_head_hops *h, struct frame_str name);
/* 1 if a REPLY field (with status) becomes a response header: not hop-by-hop (a 101 keeps
 * Upgrade) and its name shorter than NGR_FIELD_NAME_LEN. */
int http_request_head_reply_keeps(const struct http_request_head_hops *h, unsigned status,
                                  struct frame_str name);

#endif
