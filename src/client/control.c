/* control.c: the client's control connection: non-blocking connect, with --tls TLS's handshake,
 * then preface, HELLO and a BIND per tunnel in one write, WELCOME and BOUND (or ERROR) back,
 * then OPEN frames are handed to replay.c or forward.c by the tunnel they name. Once the tunnels
 * were up, a lost connection is reconnected with capped exponential backoff and jitter,
 * presenting the gateway's reconnect secret and asking for the same names (or TCP ports); only
 * what retrying cannot fix ends the client. */
#include "control.h"
#include "frame.h"
#include "log.h"
#include "net.h"
#include "forward.h"
#include "live_view.h"
#include "replay.h"
#include "tls_io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void client_control_connect(struct client *cl);
static void client_control_on_stop_timer(void *arg);

/* The tunnel whose BIND handle is h, or NULL. */
static struct client_tunnel *
client_control_tunnel(struct client *cl, uint32_t h)
{
    return h >= 1 && h <= cl->ntunnels ? &cl->tunnels[h - 1] : NULL;
}

/* "tunnel web: " before a message about one tunnel of several; "" with one. */
static const char *
client_control_who(const struct client *cl, const struct client_tunnel *t, char *out, size_t cap)
{
    if (t == NULL || cl->ntunnels < 2)
        return "";
    snprintf(out, cap, "tunnel %s: ", t->opt->name[0] != '\0' ? t->opt->name : t->local_text);
    return out;
}

/* The secret and the name (or port) go to the tunnel's resume file, for the next run. */
static void
client_control_keep(struct client *cl, struct client_tunnel *t)
{
    struct ngr_err err;
    char who[NGR_TUNNEL_NAME_LEN + 16];

    snprintf(t->resume.secret, sizeof(t->resume.secret), "%s", cl->secret);
    if (t->opt->proto == FRAME_PROTO_TCP)
        snprintf(t->resume.name, sizeof(t->resume.name), "%u", t->tcp_port);
    else /* both NGR_MAX_SUBDOMAIN + 1 */
        memcpy(t->resume.name, t->name, sizeof(t->resume.name));
    if (resume_file_save(&t->resume, &err) != 0)
        log_say("%scannot keep the reconnect secret (%s): a restart gets a new URL",
                           client_control_who(cl, t, who, sizeof(who)), err.msg);
}

static int
client_control_on_bound(struct client *cl, const struct frame *f)
{
    struct frame_bound b;
    struct client_tunnel *t;
    char who[NGR_TUNNEL_NAME_LEN + 16];
    const char *colon;

    if (frame_bound_decode(f, &b) != 0 || (t = client_control_tunnel(cl, b.handle)) == NULL ||
        t->bound)
        return NGR_EPROTO;
    snprintf(t->public_url, sizeof(t->public_url), "%.*s", (int)b.public_url.len, b.public_url.p);
    /* What a reconnect asks back: the name, or the port of tcp://DOMAIN:PORT. */
    if (b.subdomain.len > 0 && b.subdomain.len < sizeof(t->name))
        snprintf(t->name, sizeof(t->name), "%.*s", (int)b.subdomain.len, b.subdomain.p);
    colon = strrchr(t->public_url, ':');
    if (t->opt->proto == FRAME_PROTO_TCP && colon != NULL)
        t->tcp_port = (unsigned)strtoul(colon + 1, NULL, 10);
    if (t->opt->remote_port != 0 && t->tcp_port != t->opt->remote_port)
        log_say("%sport %u was not free on the gateway: it gave port %u instead",
                           client_control_who(cl, t, who, sizeof(who)), t->opt->remote_port,
                           t->tcp_port);
    t->bound = 1;
    cl->nbound++;
    if (cl->nbound == cl->ntunnels) {
        cl->ever_bound = 1;
        cl->attempt = 0;
    }
    client_control_keep(cl, t);
    if (cl->view != NULL) /* none for diagnose, which prints its report alone */
        live_view_forwarding(cl->view, t);
    return 0;
}

