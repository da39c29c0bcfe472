/* replay.c: each OPEN becomes a libcurl transfer on a pooled easy handle, in a multi handle
 * that curl_glue.c runs on the client's loop. Request bodies flow in through a pausing read
 * callback, and responses flow out through the header and write callbacks, within the stream's
 * credit. */
#include "replay.h"
#include "capture.h"
#include "curl_glue.h"
#include "exchange.h"
#include "http_head.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

/* One forwarded request. */
struct replay_req {
    struct stream st;
    struct replay *r;
    const struct client_tunnel *t; /* the tunnel it came on: its local service */
    CURL *easy;
    struct curl_slist *headers;
    struct buf req_body;     /* request bytes from the gateway, for the read callback */
    struct buf resp_pending; /* response bytes beyond the stream's credit */
    struct buf head;         /* the response head's field lines, as libcurl passed them */
    unsigned req_ended : 1;  /* the request's END_STREAM arrived */
    unsigned read_paused : 1;
    unsigned write_paused : 1;
    unsigned head_sent : 1;
    unsigned end_sent : 1;
    unsigned curl_done : 1;
    unsigned in_multi : 1;
    unsigned unpause_queued : 1;
    unsigned dead : 1;
    unsigned is_head : 1;
    unsigned head_too_large : 1;
    unsigned from_gateway : 1; /* the reset came from the gateway (why is its reason) */
    uint64_t started_ms;
    uint64_t head_ms;  /* when REPLY went */
    int status;        /* the status REPLY carried; 0: none went */
    uint32_t why_code; /* the first failure: its RST code and reason (borrowed, lives until */
    const char *why;   /* the request is reported in replay_kill) */
    const struct client_tunnel *conf;     /* whose TLS and socket options easy carries */
    struct capture *cap;                  /* for the inspector while it runs, else NULL */
    char method[NGR_EXCHANGE_METHOD_LEN]; /* escaped, for logs and the exchange */
    char path[NGR_LABEL_TARGET_LEN];      /* the target, escaped */
    char errbuf[CURL_ERROR_SIZE];
    TAILQ_ENTRY(replay_req) unpause_entry;
    struct loop_defer free; /* dead: freed at the end of the turn */
};

struct replay {
    struct client *cl;
    struct curl_glue glue;
    CURL *pool[NGR_REPLAY_POOL];
    const struct client_tunnel *pool_conf[NGR_REPLAY_POOL]; /* each one's options (q->conf) */
    size_t npool;
    char *default_ca, *default_capath; /* libcurl's own CA bundle and directory, or NULL */
    size_t active;
    TAILQ_HEAD(, replay_req) unpause;
    struct frame_field fields[NGR_MAX_HEADERS]; /* a response head's, while its REPLY is built */
};

static const struct stream_ops replay_stream_ops;

size_t
replay_active(const struct replay *r)
{
    return r->active;
}

static void
replay_queue_unpause(struct replay_req *q)
{
    if (q->unpause_queued || q->dead)
        return;
    q->unpause_queued = 1;
    TAILQ_INSERT_TAIL(&q->r->unpause, q, unpause_entry);
    loop_wake(q->r->cl->loop);
}

/* The request is over: what it was and what the visitor got, to the client's observers. */
static void
replay_report(struct replay_req *q)
{
    struct exchange x;

    if (q->r->cl->exchanges.n == 0)
        return;
    x.tunnel = q->t;
    x.method = q->method;
    x.path = q->path;
    x.started_ms = q->started_ms;
    x.head_ms = q->head_ms;
    x.done_ms = loop_now(q->r->cl->loop);
    x.bytes_in = q->st.data_received;
    x.bytes_out = q->st.data_sent;
    x.status = q->status;
    if (q->cap != NULL && !q->req_ended)
        q->cap->req_short = 1;
    x.capture = q->cap != NULL ? &q->cap : NULL;
    x.raw = 0;
    x.error = NULL;
    if (!q->end_sent)
        x.error = q->why != NULL ? q->why : "ended early";
    /* Before the head, the gateway answers a reset with its own page (docs/architecture.md,
     * "Error mapping"); a reset of its own means the visitor left, or got its 504. */
    if (q->status == 0 && q->from_gateway)
        x.status = q->why_code == FRAME_CODE_TIMEOUT ? 504 : 0;
    else if (q->status == 0)
        x.status = q->why_code == FRAME_CODE_TIMEOUT ? 504 : 502;
    exchange_publish(&q->r->cl->exchanges, &x);
    capture_free(q->cap); /* unless a consumer took it */
    q->cap = NULL;
}

