/* control.c: the gateway's control plane: accepts client connections, runs TLS's handshake on
 * a TLS control port, then the session's (preface, HELLO -> WELCOME; BIND goes to
 * control_bind.c), its frames, goodbyes and close. Stream frames never come here: the session
 * hands them to each stream's ops. docs/protocol.md describes the exchange. */
#include "control.h"
#include "public_http.h"
#include "control_conn.h"
#include "cidr.h"
#include "frame.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "proxy_accept.h"
#include "reconnect_secret.h"
#include "reservations.h"
#include "tls_io.h"
#include "tunnel_table.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static const struct session_handler control_handler;

/* Checks HELLO's token against the gateway's (auth_tokens.c compares digests in constant
 * time). Returns 1, or 0 with the session closed and the reason sent to the client. The token
 * itself is never logged. */
static int
control_check_token(struct ctl_conn *c, struct frame_str tok)
{
    const struct auth_token *t;

    if (!c->srv->tokens.active)
        return 1;
    if (tok.len == 0) {
        log_info("control %s: refused: no token", c->peer);
        session_close(&c->sess, FRAME_CODE_AUTH,
                      "authentication required: this gateway asks for a token "
                      "(ngrnotok --token TOKEN, or set NGRNOTOK_TOKEN)");
        return 0;
    }
    auth_token_digest(tok.p, tok.len, c->token);
    t = auth_tokens_find(&c->srv->tokens, c->token);
    if (t == NULL) {
        log_info("control %s: refused: wrong token", c->peer);
        session_close(&c->sess, FRAME_CODE_AUTH,
                      "authentication failed: the token is not valid for this gateway");
        return 0;
    }
    c->has_token = 1;
    snprintf(c->token_id, sizeof(c->token_id), "%s", t->id);
    return 1;
}

static int
control_on_hello(struct ctl_conn *c, const struct frame *f)
{
    struct frame_hello h, mine;
    struct ngr_err why;
    unsigned version;

    if (c->hello_done)
        return NGR_EPROTO;
    /* Whatever its version, a plain client cannot use a TLS control port: its HELLO (and its
     * token) came in clear. It is told how to connect instead. */
    if (c->plain_on_tls) {
        log_info("control %s: refused: a plain client on the TLS control port", c->peer);
        session_close(&c->sess, FRAME_CODE_UNSUPPORTED,
                      "this gateway's control port speaks TLS: run ngrnotok with --tls (and "
                      "--ca FILE for a private CA)");
        return 0;
    }
    /* The version leads HELLO in every version: check it before the rest of the layout. */
    version = f->length >= 2 ? (unsigned)(f->payload[0] << 8 | f->payload[1]) : 0;
    if (version != NGR_PROTOCOL_VERSION) {
        session_close(&c->sess, FRAME_CODE_VERSION,
                      "protocol version %u is not supported; this gateway speaks version %u",
                      version, NGR_PROTOCOL_VERSION);
        return 0;
    }
    if (frame_hello_decode(f, &h) != 0)
        return NGR_EPROTO;
    if (session_check_peer(&h, &why) != 0) {
        session_close(&c->sess, FRAME_CODE_PROTOCOL, "%s", why.msg);
        return 0;
    }
    if (!control_check_token(c, h.token))
        return 0;
    /* The secret of an earlier session (valid: made under our key) makes this one its holder
     * again, with the names kept for it; otherwise the client gets a new one. */
    if (h.resume.len > 0 && reconnect_secret_valid(c->srv->res.key, h.resume.p, h.resume.len)) {
        memcpy(c->secret, h.resume.p, RECONNECT_SECRET_LEN);
        c->secret[RECONNECT_SECRET_LEN] = '\0';
    } else {
        if (h.resume.len > 0)
            log_info("control %s: its reconnect secret is not this gateway's (another "
                     "gateway's, or from before its state was lost): a new one",
                     c->peer);
        if (reconnect_secret_new(c->srv->res.key, c->secret) != 0) {
            session_close(&c->sess, FRAME_CODE_INTERNAL, "the gateway has no random bytes");
            return 0;
        }
    }
    reconnect_secret_holder(c->secret, RECONNECT_SECRET_LEN, c->holder);
    session_set_peer(&c->sess, &h);
    session_local_hello(&c->sess, &mine);
    mine.agent = frame_str_c("ngrnotokd/" NGR_VERSION);
    mine.token = frame_str_c(c->secret);
    c->hello_done = 1;
    return session_send_hello(&c->sess, &mine, 1);
}

