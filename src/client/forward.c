/* forward.c: TCP tunnel streams and HTTP upgrades on the client; see forward.h. */
#include "forward.h"
#include "exchange.h"
#include "http_head.h"
#include "log.h"
#include "net.h"
#include "pipe.h"
#include "proxy_header.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

enum forward_state {
    FORWARD_CONNECTING,
    FORWARD_SENDING_HEAD,
    FORWARD_READING_HEAD,
    FORWARD_PIPING
};

struct forward {
    struct stream st;
    struct pipe_end pipe;
    struct client *cl;
    const struct client_tunnel *t; /* the tunnel it came on: its local service */
    struct loop_io io; /* until the pipe takes the socket */
    int fd;
    int addr_i;  /* which resolved address is being tried */
    int upgrade; /* an HTTP upgrade, not a TCP stream */
    int is_head; /* a HEAD: an answer has no body whatever its Content-Length */
    int closed;
    enum forward_state state;
    struct buf head_out; /* the request head, for an upgrade */
    struct buf head_in;  /* the response head as it arrives */
    char label[NGR_LABEL_LEN];
    /* What its exchange reports when it closes (exchange.h, raw) */
    char method[NGR_EXCHANGE_METHOD_LEN]; /* escaped; "TCP" for a TCP stream */
    char path[NGR_LABEL_TARGET_LEN];      /* escaped target, or the visitor's address */
    int status;                           /* the service's answer to an upgrade; 0: none */
    uint64_t started_ms;
    uint64_t head_ms;
    struct loop_defer free; /* closed: an event for it may still wait in this epoll batch */
};

static void forward_on_io(void *arg, uint32_t events);

/* The connection is over: what it was, to the client's observers (the live view's line). */
static void
forward_report(struct forward *fw, uint32_t code, const char *why)
{
    struct exchange x;

    if (fw->cl->exchanges.n == 0)
        return;
    memset(&x, 0, sizeof(x));
    x.tunnel = fw->t;
    x.method = fw->method;
    x.path = fw->path;
    x.status = fw->status;
    x.error = code != FRAME_CODE_NONE ? why : NULL;
    x.started_ms = fw->started_ms;
    x.head_ms = fw->head_ms;
    x.done_ms = loop_now(fw->cl->loop);
    x.bytes_in = fw->pipe.bytes_written; /* from the visitor, written to the service */
    x.bytes_out = fw->pipe.bytes_read;
    x.raw = 1;
    exchange_publish(&fw->cl->exchanges, &x);
}

/* Ends the connection: the stream is reset (code) or detached, the socket closed, the object
 * freed at the end of the turn. */
static void
forward_close(struct forward *fw, uint32_t code, const char *why)
{
    if (fw->closed)
        return;
    fw->closed = 1;
    session_stream_end(&fw->st, code, why);
    if (fw->state != FORWARD_PIPING && fw->fd >= 0)
        loop_io_del(fw->cl->loop, &fw->io);
    pipe_stop(&fw->pipe);
    if (fw->fd >= 0)
        close(fw->fd);
    fw->fd = -1;
    buf_free(&fw->head_out);
    buf_free(&fw->head_in);
    forward_report(fw, code, why);
    if (code != FRAME_CODE_NONE)
        log_warn("%s: %s", fw->label, why);
    else
        log_debug("%s: closed", fw->label);
    loop_defer(fw->cl->loop, &fw->free);
}

static void
forward_on_pipe_done(void *owner, struct pipe_end *p, int error)
{
    struct forward *fw = owner;

    forward_close(fw, error > 0 ? FRAME_CODE_UPSTREAM : FRAME_CODE_NONE, pipe_done_reason(error));
}

/* Hands the socket to the pipe, with bytes already read after the head (if any). */
static void
forward_start_pipe(struct forward *fw, const uint8_t *extra, size_t n)
{
    loop_io_del(fw->cl->loop, &fw->io);
    fw->state = FORWARD_PIPING;
    if (pipe_start(&fw->pipe, fw->fd) != 0 || pipe_inject(&fw->pipe, extra, n) != 0) {
        forward_close(fw, FRAME_CODE_INTERNAL, "cannot start the pipe");
        return;
    }
}