/* Ends a request: out of libcurl, off the session, freed at the end of the turn (an event of
 * this turn's batch, or libcurl's info queue, may still name it). */
static void
replay_kill(struct replay_req *q)
{
    struct replay *r = q->r;

    if (q->dead)
        return;
    q->dead = 1;
    replay_report(q);
    q->why = NULL; /* borrowed: gone after this call */
    if (q->in_multi) {
        curl_multi_remove_handle(r->glue.multi, q->easy);
        q->in_multi = 0;
    }
    if (q->unpause_queued) {
        TAILQ_REMOVE(&r->unpause, q, unpause_entry);
        q->unpause_queued = 0;
    }
    session_stream_detach(&q->st);
    r->active--;
    loop_defer(r->cl->loop, &q->free);
}

/* The deferral of a dead request. */
/* Resets the stream with code and why (if it is still attached) and ends the request; why is
 * the reason reported unless an earlier failure gave one. */
static void
replay_fail(struct replay_req *q, uint32_t code, const char *why)
{
    if (q->why == NULL) {
        q->why = why;
        q->why_code = code;
    }
    session_stream_reset(&q->st, code, why);
    replay_kill(q);
}

static void
replay_free_req(void *arg)
{
    struct replay_req *q = arg;
    struct replay *r = q->r;

    if (q->easy != NULL) {
        if (r->npool < NGR_REPLAY_POOL) { /* its options are reset when it is reused */
            r->pool_conf[r->npool] = q->conf;
            r->pool[r->npool++] = q->easy;
        } else
            curl_easy_cleanup(q->easy);
    }
    free(q->headers); /* one block: see replay_headers */
    buf_free(&q->req_body);
    buf_free(&q->resp_pending);
    buf_free(&q->head);
    capture_free(q->cap);
    free(q);
    heap_trim_note(&r->cl->trim); /* its libcurl buffers went when the transfer ended */
}

/* The local service's time to its response head, connecting included, as REPLY reports it to
 * the gateway (its metrics set it beside the public side's time): at least 1 us, saturated. */
