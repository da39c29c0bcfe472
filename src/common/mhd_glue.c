/* mhd_glue.c: libmicrohttpd in external-epoll mode on our loop; see mhd_glue.h. */
#include "mhd_glue.h"

#include "limits.h"

#include <microhttpd.h>
#include <string.h>
#include <unistd.h>

static void
mhd_glue_run(struct mhd_glue *g)
{
    g->needs_run = 0;
    MHD_run(g->daemon);
}

static void
mhd_glue_on_io(void *arg, uint32_t events)
{
    mhd_glue_run(arg);
}

static void
mhd_glue_on_timer(void *arg)
{
    mhd_glue_run(arg);
}

static void
mhd_glue_check(void *arg)
{
    struct mhd_glue *g = arg;

    if (g->needs_run)
        loop_wake(g->loop);
}

void
mhd_glue_resumed(struct mhd_glue *g)
{
    g->needs_run = 1;
    /* Deferrals run after the turn hook, which serves needs_run: this one sees whether a
     * resume came later (a session torn down at the end of the turn resumes its requests). */
    loop_defer(g->loop, &g->check);
}

int
mhd_glue_start(struct mhd_glue *g, struct loop *l, struct MHD_Daemon *d, int fd, const char *what,
               struct ngr_err *err)
{
    const union MHD_DaemonInfo *di;

    if (d == NULL) {
        close(fd);
        return err_set(err, NGR_ESYS, "libmicrohttpd could not start on the %s port", what);
    }
    di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    memset(g, 0, sizeof(*g));
    g->daemon = d;
    g->loop = l;
    loop_timer_init(&g->timer, mhd_glue_on_timer, g);
    loop_defer_init(&g->check, mhd_glue_check, g);
    if (di == NULL || loop_io_add(l, &g->io, di->epoll_fd, LOOP_READ, mhd_glue_on_io, g) != 0) {
        MHD_stop_daemon(d);
        g->daemon = NULL;
        return err_set(err, NGR_ESYS, "cannot watch libmicrohttpd's epoll descriptor");
    }
    return 0;
}

void
mhd_glue_turn_end(struct mhd_glue *g)
{
    MHD_UNSIGNED_LONG_LONG timeout;

    if (g->daemon == NULL)
        return;
    /* A timeout of 0 means libmicrohttpd has ready connections it has not served yet (its
     * sockets are edge-triggered, so no new event will come for them): serve them now, a few
     * times over. Each run reads at most one pool-sized piece per connection (8 KiB of an
     * upload); running again before the turn ends lets the session write several pieces in
     * one control-socket write instead of one write (and one wake-up of the peer) each. */
    for (int i = 0; i < NGR_MHD_RUNS_PER_TURN; i++) {
        if (!g->needs_run && !(MHD_get_timeout(g->daemon, &timeout) == MHD_YES && timeout == 0))
            break;
        mhd_glue_run(g);
    }
    if (MHD_get_timeout(g->daemon, &timeout) == MHD_YES) {
        if (timeout == 0)
            loop_wake(g->loop);
        else
            loop_timer_start(g->loop, &g->timer, timeout);
    } else {
        loop_timer_stop(g->loop, &g->timer);
    }
}

void
mhd_glue_stop(struct mhd_glue *g)
{
    if (g->daemon == NULL)
        return;
    loop_defer_cancel(g->loop, &g->check);
    loop_timer_stop(g->loop, &g->timer);
    loop_io_del(g->loop, &g->io);
    MHD_stop_daemon(g->daemon); /* closes the listening socket too */
    g->daemon = NULL;
}
