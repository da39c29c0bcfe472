/* public_http.c: a public HTTP request's life. libmicrohttpd runs in external-epoll mode inside
 * our loop (its daemons: public_listener.c); each request becomes a stream on its tunnel's control session, and the connection is
 * suspended whenever it waits for the tunnel (credit for the upload, the response head, body
 * bytes) and resumed by the frame that ends the wait. Routing (http_route.c), the head sent on
 * (http_request_head.c), the error pages (error_page.c) and a request's record at its end
 * (public_record.c) are modules of their own; this file is a request's life. docs/architecture.md walks through it. */
#include "public_http.h"
#include "pub_req.h"
#include "public_answer.h"
#include "public_hold.h"
#include "public_record.h"
#include "access_rules.h"
#include "public_admit.h"
#include "error_page.h"
#include "http_request_head.h"
#include "mhd_head_lines.h"
#include "http_route.h"
#include "log.h"
#include "net.h"
#include "pipe.h"
#include "public_conn.h"
#include "tls_cert.h"
#include "tunnel_table.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct stream_ops public_http_stream_ops;
static void public_http_on_pipe_done(void *owner, struct pipe_end *p, int error);
static void public_http_free(void *arg);
static void public_http_on_hup(void *arg, uint32_t events);
static void public_http_on_hup_timer(void *arg);
static void public_http_unhold(struct pub_req *req);
static void public_http_on_hold_timeout(void *arg);

/* Gives back the tunnel's stream count and forgets the tunnel (it may go away after this). */
static void
public_http_release(struct pub_req *req)
{
    if (req->st.sess != NULL)
        session_stream_detach(&req->st);
    if (req->tunnel != NULL) {
        tunnel_stream_end(req->tunnel);
        req->tunnel = NULL;
    }
    loop_timer_stop(req->srv->loop, &req->deadline);
}

static void
public_http_suspend(struct pub_req *req)
{
    if (req->suspended)
        return;
    MHD_suspend_connection(req->conn);
    req->suspended = 1;
    TAILQ_INSERT_TAIL(&req->srv->http_waiting, req, list_entry);
    /* A suspended connection is out of libmicrohttpd's sight, so a hang-up must be watched
     * here; but most waits end within milliseconds, and a watch costs two epoll_ctl calls, so
     * it starts only once the wait has lasted NGR_HTTP_HUP_DELAY_MS. */
    loop_timer_start(req->srv->loop, &req->hup_timer, NGR_HTTP_HUP_DELAY_MS);
}

static void
public_http_on_hup_timer(void *arg)
{
    struct pub_req *req = arg;
    const union MHD_ConnectionInfo *ci;

    if (!req->suspended || req->hup.fd >= 0)
        return;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL || loop_io_add(req->srv->loop, &req->hup, ci->connect_fd, LOOP_HUP,
                                  public_http_on_hup, req) != 0)
        req->hup.fd = -1;
}

/* Takes the request off the waiting list and its hang-up watch; 1 if it was suspended. */
static int
public_http_unwait(struct pub_req *req)
{
    if (!req->suspended)
        return 0;
    loop_timer_stop(req->srv->loop, &req->hup_timer);
    if (req->hup.fd >= 0)
        loop_io_del(req->srv->loop, &req->hup);
    req->suspended = 0;
    TAILQ_REMOVE(&req->srv->http_waiting, req, list_entry);
    return 1;
}

static void
public_http_wake(struct pub_req *req)
{
    if (!public_http_unwait(req))
        return;
    MHD_resume_connection(req->conn);
    mhd_glue_resumed(req->glue);
}

/* Every failure of a public request goes through here (OpenBSD httpd's server_abort_http):
 * the stream, if still attached, is reset with code and reason (FRAME_CODE_NONE: detached
 * quietly, the client never heard of it); the tunnel is released; page, unless NULL (the
 * response head is already out), is recorded when no page or response is yet; and the
 * connection is woken so that libmicrohttpd answers or notices the closed socket. */
static void
public_http_abort(struct pub_req *req, uint32_t code, const char *reason,
                  const struct error_page *page)
{
    public_http_unhold(req);
    session_stream_end(&req->st, code, reason);
    req->reset = 1;
    public_http_release(req);
    if (page != NULL && req->state < PUB_REQ_FAILED) {
        req->page = *page;
        req->state = PUB_REQ_FAILED;
    }
    public_http_wake(req);
}