/* ERROR naming one of our BINDs: a kept name the gateway no longer keeps is given up (a new
 * one next time); a gateway full for now is retried; anything else ends the client. */
static void
client_control_refused(struct client *cl, struct client_tunnel *t, uint32_t code,
                       const char *msg)
{
    char who[NGR_TUNNEL_NAME_LEN + 16];

    client_control_who(cl, t, who, sizeof(who));
    if (t != NULL && !t->bound && t->opt->subdomain[0] == '\0' && t->opt->remote_port == 0 &&
        (code == FRAME_CODE_NAME_TAKEN || code == FRAME_CODE_NAME_INVALID)) {
        /* The name it had is gone (its grace passed, or the gateway lost its state): a new
         * one, and a new URL. */
        log_say("%s%s; asking for a new name", who, msg);
        t->name[0] = '\0';
        t->tcp_port = 0;
        resume_file_forget(&t->resume);
        cl->retry = 1;
    } else if (cl->ever_bound && code == FRAME_CODE_UNAVAILABLE) {
        log_say("%s%s", who, msg); /* the gateway is full for now: retried */
    } else {
        log_say("%s%s%s", cl->nbound > 0 && t == NULL ? "gateway error: " : "", who,
                           msg);
        cl->exit_code = 1;
        cl->fatal = 1;
    }
}

static int
client_control_on_frame(void *owner, struct session *s, const struct frame *f, struct stream *st)
{
    struct client *cl = owner;
    struct client_tunnel *t;
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
            log_say("the gateway speaks protocol version %u, this client %u: "
                               "upgrade the older one",
                               h.version, NGR_PROTOCOL_VERSION);
            cl->exit_code = 1;
            session_close(s, 0, "protocol version mismatch");
            return 0;
        }
        if (session_check_peer(&h, &why) != 0) {
            log_say("the gateway's settings are unusable: %s (upgrade the older of "
                           "ngrnotok and ngrnotokd)",
                           why.msg);
            return NGR_EPROTO;
        }
        session_set_peer(s, &h);
        if (h.token.len == NGR_SECRET_LEN)
            snprintf(cl->secret, sizeof(cl->secret), "%.*s", (int)h.token.len, h.token.p);
        return 0;
    case FRAME_BOUND:
        return client_control_on_bound(cl, f);
    case FRAME_OPEN:
        /* After our GOAWAY: the gateway reads it before anything we could answer, and sends the
         * request again to whoever serves the name next (our restart, or the rest of a pool). */
        if (cl->opt_stopping)
            return session_stream_skip(s, f->stream_id);
        memset(&head, 0, sizeof(head));
        head.fields = cl->control_fields;
        head.cap_fields = NGR_MAX_HEADERS;
        if (frame_open_decode(f, &head) != 0 || (t = client_control_tunnel(cl, head.tunnel)) == NULL ||
            !t->bound)
            return NGR_EPROTO;
        if (t->serve != NULL)
            return t->serve(t->serve_arg, t, f->stream_id, &head);
        /* TCP streams and upgrades are raw byte pipes; everything else goes through libcurl. */
        if (t->opt->proto == FRAME_PROTO_TCP || (head.flags & FRAME_HEAD_UPGRADE))
            return forward_open(cl, t, f->stream_id, &head);
        return replay_open(cl->replay, t, f->stream_id, &head);
    case FRAME_ERROR:
    case FRAME_GOAWAY:
        if (frame_reason_decode(f, &r) != 0)
            return NGR_EPROTO;
        log_escape_text(esc, sizeof(esc), r.message.p, r.message.len);
        if (f->type == FRAME_GOAWAY && cl->nbound > 0) {
            /* Requests under way finish; the gateway closes the session, then we reconnect.
             * Said once, though a draining gateway may send GOAWAY twice. */
            if (!cl->told_goaway)
                log_say("the gateway is going away: %s", esc);
            cl->told_goaway = 1;
            return 0;
        }
        if (f->type == FRAME_GOAWAY) {
            log_say("the gateway is going away: %s", esc);
            if (!cl->ever_bound)
                cl->exit_code = 1;
        } else {
            client_control_refused(cl, client_control_tunnel(cl, r.ref), r.code, esc);
        }
        session_close(s, 0, "%s", esc);
        return 0;
    default:
        return NGR_EPROTO;
    }
}

