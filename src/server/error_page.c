/* error_page.c: the gateway's own error pages: reason, HTML escaping, template, code. */
#include "error_page.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void
error_page_vset(struct error_page *e, int status, const char *title, const char *fmt, va_list ap)
{
    e->status = status;
    e->title = title;
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
}

void
error_page_set(struct error_page *e, int status, const char *title, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_page_vset(e, status, title, fmt, ap);
    va_end(ap);
}

size_t
error_page_html_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;

    /* 7: the longest entity (6 bytes) and the NUL always fit after any step. */
    for (; *s && o + 7 < cap; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        }
        if (rep != NULL) {
            size_t n = strlen(rep);
            memcpy(out + o, rep, n);
            o += n;
        } else if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            out[o++] = '?';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return o;
}

const char *
error_page_code(int status)
{
    switch (status) {
    case 400:
        return "bad-request";
    case 308:
        return "use-https";
    case 401:
        return "auth-required";
    case 403:
        return "forbidden";
    case 404:
        return "tunnel-not-found";
    case 408:
        return "request-timeout";
    case 413:
        return "body-too-large";
    case 429:
        return "too-many-requests";
    case 431:
        return "headers-too-large";
    case 502:
        return "bad-gateway";
    case 503:
        return "unavailable";
    case 504:
        return "gateway-timeout";
    }
    return "error";
}

size_t
error_page_format(char *out, size_t cap, const struct error_page *e)
{
    char etitle[NGR_ERROR_TITLE_LEN], etext[NGR_ERROR_TEXT_LEN];
    int n;

    error_page_html_escape(etitle, sizeof(etitle), e->title != NULL ? e->title : "");
    error_page_html_escape(etext, sizeof(etext), e->text);
    n = snprintf(out, cap,
                 "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title>"
                 "<style>body{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}"
                 "</style></head>\n<body><h1>%s</h1>\n<p id=\"message\">%s</p>\n"
                 "<hr><p><small>ngrnotok gateway &middot; %d</small></p></body></html>\n",
                 e->status, etitle, etitle, etext, e->status);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : strlen(out);
}

int
error_page_queue(struct MHD_Connection *conn, const struct error_page *e)
{
    return error_page_queue_with(conn, e, NULL, NULL);
}

int
error_page_queue_with(struct MHD_Connection *conn, const struct error_page *e, const char *hname,
                      const char *hvalue)
{
    char page[NGR_ERROR_PAGE_LEN];
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t n;

    n = error_page_format(page, sizeof(page), e);
    resp = MHD_create_response_from_buffer(n, page, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Ngrnotok-Error", error_page_code(e->status));
    /* Every 503 is a passing state (busy, shutting down): say when to come back, in 1 s
     * unless the caller says otherwise. */
    if (e->status == 503 && (hname == NULL || strcasecmp(hname, MHD_HTTP_HEADER_RETRY_AFTER) != 0))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (hname != NULL)
        MHD_add_response_header(resp, hname, hvalue);
    ret = MHD_queue_response(conn, (unsigned)e->status, resp);
    MHD_destroy_response(resp);
    return ret;
}