/* public_http_abort with a page built from status, title and the formatted text. */
static void public_http_fail(struct pub_req *req, uint32_t code, const char *reason, int status,
                             const char *title, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
public_http_fail(struct pub_req *req, uint32_t code, const char *reason, int status,
                 const char *title, const char *fmt, ...)
{
    struct error_page page;
    va_list ap;

    va_start(ap, fmt);
    error_page_vset(&page, status, title, fmt, ap);
    va_end(ap);
    public_http_abort(req, code, reason, &page);
}

static void
public_http_on_hup(void *arg, uint32_t events)
{
    struct pub_req *req = arg;

    log_debug("stream %u: public client hung up while waiting", req->st.id);
    public_http_fail(req, FRAME_CODE_CANCEL, "public client went away", 502, "Client went away",
                     "The public client closed the connection.");
}

static void
public_http_on_deadline(void *arg)
{
    struct pub_req *req = arg;
    char reason[96];

    if (req->state != PUB_REQ_WAIT_HEAD)
        return;

    snprintf(reason, sizeof(reason), "no response head within %.1f s (response timeout)",
             (double)req->timeout_ms / 1000.0);
    log_warn("http: %s %s: %s; answered 504", req->label, req->target, reason);
    public_http_fail(req, FRAME_CODE_TIMEOUT, reason, 504, "Gateway Timeout",
                     "The local service behind this tunnel did not answer within %.1f seconds.",
                     (double)req->timeout_ms / 1000.0);
}

/* Both directions ended: the stream leaves the session, the request lives on until the public
 * client has its bytes. */
static void
public_http_maybe_done(struct pub_req *req)
{
    if (req->req_ended && req->resp_ended && req->st.sess != NULL)
        public_http_release(req);
}

void *
public_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct server *srv = cls;
    struct pub_req *req = calloc(1, sizeof(*req));
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);

    if (req == NULL)
        return NULL;
    req->srv = srv;
    srv->npub++;
    req->conn = conn;
    req->tls = ci != NULL && srv->https.daemon != NULL && ci->daemon == srv->https.daemon;
    req->glue = req->tls ? &srv->https : &srv->http;
    req->target = strdup(uri ? uri : "/");
    req->started_us = loop_clock_us();
    req->hup.fd = -1;
    buf_init_kept(&req->body, NGR_STREAM_WINDOW_MAX); /* lives as long as the request */
    loop_timer_init(&req->deadline, public_http_on_deadline, req);
    loop_timer_init(&req->hup_timer, public_http_on_hup_timer, req);
    loop_timer_init(&req->hold_timer, public_http_on_hold_timeout, req);
    loop_defer_init(&req->free, public_http_free, req);
    if (req->target == NULL) {
        srv->npub--;
        free(req);
        return NULL;
    }
    return req;
}

static void
public_http_free(void *arg)
{
    struct pub_req *req = arg;

    if (req == NULL)
        return;
    if (req->hup.fd >= 0)
        loop_io_del(req->srv->loop, &req->hup);
    public_http_release(req);
    buf_free(&req->body);
    free(req->reply);
    free(req->target);
    heap_trim_note(&req->srv->trim);
    req->srv->npub--;
    free(req);
}

void
public_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct pub_req *req = *con_cls;

    if (req == NULL)
        return;
    log_debug("stream %u: completed (toe %d, pipe %d)", req->st.id, (int)toe, (int)req->pipe_state);
    if (req->pipe_state != PUB_PIPE_NONE) {
        /* libmicrohttpd is done with the connection while bytes still flow (daemon stopping):
         * end the pipe here, with no socket to hand back, and tell the client. */
        req->pipe_state = PUB_PIPE_WAITING;
        if (req->st.sess != NULL)
            session_stream_reset(&req->st, FRAME_CODE_CANCEL, "gateway stopping");
        public_http_on_pipe_done(req, &req->pipe, 0);
    }
    if (req->st.sess != NULL) {
        /* The public side is done before the stream: tell the client to stop. */
        session_stream_reset(&req->st, FRAME_CODE_CANCEL,
                             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
                                 ? "request finished"
                                 : "public client went away");
    }
    public_record(req, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK,
                  toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN);
    public_http_unhold(req);
    public_http_unwait(req);
    public_http_release(req);
    loop_defer(req->srv->loop, &req->free);
    *con_cls = NULL;
}