static uint32_t
replay_service_us(struct replay_req *q)
{
    curl_off_t us = 0;

    if (curl_easy_getinfo(q->easy, CURLINFO_STARTTRANSFER_TIME_T, &us) != CURLE_OK || us < 1)
        us = 1;
    return us > (curl_off_t)UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Resets the stream, for a reason found inside a libcurl callback: the transfer ends by
 * itself (its callbacks see the stream gone) and replay_done reports this reason. why must be
 * a static string. */
static void
replay_note_reset(struct replay_req *q, uint32_t code, const char *why)
{
    if (q->why == NULL) {
        q->why = why;
        q->why_code = code;
    }
    session_stream_reset(&q->st, code, why);
}

/* Sends the response head, its fields in the order the service sent them. */
static void
replay_send_head(struct replay_req *q, long status)
{
    struct frame_head h;
    struct http_head_framing fr;
    int no_body, n;
    uint8_t flags = 0;
    int rc;

    memset(&h, 0, sizeof(h));
    q->head_sent = 1;
    if (q->head_too_large) {
        replay_note_reset(q, FRAME_CODE_TOO_LARGE, "response head too large");
        return;
    }
    /* Split here rather than asked of libcurl (curl_easy_nextheader recounts every earlier
     * field at each step: 7% of the client's instructions per small request with the eight
     * fields nginx sends with a file). */
    n = http_head_fields(q->head.data != NULL ? (char *)q->head.data + q->head.off : NULL,
                         q->head.len, q->r->fields, NGR_MAX_HEADERS, &fr); /* rewritten: folds */
    if (n < 0) {
        struct http_head_refusal e = http_head_refused(n);
        replay_note_reset(q, e.code, e.message);
        return;
    }
    no_body = q->is_head || status == 204 || status == 304;
    if (fr.has_length && !fr.chunked) {
        h.body = FRAME_BODY_LENGTH;
        h.length = fr.length;
    } else {
        h.body = no_body ? FRAME_BODY_NONE : FRAME_BODY_UNKNOWN;
    }
    if (no_body)
        flags = FRAME_FLAG_END_STREAM;
    h.status = (uint16_t)status;
    h.fields = q->r->fields;
    h.nfields = (size_t)n;
    h.service_us = replay_service_us(q);
    rc = session_send_reply(&q->st, flags, &h);
    buf_free(&q->head);
    if (rc == NGR_ELIMIT) {
        replay_note_reset(q, FRAME_CODE_TOO_LARGE, "response head too large");
        return;
    }
    if (rc != 0)
        return; /* the session is closing: the stream ends with it */
    q->status = (int)status;
    q->head_ms = loop_now(q->r->cl->loop);
    if (flags)
        q->end_sent = 1;
    log_info("%s %s -> %ld (%llu ms)", q->method, q->path, status,
             (unsigned long long)(loop_now(q->r->cl->loop) - q->started_ms));
}

/* libcurl passes each line of each response head here, whole: the status line, the fields,
 * then the empty line. Only the final head (after any 1xx) is sent on. */
static size_t
replay_on_header(char *p, size_t size, size_t nitems, void *arg)
{
    struct replay_req *q = arg;
    size_t len = size * nitems;
    long status = 0;

    if (q->head_sent || q->st.sess == NULL)
        return len;                               /* trailers are dropped (docs/protocol.md) */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a status line starts a head */
        if (q->cap != NULL)
            capture_response_status(q->cap, p, len);
        buf_free(&q->head);
        q->head_too_large = 0;
        return len;
    }
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && q->cap != NULL)
            capture_response_head_end(q->cap);
        if (status >= 200)
            replay_send_head(q, status); /* 1xx heads are skipped: the final one follows */
        return len;
    }
    if (q->cap != NULL)
        capture_response_fields(q->cap, p, len);
    if (buf_append(&q->head, p, len) != 0)
        q->head_too_large = 1;
    return len;
}

/* Sends what the credit allows of the held-back response bytes. */
static void
replay_flush_pending(struct replay_req *q)
{
    ssize_t sent;

    if (q->resp_pending.len == 0 || q->st.sess == NULL)
        return;
    sent = session_send_data(&q->st, buf_head(&q->resp_pending), q->resp_pending.len, 0);
    if (sent > 0)
        buf_consume(&q->resp_pending, (size_t)sent);
}

static size_t
replay_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct replay_req *q = arg;
    size_t n = size * nmemb;
    ssize_t sent = 0;

    if (q->st.sess == NULL || q->end_sent)
        return n == 0 ? 1 : 0; /* the stream is gone: a short count aborts the transfer */
    replay_flush_pending(q);
    if (q->resp_pending.len + n > NGR_REPLAY_PENDING_MAX) {
        /* Over the credit and the slack: libcurl keeps this chunk until we unpause. */
        q->write_paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (q->resp_pending.len == 0) {
        sent = session_send_data(&q->st, (const uint8_t *)p, n, 0);
        if (sent < 0)
            return 0;
    }
    if ((size_t)sent < n && buf_append(&q->resp_pending, p + sent, n - (size_t)sent) != 0)
        return 0;
    if (q->cap != NULL) /* taken whole: a paused chunk comes again */
        capture_response_body(q->cap, p, n);
    return n;
}

