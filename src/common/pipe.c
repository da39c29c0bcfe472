/* pipe.c: socket <-> stream byte pipe with credit-based back-pressure; see pipe.h. */
#include "pipe.h"
#include "err.h"
#include "net.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint8_t pipe_read_area[NGR_PIPE_READ_CHUNK];

static void pipe_on_io(void *arg, uint32_t events);
static int pipe_write(struct pipe_end *p);

const char *
pipe_done_reason(int error)
{
    if (error == PIPE_RESET)
        return "reset by the peer";
    return error != 0 ? strerror(error) : "both directions done";
}

static void
pipe_finish(struct pipe_end *p, int error)
{
    if (p->finished)
        return;
    p->finished = 1;
    p->done(p->owner, p, error);
}

/* Watches for reading while there is credit and no EOF, for writing while bytes wait. */
static void
pipe_update_events(struct pipe_end *p)
{
    uint32_t ev = 0;

    if (!p->running)
        return;
    if (!p->read_eof && session_send_room(p->st) > 0)
        ev |= LOOP_READ;
    if (p->out.len > 0)
        ev |= LOOP_WRITE;
    if (p->parked) {
        if (ev == 0)
            return;
        /* Credit came back: watch the socket again. */
        if (loop_io_add(p->loop, &p->io, p->fd, ev, pipe_on_io, p) == 0)
            p->parked = 0;
        return;
    }
    loop_io_mod(p->loop, &p->io, ev);
}

/* epoll reports a hang-up whatever we ask for, and the loop is level-triggered: a socket that
 * hung up while we may not read it (no credit) would wake every turn. Take it out of the epoll
 * set until there is something to do. */
static void
pipe_park(struct pipe_end *p)
{
    if (!p->parked && p->running) {
        loop_io_del(p->loop, &p->io);
        p->parked = 1;
    }
}

/* A read limit reached counts as EOF (an answer of known length on a kept-alive connection). */
static int
pipe_check_limit(struct pipe_end *p)
{
    if (p->read_eof || p->bytes_read < p->read_limit)
        return 0;
    p->read_eof = 1;
    return session_send_data(p->st, NULL, 0, 1) < 0 ? EPIPE : 0;
}

static void
pipe_check_done(struct pipe_end *p)
{
    if (p->read_eof && p->shut_wr)
        pipe_finish(p, 0);
}

void
pipe_init(struct pipe_end *p, struct loop *l, struct stream *st, pipe_done_cb done, void *owner)
{
    memset(p, 0, sizeof(*p));
    p->loop = l;
    p->fd = -1;
    p->st = st;
    p->done = done;
    p->owner = owner;
    p->read_limit = UINT64_MAX;
    buf_init(&p->out, NGR_STREAM_WINDOW_MAX);
}

/* After any change: write what waits (and shut the write side once the peer ended), take a
 * reached read limit as EOF, then re-arm the socket or finish. */
static void
pipe_advance(struct pipe_end *p)
{
    int err = pipe_write(p);

    if (err == 0)
        err = pipe_check_limit(p);
    if (err != 0) {
        pipe_finish(p, err);
        return;
    }
    pipe_update_events(p);
    pipe_check_done(p);
}

int
pipe_start(struct pipe_end *p, int fd)
{
    p->fd = fd;
    if (loop_io_add(p->loop, &p->io, fd, 0, pipe_on_io, p) != 0)
        return NGR_ESYS;
    p->running = 1;
    pipe_advance(p); /* DATA that came before the socket was ready goes out now */
    return 0;
}

void
pipe_stop(struct pipe_end *p)
{
    if (p->running) {
        if (!p->parked)
            loop_io_del(p->loop, &p->io);
        p->running = 0;
        p->parked = 0;
    }
    buf_free(&p->out);
}