/* Collects request headers in order (libmicrohttpd keeps them in arrival order). */
struct public_http_collect {
    struct frame_field *fields;
    size_t n;
    int overflow;
};

static enum MHD_Result
public_http_collect_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                           const char *value, size_t value_size)
{
    struct public_http_collect *c = cls;

    if (c->n >= NGR_MAX_HEADERS) {
        c->overflow = 1;
        return MHD_NO;
    }
    c->fields[c->n].name.p = key;
    c->fields[c->n].name.len = key_size;
    c->fields[c->n].value.p = value ? value : "";
    c->fields[c->n].value.len = value ? value_size : 0;
    c->n++;
    return MHD_YES;
}

/* Out of the waiting room of public_hold.c, its timer stopped. */
static void
public_http_unhold(struct pub_req *req)
{
    public_hold_leave(req);
    loop_timer_stop(req->srv->loop, &req->hold_timer);
}

/* A held request's 503: its tunnel is not back (why). */
static void
public_http_hold_refuse(struct pub_req *req, const char *why)
{
    struct error_page page;

    public_http_unhold(req);
    public_hold_page(req, why, &page);
    req->retry_after = NGR_HOLD_RETRY_AFTER_S;
    public_http_abort(req, FRAME_CODE_NONE, NULL, &page);
}

static void
public_http_on_hold_timeout(void *arg)
{
    struct pub_req *req = arg;
    char why[64];

    snprintf(why, sizeof(why), "was not back within %.1f s",
             (double)req->srv->cfg.hold_requests_ms / 1000);
    log_info("http: %s: a held request timed out", req->label);
    public_http_hold_refuse(req, why);
}

/* 1 if the request waits for its reconnecting tunnel (or is refused, the room being full), 0
 * if no client is reconnecting to label. */
static int
public_http_hold(struct pub_req *req, const char *label, size_t len, int closing)
{
    uint64_t wait_ms = 0;

    switch (public_hold_admit(req, label, len, closing, &wait_ms)) {
    case PUBLIC_HOLD_NONE:
        return 0;
    case PUBLIC_HOLD_FULL:
        req->srv->metrics.limit_hits[METRICS_LIMIT_HOLD]++;
        public_http_hold_refuse(req, "too many requests already wait for it");
        return 1;
    case PUBLIC_HOLD_WAIT:
        break;
    }
    loop_timer_start(req->srv->loop, &req->hold_timer, wait_ms);
    public_http_suspend(req);
    return 1;
}

int
public_http_unseen(struct stream *st)
{
    struct pub_req *req = st->owner;

    if (st->ops != &public_http_stream_ops)
        return 0;
    if (req->state != PUB_REQ_WAIT_HEAD)
        return 0;
    if (req->body_in > 0) { /* bytes of its body went into the stream: not to be sent again */
        public_http_fail(req, FRAME_CODE_CANCEL, "client stopped", 502, "Tunnel closed",
                         "The tunnel's client stopped before it saw this request, whose body "
                         "had begun; try again.");
        return 1;
    }
    log_debug("stream %u: %s %s: its client stopped before seeing it; routed again", st->id,
              req->label, req->target);
    loop_timer_stop(req->srv->loop, &req->deadline);
    session_stream_end(&req->st, FRAME_CODE_NONE, NULL);
    public_http_release(req);
    /* Routed anew at its next call, which finds the name held for its client, or the rest of
     * its pool: as if it had arrived now. */
    req->state = PUB_REQ_NEW;
    req->req_ended = 0;
    req->upload_blocked = 0;
    public_http_wake(req);
    return 1;
}

void
public_http_release_held(struct server *srv, const char *name)
{
    struct pub_req *req;

    /* Suspended in its first call, each gets a first call again (libmicrohttpd keeps it in
     * HEADERS_PROCESSED), still PUB_REQ_NEW: routed anew, it finds the tunnel. */
    while ((req = public_hold_take(srv, name)) != NULL) {
        loop_timer_stop(srv->loop, &req->hold_timer);
        public_http_wake(req);
    }
}