static size_t
replay_on_read(char *out, size_t size, size_t nitems, void *arg)
{
    struct replay_req *q = arg;
    size_t n = buf_take(&q->req_body, out, size * nitems);

    if (n > 0) {
        session_consumed(&q->st, n);
        return n;
    }
    if (q->req_ended || q->st.sess == NULL)
        return 0;
    q->read_paused = 1; /* the next DATA unpauses us */
    return CURL_READFUNC_PAUSE;
}

/* The transfer is over and its bytes are out: END, then the request is done. */
static void
replay_try_finish(struct replay_req *q)
{
    replay_flush_pending(q);
    if (q->resp_pending.len > 0)
        return; /* waiting for credit; replay_on_writable comes back here */
    if (!q->end_sent && q->st.sess != NULL) {
        if (session_send_data(&q->st, NULL, 0, 1) < 0)
            return;
        q->end_sent = 1;
    }
    replay_kill(q);
}

static void
replay_done(struct replay_req *q, CURLcode res)
{
    uint32_t code = FRAME_CODE_UPSTREAM;
    char msg[NGR_MAX_MESSAGE];
    long status = 0;

    curl_multi_remove_handle(q->r->glue.multi, q->easy);
    q->in_multi = 0;
    q->curl_done = 1;
    if (res == CURLE_OK) {
        if (!q->head_sent && q->st.sess != NULL) {
            curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
            replay_send_head(q, status >= 100 ? status : 502);
        }
        replay_try_finish(q);
        return;
    }
    switch (res) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        code = FRAME_CODE_REFUSED;
        snprintf(msg, sizeof(msg), "%.100s: %.150s", q->t->base_url,
                 q->errbuf[0] ? q->errbuf : "connection refused");
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        code = FRAME_CODE_REFUSED;
        snprintf(msg, sizeof(msg),
                 "%.60s: its certificate is not trusted (a self-signed one? run with "
                 "--upstream-insecure, or --upstream-ca FILE): %.80s",
                 q->t->base_url, q->errbuf[0] ? q->errbuf : curl_easy_strerror(res));
        break;
    case CURLE_SSL_CONNECT_ERROR:
        code = FRAME_CODE_REFUSED;
        snprintf(msg, sizeof(msg), "%.100s: TLS handshake failed: %.120s", q->t->base_url,
                 q->errbuf[0] ? q->errbuf : curl_easy_strerror(res));
        break;
    case CURLE_OPERATION_TIMEDOUT:
        code = FRAME_CODE_TIMEOUT;
        snprintf(msg, sizeof(msg), "%s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(res));
        break;
    default:
        snprintf(msg, sizeof(msg), "%s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(res));
        break;
    }
    if (q->why != NULL) { /* we reset the stream ourselves: that is the story */
        replay_kill(q);
        return;
    }
    log_warn("%s %s: local service: %s", q->method, q->path, msg);
    replay_fail(q, code, msg);
}

/* A finished transfer, from curl_glue. */
static void
replay_on_done(void *owner, CURL *easy, CURLcode res)
{
    struct replay_req *q = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&q);
    if (q != NULL && !q->dead)
        replay_done(q, res);
}

/* libcurl's built-in CA bundle and directory, restored on a handle that a tunnel with
 * --upstream-ca used. Returns 0 or NGR_ENOMEM. */
static int
replay_default_cas(struct replay *r)
{
#if LIBCURL_VERSION_NUM >= 0x075400
    CURL *e = curl_easy_init();
    char *p = NULL;

    if (e == NULL)
        return NGR_ENOMEM;
    if (curl_easy_getinfo(e, CURLINFO_CAINFO, &p) == CURLE_OK && p != NULL &&
        (r->default_ca = strdup(p)) == NULL)
        goto fail;
    p = NULL;
    if (curl_easy_getinfo(e, CURLINFO_CAPATH, &p) == CURLE_OK && p != NULL &&
        (r->default_capath = strdup(p)) == NULL)
        goto fail;
    curl_easy_cleanup(e);
    return 0;
fail:
    curl_easy_cleanup(e);
    return NGR_ENOMEM;
#else
    (void)r;
    return 0;
#endif
}

