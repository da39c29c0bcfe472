/* listener.c: accepting connections on the loop; see listener.h. */
#include "listener.h"
#include "err.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void
listener_resume(void *arg)
{
    struct listener *l = arg;

    loop_io_mod(l->loop, &l->io, LOOP_READ);
}

static void
listener_on_io(void *arg, uint32_t events)
{
    struct listener *l = arg;
    int i;

    for (i = 0; i < NGR_LISTENER_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_warn("%s: accept: %s; pausing for %d ms", l->name, strerror(errno),
                         NGR_LISTENER_PAUSE_MS);
                loop_io_mod(l->loop, &l->io, 0);
                loop_timer_start(l->loop, &l->pause, NGR_LISTENER_PAUSE_MS);
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                log_warn("%s: accept: %s", l->name, strerror(errno));
            }
            return;
        }
        l->cb(l->arg, fd, (struct sockaddr *)&ss);
    }
}

int
listener_start(struct listener *l, struct loop *loop, int fd, const char *name, listener_cb cb,
               void *arg, struct ngr_err *err)
{
    int e;

    l->loop = loop;
    l->fd = fd;
    l->name = name;
    l->cb = cb;
    l->arg = arg;
    loop_timer_init(&l->pause, listener_resume, l);
    if (loop_io_add(loop, &l->io, fd, LOOP_READ, listener_on_io, l) != 0) {
        e = errno; /* before close() can change it */
        close(fd);
        l->fd = -1;
        return err_set(err, NGR_ESYS, "%s: epoll_ctl: %s", name, strerror(e));
    }
    return 0;
}

void
listener_stop(struct listener *l)
{
    if (l->fd < 0)
        return;
    loop_timer_stop(l->loop, &l->pause);
    loop_io_del(l->loop, &l->io);
    close(l->fd);
    l->fd = -1;
}
