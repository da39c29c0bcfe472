/* http_head.c: splitting a response head's field lines; see http_head.h. */
#include "http_head.h"

#include <string.h>
#include <strings.h>

static int
http_head_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* 1 if every byte of a field name is a token character (RFC 9110 section 5.6.2). */
static int
http_head_token(const char *p, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr(extra, c) != NULL)))
            return 0;
    }
    return len > 0;
}

/* A CR inside a value, not before the LF, becomes a space (RFC 9112 section 2.2). */
static void
http_head_bare_cr(char *v, const char *ve)
{
    for (char *cr = memchr(v, '\r', (size_t)(ve - v)); cr != NULL;
         cr = memchr(cr, '\r', (size_t)(ve - cr)))
        *cr = ' ';
}

int
http_head_fields(char *text, size_t len, struct frame_field *out, size_t max,
                 struct http_head_framing *fr)
{
    char *p = text, *end = text != NULL ? text + len : text; /* text may be NULL if len is 0 */
    size_t n = 0;
    int any = 0;                        /* a field line was seen */
    struct frame_str *fold_into = NULL; /* the value a folded line continues, if it is kept */

    memset(fr, 0, sizeof(*fr));
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p)), *next, *colon, *v, *ve;

        eol = eol != NULL ? eol : end;
        next = eol < end ? eol + 1 : end;
        ve = eol;
        while (ve > p && (ve[-1] == '\r' || http_head_blank(ve[-1])))
            ve--;
        if (ve == p && !http_head_blank(*p))
            break; /* the blank line: the head is over */
        if (http_head_blank(*p)) { /* obs-fold: more of the previous field's value */
            if (!any)
                return HTTP_HEAD_MALFORMED; /* folds nothing */
            http_head_bare_cr(p, ve);
            v = p;
            while (v < ve && http_head_blank(*v))
                v++;
            if (fold_into != NULL && v < ve) {
                if (fold_into->len == 0) { /* the value starts on this line */
                    fold_into->p = v;
                    fold_into->len = (size_t)(ve - v);
                } else {
                    /* The value ends at least "\n " before v: room for the space. */
                    char *at = (char *)fold_into->p + fold_into->len;
                    *at++ = ' ';
                    memmove(at, v, (size_t)(ve - v));
                    fold_into->len += 1 + (size_t)(ve - v);
                }
            }
            p = next;
            continue;
        }
        any = 1;
        colon = memchr(p, ':', (size_t)(ve - p));
        if (colon == NULL || !http_head_token(p, (size_t)(colon - p)))
            return HTTP_HEAD_MALFORMED; /* as nginx answers 502 to an invalid upstream field */
        v = colon + 1;
        http_head_bare_cr(v, ve);
        while (v < ve && http_head_blank(*v))
            v++;
        fold_into = NULL;
        if ((size_t)(colon - p) == 14 && strncasecmp(p, "content-length", 14) == 0) {
            if (v == ve)
                return HTTP_HEAD_MALFORMED;
            fr->has_length = 1;
            fr->length = 0;
            for (; v < ve; v++) {
                if (*v < '0' || *v > '9' ||
                    fr->length > (UINT64_MAX - (uint64_t)(*v - '0')) / 10)
                    return HTTP_HEAD_MALFORMED; /* not a number, or 2^64 and more */
                fr->length = fr->length * 10 + (uint64_t)(*v - '0');
            }
        } else if ((size_t)(colon - p) == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            fr->chunked = 1;
        } else {
            if (n >= max)
                return HTTP_HEAD_TOO_MANY;
            out[n].name.p = p;
            out[n].name.len = (size_t)(colon - p);
            out[n].value.p = v;
            out[n].value.len = (size_t)(ve - v);
            fold_into = &out[n].value;
            n++;
        }
        p = next;
    }
    return (int)n;
}

struct http_head_refusal
http_head_refused(int rc)
{
    struct http_head_refusal r = {FRAME_CODE_UPSTREAM,
                                  "the local service's response head is malformed"};

    if (rc == HTTP_HEAD_TOO_MANY) {
        r.code = FRAME_CODE_TOO_LARGE;
        r.message = "the local service sent more than 200 header fields";
    }
    return r;
}
