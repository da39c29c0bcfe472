/* mhd_head_lines.c: bare LF and obs-fold, found in libmicrohttpd's parsed head; see
 * mhd_head_lines.h. */
#include "mhd_head_lines.h"

#include <stdint.h>
#include <string.h>

int
mhd_head_lines_known(const char *mhd_version)
{
    return mhd_version != NULL && strcmp(mhd_version, "0.9.75") == 0;
}

/* The offset of p in the head, or head_len + 1 if p lies outside it (compared as integers:
 * a field's name may point anywhere once libmicrohttpd moved it). */
static size_t
mhd_head_lines_offset(const char *head, size_t head_len, const char *p)
{
    uintptr_t a = (uintptr_t)head, b = (uintptr_t)p;

    return b >= a && b - a <= head_len ? (size_t)(b - a) : head_len + 1;
}

/* A line end at *at: the two NULs a CRLF became. Moves past them. */
static int
mhd_head_lines_crlf(const char *head, size_t head_len, size_t *at)
{
    if (*at > head_len || head_len - *at < 2 || head[*at] != '\0' || head[*at + 1] != '\0')
        return 0;
    *at += 2;
    return 1;
}

static int
mhd_head_lines_bad(struct error_page *why, const char *what)
{
    error_page_set(why, 400, "Bad Request",
                   "%s: every line of a request head must end in CR LF, and a field may not be "
                   "folded onto a second line (RFC 9112 sections 2.2 and 5.2).",
                   what);
    return NGR_EPROTO;
}

int
mhd_head_lines_check(const char *head, size_t head_len, const char *version,
                     const struct frame_field *fields, size_t n, struct error_page *why)
{
    size_t at, i;

    if (head == NULL || version == NULL)
        return mhd_head_lines_bad(why, "The request line is malformed");
    at = mhd_head_lines_offset(head, head_len, version);
    if (at >= head_len)
        return mhd_head_lines_bad(why, "The request line has no HTTP version");
    while (at < head_len && head[at] != '\0')
        at++;
    if (!mhd_head_lines_crlf(head, head_len, &at))
        return mhd_head_lines_bad(why, "The request line ends in a bare LF");
    for (i = 0; i < n; i++) {
        const struct frame_field *f = &fields[i];
        size_t value;

        /* The field's line begins where the last one ended... */
        if (mhd_head_lines_offset(head, head_len, f->name.p) != at ||
            head_len - at <= f->name.len)
            return mhd_head_lines_bad(why, "A header field line is folded, or the line before "
                                           "it ends in a bare LF");
        /* ...with its name, the colon (now NUL), optional blanks and its value... */
        at += f->name.len;
        if (head[at] != '\0')
            return mhd_head_lines_bad(why, "A header field line is malformed");
        at++;
        value = mhd_head_lines_offset(head, head_len, f->value.p);
        if (value < at || value > head_len || head_len - value < f->value.len)
            return mhd_head_lines_bad(why, "A header field value is folded");
        for (; at < value; at++)
            if (head[at] != ' ' && head[at] != '\t')
                return mhd_head_lines_bad(why, "A header field value is folded");
        /* ...and ends in CRLF. */
        at += f->value.len;
        if (!mhd_head_lines_crlf(head, head_len, &at))
            return mhd_head_lines_bad(why, "A header field line ends in a bare LF, or its value "
                                           "holds a NUL or is folded");
    }
    /* The empty line, and nothing after it. */
    if (!mhd_head_lines_crlf(head, head_len, &at) || at != head_len)
        return mhd_head_lines_bad(why, "The request head ends in a bare LF");
    return 0;
}
