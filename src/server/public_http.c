/* public_http.c: the public HTTP listener. libmicrohttpd runs in external-epoll mode inside our
 * loop; each request becomes a stream on its tunnel's control session, and the connection is
 * suspended whenever it waits for the tunnel (credit for the upload, the response head, body
 * bytes) and resumed by the frame that ends the wait. docs/architecture.md walks through it. */
#include "public_http.h"
#include "control.h"
#include "http_hop.h"
#include "log.h"
#include "net.h"
#include "pipe.h"
#include "tunnel_table.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* One public request. Created by the URI log callback (it runs before anything else and is the
 * only place the raw request target is seen), freed in the completion callback. */
struct pub_req {
    struct stream st; /* on the tunnel's session while attached */
    struct server *srv;
    struct MHD_Connection *conn;
    struct tunnel *tunnel; /* counted in tunnel->streams; NULL once released */
    char *target;          /* raw request target, owned */
    uint8_t req_body;      /* enum frame_body of the request */
    unsigned started : 1;    /* the access handler has seen this request */
    unsigned opened : 1;     /* OPEN went out */
    unsigned end_sent : 1;   /* our END_STREAM went out (or the request had no body) */
    unsigned mhd_done : 1;   /* libmicrohttpd delivered the whole upload */
    unsigned head_in : 1;    /* REPLY arrived */
    unsigned resp_ended : 1; /* the response's END_STREAM arrived */
    unsigned reset : 1;      /* the stream died before its end */
    unsigned queued : 1;     /* a response was queued */
    unsigned suspended : 1;
    unsigned is_head : 1;
    unsigned upload_blocked : 1; /* suspended for want of credit */
    unsigned upgrade : 1;        /* the request asks for a protocol upgrade */
    unsigned piping : 1;         /* 101 arrived: the stream carries raw bytes through pipe */
    unsigned upgraded : 1;       /* libmicrohttpd handed us the socket (urh) */
    unsigned mhd_finished : 1;   /* the completion callback ran */
    uint8_t *reply; /* REPLY payload, owned, until the response is built */
    size_t reply_len;
    struct buf body; /* response bytes waiting for libmicrohttpd, at most one stream window */
    int err_status;  /* an error page to send instead of a response */
    const char *err_title;
    char err_text[300];
    struct loop_timer deadline; /* until the response head: 504 */
    struct loop_io hup;         /* while suspended: the public client hanging up */
    struct loop_timer hup_timer; /* starts the hup watch when a wait lasts */
    struct pipe_end pipe;       /* after 101: the upgraded socket <-> the stream */
    struct MHD_UpgradeResponseHandle *urh;
    TAILQ_ENTRY(pub_req) list_entry; /* on the suspended list */
    struct loop_defer free; /* finished: an event for it may still wait in this epoll batch */
};

/* Suspended requests, so that shutdown can resume them all before stopping the daemon. */
static TAILQ_HEAD(, pub_req) public_http_suspended = TAILQ_HEAD_INITIALIZER(public_http_suspended);

#define PUBLIC_HTTP_HUP_DELAY_MS 200 /* a wait this long gets a hang-up watch */

static const struct stream_ops public_http_stream_ops;
static void public_http_on_pipe_done(void *owner, struct pipe_end *p, int error);
static void public_http_free(void *arg);
static struct frame_field public_http_fields[NGR_MAX_HEADERS];
static struct frame_field public_http_out_fields[NGR_MAX_HEADERS + 3];

unsigned
server_public_port(const struct server *srv)
{
    return srv->cfg.public_port ? srv->cfg.public_port : srv->http_port;
}

