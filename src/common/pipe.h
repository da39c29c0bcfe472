/* pipe.h: a raw byte pipe between a socket and a stream: what an upgraded HTTP connection and a
 * TCP tunnel's connection are on both sides. Bytes read from the socket go out as DATA within
 * the stream's credit (reading stops while there is none); DATA from the peer is written to the
 * socket and its credit returned only once written, so a slow reader stalls only its own
 * stream. End of stream maps to shutdown(SHUT_WR) and back, so half-close works. */
#ifndef NGR_PIPE_H
#define NGR_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"
#include "session.h"

struct pipe_end;

/* Both directions ended (error 0), the socket failed (error is an errno value), or the stream
 * was reset (PIPE_RESET: it is already detached). The owner then resets the stream if it is
 * still attached, calls pipe_stop and closes the socket. Called once. */
typedef void (*pipe_done_cb)(void *owner, struct pipe_end *p, int error);
#define PIPE_RESET (-1)
/* done's error in words, for a log line: "both directions done", "reset by the peer", or the
 * socket's strerror. Static storage. */
const char *pipe_done_reason(int error);

/* The stream ops of a piped stream, for session_stream_open/accept with the pipe_end as the
 * stream's owner (or set on a stream that turns into a pipe, with st->owner = the pipe_end):
 * DATA goes to the socket, credit lets reading go on, a reset reaches done as PIPE_RESET. */
extern const struct stream_ops pipe_stream_ops;

struct pipe_end {
    struct loop *loop;
    struct loop_io io;
    int fd;            /* borrowed: the owner closes it */
    struct stream *st; /* borrowed */
    struct buf out;    /* bytes from the peer not yet written, at most one stream window */
    pipe_done_cb done;
    void *owner;
    unsigned read_eof : 1; /* the socket said EOF; END went out */
    unsigned peer_end : 1; /* the peer's END arrived */
    unsigned shut_wr : 1;  /* out drained after peer_end: shutdown(SHUT_WR) done */
    unsigned running : 1;
    unsigned parked : 1;     /* out of the epoll set: hung up while we may not read */
    unsigned finished : 1;   /* done was called */
    uint64_t bytes_read;     /* from the socket */
    uint64_t bytes_written;  /* to the socket */
    uint64_t read_limit;     /* bytes to read before acting as if EOF came (UINT64_MAX: none) */
    uint64_t *read_counter;  /* optional: also counts bytes read (a tunnel's statistics) */
    uint64_t *write_counter; /* optional: also counts bytes written */
};

/* Prepares p for st; DATA that arrives before pipe_start waits in p->out (bounded by the
 * window), and credit before it is ignored. */
void pipe_init(struct pipe_end *p, struct loop *l, struct stream *st, pipe_done_cb done,
               void *owner);
/* Starts moving bytes between fd (connected, non-blocking) and the stream. Returns 0 or
 * NGR_ESYS. */
NGR_MUST_CHECK int pipe_start(struct pipe_end *p, int fd);
/* Stops watching the socket (idempotent); frees the buffer. Does not close fd. */
void pipe_stop(struct pipe_end *p);

/* Sends bytes the owner already read from the socket (libmicrohttpd's extra_in), as if read
 * now. Returns 0 or NGR_ELIMIT if they do not fit in the stream's credit. */
NGR_MUST_CHECK int pipe_inject(struct pipe_end *p, const uint8_t *data, size_t n);

#endif