/* Waits before the next attempt: NGR_RECONNECT_FIRST_MS, doubling up to NGR_RECONNECT_MAX_MS,
 * each wait drawn from its upper half so that clients of one gateway do not come back in
 * step. */
static void
client_control_retry(struct client *cl)
{
    uint64_t wait = NGR_RECONNECT_FIRST_MS;
    unsigned i;

    cl->attempt++;
    for (i = 1; i < cl->attempt && wait < NGR_RECONNECT_MAX_MS; i++)
        wait *= 2;
    if (wait > NGR_RECONNECT_MAX_MS)
        wait = NGR_RECONNECT_MAX_MS;
    wait = wait / 2 + (uint64_t)random() % (wait / 2 + 1);
    log_say("reconnecting (attempt %u, next in %.1f s)", cl->attempt,
                       (double)wait / 1000);
    loop_timer_start(cl->loop, &cl->retry_timer, wait);
}

static void
client_control_on_retry(void *arg)
{
    client_control_connect(arg);
}

/* The connection (or the attempt at one) is over: exit, or try again. */
static void
client_control_over(struct client *cl)
{
    if (cl->opt_stopping || cl->fatal || (!cl->ever_bound && !cl->retry)) {
        if (!cl->opt_stopping && !cl->fatal && cl->exit_code == 0)
            cl->exit_code = 1;
        loop_stop(cl->loop);
        return;
    }
    cl->exit_code = 0;
    if (cl->retry && !cl->ever_bound) {
        cl->retry = 0;
        client_control_connect(cl); /* at once: only a name was given up */
        return;
    }
    cl->retry = 0;
    client_control_retry(cl);
}

static void
client_control_on_closed(void *owner, struct session *s, const char *reason)
{
    struct client *cl = owner;

    size_t i;

    if (!cl->opt_stopping && !cl->fatal && !cl->retry) {
        if (cl->nbound > 0)
            log_say("%s closed: %s", cl->ntunnels > 1 ? "tunnels" : "tunnel", reason);
        else if (cl->exit_code == 0)
            log_say("the gateway closed the connection: %s", reason);
    }
    loop_timer_stop(cl->loop, &cl->stop_timer);
    session_free(s);
    cl->sess_live = 0;
    for (i = 0; i < cl->ntunnels; i++)
        cl->tunnels[i].bound = 0;
    cl->nbound = 0;
    cl->told_goaway = 0;
    client_control_over(cl);
}

static const struct session_handler client_control_handler = {
    .on_frame = client_control_on_frame,
    .on_closed = client_control_on_closed,
};

/* The connection failed before its session started: fd (and the TLS session) close, and the
 * client exits with 1, or tries again if its tunnel was up before (fatal: it exits anyway). */
static void
client_control_fail(struct client *cl, int fd, int fatal)
{
    tls_io_free(cl->tls);
    cl->tls = NULL;
    close(fd);
    if (fatal) {
        cl->fatal = 1;
        cl->exit_code = 1;
    }
    client_control_over(cl);
}

/* BIND for t: asked for by name, or back after a lost connection (or a restart) with the name
 * (or port) it had. */
static void
client_control_bind(struct client *cl, struct client_tunnel *t)
{
    const struct cli_tunnel *o = t->opt;
    struct frame_bind b;
    char port[16] = "";

    memset(&b, 0, sizeof(b));
    b.handle = t->handle;
    b.proto = (uint8_t)o->proto;
    if (o->proto == FRAME_PROTO_TCP) {
        if (t->tcp_port != 0)
            snprintf(port, sizeof(port), "%u", t->tcp_port);
        b.subdomain = frame_str_c(port);
    } else {
        b.subdomain = frame_str_c(o->subdomain[0] != '\0' ? o->subdomain : t->name);
    }
    b.target = frame_str_c(t->local_text);
    for (b.nopts = 0; b.nopts < o->nprotect; b.nopts++) {
        b.opts[b.nopts].name = frame_str_c(o->protect[b.nopts].key);
        b.opts[b.nopts].value = frame_str_c(o->protect[b.nopts].value);
    }
    session_send_bind(&cl->sess, &b);
}

