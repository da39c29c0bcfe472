/* http_head.h: the field lines of an HTTP/1.1 response head, split in place into frame fields.
 * The client gets heads from two places: libcurl's header callback (ordinary requests) and its
 * own socket (upgrades); both are split here. Pure functions. */
#ifndef NGR_HTTP_HEAD_H
#define NGR_HTTP_HEAD_H

#include "frame.h"

#include <stddef.h>
#include <stdint.h>

/* The body framing fields, which the control protocol re-expresses instead of forwarding. */
struct http_head_framing {
    int has_length;  /* a Content-Length field was seen; its value is length */
    uint64_t length; /* its value */
    int chunked;     /* a Transfer-Encoding field was seen */
};

#define HTTP_HEAD_TOO_MANY (-1)  /* more fields than out can hold */
/* A line neither a field nor a fold, a field name that is not a token (RFC 9110 section 5.6.2:
 * no blank before the colon), or a Content-Length that is not a number below 2^64. */
#define HTTP_HEAD_MALFORMED (-2)

/* Splits text[0, len): field lines ("Name: value", each ending in LF or CRLF), up to a blank
 * line or len, without the status line. Fields go to out[0, max) in order, pointing into text;
 * values lose surrounding spaces and tabs. A line folded onto the next (obs-fold) is joined to
 * its field with one space, as RFC 9112 section 5.2 asks of a recipient, and a CR inside a
 * value becomes a space (section 2.2), both rewriting text.
 * Content-Length and Transfer-Encoding go to *fr, not to out. Returns the number of fields, or
 * HTTP_HEAD_TOO_MANY or HTTP_HEAD_MALFORMED. */
int http_head_fields(char *text, size_t len, struct frame_field *out, size_t max,
                     struct http_head_framing *fr);

/* The RST for a head that http_head_fields refused (rc < 0): TOO_LARGE past the field limit
 * (NGR_MAX_HEADERS), UPSTREAM for a malformed head. */
struct http_head_refusal {
    uint32_t code;
    const char *message;
};
struct http_head_refusal http_head_refused(int rc);

#endif