/* HTML-escapes s into out. */
static void
public_http_html_escape(char *out, size_t outlen, const char *s)
{
    size_t o = 0;

    for (; *s && o + 7 < outlen; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        }
        if (rep != NULL) {
            size_t n = strlen(rep);
            memcpy(out + o, rep, n);
            o += n;
        } else if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            out[o++] = '?';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

/* Records an error page for this request; it is sent from the access handler. text is plain
 * text (escaped when the page is built). */
static void
public_http_fail(struct pub_req *req, int status, const char *title, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
public_http_fail(struct pub_req *req, int status, const char *title, const char *fmt, ...)
{
    va_list ap;

    if (req->err_status != 0)
        return;
    req->err_status = status;
    req->err_title = title;
    va_start(ap, fmt);
    vsnprintf(req->err_text, sizeof(req->err_text), fmt, ap);
    va_end(ap);
}

static enum MHD_Result
public_http_queue_page(struct MHD_Connection *conn, int status, const char *title,
                       const char *text, const char *code)
{
    char page[2048], etitle[256], etext[1024];
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int n;

    public_http_html_escape(etitle, sizeof(etitle), title);
    public_http_html_escape(etext, sizeof(etext), text);
    n = snprintf(page, sizeof(page),
                 "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title>"
                 "<style>body{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}"
                 "</style></head>\n<body><h1>%s</h1>\n<p id=\"message\">%s</p>\n"
                 "<hr><p><small>ngrnotok gateway &middot; %d</small></p></body></html>\n",
                 status, etitle, etitle, etext, status);
    if (n < 0 || (size_t)n >= sizeof(page))
        n = (int)strlen(page);
    resp = MHD_create_response_from_buffer((size_t)n, page, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Ngrnotok-Error", code);
    ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const char *
public_http_error_code(int status)
{
    switch (status) {
    case 400:
        return "bad-request";
    case 404:
        return "tunnel-not-found";
    case 431:
        return "headers-too-large";
    case 502:
        return "bad-gateway";
    case 503:
        return "unavailable";
    case 504:
        return "gateway-timeout";
    }
    return "error";
}

/* Gives back the tunnel's stream count and forgets the tunnel (it may go away after this). */
static void
public_http_release(struct pub_req *req)
{
    if (req->st.sess != NULL)
        session_stream_detach(&req->st);
    if (req->tunnel != NULL) {
        req->tunnel->streams--;
        req->tunnel = NULL;
    }
    loop_timer_stop(req->srv->loop, &req->deadline);
}

static void public_http_on_hup(void *arg, uint32_t events);
static void public_http_on_hup_timer(void *arg);

static void
public_http_suspend(struct pub_req *req)
{
    if (req->suspended)
        return;
    MHD_suspend_connection(req->conn);
    req->suspended = 1;
    TAILQ_INSERT_TAIL(&public_http_suspended, req, list_entry);
    /* A suspended connection is out of libmicrohttpd's sight, so a hang-up must be watched
     * here; but most waits end within milliseconds, and a watch costs two epoll_ctl calls, so
     * it starts only once the wait has lasted PUBLIC_HTTP_HUP_DELAY_MS. */
    loop_timer_start(req->srv->loop, &req->hup_timer, PUBLIC_HTTP_HUP_DELAY_MS);
}

static void
public_http_on_hup_timer(void *arg)
{
    struct pub_req *req = arg;
    const union MHD_ConnectionInfo *ci;

    if (!req->suspended || req->hup.fd >= 0)
        return;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL ||
        loop_io_add(req->srv->loop, &req->hup, ci->connect_fd, LOOP_HUP, public_http_on_hup, req) !=
            0)
        req->hup.fd = -1;
}

static void
public_http_wake(struct pub_req *req)
{
    if (!req->suspended)
        return;
    loop_timer_stop(req->srv->loop, &req->hup_timer);
    if (req->hup.fd >= 0)
        loop_io_del(req->srv->loop, &req->hup);
    req->suspended = 0;
    TAILQ_REMOVE(&public_http_suspended, req, list_entry);
    MHD_resume_connection(req->conn);
    mhd_glue_resumed(&req->srv->http);
}

static void
public_http_on_hup(void *arg, uint32_t events)
{
    struct pub_req *req = arg;

    log_debug("stream %u: public client hung up while waiting", req->st.id);
    if (req->st.sess != NULL)
        session_stream_reset(&req->st, FRAME_CODE_CANCEL, "public client went away");
    req->reset = 1;
    public_http_release(req);
    public_http_fail(req, 502, "Client went away", "The public client closed the connection.");
    public_http_wake(req);
}

static void
public_http_on_deadline(void *arg)
{
    struct pub_req *req = arg;

    if (req->head_in)
        return;
    if (req->st.sess != NULL)
        session_stream_reset(&req->st, FRAME_CODE_TIMEOUT, "no response head in time");
    req->reset = 1;
    public_http_release(req);
    public_http_fail(req, 504, "Gateway Timeout",
                     "The local service behind this tunnel did not answer within %.1f seconds.",
                     (double)req->srv->cfg.response_timeout_ms / 1000.0);
    public_http_wake(req);
}

/* Both directions ended: the stream leaves the session, the request lives on until the public
 * client has its bytes. */
static void
public_http_maybe_done(struct pub_req *req)
{
    if (req->end_sent && req->resp_ended && req->st.sess != NULL)
        public_http_release(req);
}

static void *
public_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct server *srv = cls;
    struct pub_req *req = calloc(1, sizeof(*req));

    if (req == NULL)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    req->target = strdup(uri ? uri : "/");
    req->hup.fd = -1;
    buf_init_kept(&req->body, NGR_STREAM_WINDOW); /* lives as long as the request */
    loop_timer_init(&req->deadline, public_http_on_deadline, req);
    loop_timer_init(&req->hup_timer, public_http_on_hup_timer, req);
    loop_defer_init(&req->free, public_http_free, req);
    if (req->target == NULL) {
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
    free(req);
}

static void
public_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct pub_req *req = *con_cls;

    if (req == NULL)
        return;
    log_debug("stream %u: completed (toe %d, piping %d)", req->st.id, (int)toe, req->piping);
    if (req->piping) {
        /* libmicrohttpd is done with the connection while bytes still flow (daemon stopping):
         * end the pipe here, and tell the client. */
        req->upgraded = 0;
        if (req->st.sess != NULL)
            session_stream_reset(&req->st, FRAME_CODE_CANCEL, "gateway stopping");
        public_http_on_pipe_done(req, &req->pipe, 0);
    }
    if (req->st.sess != NULL) {
        /* The public side is done before the stream: tell the client to stop. */
        session_stream_reset(&req->st, FRAME_CODE_CANCEL,
                             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "request finished"
                                                                        : "public client went away");
    }
    if (req->hup.fd >= 0)
        loop_io_del(req->srv->loop, &req->hup);
    loop_timer_stop(req->srv->loop, &req->hup_timer);
    public_http_release(req);
    if (req->suspended) {
        req->suspended = 0;
        TAILQ_REMOVE(&public_http_suspended, req, list_entry);
    }
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

/* Where a head's Connection fields are, found once per head, so that checking each of its
 * fields (public_http_is_hop) looks at those alone rather than at every field again. */
struct public_http_hops {
    const struct frame_field *fields;
    size_t first, end; /* the Connection fields lie in [first, end) */
};

static struct public_http_hops
public_http_hops(const struct frame_field *fields, size_t n)
{
    struct public_http_hops h = {fields, 0, 0};
    size_t i;

    for (i = 0; i < n; i++)
        if (frame_str_eq(fields[i].name, "connection")) {
            if (h.end == 0)
                h.first = i;
            h.end = i + 1;
        }
    return h;
}

/* 1 if a header field must not be forwarded (hop-by-hop, or named in a Connection field). */
static int
public_http_is_hop(const struct public_http_hops *h, struct frame_str name)
{
    size_t i;

    if (http_hop_is_fixed(name.p, name.len))
        return 1;
    for (i = h->first; i < h->end; i++)
        if (frame_str_eq(h->fields[i].name, "connection") &&
            http_hop_in_connection(name.p, name.len, h->fields[i].value.p, h->fields[i].value.len))
            return 1;
    return 0;
}

/* 1 if the request asks for a protocol upgrade: an Upgrade field and "upgrade" among the
 * Connection tokens (RFC 9110 section 7.8). */
static int
public_http_wants_upgrade(const struct public_http_collect *col)
{
    size_t i;
    int has_upgrade = 0, conn_upgrade = 0;

    for (i = 0; i < col->n; i++) {
        if (frame_str_eq(col->fields[i].name, "upgrade"))
            has_upgrade = 1;
        else if (frame_str_eq(col->fields[i].name, "connection") &&
                 http_hop_in_connection("upgrade", 7, col->fields[i].value.p,
                                        col->fields[i].value.len))
            conn_upgrade = 1;
    }
    return has_upgrade && conn_upgrade;
}

/* Finds the tunnel for a Host value "<sub>.<domain>[:port]". Returns the tunnel, or NULL with
 * an error recorded on req. */
static struct tunnel *
public_http_route(struct pub_req *req, const char *host)
{
    const char *domain = req->srv->cfg.domain;
    char name[NGR_DOMAIN_LEN + 1];
    size_t len = 0, dlen = strlen(domain), i;
    struct tunnel *t;

    if (host == NULL || *host == '\0') {
        public_http_fail(req, 400, "Bad Request", "The request has no Host header.");
        return NULL;
    }
    for (i = 0; host[i] != '\0' && host[i] != ':'; i++) {
        char ch = host[i];
        if (len >= NGR_DOMAIN_LEN ||
            !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.')) {
            public_http_fail(req, 400, "Bad Request", "The Host header is malformed.");
            return NULL;
        }
        name[len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    if (host[i] == ':') {
        const char *p = host + i + 1;
        if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5) {
            public_http_fail(req, 400, "Bad Request", "The Host header has a malformed port.");
            return NULL;
        }
    }
    if (len > 0 && name[len - 1] == '.')
        len--; /* a fully qualified name: "a.localhost." */
    name[len] = '\0';
    if (len == 0) {
        public_http_fail(req, 400, "Bad Request", "The Host header is empty.");
        return NULL;
    }
    if (len == dlen && memcmp(name, domain, dlen) == 0) {
        public_http_fail(req, 404, "Tunnel not found",
                         "This is an ngrnotok gateway for %s. Tunnels live at <name>.%s.", domain,
                         domain);
        return NULL;
    }
    if (len <= dlen + 1 || name[len - dlen - 1] != '.' || memcmp(name + len - dlen, domain, dlen)) {
        public_http_fail(req, 404, "Tunnel not found", "This gateway does not serve %s.", name);
        return NULL;
    }
    len -= dlen + 1;
    t = config_valid_label(name, len) ? tunnel_table_find_subdomain(name, len) : NULL;
    if (t == NULL) {
        name[len] = '\0';
        public_http_fail(req, 404, "Tunnel not found",
                         "Tunnel %s.%s not found: no client is connected with the name \"%s\".",
                         name, domain, name);
        return NULL;
    }
    return t;
}

/* Routes the request and sends OPEN. On failure, an error page is recorded. */
static void
public_http_open(struct pub_req *req, const char *method)
{
    struct server *srv = req->srv;
    struct public_http_collect col = {public_http_fields, 0, 0};
    struct public_http_hops hops;
    struct frame_field *out;
    struct frame_head h;
    struct tunnel *t;
    struct session *s;
    const union MHD_ConnectionInfo *ci;
    const char *host, *cl, *te;
    static char xff[8192];
    char client_ip[64];
    size_t i, n = 0, xff_len, xff_at;
    int no_body, upgrade, rc;

    host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    t = public_http_route(req, host);
    if (t == NULL)
        return;
    req->is_head = strcmp(method, "HEAD") == 0;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    net_format_ip(ci ? ci->client_addr : NULL, client_ip, sizeof(client_ip));

    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, public_http_collect_header, &col);
    if (col.overflow) {
        public_http_fail(req, 431, "Request Header Fields Too Large",
                         "The request has more than %d header fields.", NGR_MAX_HEADERS);
        return;
    }
    memset(&h, 0, sizeof(h));
    cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    te = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te != NULL) {
        h.body = FRAME_BODY_UNKNOWN;
    } else if (cl != NULL) {
        char *end;
        errno = 0;
        h.length = strtoull(cl, &end, 10);
        if (errno != 0 || *end != '\0' || cl[0] == '-') {
            public_http_fail(req, 400, "Bad Request", "The Content-Length header is malformed.");
            return;
        }
        h.body = FRAME_BODY_LENGTH; /* also for 0: the local service sees Content-Length: 0 */
    } else {
        h.body = FRAME_BODY_NONE;
    }

    /* Copy the fields to forward, in order, into out (col.fields must stay whole while it is
     * scanned for Connection). X-Forwarded-For values are folded into one field, with the
     * client's address last; X-Forwarded-Proto and -Host are ours to say; Expect was answered
     * by libmicrohttpd already. */
    out = public_http_out_fields;
    xff_len = 0;
    xff_at = SIZE_MAX;
    upgrade = public_http_wants_upgrade(&col);
    hops = public_http_hops(col.fields, col.n);
    for (i = 0; i < col.n; i++) {
        struct frame_field f = col.fields[i];
        /* An upgrade keeps its Upgrade field; Connection is re-sent as "Upgrade" below. */
        int keep = upgrade && frame_str_eq(f.name, "upgrade");
        if ((!keep && public_http_is_hop(&hops, f.name)) ||
            frame_str_eq(f.name, "expect") ||
            frame_str_eq(f.name, "x-forwarded-proto") || frame_str_eq(f.name, "x-forwarded-host"))
            continue;
        if (frame_str_eq(f.name, "x-forwarded-for")) {
            if (xff_len + f.value.len + 2 >= sizeof(xff)) {
                public_http_fail(req, 431, "Request Header Fields Too Large",
                                 "The X-Forwarded-For header is too long.");
                return;
            }
            xff_len += (size_t)snprintf(xff + xff_len, sizeof(xff) - xff_len, "%s%.*s",
                                        xff_len ? ", " : "", (int)f.value.len, f.value.p);
            if (xff_at != SIZE_MAX)
                continue;
            xff_at = n;
        }
        out[n++] = f;
    }
    if (xff_len + strlen(client_ip) + 3 >= sizeof(xff)) {
        public_http_fail(req, 431, "Request Header Fields Too Large",
                         "The X-Forwarded-For header is too long.");
        return;
    }
    if (xff_at == SIZE_MAX) {
        xff_at = n;
        out[n++].name = frame_str_c("X-Forwarded-For");
    }
    if (xff_len == 0) { /* the usual case: the client's address alone, no copy */
        out[xff_at].value = frame_str_c(client_ip);
    } else {
        snprintf(xff + xff_len, sizeof(xff) - xff_len, ", %s", client_ip);
        out[xff_at].value = frame_str_c(xff);
    }
    if (n + 2 + (upgrade ? 1 : 0) > NGR_MAX_HEADERS) {
        public_http_fail(req, 431, "Request Header Fields Too Large",
                         "The request has too many header fields.");
        return;
    }
    if (upgrade) {
        out[n].name = frame_str_c("Connection");
        out[n++].value = frame_str_c("Upgrade");
        h.flags |= FRAME_HEAD_UPGRADE;
        req->upgrade = 1;
    }
    out[n].name = frame_str_c("X-Forwarded-Proto");
    out[n++].value = frame_str_c("http");
    out[n].name = frame_str_c("X-Forwarded-Host");
    out[n++].value = frame_str_c(host);

    h.tunnel = t->handle;
    h.method = frame_str_c(method);
    h.target = frame_str_c(req->target);
    h.client_addr = frame_str_c(client_ip);
    h.scheme = frame_str_c("http");
    h.host = frame_str_c(host);
    h.fields = out;
    h.nfields = n;

    s = control_session(t->conn);
    if (session_stream_open(s, &req->st, &public_http_stream_ops, req) != 0) {
        public_http_fail(req, 502, "Bad Gateway", "The tunnel is closing; try again.");
        return;
    }
    no_body = h.body == FRAME_BODY_NONE || (h.body == FRAME_BODY_LENGTH && h.length == 0);
    /* An upgrade request keeps its stream open toward the client even without a body: after a
     * 101, the public client's bytes follow on it. */
    rc = session_send_open(&req->st, no_body && !upgrade ? FRAME_FLAG_END_STREAM : 0, &h);
    if (rc == NGR_ELIMIT) {
        session_stream_detach(&req->st);
        public_http_fail(req, 431, "Request Header Fields Too Large",
                         "The request head is larger than %d bytes.", NGR_FRAME_MAX_PAYLOAD);
        return;
    }
    if (rc != 0) {
        session_stream_detach(&req->st);
        public_http_fail(req, 502, "Bad Gateway", "The tunnel's connection is overloaded.");
        return;
    }
    req->tunnel = t;
    t->streams++;
    t->requests++;
    req->opened = 1;
    req->req_body = h.body;
    req->end_sent = no_body;
    /* The deadline runs from the end of the request: a long upload is not a slow service. */
    if (no_body)
        loop_timer_start(srv->loop, &req->deadline, srv->cfg.response_timeout_ms);
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

    if (error == PIPE_RESET) {
        req->reset = 1;
        req->pipe.read_counter = req->pipe.write_counter = NULL; /* the tunnel may go */
    } else if (error != 0 && req->st.sess != NULL) {
        session_stream_reset(&req->st, FRAME_CODE_CANCEL, "public client connection failed");
    }
    public_http_release(req);
    pipe_stop(&req->pipe);
    req->piping = 0;
    if (req->upgraded) {
        req->upgraded = 0;
        MHD_upgrade_action(req->urh, MHD_UPGRADE_ACTION_CLOSE);
        mhd_glue_resumed(&req->srv->http);
    }
}

static void
public_http_on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
                        const char *extra_in, size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
    struct pub_req *req = cls;

    req->urh = urh;
    req->upgraded = 1;
    if (!req->piping || req->st.sess == NULL) { /* the stream died before the switch */
        public_http_on_pipe_done(req, &req->pipe, 0);
        return;
    }
    if (pipe_start(&req->pipe, sock) != 0 ||
        pipe_inject(&req->pipe, (const uint8_t *)extra_in, extra_in_size) != 0)
        public_http_on_pipe_done(req, &req->pipe, EPIPE);
}

/* Builds the libmicrohttpd response from the REPLY head and queues it. */
static enum MHD_Result
public_http_queue_reply(struct pub_req *req)
{
    struct frame f;
    struct frame_head h;
    struct public_http_hops hops;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    uint64_t size;
    size_t i;
    int no_body;

    memset(&f, 0, sizeof(f));
    f.type = FRAME_REPLY;
    f.payload = req->reply;
    f.length = (uint32_t)req->reply_len;
    memset(&h, 0, sizeof(h));
    h.fields = public_http_fields;
    h.cap_fields = NGR_MAX_HEADERS;
    if (frame_reply_decode(&f, &h) != 0) /* checked on arrival; cannot fail here */
        return MHD_NO;
    no_body = req->is_head || h.status == 204 || h.status == 304 || h.status < 200;
    if (h.body == FRAME_BODY_LENGTH)
        size = h.length;
    else if (h.body == FRAME_BODY_NONE)
        size = 0;
    else
        size = MHD_SIZE_UNKNOWN;
    if (no_body && size == MHD_SIZE_UNKNOWN && !req->is_head)
        size = 0; /* for HEAD, unknown stays unknown: no Content-Length: 0 that a GET would belie */
    if (h.status == 101) {
        /* on_reply let a 101 through only for an upgrade request */
        resp = MHD_create_response_for_upgrade(public_http_on_upgraded, req);
    } else if (size == 0 && !req->is_head) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (!no_body && req->resp_ended && req->body.len == size) {
        /* The whole body is here already: hand it over in one piece. */
        resp = MHD_create_response_from_buffer(req->body.len, (void *)buf_head(&req->body),
                                               MHD_RESPMEM_MUST_COPY);
        if (resp != NULL && req->st.sess != NULL)
            session_consumed(&req->st, req->body.len);
        if (resp != NULL)
            buf_free(&req->body);
    } else {
        /* For HEAD the reader is never called; the size still sets Content-Length.
         * libmicrohttpd allocates and zeroes the block with the response but fills it only for
         * a known length (a chunked body is built in the connection's pool): a large block only
         * where it is used. */
        size_t block = NGR_RESPONSE_BLOCK_MIN;
        if (size != MHD_SIZE_UNKNOWN && !req->is_head)
            block = size < NGR_RESPONSE_BLOCK ? (size_t)size : NGR_RESPONSE_BLOCK;
        resp = MHD_create_response_from_callback(size, block, public_http_read, req, NULL);
    }
    if (resp == NULL)
        return MHD_NO;
    hops = public_http_hops(h.fields, h.nfields);
    for (i = 0; i < h.nfields; i++) {
        /* libmicrohttpd wants C strings and copies them. */
        static char value[NGR_MAX_STRING + 1];
        char name[256];
        struct frame_field *fl = &h.fields[i];

        if ((public_http_is_hop(&hops, fl->name) &&
             !(h.status == 101 && frame_str_eq(fl->name, "upgrade"))) ||
            fl->name.len >= sizeof(name))
            continue;
        memcpy(name, fl->name.p, fl->name.len);
        name[fl->name.len] = '\0';
        memcpy(value, fl->value.p, fl->value.len);
        value[fl->value.len] = '\0';
        /* libmicrohttpd refuses an empty value; one space is the same field on the wire
         * ("Name:  "), since a recipient strips the blanks around a value. */
        if (MHD_add_response_header(resp, name, fl->value.len > 0 ? value : " ") != MHD_YES)
            log_debug("stream %u: response header %s not accepted", req->st.id, name);
    }
    ret = MHD_queue_response(req->conn, h.status, resp);
    MHD_destroy_response(resp);
    free(req->reply);
    req->reply = NULL;
    req->queued = 1;
    return ret;
}

static enum MHD_Result
public_http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                   const char *version, const char *upload_data, size_t *upload_data_size,
                   void **con_cls)
{
    struct pub_req *req = *con_cls;

    if (req == NULL)
        return MHD_NO; /* out of memory in the URI callback */
    if (req->queued)
        return MHD_YES;
    if (!req->started) {
        /* First call: headers only. Answering here costs keep-alive (libmicrohttpd closes a
         * connection whose response was queued before the body was read), so only errors are
         * answered at once; a proxied request waits for its response head. */
        req->started = 1;
        req->conn = conn;
        public_http_open(req, method);
        if (req->err_status != 0) /* nobody will read a body: answer now, and close */
            return public_http_queue_page(conn, req->err_status, req->err_title, req->err_text,
                                          public_http_error_code(req->err_status));
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t room, take;
        ssize_t sent;

        if (req->err_status != 0 || req->reset || req->resp_ended || req->st.sess == NULL) {
            *upload_data_size = 0; /* nobody will read the rest of the body: drop it */
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
            if (req->tunnel != NULL)
                req->tunnel->bytes_in += (uint64_t)sent;
        }
        if (*upload_data_size > 0) {
            req->upload_blocked = 1;
            public_http_suspend(req); /* out of credit: WINDOW resumes us */
        }
        return MHD_YES;
    }
    if (!req->mhd_done) {
        req->mhd_done = 1;
        if (!req->end_sent && req->st.sess != NULL) {
            session_send_data(&req->st, NULL, 0, 1);
            req->end_sent = 1;
            if (!req->head_in)
                loop_timer_start(req->srv->loop, &req->deadline,
                                 req->srv->cfg.response_timeout_ms);
            public_http_maybe_done(req);
        }
    }
    if (req->err_status != 0)
        return public_http_queue_page(conn, req->err_status, req->err_title, req->err_text,
                                      public_http_error_code(req->err_status));
    if (req->head_in)
        return public_http_queue_reply(req);
    public_http_suspend(req); /* REPLY resumes us */
    return MHD_YES;
}

