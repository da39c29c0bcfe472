/* signals.c: termination and reload signals through a signalfd on the loop; see signals.h. */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void
signals_on_io(void *arg, uint32_t events)
{
    struct signals *s = arg;
    struct signalfd_siginfo si;

    while (read(s->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        s->cb(s->arg, (int)si.ssi_signo);
}

int
signals_start(struct signals *s, struct loop *l, signals_cb cb, void *arg, struct ngr_err *err)
{
    sigset_t mask;
    int e;

    s->loop = l;
    s->cb = cb;
    s->arg = arg;
    signal(SIGPIPE, SIG_IGN);
    /* A file past the file-size limit (ulimit -f, systemd's LimitFSIZE=) would end the process
     * on its next write; the write fails with EFBIG instead, and the writer decides. */
    signal(SIGXFSZ, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    s->fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->fd < 0)
        return err_set(err, NGR_ESYS, "signalfd: %s", strerror(errno));
    if (loop_io_add(l, &s->io, s->fd, LOOP_READ, signals_on_io, s) != 0) {
        e = errno;
        close(s->fd);
        s->fd = -1;
        return err_set(err, NGR_ESYS, "epoll_ctl: %s", strerror(e));
    }
    return 0;
}

void
signals_stop(struct signals *s)
{
    if (s->fd < 0)
        return;
    loop_io_del(s->loop, &s->io);
    close(s->fd);
    s->fd = -1;
}