static void
control_on_unseen(struct stream *st, void *arg)
{
    (void)arg;
    public_http_unseen(st);
}

static int
control_on_frame(void *owner, struct session *s, const struct frame *f, struct stream *st)
{
    struct ctl_conn *c = owner;
    struct frame_reason r;
    char esc[NGR_MAX_MESSAGE * 4 + 8];

    switch (f->type) {
    case FRAME_HELLO:
        return control_on_hello(c, f);
    case FRAME_BIND:
        return control_bind_handle(c, f);
    case FRAME_GOAWAY:
    case FRAME_ERROR:
        if (frame_reason_decode(f, &r) != 0)
            return NGR_EPROTO;
        log_escape(esc, sizeof(esc), r.message.p, r.message.len);
        /* Requests opened after the client's last one crossed its GOAWAY: it never saw them,
         * so they go again, to whoever serves the name next. */
        if (f->type == FRAME_GOAWAY)
            session_streams_unseen(s, r.ref, control_on_unseen, c);
        if (f->type == FRAME_GOAWAY && c->ntunnels > 0 && s->nstreams > 0) {
            /* The client is stopping: no new request goes to it (they wait for it, or go to
             * the rest of its pool); those under way finish, and the client closes. */
            control_bind_end_all(c, "its client is stopping", 1);
            c->leaving = 1;
            loop_timer_start(c->srv->loop, &c->bind_deadline, NGR_CLIENT_LEAVE_MS);
            return 0;
        }
        session_close(s, 0, "client said %s: \"%s\"", f->type == FRAME_GOAWAY ? "goodbye" : "error",
                      esc);
        return 0;
    default:
        /* OPEN from a client, WELCOME, BOUND: not for the gateway. */
        return NGR_EPROTO;
    }
}

static void
control_on_closed(void *owner, struct session *s, const char *reason)
{
    struct ctl_conn *c = owner;

    if (c->ntunnels > 0)
        control_bind_end_all(c, reason, 1);
    else
        log_info("control %s: closed: %s", c->peer, reason);
    loop_timer_stop(c->srv->loop, &c->bind_deadline);
    if (c->ip_counted)
        usage_drop(&c->srv->conns_by_ip, c->peer, strlen(c->peer));
    TAILQ_REMOVE(&c->srv->conns, c, entry);
    c->srv->nconns--;
    session_free(&c->sess);
    free(c);
}

static const struct session_handler control_handler = {
    .on_frame = control_on_frame,
    .on_closed = control_on_closed,
};

static void control_drop(struct ctl_conn *c, const char *why);

static void
control_on_bind_deadline(void *arg)
{
    struct ctl_conn *c = arg;

    if (!c->live)
        control_drop(c, c->tls != NULL ? "TLS handshake not finished in time"
                                       : "nothing sent in time");
    else if (c->leaving)
        session_close(&c->sess, 0, "its client said goodbye %d s ago and did not close",
                      NGR_CLIENT_LEAVE_MS / 1000);
    else if (c->ntunnels == 0)
        session_close(&c->sess, FRAME_CODE_PROTOCOL, "no tunnel requested within %d ms",
                      NGR_HANDSHAKE_MS);
}

static void
control_free_dropped(void *arg)
{
    free(arg);
}

/* Ends a connection whose session never started (a failed TLS handshake, a peer gone, the
 * deadline, shutdown): its socket closes now, its memory at the end of the turn (an event of
 * the current batch may still name it). */
static void
control_drop(struct ctl_conn *c, const char *why)
{
    log_info("control %s: closed: %s", c->peer, why);
    loop_timer_stop(c->srv->loop, &c->bind_deadline);
    loop_io_del(c->srv->loop, &c->pre_io);
    tls_io_free(c->tls);
    c->tls = NULL;
    free(c->proxy_buf);
    c->proxy_buf = NULL;
    close(c->fd);
    TAILQ_REMOVE(&c->srv->conns, c, entry);
    c->srv->nconns--;
    loop_defer_init(&c->drop, control_free_dropped, c);
    loop_defer(c->srv->loop, &c->drop);
}