struct replay *
replay_new(struct client *cl, struct ngr_err *err)
{
    struct replay *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        err_set(err, NGR_ENOMEM, "out of memory");
        return NULL;
    }
    r->cl = cl;
    TAILQ_INIT(&r->unpause);
    if (replay_default_cas(r) != 0) {
        free(r);
        err_set(err, NGR_ENOMEM, "out of memory");
        return NULL;
    }
    if (curl_glue_init(&r->glue, cl->loop, NGR_REPLAY_MAX_CONNECTS, replay_on_done, r, err) != 0) {
        free(r->default_ca);
        free(r->default_capath);
        free(r);
        return NULL;
    }
    return r;
}

void
replay_free(struct replay *r)
{
    size_t i;

    if (r == NULL)
        return;
    /* Requests that died this turn give their handles back to the pool first. */
    loop_run_deferred(r->cl->loop);
    for (i = 0; i < r->npool; i++)
        curl_easy_cleanup(r->pool[i]);
    curl_glue_free(&r->glue);
    free(r->default_ca);
    free(r->default_capath);
    free(r);
}

void
replay_easy_defaults(CURL *e)
{
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never through $http_proxy */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"); /* never SSH: see no_ssh.c */
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)NGR_CURL_BUFFER);
    /* libcurl allocates this only while a request uploads, and frees it when it is done. */
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)NGR_CURL_UPLOAD_BUFFER);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)NGR_CONNECT_MS);
}

/* A new easy handle with the options every request shares. NULL if out of memory. */
static CURL *
replay_new_easy(struct replay *r)
{
    CURL *e = curl_easy_init();

    if (e == NULL)
        return NULL;
    replay_easy_defaults(e);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, replay_on_header);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, replay_on_body);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, replay_on_read);
    curl_glue_setup_easy(&r->glue, e);
    return e;
}

/* The options that differ between tunnels' local services: a unix socket, and for https://
 * the certificate checks and the CAs trusted (--upstream-insecure, --upstream-ca; libcurl's
 * own bundle otherwise). Set when a handle passes from one tunnel to another, so a client
 * with one tunnel sets them once per handle. */
void
replay_easy_local(struct replay *r, CURL *e, const struct client_tunnel *t)
{
    const struct cli_tunnel *o = t->opt;
    int own_ca = o->upstream_ca[0] != '\0';

    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH,
                     o->scheme == CLI_SCHEME_UNIX ? o->unix_path : NULL);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->upstream_insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->upstream_insecure ? 0L : 2L);
    curl_easy_setopt(e, CURLOPT_CAINFO, own_ca ? o->upstream_ca : r->default_ca);
    curl_easy_setopt(e, CURLOPT_CAPATH, own_ca ? NULL : r->default_capath);
}

static void
replay_configure(struct replay *r, struct replay_req *q, const struct client_tunnel *t)
{
    replay_easy_local(r, q->easy, t);
    q->conf = t;
}

/* A NUL-terminated copy of a wire string, in a caller buffer (truncated to fit). */
static const char *
replay_cstr(char *out, size_t outlen, struct frame_str s)
{
    size_t n = s.len < outlen - 1 ? s.len : outlen - 1;

    memcpy(out, s.p, n);
    out[n] = '\0';
    return out;
}

/* Builds the header list: the public request's fields in order, Host possibly rewritten, and
 * empty Expect and Accept so libcurl adds nothing of its own. libcurl only reads the list, so
 * its nodes and lines share one block, built with memcpy: one malloc and one free a request,
 * where curl_slist_append and snprintf cost two allocations and a format per field. */
