/* control.c: the client's control connection: non-blocking connect, with --tls TLS's handshake,
 * then preface, HELLO and BIND in one write, WELCOME and BOUND (or ERROR) back, then OPEN frames
 * are handed to replay.c. */
#include "control.h"
#include "frame.h"
#include "log.h"
#include "net.h"
#include "forward.h"
#include "replay.h"
#include "tls_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A message for the person at the terminal. */
static void client_control_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
client_control_say(const char *fmt, ...)
{
    va_list ap;

    fputs("ngrnotok: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int
client_control_on_bound(struct client *cl, const struct frame *f)
{
    struct frame_bound b;
    char local[NGR_ADDR_LEN + 8];

    if (frame_bound_decode(f, &b) != 0 || b.handle != cl->handle || cl->bound)
        return NGR_EPROTO;
    snprintf(cl->public_url, sizeof(cl->public_url), "%.*s", (int)b.public_url.len, b.public_url.p);
    cl->bound = 1;
    net_format_addr(&cl->opt.local, local, sizeof(local));
    printf("Forwarding %s -> %s%s\n", cl->public_url,
           cl->opt.proto == FRAME_PROTO_TCP ? "" : "http://", local);
    fflush(stdout);
    return 0;
}

static int
client_control_on_frame(void *owner, struct session *s, const struct frame *f, struct stream *st)
{
    struct client *cl = owner;
    struct frame_hello h;
    struct frame_reason r;
    struct frame_head head;
    struct ngr_err why;
    char esc[NGR_MAX_MESSAGE * 4 + 8];

    switch (f->type) {
    case FRAME_WELCOME:
        if (frame_hello_decode(f, &h) != 0)
            return NGR_EPROTO;
        if (h.version != NGR_PROTOCOL_VERSION) {
            client_control_say("the gateway speaks protocol version %u, this client %u: "
                               "upgrade the older one",
                               h.version, NGR_PROTOCOL_VERSION);
            cl->exit_code = 1;
            session_close(s, 0, "protocol version mismatch");
            return 0;
        }
        if (session_check_peer(&h, &why) != 0) {
            client_control_say("the gateway's settings are unusable: %s", why.msg);
            return NGR_EPROTO;
        }
        session_set_peer(s, &h);
        return 0;
    case FRAME_BOUND:
        return client_control_on_bound(cl, f);
    case FRAME_OPEN:
        memset(&head, 0, sizeof(head));
        head.fields = cl->control_fields;
        head.cap_fields = NGR_MAX_HEADERS;
        if (!cl->bound || frame_open_decode(f, &head) != 0 || head.tunnel != cl->handle)
            return NGR_EPROTO;
        /* TCP streams and upgrades are raw byte pipes; everything else goes through libcurl. */
        if (cl->opt.proto == FRAME_PROTO_TCP || (head.flags & FRAME_HEAD_UPGRADE))
            return forward_open(cl, f->stream_id, &head);
        return replay_open(cl->replay, f->stream_id, &head);
    case FRAME_ERROR:
    case FRAME_GOAWAY:
        if (frame_reason_decode(f, &r) != 0)
            return NGR_EPROTO;
        log_escape(esc, sizeof(esc), r.message.p, r.message.len);
        if (f->type == FRAME_ERROR || !cl->bound)
            client_control_say("%s%s", cl->bound ? "gateway error: " : "", esc);
        else
            client_control_say("the gateway is going away: %s", esc);
        cl->exit_code = 1;
        session_close(s, 0, "%s", esc);
        return 0;
    default:
        return NGR_EPROTO;
    }
}

static void
client_control_on_closed(void *owner, struct session *s, const char *reason)
{
    struct client *cl = owner;

    if (cl->exit_code == 0 && !cl->opt_stopping) {
        if (cl->bound)
            client_control_say("tunnel closed: %s", reason);
        else
            client_control_say("the gateway closed the connection: %s", reason);
        cl->exit_code = 1;
    }
    session_free(s);
    cl->sess_live = 0;
    loop_stop(cl->loop);
}

static const struct session_handler client_control_handler = {
    .on_frame = client_control_on_frame,
    .on_closed = client_control_on_closed,
};

/* The connection failed before its session started: fd (and the TLS session) close, and the
 * client exits with 1. */
static void
client_control_fail(struct client *cl, int fd)
{
    tls_io_free(cl->tls);
    cl->tls = NULL;
    close(fd);
    cl->exit_code = 1;
    loop_stop(cl->loop);
}

/* Connected (over tls if not NULL, which the session then owns): preface, HELLO and BIND go
 * out together. */
static void
client_control_connected(struct client *cl, int fd, struct tls_io *tls)
{
    struct frame_hello h;
    struct frame_bind b;
    char local[NGR_ADDR_LEN + 8];

    if (session_init(&cl->sess, cl->loop, fd, 0, &client_control_handler, cl) != 0) {
        client_control_say("cannot watch the control connection: %s", strerror(errno));
        cl->tls = tls;
        client_control_fail(cl, fd);
        return;
    }
    cl->sess_live = 1;
    if (tls != NULL)
        session_set_tls(&cl->sess, tls);
    session_local_hello(&cl->sess, &h);
    h.token = frame_str_c(cl->opt.token);
    h.agent = frame_str_c("ngrnotok/" NGR_VERSION);
    session_send_hello(&cl->sess, &h, 0);
    memset(&b, 0, sizeof(b));
    cl->handle = 1;
    b.handle = cl->handle;
    b.proto = (uint8_t)cl->opt.proto;
    b.subdomain = frame_str_c(cl->opt.subdomain);
    net_format_addr(&cl->opt.local, local, sizeof(local));
    b.target = frame_str_c(local);
    for (b.nopts = 0; b.nopts < cl->opt.nprotect; b.nopts++) {
        b.opts[b.nopts].name = frame_str_c(cl->opt.protect[b.nopts].key);
        b.opts[b.nopts].value = frame_str_c(cl->opt.protect[b.nopts].value);
    }
    session_send_bind(&cl->sess, &b);
}

/* TLS's handshake, on the socket's readiness: then the session starts over it. */
static void
client_control_on_tls(void *arg, uint32_t events)
{
    struct client *cl = arg;
    struct ngr_err err;
    char addr[NGR_ADDR_LEN + 8], desc[64];
    uint32_t want = LOOP_WRITE;
    int fd = cl->connect_fd, rc;
    struct tls_io *t;

    (void)events;
    rc = tls_io_handshake(cl->tls, &want, &err);
    if (rc == NGR_EAGAIN) {
        if (loop_io_mod(cl->loop, &cl->connect_io, want) != 0) {
            client_control_say("cannot watch the control connection: %s", strerror(errno));
            loop_io_del(cl->loop, &cl->connect_io);
            loop_timer_stop(cl->loop, &cl->connect_timer);
            cl->connect_fd = -1;
            client_control_fail(cl, fd);
        }
        return;
    }
    loop_io_del(cl->loop, &cl->connect_io);
    loop_timer_stop(cl->loop, &cl->connect_timer);
    cl->connect_fd = -1;
    net_format_addr(&cl->opt.server, addr, sizeof(addr));
    if (rc == NGR_ECLOSED) {
        client_control_say("TLS handshake with %s failed: the gateway closed the connection; it "
                           "may not speak TLS on this port (run without --tls)",
                           addr);
        client_control_fail(cl, fd);
        return;
    }
    if (rc == NGR_ETRUST) {
        client_control_say("TLS handshake with %s failed: the gateway's certificate is not "
                           "trusted: %s%s",
                           addr, err.msg,
                           cl->opt.ca[0] == '\0' ? " (for a private CA: --ca FILE)" : "");
        client_control_fail(cl, fd);
        return;
    }
    if (rc != 0) {
        client_control_say("TLS handshake with %s failed: %s", addr, err.msg);
        client_control_fail(cl, fd);
        return;
    }
    tls_io_describe(cl->tls, desc, sizeof(desc));
    log_debug("control connection to %s: %s", addr, desc);
    t = cl->tls;
    cl->tls = NULL;
    client_control_connected(cl, fd, t);
}

/* --tls: the TLS session starts on the connected socket; its handshake has NGR_HANDSHAKE_MS. */
static void
client_control_start_tls(struct client *cl, int fd)
{
    struct ngr_err err;

    cl->tls = tls_io_client(fd, cl->tls_cred, cl->opt.server.host, &err);
    if (cl->tls == NULL) {
        client_control_say("%s", err.msg);
        client_control_fail(cl, fd);
        return;
    }
    cl->connect_fd = fd;
    loop_timer_start(cl->loop, &cl->connect_timer, NGR_HANDSHAKE_MS);
    if (loop_io_add(cl->loop, &cl->connect_io, fd, LOOP_WRITE, client_control_on_tls, cl) != 0) {
        client_control_say("cannot watch the control connection: %s", strerror(errno));
        loop_timer_stop(cl->loop, &cl->connect_timer);
        cl->connect_fd = -1;
        client_control_fail(cl, fd);
        return;
    }
    client_control_on_tls(cl, LOOP_WRITE); /* the ClientHello goes out now */
}

static void
client_control_on_connect(void *arg, uint32_t events)
{
    struct client *cl = arg;
    struct ngr_err err;
    int fd = cl->connect_fd;

    loop_io_del(cl->loop, &cl->connect_io);
    loop_timer_stop(cl->loop, &cl->connect_timer);
    cl->connect_fd = -1;
    if (net_connect_result(fd, &cl->opt.server, &err) != 0) {
        client_control_say("cannot reach the gateway: %s", err.msg);
        client_control_fail(cl, fd);
        return;
    }
    if (cl->tls_cred != NULL)
        client_control_start_tls(cl, fd);
    else
        client_control_connected(cl, fd, NULL);
}

static void
client_control_on_connect_timeout(void *arg)
{
    struct client *cl = arg;
    char addr[NGR_ADDR_LEN + 8];
    int fd = cl->connect_fd;

    net_format_addr(&cl->opt.server, addr, sizeof(addr));
    if (cl->tls != NULL)
        client_control_say("TLS handshake with %s failed: no answer within %d s", addr,
                           NGR_HANDSHAKE_MS / 1000);
    else
        client_control_say("cannot reach the gateway at %s: no answer within %d s", addr,
                           NGR_CONNECT_MS / 1000);
    loop_io_del(cl->loop, &cl->connect_io);
    cl->connect_fd = -1;
    client_control_fail(cl, fd);
}

int
client_control_start(struct client *cl, struct ngr_err *err)
{
    int fd;

    cl->connect_fd = -1;
    fd = net_connect(&cl->opt.server, err);
    if (fd < 0)
        return fd;
    cl->connect_fd = fd;
    loop_timer_init(&cl->connect_timer, client_control_on_connect_timeout, cl);
    loop_timer_start(cl->loop, &cl->connect_timer, NGR_CONNECT_MS);
    if (loop_io_add(cl->loop, &cl->connect_io, fd, LOOP_WRITE, client_control_on_connect, cl) !=
        0) {
        close(fd);
        return err_set(err, NGR_ESYS, "epoll: %s", strerror(errno));
    }
    return 0;
}

void
client_control_stop(struct client *cl)
{
    cl->opt_stopping = 1;
    if (!cl->sess_live) {
        loop_stop(cl->loop);
        return;
    }
    session_send_goaway(&cl->sess, FRAME_CODE_NONE, cl->sess.peer_max_id, "client stopped");
    session_close(&cl->sess, 0, "stopped");
}
