/* signals.h: SIGINT and SIGTERM as events on the loop (a signalfd), with SIGPIPE ignored, so
 * that both programs stop cleanly from inside a turn instead of in a signal handler. */
#ifndef NGR_SIGNALS_H
#define NGR_SIGNALS_H

#include "err.h"
#include "loop.h"

/* signo is SIGINT or SIGTERM. */
typedef void (*signals_cb)(void *arg, int signo);

struct signals {
    struct loop *loop;
    struct loop_io io;
    int fd; /* -1 while not started */
    signals_cb cb;
    void *arg;
};

/* Blocks SIGINT and SIGTERM, ignores SIGPIPE, and calls cb on the loop when one arrives.
 * Returns 0, or NGR_ESYS with the reason in err. */
NGR_MUST_CHECK int signals_start(struct signals *s, struct loop *l, signals_cb cb, void *arg,
                                 struct ngr_err *err);
/* Stops watching and closes the signalfd. Idempotent. */
void signals_stop(struct signals *s);

#endif