/* The session starts on c's socket, over tls if not NULL (the session owns it then). */
static void
control_start_session(struct ctl_conn *c, struct tls_io *tls)
{
    struct server *srv = c->srv;

    if (session_init(&c->sess, srv->loop, c->fd, 1, &control_handler, c) != 0) {
        c->tls = tls;
        control_drop(c, "cannot watch the connection");
        return;
    }
    c->live = 1;
    c->tls = NULL;
    if (tls != NULL)
        session_set_tls(&c->sess, tls);
    session_set_budgets(&c->sess, srv->cfg.session_budget, &srv->budget);
    session_set_liveness(&c->sess, (uint32_t)srv->cfg.heartbeat_ms, (uint32_t)srv->cfg.dead_after_ms);
    c->sess.refused_counter = &srv->metrics.frames_refused;
    /* Counted from here to control_on_closed; past the limit the client is told why. */
    c->ip_counted = usage_add(&srv->conns_by_ip, c->peer, strlen(c->peer)) == 0;
    if (srv->cfg.max_conns_per_ip != 0 &&
        usage_get(&srv->conns_by_ip, c->peer, strlen(c->peer)) > srv->cfg.max_conns_per_ip) {
        srv->hit_conns_per_ip++;
        srv->metrics.limit_hits[METRICS_LIMIT_CONNS_PER_IP]++;
        log_warn("control %s: refused: %u control connections from this address already "
                 "(max_conns_per_ip)",
                 c->peer, srv->cfg.max_conns_per_ip);
        session_close(&c->sess, FRAME_CODE_UNAVAILABLE,
                      "too many connections from your address: this gateway takes %u "
                      "(max_conns_per_ip)",
                      srv->cfg.max_conns_per_ip);
    }
}

/* From a trusted proxy: its PROXY header, if it sends one, read off the socket exactly (what
 * follows is the client's preface or TLS). Returns 1 when done (c->peer is the client's if the
 * header named it), 0 to wait for more, -1 when c was dropped. */
static int
control_read_proxy(struct ctl_conn *c)
{
    uint8_t *b = c->proxy_buf;
    struct proxy_accept pa;
    ssize_t n;
    int rc;

    n = recv(c->fd, b + c->proxy_have, NGR_PROXY_ACCEPT_MAX - c->proxy_have, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        control_drop(c, n == 0 ? "closed before sending anything" : strerror(errno));
        return -1;
    }
    if (c->proxy_have == 0 && !proxy_accept_starts(b[0])) {
        free(c->proxy_buf); /* none: the proxy's host itself, or a proxy that sends none */
        c->proxy_buf = NULL;
        return 1;
    }
    rc = proxy_accept_parse(b, c->proxy_have + (size_t)n, &pa);
    if (rc == NGR_EPROTO) {
        control_drop(c, "a malformed PROXY protocol header from a trusted proxy");
        return -1;
    }
    /* Not whole yet: every byte seen is the header's, so they are taken off the socket. Whole:
     * only the rest of it. */
    n = recv(c->fd, b + c->proxy_have,
             rc == NGR_EAGAIN ? (size_t)n : pa.consumed - c->proxy_have, 0);
    if (n <= 0) {
        control_drop(c, n == 0 ? "closed within its PROXY header" : strerror(errno));
        return -1;
    }
    c->proxy_have += (size_t)n;
    if (rc == NGR_EAGAIN)
        return 0;
    free(c->proxy_buf);
    c->proxy_buf = NULL;
    if (pa.has_addr) {
        snprintf(c->via, sizeof(c->via), "%s", c->peer);
        snprintf(c->peer, sizeof(c->peer), "%s", pa.addr);
        log_debug("control %s: through %s (PROXY protocol)", c->peer, c->via);
    }
    return 1;
}

/* A TLS control port: the first byte says what the client speaks (0x16: a TLS handshake
 * record; our preface starts with 0x89), then TLS's handshake runs on the socket's readiness,
 * within the connection's deadline. */
