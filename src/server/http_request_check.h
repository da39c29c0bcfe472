/* http_request_check.h: what a public request head must be before anything of it goes on.
 * libmicrohttpd 0.9.75 is lenient where a request smuggler needs it to be (RFC 9112 section
 * 6.3, 11.2): it takes Content-Length with Transfer-Encoding, several Content-Lengths, an
 * obfuscated Transfer-Encoding, and header names with spaces or tabs, and it leaves a CR in a
 * value or the target. So the gateway checks these itself: framing that every parser reads the
 * same way, field names that are tokens, values and a target without control characters. Pure
 * (unit-tested): works on the fields libmicrohttpd parsed. */
#ifndef NGR_HTTP_REQUEST_CHECK_H
#define NGR_HTTP_REQUEST_CHECK_H

#include <stddef.h>

#include "error_page.h"
#include "frame.h"

/* Checks the target (the raw request target) and fields (in arrival order). Returns 0, or
 * NGR_EPROTO with a 400 page in why that says what was wrong. */
NGR_MUST_CHECK int http_request_check(const char *target, const struct frame_field *fields,
                                      size_t n, struct error_page *why);
/* Checks the method: a token (RFC 9110 section 9.1), which libmicrohttpd does not check, so
 * that no quote, control character or byte past ASCII reaches the local service's request
 * line. Returns 0, or NGR_EPROTO with a 400 page in why. */
NGR_MUST_CHECK int http_request_check_method(const char *method, struct error_page *why);
/* 1 if name is a forwarding field a public client may not set: Forwarded, X-Real-IP, or any
 * X-Forwarded-*, in any case, with '_' for '-' (which many frameworks read as the same). */
int http_request_is_forwarding(struct frame_str name);

#endif
