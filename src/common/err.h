/* err.h: error codes shared by both programs, and the one way a human message travels with them. */
#ifndef NGR_ERR_H
#define NGR_ERR_H

#include <stddef.h>

/* Functions that can fail return 0 or one of these (negative). */
enum {
    NGR_OK = 0,
    NGR_EAGAIN = -1,  /* not now: incomplete input, full buffer, try again later */
    NGR_ENOMEM = -2,  /* allocation failed */
    NGR_EPROTO = -3,  /* malformed or forbidden input from a peer */
    NGR_ELIMIT = -4,  /* a limit in limits.h was reached */
    NGR_EINVAL = -5,  /* bad argument or option */
    NGR_ESYS = -6,    /* a system call failed; the message names it */
    NGR_EEXIST = -7,  /* name already taken */
    NGR_ENOENT = -8,  /* no such thing */
    NGR_ECLOSED = -9, /* the peer or the object is gone */
    NGR_ETRUST = -10, /* a peer's certificate failed verification */
};

/* On a function whose result must not be dropped: a failure it reports would otherwise pass
 * unseen (a stream that never opened, a socket left unwatched). curl marks its own the same. */
#define NGR_MUST_CHECK __attribute__((warn_unused_result))

#define NGR_ERR_LEN 512

/* A code and the sentence a person reads: "connect 127.0.0.1:8080: Connection refused". */
struct ngr_err {
    int code;
    char msg[NGR_ERR_LEN];
};

/* Fills err (if not NULL) and returns code, so callers can write `return err_set(...)`. */
int err_set(struct ngr_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to err's message (if err is not NULL); returns err's code. */
int err_prefix(struct ngr_err *err, const char *prefix);

/* A short fixed name for a code ("protocol error"); never NULL. */
const char *err_name(int code);

#endif