/* Tries the next resolved address, or gives up with REFUSED. */
static void
forward_connect(struct forward *fw, int last_errno)
{
    const struct net_resolved *r = &fw->t->local_resolved;
    char msg[NGR_MAX_MESSAGE];

    while (fw->addr_i < r->n) {
        int fd = net_connect_resolved(r, fw->addr_i++);
        if (fd < 0) {
            last_errno = -fd;
            continue;
        }
        fw->fd = fd;
        fw->state = FORWARD_CONNECTING;
        if (loop_io_add(fw->cl->loop, &fw->io, fd, LOOP_WRITE, forward_on_io, fw) != 0) {
            close(fd);
            fw->fd = -1;
            last_errno = errno;
            continue;
        }
        return;
    }
    snprintf(msg, sizeof(msg), "connect %s: %s", fw->t->local_text,
             strerror(last_errno ? last_errno : ECONNREFUSED));
    forward_close(fw, FRAME_CODE_REFUSED, msg);
}

/* Parses the response head in fw->head_in (up to and with its blank line, head_len bytes) and
 * sends REPLY. Returns the status, or -1 after resetting the stream. */
static int
forward_send_reply(struct forward *fw, size_t head_len)
{
    char *text = (char *)fw->head_in.data + fw->head_in.off;
    char *next, *end = text + head_len;
    struct frame_head h;
    struct http_head_framing fr;
    int status = 0, n;
    int rc;

    memset(&h, 0, sizeof(h));
    /* Status line: "HTTP/1.1 101 Switching Protocols". */
    next = memchr(text, '\n', (size_t)(end - text));
    if (next == NULL ||
        (strncmp(text, "HTTP/1.1 ", 9) != 0 && strncmp(text, "HTTP/1.0 ", 9) != 0) ||
        sscanf(text + 9, "%3d", &status) != 1 || status < 100 || status > 999) {
        forward_close(fw, FRAME_CODE_UPSTREAM, "the local service's response head is malformed");
        return -1;
    }
    n = http_head_fields(next + 1, (size_t)(end - (next + 1)), fw->cl->forward_fields,
                         NGR_MAX_HEADERS, &fr);
    if (n < 0) {
        struct http_head_refusal e = http_head_refused(n);
        forward_close(fw, e.code, e.message);
        return -1;
    }
    if (status != 101 && fr.chunked) {
        forward_close(fw, FRAME_CODE_UPSTREAM,
                      "a chunked answer to an upgrade request is not supported");
        return -1;
    }
    h.status = (uint16_t)status;
    h.fields = fw->cl->forward_fields;
    h.nfields = (size_t)n;
    if (status == 101) {
        h.body = FRAME_BODY_UNKNOWN; /* raw bytes follow, both ways */
    } else if (fw->is_head || status == 204 || status == 304 || status < 200) {
        h.body = FRAME_BODY_NONE;
        fw->pipe.read_limit = 0;
    } else if (fr.has_length) {
        h.body = FRAME_BODY_LENGTH;
        h.length = fr.length;
        fw->pipe.read_limit = fr.length;
    } else {
        h.body = FRAME_BODY_UNKNOWN; /* until the local service closes */
    }
    if (status != 101) {
        /* An ordinary answer: the request side is over, and the connection closes after the
         * answer. The socket is not shut for writing first: a service that closes on EOF
         * could cut a close-delimited answer short. */
        fw->pipe.peer_end = 1;
        fw->pipe.shut_wr = 1;
    }
    rc = session_send_reply(&fw->st, 0, &h);
    if (rc == NGR_ELIMIT) {
        forward_close(fw, FRAME_CODE_TOO_LARGE, "response head too large");
        return -1;
    }
    if (rc != 0) {
        forward_close(fw, FRAME_CODE_NONE, "tunnel session closed");
        return -1;
    }
    log_info("%s -> %d", fw->label, status);
    fw->status = status;
    fw->head_ms = loop_now(fw->cl->loop);
    return status;
}