/* Copies src into dst (cap > 0), cut to fit: for the few strings a request keeps for its
 * record, where snprintf's formatting cost 1.5k instructions a request. */
static void
public_http_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Routes the request and sends OPEN. On failure, an error page is recorded. */
static void
public_http_open(struct pub_req *req, const char *method, const char *version)
{
    struct server *srv = req->srv;
    struct public_http_collect col = {srv->http_fields, 0, 0};
    struct http_request rq;
    struct error_page why;
    struct frame_head h;
    struct tunnel *t;
    const union MHD_ConnectionInfo *ci;
    char label[NGR_DOMAIN_LEN + 1];
    const char *client_ip;
    int len, no_body, upgrade, rc;
    struct public_admit_extra extra;
    struct trusted_proxy_view from;

    public_admit_client(srv, req->conn, req->tls, &from);
    client_ip = from.client_ip;
    public_http_copy(req->client_ip, sizeof(req->client_ip), client_ip);
    public_http_copy(req->method, sizeof(req->method), method);
    if (srv->draining) {
        error_page_set(&why, 503, "Service Unavailable",
                       "The gateway is restarting. Try again in a few seconds.");
        public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
        return;
    }
    if (public_admit_address(srv, client_ip, &why) != 0) {
        public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
        return;
    }
    rq.host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    len = http_route_parse(rq.host, srv->cfg.domain, label, sizeof(label), &why);
    if (len < 0) {
        public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
        return;
    }
    if (strcmp(from.scheme, "https") != 0 && srv->cfg.http_redirect) {
        req->redirect = 1; /* a valid Host of ours: the same URL over HTTPS */
        error_page_set(&req->page, 308, "Permanent Redirect",
                       "This gateway serves its tunnels over HTTPS.");
        req->state = PUB_REQ_FAILED;
        return;
    }
    t = tunnel_table_route_subdomain(&srv->tunnels, label, (size_t)len);
    /* Routing gives a tunnel whose session is closing only when no other serves the name: its
     * client is gone, or going (a restart), and the name stays its own. */
    if ((t == NULL || (t->sess != NULL && t->sess->closing)) &&
        public_http_hold(req, label, (size_t)len, t != NULL))
        return; /* its client is reconnecting: held, or refused with 503 */
    if (t == NULL) {
        http_route_not_found(&why, label, srv->cfg.domain);
        public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
        return;
    }
    req->is_head = strcmp(method, "HEAD") == 0;
    public_http_copy(req->tunnel_id, sizeof(req->tunnel_id), t->id);
    public_http_copy(req->label, sizeof(req->label), t->subdomain);
    if (public_admit_tunnel(srv, t, client_ip,
                            MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                        MHD_HTTP_HEADER_AUTHORIZATION),
                            &why, &extra) != 0) {
        req->auth_challenge = extra.auth_challenge;
        req->retry_after = extra.retry_after;
        public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
        return;
    }

    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, public_http_collect_header, &col);
    if (col.overflow) {
        public_http_fail(req, FRAME_CODE_NONE, NULL, 431, "Request Header Fields Too Large",
                         "The request has more than %d header fields.", NGR_MAX_HEADERS);
        return;
    }
    if (srv->head_lines_known) {
        ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (mhd_head_lines_check(method, ci != NULL ? ci->header_size : 0, version, col.fields,
                                 col.n, &why) != 0) {
            public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
            return;
        }
    }
    rq.method = method;
    rq.drop_authorization = t->rules != NULL && t->rules->ncreds > 0; /* the gateway's, not the service's */
    rq.scheme = from.scheme;
    rq.target = req->target;
    rq.client_ip = client_ip;
    rq.fields = col.fields;
    rq.nfields = col.n;
    if (http_request_head_build(&rq, &srv->http_head, &h, &why) != 0) {
        public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
        return;
    }
    h.tunnel = t->handle;
    upgrade = (h.flags & FRAME_HEAD_UPGRADE) != 0;

    if (public_admit_stream(srv, t, &h, &why) != 0) {
        public_http_abort(req, FRAME_CODE_NONE, NULL, &why);
        return;
    }
    rc = session_stream_open(t->sess, &req->st, &public_http_stream_ops, req);
    if (rc == NGR_EAGAIN) {
        srv->metrics.limit_hits[METRICS_LIMIT_BUDGET]++;
        log_warn("stream: the gateway's memory budget for streams is spent (gateway_budget, "
                 "%llu bytes); answering 503",
                 (unsigned long long)srv->budget.limit);
        public_http_fail(req, FRAME_CODE_NONE, NULL, 503, "Service Unavailable",
                         "The gateway is at its memory limit for open requests; try again "
                         "shortly.");
        return;
    }
    if (rc != 0) {
        public_http_fail(req, FRAME_CODE_NONE, NULL, 502, "Bad Gateway",
                         "The tunnel is closing; try again.");
        return;
    }
    no_body = h.body == FRAME_BODY_NONE || (h.body == FRAME_BODY_LENGTH && h.length == 0);
    /* An upgrade request keeps its stream open toward the client even without a body: after a
     * 101, the public client's bytes follow on it. */
    rc = session_send_open(&req->st, no_body && !upgrade ? FRAME_FLAG_END_STREAM : 0, &h);
    if (rc == NGR_ELIMIT) {
        public_http_fail(req, FRAME_CODE_NONE, NULL, 431, "Request Header Fields Too Large",
                         "The request head is larger than %d bytes.", NGR_FRAME_MAX_PAYLOAD);
        return;
    }
    if (rc != 0) {
        public_http_fail(req, FRAME_CODE_NONE, NULL, 502, "Bad Gateway",
                         "The tunnel's connection is overloaded.");
        return;
    }
    req->tunnel = t;
    req->timeout_ms = t->response_timeout_ms;
    t->streams++;
    t->requests++;
    req->state = PUB_REQ_WAIT_HEAD;
    req->upgrade = upgrade;
    req->req_ended = no_body;
    /* The deadline runs from the end of the request: a long upload is not a slow service. */
    if (no_body)
        loop_timer_start(srv->loop, &req->deadline, req->timeout_ms);
}

