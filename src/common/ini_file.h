/* ini_file.h: the config files of both programs (the gateway's ngrnotokd.conf, the client's
 * ngrnotok.conf), read with libinih: "key = value" lines, "[section]" headers, comments. On top
 * of the library's syntax this module adds what the gateway's files had before it: a value may
 * be quoted with "..." (then it may hold '#'), '#' after an unquoted value starts a comment,
 * lines are at most NGR_CONFIG_LINE_LEN - 1 bytes, and an error names its line. */
#ifndef NGR_INI_FILE_H
#define NGR_INI_FILE_H

#include <stddef.h>

#include "err.h"

/* Called for each key in order. section: "" before the first header. Returns 0, or an error
 * code with err set (the parse stops and err gets "line N: " in front). */
typedef int (*ini_file_fn)(void *user, const char *section, const char *key, const char *value,
                           struct ngr_err *err);

/* Parses text (len bytes, NUL bytes refused). Returns 0 or NGR_EINVAL (or the callback's code)
 * with the reason, starting "line N: ". */
int ini_file_parse(const char *text, size_t len, ini_file_fn fn, void *user, struct ngr_err *err);

/* A yes/no value as both programs take it: yes/no, true/false, on/off, 1/0, any case. key
 * names it in the error. Returns 0 or NGR_EINVAL. */
int ini_file_bool(const char *key, const char *v, int *out, struct ngr_err *err);

#endif
