/* inspect_page.h: the inspector's web page (inspect_page.html), embedded at build time by
 * embed_page.py: plain HTML, CSS and a little JavaScript, nothing loaded from elsewhere. */
#ifndef NGR_INSPECT_PAGE_H
#define NGR_INSPECT_PAGE_H

#include <stddef.h>

extern const char inspect_page_html[]; /* NUL-terminated */
extern const size_t inspect_page_len;  /* bytes, without the NUL */

#endif
