/* error_page.h: the pages a public client gets when the gateway, not the local service, answers
 * (no such tunnel, a malformed request, a dead tunnel, a timeout): a reason a person reads, the
 * page built from it with its text HTML-escaped, and the X-Ngrnotok-Error code for scripts. */
#ifndef NGR_ERROR_PAGE_H
#define NGR_ERROR_PAGE_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"
#include "limits.h"

struct MHD_Connection;

/* Why a request is refused: a status (0: none yet), a title (static text) and a sentence, both
 * plain text (escaped when the page is built). */
struct error_page {
    int status;
    const char *title;
    char text[NGR_ERROR_REASON_LEN];
};

/* Fills e; the text is cut at NGR_ERROR_REASON_LEN - 1 bytes. */
void error_page_set(struct error_page *e, int status, const char *title, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void error_page_vset(struct error_page *e, int status, const char *title, const char *fmt,
                     va_list ap) __attribute__((format(printf, 4, 0)));
/* HTML-escapes s into out (cap > 0): the five markup characters as entities, control bytes
 * as '?'. Stops before an entity that would not fit, so out is always terminated. Returns the
 * length written. */
size_t error_page_html_escape(char *out, size_t cap, const char *s);
/* The X-Ngrnotok-Error code of a status ("tunnel-not-found", "bad-gateway", ...; "error" for
 * any other). Static text. */
const char *error_page_code(int status);
/* Writes the HTML page for e into out (cap > 0, NGR_ERROR_PAGE_LEN fits any page whole).
 * Returns its length; a page cut at cap is still terminated. */
size_t error_page_format(char *out, size_t cap, const struct error_page *e);
/* Queues e's page on conn (libmicrohttpd copies it). Returns libmicrohttpd's MHD_YES or MHD_NO
 * as an int. */
NGR_MUST_CHECK int error_page_queue(struct MHD_Connection *conn, const struct error_page *e);
/* The same with one more header (Location for a redirect); hname NULL: none. */
NGR_MUST_CHECK int error_page_queue_with(struct MHD_Connection *conn, const struct error_page *e,
                                         const char *hname, const char *hvalue);

#endif