static int
replay_headers(struct replay_req *q, const struct frame_head *h)
{
    static const char expect[] = "Expect:", accept[] = "Accept:";
    const char *host = q->t->host_header;
    size_t host_len = strlen(host), i, n = 0, size = sizeof(expect) + sizeof(accept);
    int rewrite = q->t->opt->host_rewrite, have_accept = 0;
    struct curl_slist *nodes;
    char *p;

    for (i = 0; i < h->nfields; i++) {
        const struct frame_field *f = &h->fields[i];
        if (rewrite && frame_str_eq(f->name, "host"))
            size += host_len + 1;
        else
            size += f->name.len + 2 + f->value.len + 1; /* "Name: value" or "Name;", NUL */
    }
    nodes = malloc((h->nfields + 2) * sizeof(*nodes) + size);
    if (nodes == NULL)
        return NGR_ENOMEM;
    p = (char *)(nodes + h->nfields + 2);
    for (i = 0; i < h->nfields; i++) {
        const struct frame_field *f = &h->fields[i];

        nodes[n++].data = p;
        if (frame_str_eq(f->name, "accept"))
            have_accept = 1;
        if (rewrite && frame_str_eq(f->name, "host")) {
            memcpy(p, host, host_len + 1);
            p += host_len + 1;
            continue;
        }
        memcpy(p, f->name.p, f->name.len);
        p += f->name.len;
        if (f->value.len == 0) {
            *p++ = ';'; /* "Name;" is libcurl's spelling of a header with an empty value */
        } else {
            *p++ = ':';
            *p++ = ' ';
            memcpy(p, f->value.p, f->value.len);
            p += f->value.len;
        }
        *p++ = '\0';
    }
    nodes[n++].data = memcpy(p, expect, sizeof(expect));
    p += sizeof(expect);
    if (!have_accept)
        nodes[n++].data = memcpy(p, accept, sizeof(accept));
    for (i = 0; i + 1 < n; i++)
        nodes[i].next = &nodes[i + 1];
    nodes[n - 1].next = NULL;
    q->headers = nodes;
    return 0;
}

int
replay_open(struct replay *r, const struct client_tunnel *t, uint32_t stream_id,
            const struct frame_head *h)
{
    struct replay_req *q;
    char method[NGR_REPLAY_METHOD_LEN], target[NGR_REPLAY_TARGET_LEN];
    CURL *e;
    int upload;

    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NGR_ENOMEM;
    loop_defer_init(&q->free, replay_free_req, q);
    if (session_stream_accept(&r->cl->sess, &q->st, stream_id, &replay_stream_ops, q) != 0) {
        free(q);
        return NGR_EPROTO;
    }
    q->r = r;
    q->t = t;
    r->active++;
    q->started_ms = loop_now(r->cl->loop);
    /* Only while the inspector runs: off, a request copies nothing. */
    if (r->cl->capture && (q->cap = capture_new(r->cl->capture_body_max)) != NULL)
        capture_request_head(q->cap, h);
    buf_init_kept(&q->req_body, NGR_STREAM_WINDOW_MAX); /* both live as long as the request */
    buf_init_kept(&q->resp_pending, NGR_REPLAY_PENDING_MAX);
    buf_init(&q->head, NGR_FRAME_MAX_PAYLOAD); /* a longer head cannot be encoded anyway */
    replay_cstr(method, sizeof(method), h->method);
    log_escape(q->method, sizeof(q->method), method, strlen(method));
    log_escape(q->path, sizeof(q->path), h->target.p, h->target.len);
    q->is_head = strcmp(method, "HEAD") == 0;
    q->req_ended = h->body == FRAME_BODY_NONE || (h->body == FRAME_BODY_LENGTH && h->length == 0);
    if (h->target.len >= sizeof(target)) {
        replay_fail(q, FRAME_CODE_TOO_LARGE, "request target too long");
        return 0;
    }
    replay_cstr(target, sizeof(target), h->target);

    if (r->npool > 0) {
        r->npool--;
        e = r->pool[r->npool];
        q->conf = r->pool_conf[r->npool];
    } else {
        e = replay_new_easy(r);
    }
    q->easy = e;
    if (e == NULL || replay_headers(q, h) != 0) {
        replay_fail(q, FRAME_CODE_INTERNAL, "client out of memory");
        return 0;
    }
    if (q->conf != t) /* a handle last used for another tunnel (or new) */
        replay_configure(r, q, t);
    /* A HEAD has no body to send, whatever its Content-Length says. */
    upload = h->body != FRAME_BODY_NONE && !q->is_head;
    /* Every option a request may set is set again here, so nothing of the handle's previous
     * request carries over (HEAD then GET on one handle is tested); the rest was set once in
     * replay_new_easy. HTTPGET clears NOBODY and UPLOAD. */
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(e, CURLOPT_URL, t->base_url); /* tunnels differ in their local service */
    curl_easy_setopt(e, CURLOPT_REQUEST_TARGET, target);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_READDATA, q);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
    if (q->is_head) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (upload) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
                         h->body == FRAME_BODY_LENGTH ? (curl_off_t)h->length : (curl_off_t)-1);
        if (strcmp(method, "PUT") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_multi_add_handle(r->glue.multi, e) != CURLM_OK) {
        replay_fail(q, FRAME_CODE_INTERNAL, "curl_multi_add_handle failed");
        return 0;
    }
    q->in_multi = 1;
    log_debug("stream %u: %s %s", stream_id, q->method, q->path);
    return 0;
}

