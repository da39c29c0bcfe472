/* listener.h: a listening socket on the loop. Accepts in bounded batches and, when descriptors
 * run out (EMFILE and the like), stops accepting for a while instead of spinning on a listener
 * that stays readable. Used by the control port and by TCP tunnels' public ports. */
#ifndef NGR_LISTENER_H
#define NGR_LISTENER_H

#include <sys/socket.h>

#include "err.h"
#include "limits.h"
#include "loop.h"


/* A new connection: fd is non-blocking and close-on-exec, owned by the callee. */
typedef void (*listener_cb)(void *arg, int fd, const struct sockaddr *peer);

struct listener {
    struct loop *loop;
    struct loop_io io;
    struct loop_timer pause;
    int fd;
    const char *name; /* for logs: "control", "tcp port" */
    listener_cb cb;
    void *arg;
};

/* Watches the listening socket fd (owned by the listener from here: closed on failure too).
 * Returns 0, or NGR_ESYS with the reason in err. */
NGR_MUST_CHECK int listener_start(struct listener *l, struct loop *loop, int fd, const char *name,
                                  listener_cb cb, void *arg, struct ngr_err *err);
/* Stops watching and closes the socket. Idempotent. */
void listener_stop(struct listener *l);

#endif
