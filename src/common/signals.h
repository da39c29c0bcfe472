/* signals.h: SIGINT, SIGTERM and SIGHUP as events on the loop (a signalfd), with SIGPIPE and
 * SIGXFSZ ignored (a write fails instead), so that both programs stop (or the gateway re-reads
 * its files) cleanly from inside a turn instead of in a signal handler. */
#ifndef NGR_SIGNALS_H
#define NGR_SIGNALS_H

#include "err.h"
#include "loop.h"

/* signo is SIGINT, SIGTERM or SIGHUP. */
typedef void (*signals_cb)(void *arg, int signo);

struct signals {
    struct loop *loop;
    struct loop_io io;
    int fd; /* -1 while not started */
    signals_cb cb;
    void *arg;
};

/* Blocks SIGINT, SIGTERM and SIGHUP, ignores SIGPIPE, and calls cb on the loop when one arrives.
 * Returns 0, or NGR_ESYS with the reason in err. */
NGR_MUST_CHECK int signals_start(struct signals *s, struct loop *l, signals_cb cb, void *arg,
                                 struct ngr_err *err);
/* Stops watching and closes the signalfd. Idempotent. */
void signals_stop(struct signals *s);

#endif