int
public_http_on_reply(struct stream *st, const struct frame *f)
{
    struct pub_req *req = st->owner;
    struct frame_head h;

    if (req->head_in)
        return NGR_EPROTO;
    memset(&h, 0, sizeof(h));
    h.fields = public_http_fields;
    h.cap_fields = NGR_MAX_HEADERS;
    if (frame_reply_decode(f, &h) != 0)
        return NGR_EPROTO;
    req->reply = malloc(f->length ? f->length : 1);
    if (req->reply == NULL) {
        session_stream_reset(st, FRAME_CODE_INTERNAL, "out of memory");
        public_http_on_reset(st, FRAME_CODE_INTERNAL, frame_str_c("gateway out of memory"));
        return 0;
    }
    memcpy(req->reply, f->payload, f->length);
    req->reply_len = f->length;
    if (h.status == 101 && !req->upgrade) {
        session_stream_reset(st, FRAME_CODE_PROTOCOL, "101 to a request that did not ask");
        public_http_on_reset(st, FRAME_CODE_PROTOCOL,
                             frame_str_c("the local service switched protocols unasked"));
        return 0;
    }
    req->head_in = 1;
    if (h.status == 101) {
        /* From here the stream carries raw bytes; they wait in the pipe until the switch. */
        req->piping = 1;
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

int
public_http_on_data(struct stream *st, const uint8_t *p, size_t n, int end)
{
    struct pub_req *req = st->owner;

    if (!req->head_in || req->resp_ended)
        return NGR_EPROTO; /* body before head, or after the end: the stream is reset */
    if (n > 0) {
        /* The window bounds what the client may send us, so this cannot pass the limit. */
        if (buf_append(&req->body, p, n) != 0)
            return NGR_ELIMIT;
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

void
public_http_on_reset(struct stream *st, uint32_t code, struct frame_str message)
{
    struct pub_req *req = st->owner;
    char esc[NGR_MAX_MESSAGE * 4 + 8];

    req->reset = 1;
    public_http_release(req);
    log_escape(esc, sizeof(esc), message.p, message.len);
    if (!req->head_in) {
        switch (code) {
        case FRAME_CODE_REFUSED:
            public_http_fail(req, 502, "Local service unreachable",
                             "The tunnel is up, but the local service behind it is unreachable "
                             "(%s).",
                             esc);
            break;
        case FRAME_CODE_TIMEOUT:
            public_http_fail(req, 504, "Gateway Timeout",
                             "The local service behind this tunnel did not answer in time (%s).",
                             esc);
            break;
        case FRAME_CODE_CANCEL:
            public_http_fail(req, 502, "Tunnel closed",
                             "The tunnel closed before the local service answered (%s).", esc);
            break;
        default:
            public_http_fail(req, 502, "Bad Gateway",
                             "The local service's response failed (%s).", esc);
            break;
        }
    }
    public_http_wake(req);
}

void
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

static void public_http_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
public_http_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("http: %s", line);
}

int
public_http_start(struct server *srv, struct ngr_err *err)
{
    struct MHD_Daemon *d;
    int fd;

    fd = net_listen(&srv->cfg.http_addr, 1024, err);
    if (fd < 0)
        return fd;
    srv->http_port = srv->cfg.http_addr.port;
    d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        public_http_access, srv, MHD_OPTION_EXTERNAL_LOGGER, public_http_log, srv,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_URI_LOG_CALLBACK, public_http_on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, public_http_on_completed, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)NGR_HTTP_CONN_MEMORY,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)NGR_HTTP_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)NGR_HTTP_CONN_TIMEOUT_S, MHD_OPTION_END);
    if (d == NULL) {
        close(fd);
        return err_set(err, NGR_ESYS, "libmicrohttpd could not start on the HTTP port");
    }
    return mhd_glue_start(&srv->http, srv->loop, d, err);
}

void
public_http_stop(struct server *srv)
{
    struct pub_req *req;

    if (srv->http.daemon == NULL)
        return;
    /* libmicrohttpd must not be stopped with suspended connections. */
    while ((req = TAILQ_FIRST(&public_http_suspended)) != NULL) {
        public_http_fail(req, 503, "Service Unavailable", "The gateway is shutting down.");
        public_http_wake(req);
    }
    MHD_run(srv->http.daemon);
    mhd_glue_stop(&srv->http);
}