/* Writes what waits; returns 0 or an errno value. */
static int
pipe_write(struct pipe_end *p)
{
    size_t sent = 0;
    int err = net_send_buf(p->fd, &p->out, &sent);

    p->bytes_written += sent;
    if (p->write_counter != NULL)
        *p->write_counter += sent;
    if (sent > 0)
        session_consumed(p->st, sent); /* credit back only for bytes the socket took */
    if (err != 0)
        return err;
    if (p->out.len == 0 && p->peer_end && !p->shut_wr) {
        shutdown(p->fd, SHUT_WR);
        p->shut_wr = 1;
    }
    return 0;
}

static int
pipe_send(struct pipe_end *p, const uint8_t *data, size_t n)
{
    ssize_t sent = session_send_data(p->st, data, n, 0);

    if (sent < 0)
        return (int)sent;
    p->bytes_read += (uint64_t)sent;
    if (p->read_counter != NULL)
        *p->read_counter += (uint64_t)sent;
    return (size_t)sent == n ? 0 : NGR_ELIMIT;
}

/* Reads what the credit allows. Returns 0 or an errno value. */
static int
pipe_read(struct pipe_end *p)
{
    /* Then yield to other sockets. A stream's window (1 MiB) is the same size, so one busy
     * socket takes no more than its credit; one read a turn cost a TCP tunnel a fifth of its
     * download rate. */
    size_t budget = 4 * NGR_PIPE_READ_CHUNK;

    while (budget > 0 && !p->read_eof) {
        size_t room = session_send_room(p->st);
        ssize_t n;

        if (room == 0)
            break;
        if (room > sizeof(pipe_read_area))
            room = sizeof(pipe_read_area);
        if (room > p->read_limit - p->bytes_read)
            room = (size_t)(p->read_limit - p->bytes_read);
        n = room > 0 ? recv(p->fd, pipe_read_area, room, 0) : 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return errno;
        }
        if (n == 0) {
            p->read_eof = 1;
            if (session_send_data(p->st, NULL, 0, 1) < 0)
                return EPIPE;
            break;
        }
        if (pipe_send(p, pipe_read_area, (size_t)n) != 0)
            return EPIPE;
        if ((size_t)n < room)
            break; /* drained: epoll (level-triggered) reports what comes next */
        budget -= (size_t)n < budget ? (size_t)n : budget;
    }
    return 0;
}

static void
pipe_on_io(void *arg, uint32_t events)
{
    struct pipe_end *p = arg;
    int err = 0;

    if (events & LOOP_ERR) {
        socklen_t len = sizeof(err);
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0)
            err = ECONNRESET;
        pipe_finish(p, err); /* a reset: what is still buffered is lost anyway */
        return;
    }
    if (events & LOOP_WRITE)
        err = pipe_write(p);
    if (err == 0 && (events & (LOOP_READ | LOOP_HUP | LOOP_HUP_ALL)))
        err = pipe_read(p);
    if (err != 0) {
        pipe_finish(p, err);
        return;
    }
    pipe_update_events(p);
    if ((events & LOOP_HUP_ALL) && !p->read_eof && session_send_room(p->st) == 0 && p->out.len == 0)
        pipe_park(p);
    pipe_check_done(p);
}

static int
pipe_on_data(struct stream *st, const uint8_t *data, size_t n, int end)
{
    struct pipe_end *p = st->owner;

    if (p->peer_end)
        return NGR_EPROTO;
    if (n > 0 && buf_append(&p->out, data, n) != 0)
        return NGR_ELIMIT; /* cannot happen within the window */
    if (end)
        p->peer_end = 1;
    if (p->running) /* else kept until pipe_start */
        pipe_advance(p);
    return 0;
}

static void
pipe_on_writable(struct stream *st)
{
    pipe_update_events(st->owner);
}

static void
pipe_on_reset(struct stream *st, uint32_t code, struct frame_str message)
{
    pipe_finish(st->owner, PIPE_RESET);
}

const struct stream_ops pipe_stream_ops = {
    .on_data = pipe_on_data,
    .on_reset = pipe_on_reset,
    .on_writable = pipe_on_writable,
};

int
pipe_inject(struct pipe_end *p, const uint8_t *data, size_t n)
{
    int rc = n > 0 ? pipe_send(p, data, n) : 0;

    if (rc == 0)
        pipe_advance(p);
    return rc;
}