static ssize_t
public_http_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct pub_req *req = cls;
    size_t n;

    if (req->body.len > 0) {
        n = buf_take(&req->body, out, max);
        if (req->st.sess != NULL)
            session_consumed(&req->st, n);
        return (ssize_t)n;
    }
    if (req->resp_ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (req->reset)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* truncated, never a short 200 */
    /* Nothing yet: wait for the next DATA, which resumes us. Returning 0 without suspending
     * would make libmicrohttpd call again at once and spin. */
    public_http_suspend(req);
    return 0;
}

/* The upgraded connection is over (or failed): end the stream and give the socket back. */
static void
public_http_on_pipe_done(void *owner, struct pipe_end *p, int error)
{
    struct pub_req *req = owner;
    int running = req->pipe_state == PUB_PIPE_RUNNING;

    if (error == PIPE_RESET) {
        req->reset = 1;
        req->pipe.read_counter = req->pipe.write_counter = NULL; /* the tunnel may go */
    } else if (error != 0 && req->st.sess != NULL) {
        session_stream_reset(&req->st, FRAME_CODE_CANCEL, "public client connection failed");
    }
    public_http_release(req);
    pipe_stop(&req->pipe);
    req->pipe_state = PUB_PIPE_NONE;
    if (running) {
        MHD_upgrade_action(req->urh, MHD_UPGRADE_ACTION_CLOSE);
        mhd_glue_resumed(req->glue);
    }
}

static void
public_http_on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
    struct pub_req *req = cls;
    int alive = req->pipe_state == PUB_PIPE_WAITING && req->st.sess != NULL;

    req->urh = urh;
    req->pipe_state = PUB_PIPE_RUNNING;
    if (!alive) { /* the stream died before the switch: hand the socket back */
        public_http_on_pipe_done(req, &req->pipe, 0);
        return;
    }
    if (pipe_start(&req->pipe, sock) != 0 ||
        pipe_inject(&req->pipe, (const uint8_t *)extra_in, extra_in_size) != 0)
        public_http_on_pipe_done(req, &req->pipe, EPIPE);
}