/* Connected (over tls if not NULL, which the session then owns): preface, HELLO and the BINDs
 * go out together. */
static void
client_control_connected(struct client *cl, int fd, struct tls_io *tls)
{
    struct frame_hello h;
    size_t i;

    if (session_init(&cl->sess, cl->loop, fd, 0, &client_control_handler, cl) != 0) {
        log_say("cannot watch the control connection: %s", strerror(errno));
        cl->tls = tls;
        client_control_fail(cl, fd, 0);
        return;
    }
    cl->sess_live = 1;
    if (tls != NULL)
        session_set_tls(&cl->sess, tls);
    session_set_liveness(&cl->sess, (uint32_t)cl->opt.heartbeat_ms, (uint32_t)cl->opt.dead_after_ms);
    session_local_hello(&cl->sess, &h);
    h.token = frame_str_c(cl->opt.token);
    h.resume = frame_str_c(cl->secret);
    h.agent = frame_str_c("ngrnotok/" NGR_VERSION);
    session_send_hello(&cl->sess, &h, 0);
    for (i = 0; i < cl->ntunnels; i++)
        client_control_bind(cl, &cl->tunnels[i]);
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
            log_say("cannot watch the control connection: %s", strerror(errno));
            loop_io_del(cl->loop, &cl->connect_io);
            loop_timer_stop(cl->loop, &cl->connect_timer);
            cl->connect_fd = -1;
            client_control_fail(cl, fd, 0);
        }
        return;
    }
    loop_io_del(cl->loop, &cl->connect_io);
    loop_timer_stop(cl->loop, &cl->connect_timer);
    cl->connect_fd = -1;
    net_format_addr(&cl->opt.server, addr, sizeof(addr));
    if (rc == NGR_ECLOSED) {
        log_say("TLS handshake with %s failed: the gateway closed the connection; it "
                           "may not speak TLS on this port (run without --tls)",
                           addr);
        client_control_fail(cl, fd, 0);
        return;
    }
    if (rc == NGR_ETRUST) {
        log_say("TLS handshake with %s failed: the gateway's certificate is not "
                           "trusted: %s%s",
                           addr, err.msg,
                           cl->opt.ca[0] == '\0' ? " (for a private CA: --ca FILE)" : "");
        client_control_fail(cl, fd, 1);
        return;
    }
    if (rc != 0) {
        log_say("TLS handshake with %s failed: %s", addr, err.msg);
        client_control_fail(cl, fd, 0);
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
        log_say("%s", err.msg);
        client_control_fail(cl, fd, 0);
        return;
    }
    cl->connect_fd = fd;
    loop_timer_start(cl->loop, &cl->connect_timer, NGR_HANDSHAKE_MS);
    if (loop_io_add(cl->loop, &cl->connect_io, fd, LOOP_WRITE, client_control_on_tls, cl) != 0) {
        log_say("cannot watch the control connection: %s", strerror(errno));
        loop_timer_stop(cl->loop, &cl->connect_timer);
        cl->connect_fd = -1;
        client_control_fail(cl, fd, 0);
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
        /* Before the first tunnel is up, most likely the address is wrong or the gateway
         * is not running; afterwards it is restarting, and the client tries again. */
        log_say("cannot reach the gateway: %s%s", err.msg,
                           cl->ever_bound ? ""
                                          : " (is ngrnotokd running there? give its address "
                                            "with --server HOST:PORT, or once with 'ngrnotok "
                                            "config set-server HOST:PORT')");
        client_control_fail(cl, fd, 0);
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
        log_say("TLS handshake with %s failed: no answer within %d s", addr,
                           NGR_HANDSHAKE_MS / 1000);
    else
        log_say("cannot reach the gateway at %s: no answer within %d s (a firewall "
                           "between, or the wrong --server?)",
                           addr,
                           NGR_CONNECT_MS / 1000);
    loop_io_del(cl->loop, &cl->connect_io);
    cl->connect_fd = -1;
    client_control_fail(cl, fd, 0);
}

