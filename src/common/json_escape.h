/* json_escape.h: the inside of a JSON string from bytes that need not be UTF-8, for the lines
 * both programs write by hand (the gateway's access log, the client's --log-format json): '"'
 * and '\\' with a backslash, every other byte outside printable ASCII as \u00XX (a byte above
 * ASCII read as U+00XX), so the line is valid JSON whatever the bytes. */
#ifndef NGR_JSON_ESCAPE_H
#define NGR_JSON_ESCAPE_H

#include <stddef.h>

/* Writes s[0..len) escaped into out (cap > 0, always NUL-terminated), stopping before an
 * escape that would not fit. Returns the length written. */
size_t json_escape(char *out, size_t cap, const char *s, size_t len);

#endif