static void
control_on_pre_io(void *arg, uint32_t events)
{
    struct ctl_conn *c = arg;
    struct ngr_err err;
    uint32_t want = LOOP_READ;
    char desc[64];
    int rc;

    (void)events;
    if (c->proxy_buf != NULL) {
        if (control_read_proxy(c) <= 0)
            return;
        if (c->srv->control_cred == NULL) { /* a plain control port: the session now */
            loop_io_del(c->srv->loop, &c->pre_io);
            control_start_session(c, NULL);
            return;
        }
    }
    if (c->tls == NULL) {
        uint8_t first;
        ssize_t n = recv(c->fd, &first, 1, MSG_PEEK);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            control_drop(c, n == 0 ? "closed before sending anything" : strerror(errno));
            return;
        }
        if (first != 0x16) {
            /* Not TLS: a plain session, whose preface check answers an HTTP client as on
             * any control port, and whose HELLO gets the ERROR that says to use --tls. */
            loop_io_del(c->srv->loop, &c->pre_io);
            c->plain_on_tls = 1;
            control_start_session(c, NULL);
            return;
        }
        c->tls = tls_io_server(c->fd, c->srv->control_cred, &c->srv->control_cert, &err);
        if (c->tls == NULL) {
            control_drop(c, err.msg);
            return;
        }
    }
    rc = tls_io_handshake(c->tls, &want, &err);
    if (rc == NGR_EAGAIN) {
        if (loop_io_mod(c->srv->loop, &c->pre_io, want) != 0)
            control_drop(c, "cannot watch the connection");
        return;
    }
    if (rc != 0) {
        char why[NGR_ERR_LEN + 32];

        snprintf(why, sizeof(why), "TLS handshake failed: %s", err.msg);
        control_drop(c, why);
        return;
    }
    tls_io_describe(c->tls, desc, sizeof(desc));
    log_debug("control %s: %s", c->peer, desc);
    loop_io_del(c->srv->loop, &c->pre_io);
    control_start_session(c, c->tls);
}