static int
replay_on_data(struct stream *st, const uint8_t *p, size_t n, int end)
{
    struct replay_req *q = st->owner;

    if (q->req_ended)
        return NGR_EPROTO;
    if (n > 0 && buf_append(&q->req_body, p, n) != 0)
        return NGR_ELIMIT; /* cannot happen within the window */
    if (q->cap != NULL && n > 0)
        capture_request_body(q->cap, p, n);
    if (end)
        q->req_ended = 1;
    if (q->read_paused)
        replay_queue_unpause(q);
    return 0;
}

static void
replay_on_reset(struct stream *st, uint32_t code, struct frame_str message)
{
    struct replay_req *q = st->owner;
    char why[NGR_MAX_MESSAGE + 32];

    if (code == FRAME_CODE_TIMEOUT) /* the visitor got 504: say so whatever the log level */
        log_warn("%s %s: the gateway answered 504: %.*s (--response-timeout)", q->method, q->path,
                 (int)message.len, message.p);
    else
        log_debug("%s %s: reset by the gateway (code %u)", q->method, q->path, code);
    if (q->why == NULL) {
        snprintf(why, sizeof(why), "%s: %.*s",
                 code == FRAME_CODE_TIMEOUT ? "the gateway answered 504" : "reset by the gateway",
                 (int)(message.len < NGR_MAX_MESSAGE ? message.len : NGR_MAX_MESSAGE), message.p);
        q->why = why;
        q->why_code = code;
        q->from_gateway = 1;
    }
    replay_kill(q);
}

static void
replay_on_writable(struct stream *st)
{
    struct replay_req *q = st->owner;

    if (q->dead)
        return;
    replay_flush_pending(q);
    if (q->curl_done) {
        replay_try_finish(q);
        return;
    }
    if (q->write_paused && q->resp_pending.len < NGR_CURL_BUFFER)
        replay_queue_unpause(q);
}

static const struct stream_ops replay_stream_ops = {
    .on_data = replay_on_data,
    .on_reset = replay_on_reset,
    .on_writable = replay_on_writable,
};

void
replay_resume_and_run_due(struct replay *r)
{
    struct replay_req *q;

    while ((q = TAILQ_FIRST(&r->unpause)) != NULL) {
        TAILQ_REMOVE(&r->unpause, q, unpause_entry);
        q->unpause_queued = 0;
        q->read_paused = 0;
        q->write_paused = 0;
        /* May call the read or write callback at once, which may pause again. */
        curl_easy_pause(q->easy, CURLPAUSE_CONT);
    }
    curl_glue_run_due(&r->glue);
}
