/* mhd_glue.h: runs a libmicrohttpd daemon (MHD_USE_EPOLL, no thread of its own) inside our
 * loop: its epoll descriptor sits in ours, and it runs when that is readable, when its timeout
 * is due, and at the end of any turn in which one of its connections was resumed. */
#ifndef NGR_MHD_GLUE_H
#define NGR_MHD_GLUE_H

#include "err.h"
#include "loop.h"

struct MHD_Daemon;

struct mhd_glue {
    struct MHD_Daemon *daemon; /* owned once attached: mhd_glue_stop stops it */
    struct loop *loop;
    struct loop_io io;
    struct loop_timer timer;
    int needs_run;           /* a connection was resumed: run at the end of the turn */
    struct loop_defer check; /* a resume after this turn's run: the next turn must not wait */
};

/* Watches d's epoll descriptor on l. d is what MHD_start_daemon returned for the listening
 * socket fd, NULL included (fd is then closed). what names the port in the error ("HTTP").
 * Returns 0 or NGR_ESYS (d is then stopped). */
NGR_MUST_CHECK int mhd_glue_start(struct mhd_glue *g, struct loop *l, struct MHD_Daemon *d, int fd,
                                  const char *what, struct ngr_err *err);
/* After MHD_resume_connection: the daemon runs at the end of this turn, or at once in the next
 * if the end of this one has passed. */
void mhd_glue_resumed(struct mhd_glue *g);
/* End of a turn: runs the daemon if a connection was resumed or its timeout is due, then arms
 * the timer for its next timeout. */
void mhd_glue_turn_end(struct mhd_glue *g);
void mhd_glue_stop(struct mhd_glue *g);

#endif