enum MHD_Result
public_http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                   const char *version, const char *upload_data, size_t *upload_data_size,
                   void **con_cls)
{
    struct pub_req *req = *con_cls;

    if (req == NULL)
        return MHD_NO; /* out of memory in the URI callback */
    if (req->state == PUB_REQ_QUEUED)
        return MHD_YES;
    if (req->state == PUB_REQ_NEW) {
        /* First call: headers only. Answering here costs keep-alive (libmicrohttpd closes a
         * connection whose response was queued before the body was read), so only errors are
         * answered at once; a proxied request waits for its response head. */
        req->conn = conn;
        public_conn_head_arrived(req->srv, req->conn);
        public_http_open(req, method, version);
        if (req->state == PUB_REQ_FAILED) /* nobody will read a body: answer now, and close */
            return public_answer_page(req);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t room, take;
        ssize_t sent;

        if (req->state == PUB_REQ_FAILED || req->reset || req->resp_ended || req->st.sess == NULL) {
            *upload_data_size = 0; /* nobody will read the rest of the body: drop it */
            return MHD_YES;
        }
        if (req->srv->cfg.max_body_size != 0 &&
            req->body_in + *upload_data_size > req->srv->cfg.max_body_size) {
            /* A chunked body that grew past the limit: the service's stream is cut (it must not
             * take a truncated body for a whole one) and, if no answer started, 413. */
            if (req->tunnel != NULL)
                req->tunnel->hit_body++;
            req->srv->metrics.limit_hits[METRICS_LIMIT_BODY]++;
            public_http_fail(req, FRAME_CODE_TOO_LARGE, "request body over the gateway's limit",
                             413, "Content Too Large",
                             "The request body is larger than this gateway takes: %" PRIu64
                             " bytes (max_body_size).",
                             req->srv->cfg.max_body_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        room = session_send_room(&req->st);
        take = *upload_data_size < room ? *upload_data_size : room;
        if (take > 0) {
            sent = session_send_data(&req->st, (const uint8_t *)upload_data, take, 0);
            if (sent < 0) {
                *upload_data_size = 0;
                return MHD_YES;
            }
            *upload_data_size -= (size_t)sent;
            req->body_in += (uint64_t)sent;
            if (req->tunnel != NULL)
                req->tunnel->bytes_in += (uint64_t)sent;
        }
        if (*upload_data_size > 0) {
            req->upload_blocked = 1;
            public_http_suspend(req); /* out of credit: WINDOW resumes us */
        }
        return MHD_YES;
    }
    if (!req->req_ended) {
        req->req_ended = 1;
        if (req->st.sess != NULL) {
            session_send_data(&req->st, NULL, 0, 1);
            if (req->state == PUB_REQ_WAIT_HEAD)
                loop_timer_start(req->srv->loop, &req->deadline, req->timeout_ms);
            public_http_maybe_done(req);
        }
    }
    if (req->state == PUB_REQ_FAILED)
        return public_answer_page(req);
    if (req->state == PUB_REQ_HEAD)
        return public_answer_reply(req, public_http_read, public_http_on_upgraded);
    public_http_suspend(req); /* REPLY resumes us */
    return MHD_YES;
}

static int
public_http_on_reply(struct stream *st, const struct frame *f)
{
    struct pub_req *req = st->owner;
    int rc;

    if (req->state != PUB_REQ_WAIT_HEAD)
        return NGR_EPROTO;
    rc = public_answer_keep_reply(req, f);
    if (rc == NGR_EPROTO)
        return rc;
    if (rc != 0) {
        public_http_fail(req, FRAME_CODE_INTERNAL, "out of memory", 502, "Bad Gateway",
                         "The local service's response failed (gateway out of memory).");
        return 0;
    }
    if (req->head.status == 101 && !req->upgrade) {
        public_http_fail(req, FRAME_CODE_PROTOCOL, "101 to a request that did not ask", 502,
                         "Bad Gateway",
                         "The local service's response failed (the local service switched "
                         "protocols unasked).");
        return 0;
    }
    req->state = PUB_REQ_HEAD;
    req->service_us = req->head.service_us;
    if (req->head.status == 101) {
        /* From here the stream carries raw bytes; they wait in the pipe until the switch. */
        req->pipe_state = PUB_PIPE_WAITING;
        pipe_init(&req->pipe, req->srv->loop, st, public_http_on_pipe_done, req);
        st->ops = &pipe_stream_ops;
        st->owner = &req->pipe;
        if (req->tunnel != NULL) {
            req->pipe.read_counter = &req->tunnel->bytes_in;
            req->pipe.write_counter = &req->tunnel->bytes_out;
        }
    }
    loop_timer_stop(req->srv->loop, &req->deadline);
    if (f->flags & FRAME_FLAG_END_STREAM) {
        req->resp_ended = 1;
        public_http_maybe_done(req);
    }
    public_http_wake(req);
    return 0;
}

static int
public_http_on_data(struct stream *st, const uint8_t *p, size_t n, int end)
{
    struct pub_req *req = st->owner;

    if (req->state < PUB_REQ_HEAD || req->resp_ended)
        return NGR_EPROTO; /* body before head, or after the end: the stream is reset */
    if (n > 0) {
        /* The window bounds what the client may send us, so this cannot pass the limit. */
        if (buf_append(&req->body, p, n) != 0)
            return NGR_ELIMIT;
        req->bytes_out += n;
        if (req->tunnel != NULL)
            req->tunnel->bytes_out += n;
    }
    if (end) {
        req->resp_ended = 1;
        public_http_maybe_done(req);
    }
    public_http_wake(req);
    return 0;
}

/* The stream was reset (by the client, or because its session closed); it is detached. */
static void
public_http_on_reset(struct stream *st, uint32_t code, struct frame_str message)
{
    struct pub_req *req = st->owner;
    char esc[NGR_MAX_MESSAGE * 4 + 8];

    if (req->state >= PUB_REQ_HEAD) { /* the head is out: the body is cut short */
        public_http_abort(req, FRAME_CODE_NONE, NULL, NULL);
        return;
    }
    log_escape(esc, sizeof(esc), message.p, message.len);
    switch (code) {
    case FRAME_CODE_REFUSED:
        public_http_fail(req, FRAME_CODE_NONE, NULL, 502, "Local service unreachable",
                         "The tunnel is up, but the local service behind it did not answer. If "
                         "it is yours, check that it is running and listens on the port you "
                         "gave ngrnotok (%.120s).",
                         esc);
        break;
    case FRAME_CODE_TIMEOUT:
        public_http_fail(req, FRAME_CODE_NONE, NULL, 504, "Gateway Timeout",
                         "The local service behind this tunnel did not answer in time (%s).", esc);
        break;
    case FRAME_CODE_CANCEL:
        public_http_fail(req, FRAME_CODE_NONE, NULL, 502, "Tunnel closed",
                         "The tunnel closed before the local service answered (%s).", esc);
        break;
    default:
        public_http_fail(req, FRAME_CODE_NONE, NULL, 502, "Bad Gateway",
                         "The local service's response failed (%s).", esc);
        break;
    }
}

static void
public_http_on_writable(struct stream *st)
{
    struct pub_req *req = st->owner;

    /* Credit matters only to a request whose upload is waiting for it. */
    if (req->upload_blocked) {
        req->upload_blocked = 0;
        public_http_wake(req);
    }
}

static const struct stream_ops public_http_stream_ops = {
    .on_reply = public_http_on_reply,
    .on_data = public_http_on_data,
    .on_reset = public_http_on_reset,
    .on_writable = public_http_on_writable,
};

void
public_http_quiesce(struct server *srv)
{
    struct pub_req *req;
    MHD_socket fd;

    if (srv->http.daemon != NULL && (fd = MHD_quiesce_daemon(srv->http.daemon)) != MHD_INVALID_SOCKET)
        close(fd);
    if (srv->https.daemon != NULL &&
        (fd = MHD_quiesce_daemon(srv->https.daemon)) != MHD_INVALID_SOCKET)
        close(fd);
    /* Held requests get their 503 now: no client comes back to this gateway. */
    while ((req = public_hold_take(srv, NULL)) != NULL)
        public_http_hold_refuse(req, "this gateway is restarting");
}

void
public_http_stop(struct server *srv)
{
    struct pub_req *req;

    if (srv->http.daemon == NULL)
        return;
    /* libmicrohttpd must not be stopped with suspended connections. */
    while ((req = TAILQ_FIRST(&srv->http_waiting)) != NULL)
        public_http_fail(req, FRAME_CODE_CANCEL, "gateway shutting down", 503,
                         "Service Unavailable", "The gateway is shutting down.");
    MHD_run(srv->http.daemon);
    mhd_glue_stop(&srv->http);
    if (srv->https.daemon != NULL) {
        MHD_run(srv->https.daemon);
        mhd_glue_stop(&srv->https);
    }
}
