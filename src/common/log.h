/* log.h: one line per event on stderr, with a level; client-supplied text is escaped. */
#ifndef NGR_LOG_H
#define NGR_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Program name prefixed to each line, and the most verbose level printed. */
void log_init(const char *progname, enum log_level level);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A message for the person at the terminal: "PROGRAM: TEXT" on stderr, whatever the level, with
 * no time stamp (the CLI's own words: what went wrong and what to do). */
void log_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Startup only: print and exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copies len bytes of s into out (size outlen, always NUL-terminated) with every byte outside
 * printable ASCII, and '\\' and '"', written as \xNN, so hostile input cannot forge log lines.
 * Truncates with "..." when out is too small. Returns out. */
char *log_escape(char *out, size_t outlen, const char *s, size_t len);
/* The same for a message shown to a person at a terminal (a gateway's reason printed by the
 * CLI): only control characters are written as \xNN (C0, DEL, and C1 as UTF-8 encodes them,
 * which could move the cursor or retitle the window); quotes, backslashes and other UTF-8 stay
 * as written. */
char *log_escape_text(char *out, size_t outlen, const char *s, size_t len);

#endif