/* Starts a connection attempt: 0, or a negative code with the reason in err. */
static int
client_control_dial(struct client *cl, struct ngr_err *err)
{
    int fd;

    fd = net_connect(&cl->opt.server, err);
    if (fd < 0)
        return fd;
    cl->connect_fd = fd;
    loop_timer_start(cl->loop, &cl->connect_timer, NGR_CONNECT_MS);
    if (loop_io_add(cl->loop, &cl->connect_io, fd, LOOP_WRITE, client_control_on_connect, cl) !=
        0) {
        loop_timer_stop(cl->loop, &cl->connect_timer);
        cl->connect_fd = -1;
        close(fd);
        return err_set(err, NGR_ESYS, "epoll: %s", strerror(errno));
    }
    return 0;
}

/* A reconnect attempt, from the retry timer. */
static void
client_control_connect(struct client *cl)
{
    struct ngr_err err;

    if (client_control_dial(cl, &err) != 0) {
        log_say("cannot reach the gateway: %s", err.msg);
        client_control_over(cl);
    }
}

int
client_control_start(struct client *cl, struct ngr_err *err)
{
    cl->connect_fd = -1;
    loop_timer_init(&cl->connect_timer, client_control_on_connect_timeout, cl);
    loop_timer_init(&cl->retry_timer, client_control_on_retry, cl);
    loop_timer_init(&cl->stop_timer, client_control_on_stop_timer, cl);
    srandom((unsigned)getpid() ^ (unsigned)loop_clock_us());
    return client_control_dial(cl, err);
}

/* Stopping: the session closes once the requests under way are answered, or when their
 * time (NGR_CLIENT_STOP_MS) is up. */
static void
client_control_on_stop_timer(void *arg)
{
    struct client *cl = arg;

    if (!cl->sess_live)
        return;
    if (cl->sess.nstreams > 0 && loop_now(cl->loop) < cl->stop_until) {
        loop_timer_start(cl->loop, &cl->stop_timer, NGR_DRAIN_CHECK_MS);
        return;
    }
    if (cl->sess.nstreams > 0)
        log_say("stopping with %zu request%s unfinished", cl->sess.nstreams,
                           cl->sess.nstreams == 1 ? "" : "s");
    session_close(&cl->sess, 0, "stopped");
}

/* SIGINT or SIGTERM: GOAWAY tells the gateway to send nothing new (its name stays kept for
 * the grace); requests under way get NGR_CLIENT_STOP_MS to finish. A second signal, or none
 * under way, stops at once. */
void
client_control_stop(struct client *cl)
{
    int again = cl->opt_stopping;

    cl->opt_stopping = 1;
    loop_timer_stop(cl->loop, &cl->retry_timer);
    if (!cl->sess_live) {
        loop_stop(cl->loop);
        return;
    }
    if (!again)
        session_send_goaway(&cl->sess, FRAME_CODE_NONE, cl->sess.peer_max_id, "client stopped");
    if (again || cl->nbound == 0 || cl->sess.nstreams == 0) {
        session_close(&cl->sess, 0, "stopped");
        return;
    }
    log_say("stopping: finishing %zu request%s under way (at most %d s; signal "
                       "again to stop now)",
                       cl->sess.nstreams, cl->sess.nstreams == 1 ? "" : "s",
                       NGR_CLIENT_STOP_MS / 1000);
    cl->stop_until = loop_now(cl->loop) + NGR_CLIENT_STOP_MS;
    loop_timer_start(cl->loop, &cl->stop_timer, NGR_DRAIN_CHECK_MS);
}