static void
control_on_accept(void *arg, int fd, const struct sockaddr *peer)
{
    struct server *srv = arg;
    struct ctl_conn *c;

    if (srv->nconns >= NGR_MAX_SESSIONS) {
        log_warn("control: %d sessions already; refusing a connection", NGR_MAX_SESSIONS);
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->pre_io.fd = -1;
    net_format_ip(peer, c->peer, sizeof(c->peer));
    net_tune_stream(fd);
    /* HELLO and BIND (and, on a TLS port, the TLS handshake before them) must arrive in time. */
    loop_timer_init(&c->bind_deadline, control_on_bind_deadline, c);
    loop_timer_start(srv->loop, &c->bind_deadline, NGR_HANDSHAKE_MS);
    TAILQ_INSERT_TAIL(&srv->conns, c, entry);
    srv->nconns++;
    c->serial = ++srv->metrics.control_conns;
    log_debug("control: connection from %s", c->peer);
    /* A trusted proxy (nginx's stream block with proxy_protocol on) may name the client first. */
    if (srv->cfg.trusted_proxy.n > 0 && cidr_list_match(&srv->cfg.trusted_proxy, c->peer) &&
        (c->proxy_buf = malloc(NGR_PROXY_ACCEPT_MAX)) == NULL) {
        control_drop(c, "out of memory");
        return;
    }
    if (srv->control_cred == NULL && c->proxy_buf == NULL) {
        control_start_session(c, NULL);
        return;
    }
    if (loop_io_add(srv->loop, &c->pre_io, fd, LOOP_READ, control_on_pre_io, c) != 0) {
        control_drop(c, "cannot watch the connection");
        return;
    }
    /* The ClientHello (or the PROXY header) is often there already. */
    control_on_pre_io(c, LOOP_READ);
}

int
control_start(struct server *srv, struct ngr_err *err)
{
    int fd;

    TAILQ_INIT(&srv->conns);
    window_budget_init(&srv->budget, srv->cfg.gateway_budget);
    if (tls_cert_loaded(&srv->control_cert) && srv->control_cred == NULL &&
        tls_cert_credentials(&srv->control_cred, err) != 0)
        return err->code;
    fd = net_listen(&srv->cfg.control_addr, NGR_LISTEN_BACKLOG, err);
    if (fd < 0)
        return fd;
    return listener_start(&srv->control, srv->loop, fd, "control", control_on_accept, srv, err);
}

void
control_reload_tokens(struct server *srv)
{
    struct ctl_conn *c;
    struct ngr_err err;
    size_t closed = 0;

    if (srv->cfg.auth_tokens[0] == '\0') {
        log_info("SIGHUP: no auth_tokens file to re-read");
        return;
    }
    if (auth_tokens_load(&srv->tokens, srv->cfg.auth_tokens, &err) != 0) {
        log_warn("SIGHUP: %s; the tokens in use are kept", err.msg);
        return;
    }
    /* A session whose token is gone, or whose tunnel's name the token no longer allows, is
     * closed and told why; every other tunnel stays up. */
    TAILQ_FOREACH(c, &srv->conns, entry)
    {
        const struct auth_token *t;

        if (!c->live || !c->has_token || c->sess.closing)
            continue;
        t = auth_tokens_find(&srv->tokens, c->token);
        if (t == NULL) {
            log_info("control %s: token %s removed from %s: closing its session", c->peer,
                     c->token_id, srv->cfg.auth_tokens);
            session_close(&c->sess, FRAME_CODE_AUTH,
                          "token revoked: the gateway's operator removed it");
            closed++;
        } else {
            size_t i;

            for (i = 0; i < c->ntunnels; i++) {
                const char *name = c->tunnels[i]->subdomain;

                if (name[0] == '\0' || auth_token_allows(t, name))
                    continue;
                log_info("control %s: token %s may no longer bind %s: closing its session",
                         c->peer, c->token_id, name);
                session_close(&c->sess, FRAME_CODE_AUTH,
                              "name '%s' is no longer allowed for this token", name);
                closed++;
                break;
            }
        }
    }
    log_info("SIGHUP: %zu token(s) from %s; %zu session(s) closed", srv->tokens.n,
             srv->cfg.auth_tokens, closed);
}

/* GOAWAY to every session. now: each closes at once (its streams are cut); else those with a
 * tunnel stay open for their streams to finish. Connections still in their handshake, or with
 * no tunnel, close either way. */
static void
control_goaway_all(struct server *srv, int now)
{
    struct ctl_conn *c, *next;

    listener_stop(&srv->control);
    for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, entry);
        if (!c->live) {
            control_drop(c, "gateway shutting down");
            continue;
        }
        if (!now && c->ntunnels == 0) {
            session_close(&c->sess, FRAME_CODE_UNAVAILABLE, "gateway shutting down");
            continue;
        }
        session_send_goaway(&c->sess, FRAME_CODE_UNAVAILABLE,
                            c->sess.next_id > 2 ? c->sess.next_id - 2 : 0,
                            now ? "gateway shutting down"
                                  : "gateway shutting down; requests under way may finish");
        if (now)
            session_close(&c->sess, 0, "gateway shutting down");
    }
}

void
control_stop(struct server *srv)
{
    control_goaway_all(srv, 1);
}

void
control_drain(struct server *srv)
{
    control_goaway_all(srv, 0);
}

size_t
control_streams(struct server *srv)
{
    struct ctl_conn *c;
    size_t n = 0;

    TAILQ_FOREACH(c, &srv->conns, entry)
        if (c->live && !c->sess.closing)
            n += c->sess.nstreams;
    return n;
}

void
control_free(struct server *srv)
{
    if (srv->control_cred != NULL)
        gnutls_certificate_free_credentials(srv->control_cred);
    srv->control_cred = NULL;
}

void
control_foreach(const struct server *srv, void (*fn)(void *arg, const struct control_view *v),
                void *arg)
{
    const struct ctl_conn *c;
    struct control_view v;

    TAILQ_FOREACH(c, &srv->conns, entry) {
        if (!c->live)
            continue;
        v.serial = c->serial;
        v.peer = c->peer;
        v.srtt_us = c->sess.srtt_us;
        v.ntunnels = c->ntunnels;
        fn(arg, &v);
    }
}
