/* log.c: leveled logging to stderr and escaping of untrusted strings. */
#include "log.h"
#include "limits.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_progname = "ngrnotok";
static enum log_level log_level = LOG_LEVEL_INFO;

void
log_init(const char *progname, enum log_level level)
{
    log_progname = progname;
    log_level = level;
}

enum log_level
log_get_level(void)
{
    return log_level;
}

static void log_vwrite(const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(const char *tag, const char *fmt, va_list ap)
{
    char line[NGR_LOG_LINE];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0)
        return;
    /* One fprintf per line keeps lines whole when several processes share stderr. */
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000, log_progname, tag, line);
}

#define LOG_DEFINE(name, lvl, tag)                                                                 \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        if (log_level < (lvl))                                                                     \
            return;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_vwrite(tag, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
    }

LOG_DEFINE(log_error, LOG_LEVEL_ERROR, "error")
LOG_DEFINE(log_warn, LOG_LEVEL_WARN, "warn")
LOG_DEFINE(log_info, LOG_LEVEL_INFO, "info")
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, "debug")

void
fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite("fatal", fmt, ap);
    va_end(ap);
    exit(1);
}

/* 4 if s[i] is written as \xNN, else 1. text: for a person (log_escape_text). */
static size_t
log_escape_width(const char *s, size_t len, size_t i, int text)
{
    unsigned char c = (unsigned char)s[i];

    if (!text)
        return (c < 0x20 || c > 0x7e || c == '\\' || c == '"') ? 4 : 1;
    if (c < 0x20 || c == 0x7f)
        return 4;
    /* C1 controls, U+0080..U+009F: 0xc2 then 0x80..0x9f; both bytes are escaped. */
    if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
        (unsigned char)s[i + 1] <= 0x9f)
        return 4;
    if (c >= 0x80 && c <= 0x9f && i > 0 && (unsigned char)s[i - 1] == 0xc2)
        return 4;
    return 1;
}

static char *
log_escape_as(char *out, size_t outlen, const char *s, size_t len, int text)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i, total = 0, reserve;

    if (outlen == 0)
        return out;
    for (i = 0; i < len && total < outlen; i++)
        total += log_escape_width(s, len, i, text);
    /* Room for "..." is kept only when the whole text does not fit. */
    reserve = total + 1 > outlen ? 3 : 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = log_escape_width(s, len, i, text);

        if (o + need + reserve + 1 > outlen) {
            size_t dots = outlen - 1 - o < 3 ? outlen - 1 - o : 3;
            memcpy(out + o, "...", dots);
            o += dots;
            break;
        }
        if (need == 4) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

char *
log_escape(char *out, size_t outlen, const char *s, size_t len)
{
    return log_escape_as(out, outlen, s, len, 0);
}

char *
log_escape_text(char *out, size_t outlen, const char *s, size_t len)
{
    return log_escape_as(out, outlen, s, len, 1);
}

void
log_say(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", log_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
