/* err.c: fill a struct ngr_err with a code and a human sentence. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
err_set(struct ngr_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int
err_prefix(struct ngr_err *err, const char *prefix)
{
    char copy[NGR_ERR_LEN];

    if (err == NULL)
        return NGR_EINVAL;
    snprintf(copy, sizeof(copy), "%s", err->msg);
    /* The prefix (a path, a key) gets up to half, the message what is left. */
    snprintf(err->msg, sizeof(err->msg), "%.128s: %.*s", prefix,
             (int)(sizeof(err->msg) - 3 - strnlen(prefix, 128)), copy);
    return err->code;
}

const char *
err_name(int code)
{
    switch (code) {
    case NGR_OK:
        return "ok";
    case NGR_EAGAIN:
        return "try again";
    case NGR_ENOMEM:
        return "out of memory";
    case NGR_EPROTO:
        return "protocol error";
    case NGR_ELIMIT:
        return "limit reached";
    case NGR_EINVAL:
        return "invalid argument";
    case NGR_ESYS:
        return "system error";
    case NGR_EEXIST:
        return "already exists";
    case NGR_ENOENT:
        return "not found";
    case NGR_ECLOSED:
        return "closed";
    case NGR_ETRUST:
        return "certificate not trusted";
    }
    return "unknown error";
}
