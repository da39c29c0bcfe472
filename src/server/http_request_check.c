/* http_request_check.c: the public request head's framing and characters; see
 * http_request_check.h. */
#include "http_request_check.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 section 5.6.2: tchar. */
static int
http_request_tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* name, with '_' read as '-', equals lit (lowercase) in any case; or starts with it if prefix. */
static int
http_request_name_is(struct frame_str name, const char *lit, int prefix)
{
    size_t len = strlen(lit), i;

    if (prefix ? name.len < len : name.len != len)
        return 0;
    for (i = 0; i < len; i++) {
        char c = (char)tolower((unsigned char)name.p[i]);
        if ((c == '_' ? '-' : c) != lit[i])
            return 0;
    }
    return 1;
}

int
http_request_is_forwarding(struct frame_str name)
{
    return http_request_name_is(name, "forwarded", 0) || http_request_name_is(name, "x-real-ip", 0) ||
           http_request_name_is(name, "x-forwarded-", 1);
}

/* v without the optional whitespace around it equals "chunked" in any case. */
static int
http_request_is_chunked(struct frame_str v)
{
    size_t a = 0, b = v.len;

    while (a < b && (v.p[a] == ' ' || v.p[a] == '\t'))
        a++;
    while (b > a && (v.p[b - 1] == ' ' || v.p[b - 1] == '\t'))
        b--;
    return b - a == 7 && strncasecmp(v.p + a, "chunked", 7) == 0;
}

static int
http_request_bad(struct error_page *why, const char *text)
{
    error_page_set(why, 400, "Bad Request", "%s", text);
    return NGR_EPROTO;
}

int
http_request_check_method(const char *method, struct error_page *why)
{
    size_t k;

    if (method[0] == '\0')
        return http_request_bad(why, "The request has no method.");
    for (k = 0; method[k] != '\0'; k++)
        if ((unsigned char)method[k] >= 0x80 || !http_request_tchar((unsigned char)method[k]))
            return http_request_bad(why, "The request method is not a token: letters, digits "
                                         "and !#$%&'*+-.^_`|~ only.");
    return 0;
}

int
http_request_check(const char *target, const struct frame_field *fields, size_t n,
                   struct error_page *why)
{
    size_t i, k, ncl = 0, nte = 0;
    const struct frame_field *te = NULL;

    for (k = 0; target[k] != '\0'; k++)
        if ((unsigned char)target[k] <= 0x20 || (unsigned char)target[k] == 0x7f)
            return http_request_bad(why, "The request target holds a space or a control "
                                         "character.");
    /* The client replays at most this much of a target (libcurl's request line): say so here,
     * rather than let the tunnel fail it with a 502. */
    if (k >= NGR_REPLAY_TARGET_LEN) {
        error_page_set(why, 414, "URI Too Long",
                       "The request target is %zu bytes; a tunnel carries at most %d.", k,
                       NGR_REPLAY_TARGET_LEN - 1);
        return NGR_EPROTO;
    }
    for (i = 0; i < n; i++) {
        const struct frame_field *f = &fields[i];

        if (f->name.len == 0)
            return http_request_bad(why, "A header field has no name.");
        for (k = 0; k < f->name.len; k++)
            if (!http_request_tchar((unsigned char)f->name.p[k]))
                return http_request_bad(why, "A header field name holds a space, a tab or "
                                             "another character a name may not (whitespace "
                                             "before the colon, or a folded line?).");
        for (k = 0; k < f->value.len; k++) {
            unsigned char c = (unsigned char)f->value.p[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return http_request_bad(why, "A header field value holds a CR, an LF or another "
                                             "control character.");
        }
        if (http_request_name_is(f->name, "content-length", 0))
            ncl++;
        else if (http_request_name_is(f->name, "transfer-encoding", 0)) {
            nte++;
            te = f;
        } else {
            continue;
        }
        /* Content_Length is not framing here but is to a service that reads '_' as '-'. */
        if (memchr(f->name.p, '_', f->name.len) != NULL)
            return http_request_bad(why, "A header field spells Content-Length or "
                                         "Transfer-Encoding with '_'.");
    }
    /* Framing every reader takes the same way (RFC 9112 section 6.3): one of the two, once. */
    if (ncl > 0 && nte > 0)
        return http_request_bad(why, "The request has both Content-Length and "
                                     "Transfer-Encoding.");
    if (ncl > 1)
        return http_request_bad(why, "The request has more than one Content-Length.");
    if (nte > 1 || (te != NULL && !http_request_is_chunked(te->value)))
        return http_request_bad(why, "Transfer-Encoding must be one field saying \"chunked\".");
    return 0;
}
