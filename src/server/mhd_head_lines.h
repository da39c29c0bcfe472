/* mhd_head_lines.h: a request head's line ends and folded lines, read from what libmicrohttpd's
 * parse left behind. libmicrohttpd 0.9.75 takes a bare LF for CRLF and joins an obs-fold line
 * onto the field before it, and no option of it refuses either. RFC 9112 (sections 2.2, 5.2)
 * lets a server refuse both, and a gateway in front of other readers should: two readers that
 * split one head differently are how requests are smuggled.
 *
 * libmicrohttpd parses in place. The whole head stays in its read buffer for the length of the
 * request, starting where the method points, header_size bytes long. Each line end's CR and LF
 * and each field's colon are overwritten with NUL, and every field's name and value point into
 * it. So a head whose every line ends in CRLF lies there as
 *
 *     method ... version NUL NUL   (name NUL [SP/HT]* value NUL NUL)*   NUL NUL
 *
 * and the fields, in arrival order, say where each line must begin. A bare LF leaves one NUL
 * where two belong; a folded line leaves bytes no field accounts for, or a field whose name
 * lies elsewhere. Either way the walk finds what it cannot explain and the head is refused.
 * One case looks the same as CRLF and passes: a NUL byte right before a bare LF.
 *
 * This reads libmicrohttpd's internals, so it is used only with a version whose parse was read
 * (mhd_head_lines_known); with another one the gateway says at start that it cannot refuse
 * these heads. Pure: works on the bytes and fields given (unit-tested). */
#ifndef NGR_MHD_HEAD_LINES_H
#define NGR_MHD_HEAD_LINES_H

#include <stddef.h>

#include "error_page.h"
#include "frame.h"

/* 1 if libmicrohttpd's version string (MHD_get_version()) names a parse this module knows. */
int mhd_head_lines_known(const char *mhd_version);
/* Checks the head of head_len bytes at head (libmicrohttpd's method pointer and
 * MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE), with version (the access handler's) and the fields
 * in arrival order (MHD_HEADER_KIND). Reads only inside [head, head + head_len). Returns 0, or
 * NGR_EPROTO with a 400 page in why. */
NGR_MUST_CHECK int mhd_head_lines_check(const char *head, size_t head_len, const char *version,
                                        const struct frame_field *fields, size_t n,
                                        struct error_page *why);

#endif