static void
forward_on_io(void *arg, uint32_t events)
{
    struct forward *fw = arg;
    int err = 0;
    socklen_t elen = sizeof(err);

    if (fw->state == FORWARD_CONNECTING) {
        if (getsockopt(fw->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            err = errno;
        if (err != 0) {
            loop_io_del(fw->cl->loop, &fw->io);
            close(fw->fd);
            fw->fd = -1;
            forward_connect(fw, err);
            return;
        }
        if (!fw->upgrade && fw->head_out.len == 0) {
            forward_start_pipe(fw, NULL, 0);
            return;
        }
        fw->state = FORWARD_SENDING_HEAD; /* an upgrade's request head, or a PROXY header */
    }
    if (fw->state == FORWARD_SENDING_HEAD) {
        size_t sent = 0;
        int e = net_send_buf(fw->fd, &fw->head_out, &sent);

        if (e != 0) {
            forward_close(fw, FRAME_CODE_UPSTREAM, strerror(e));
            return;
        }
        if (fw->head_out.len > 0)
            return; /* the socket is full: EPOLLOUT comes back here */
        if (!fw->upgrade) { /* the PROXY header is out: the visitor's bytes follow it */
            forward_start_pipe(fw, NULL, 0);
            return;
        }
        fw->state = FORWARD_READING_HEAD;
        loop_io_mod(fw->cl->loop, &fw->io, LOOP_READ);
        return;
    }
    if (fw->state == FORWARD_READING_HEAD) {
        uint8_t *dst = buf_reserve(&fw->head_in, NGR_FORWARD_HEAD_READ, 0);
        ssize_t n;
        const uint8_t *p, *blank;

        if (dst == NULL) {
            forward_close(fw, FRAME_CODE_TOO_LARGE,
                          "the local service's response head is too large");
            return;
        }
        n = recv(fw->fd, dst, NGR_FORWARD_HEAD_READ, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                forward_close(fw, FRAME_CODE_UPSTREAM, strerror(errno));
            return;
        }
        if (n == 0) {
            forward_close(fw, FRAME_CODE_UPSTREAM, "the local service closed before answering");
            return;
        }
        buf_commit(&fw->head_in, (size_t)n);
        p = buf_head(&fw->head_in);
        /* The only HTTP parsing we do by hand: finding the end of a response head. */
        blank = memmem(p, fw->head_in.len, "\r\n\r\n", 4);
        if (blank == NULL)
            return;
        {
            size_t head_len = (size_t)(blank - p) + 4;
            if (forward_send_reply(fw, head_len) < 0)
                return;
            forward_start_pipe(fw, p + head_len, fw->head_in.len - head_len);
            if (!fw->closed)
                buf_free(&fw->head_in);
        }
    }
}

/* Writes "METHOD TARGET HTTP/1.1", the fields (Host rewritten if asked) and the blank line. */
static int
forward_build_head(struct forward *fw, const struct frame_head *h)
{
    struct buf *b = &fw->head_out;
    const char *hostport = fw->t->local_text;
    size_t i;
    int rc = 0;

    rc |= buf_append(b, h->method.p, h->method.len);
    rc |= buf_append(b, " ", 1);
    rc |= buf_append(b, h->target.p, h->target.len);
    rc |= buf_append(b, " HTTP/1.1\r\n", 11);
    for (i = 0; i < h->nfields; i++) {
        const struct frame_field *f = &h->fields[i];
        rc |= buf_append(b, f->name.p, f->name.len);
        rc |= buf_append(b, ": ", 2);
        if (fw->t->opt->host_rewrite && frame_str_eq(f->name, "host"))
            rc |= buf_append(b, hostport, strlen(hostport));
        else
            rc |= buf_append(b, f->value.p, f->value.len);
        rc |= buf_append(b, "\r\n", 2);
    }
    rc |= buf_append(b, "\r\n", 2);
    return rc;
}

/* tcp --proxy-protocol: the header for the visitor (OPEN's target) and the gateway's public
 * address (its host), which goes first on the local connection. A gateway too old to send
 * the two with ports gets a header that says the origin is unknown, and a warning once. */
static int
forward_build_proxy_header(struct forward *fw, const struct frame_head *h)
{
    static int warned;
    struct proxy_endpoint src, dst;
    uint8_t out[NGR_PROXY_HEADER_MAX];
    int known = proxy_endpoint_parse(h->target.p, h->target.len, &src) == 0 &&
                proxy_endpoint_parse(h->host.p, h->host.len, &dst) == 0;
    size_t n = proxy_header_build((enum proxy_header_version)fw->t->opt->proxy_protocol,
                                  known ? &src : NULL, known ? &dst : NULL, out);

    if (!known && !warned) {
        warned = 1;
        log_warn("the gateway sent no visitor address with a port: the PROXY headers say "
                 "the origin is unknown (upgrade the gateway)");
    }
    return buf_append(&fw->head_out, out, n);
}

int
forward_open(struct client *cl, const struct client_tunnel *t, uint32_t stream_id,
             const struct frame_head *h)
{
    struct forward *fw = calloc(1, sizeof(*fw));

    if (fw == NULL)
        return NGR_ENOMEM;
    /* From the start the stream is a pipe's: DATA before the socket is ready waits in it. */
    if (session_stream_accept(&cl->sess, &fw->st, stream_id, &pipe_stream_ops, &fw->pipe) != 0) {
        free(fw);
        return NGR_EPROTO;
    }
    fw->cl = cl;
    fw->t = t;
    loop_defer_init(&fw->free, free, fw);
    fw->fd = -1;
    fw->upgrade = (h->flags & FRAME_HEAD_UPGRADE) != 0;
    fw->is_head = frame_str_eq(h->method, "HEAD");
    buf_init(&fw->head_out, NGR_FORWARD_HEAD_OUT);
    buf_init(&fw->head_in, NGR_FORWARD_MAX_HEAD);
    pipe_init(&fw->pipe, cl->loop, &fw->st, forward_on_pipe_done, fw);
    fw->started_ms = loop_now(cl->loop);
    if (fw->upgrade) {
        log_escape(fw->method, sizeof(fw->method), h->method.p, h->method.len);
        log_escape(fw->path, sizeof(fw->path), h->target.p, h->target.len);
        snprintf(fw->label, sizeof(fw->label), "%.15s %.60s (upgrade)", fw->method, fw->path);
    } else {
        snprintf(fw->method, sizeof(fw->method), "TCP");
        log_escape(fw->path, sizeof(fw->path), h->client_addr.p, h->client_addr.len);
        snprintf(fw->label, sizeof(fw->label), "tcp from %s", fw->path);
    }
    if (fw->upgrade && t->opt->scheme == CLI_SCHEME_HTTPS) {
        /* This side's connection is plain TCP: an upgrade would reach a TLS port in clear. */
        forward_close(fw, FRAME_CODE_REFUSED,
                      "upgrades (WebSockets) to an https:// local service are not supported; "
                      "expose its http:// port");
        return 0;
    }
    if (fw->upgrade && forward_build_head(fw, h) != 0) {
        forward_close(fw, FRAME_CODE_TOO_LARGE, "request head too large");
        return 0;
    }
    if (!fw->upgrade && t->opt->proxy_protocol != 0 && forward_build_proxy_header(fw, h) != 0) {
        forward_close(fw, FRAME_CODE_INTERNAL, "out of memory");
        return 0;
    }
    log_debug("stream %u: %s", stream_id, fw->label);
    forward_connect(fw, 0);
    return 0;
}
