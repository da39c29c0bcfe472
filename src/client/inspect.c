/* inspect.c: the local inspector's HTTP side: a libmicrohttpd daemon in external-epoll mode on
 * the client's loop (mhd_glue.h, as the gateway runs its own), the API's routes, the page, and
 * the replays of kept requests through libcurl (curl_glue.h). See inspect.h. */
#include "inspect.h"

#include "capture.h"
#include "curl_glue.h"
#include "inspect_access.h"
#include "inspect_api.h"
#include "inspect_page.h"
#include "inspect_ring.h"
#include "log.h"
#include "mhd_glue.h"
#include "net.h"
#include "replay.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

/* A replay of a kept request against its tunnel's local service. */
struct inspect_replay {
    LIST_ENTRY(inspect_replay) link;
    struct inspect *in;
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* the kept request body, sent whole */
    struct capture *cap;
    struct inspect_record rec;
    char errbuf[CURL_ERROR_SIZE];
};

/* One HTTP request to the inspector, while its body arrives. */
struct inspect_req {
    char body[NGR_INSPECT_UPLOAD_MAX];
    size_t len;
    int too_large;
};

struct inspect {
    struct client *cl;
    struct loop *loop;
    struct mhd_glue http; /* its daemon on our loop (mhd_glue.h, as the gateway's) */
    struct inspect_access access;
    struct inspect_ring ring;
    uint64_t count[NGR_TUNNELS_PER_SESSION]; /* exchanges seen per tunnel */
    struct curl_glue glue;
    int glue_live;
    LIST_HEAD(, inspect_replay) replays;
    size_t nreplays;
    char url[NGR_ADDR_LEN + 16];
};

/* --- libmicrohttpd on the loop --------------------------------------------------------- */

void
inspect_turn_end(struct inspect *in)
{
    if (in == NULL)
        return;
    mhd_glue_turn_end(&in->http);
    curl_glue_run_due(&in->glue);
}

/* --- answers ----------------------------------------------------------------------------- */

/* Queues body (len bytes; freed by libmicrohttpd if must_free) with status and type. */
static enum MHD_Result
inspect_send(struct MHD_Connection *c, unsigned status, const char *type, void *body, size_t len,
             int must_free)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(
        len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        if (must_free)
            free(body);
        return MHD_NO;
    }
    if (type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* No other site may frame the page (a replay button under someone else's page). */
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; script-src 'unsafe-inline'; style-src "
                            "'unsafe-inline'; frame-ancestors 'none'");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"ngrnotok inspector\"");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A JSON answer; o is taken (NULL: out of memory, 500). */
static enum MHD_Result
inspect_send_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (text == NULL)
        return inspect_send(c, 500, "text/plain", "out of memory\n", 14, 0);
    return inspect_send(c, status, "application/json", text, strlen(text), 1);
}

/* An error as ngrok's agent API words them: {"status_code": N, "msg": "..."}. */
static enum MHD_Result
inspect_send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return inspect_send_json(
        c, status,
        json_pack("{s:I, s:s, s:{}}", "status_code", (json_int_t)status, "msg", msg, "details"));
}

/* --- the API ----------------------------------------------------------------------------- */

static const char *
inspect_tunnel_name(const struct client_tunnel *t)
{
    return t->opt->name[0] != '\0' ? t->opt->name : "command_line";
}

static json_t *
inspect_tunnel_json(const struct inspect *in, size_t i)
{
    const struct client_tunnel *t = &in->cl->tunnels[i];
    const char *proto = t->opt->proto == FRAME_PROTO_TCP           ? "tcp"
                        : strncmp(t->public_url, "https:", 6) == 0 ? "https"
                                                                   : "http";
    char uri[NGR_TUNNEL_NAME_LEN + 16];

    snprintf(uri, sizeof(uri), "/api/tunnels/%s", inspect_tunnel_name(t));
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:b}, s:{s:{s:I}, s:{s:I}}}", "name",
                     inspect_tunnel_name(t), "uri", uri, "public_url", t->public_url, "proto",
                     proto, "config", "addr", t->target_text, "inspect",
                     t->opt->proto != FRAME_PROTO_TCP, "metrics", "conns", "count",
                     (json_int_t)in->count[i], "http", "count",
                     (json_int_t)(t->opt->proto != FRAME_PROTO_TCP ? in->count[i] : 0));
}

/* The tunnel named name (ngrok's "command_line" for the command line's), or -1. */
static long
inspect_find_tunnel(const struct inspect *in, const char *name)
{
    size_t i;

    for (i = 0; i < in->cl->ntunnels; i++)
        if (strcmp(inspect_tunnel_name(&in->cl->tunnels[i]), name) == 0)
            return (long)i;
    return -1;
}

static enum MHD_Result
inspect_get_tunnels(struct inspect *in, struct MHD_Connection *c, const char *one)
{
    json_t *list = json_array(), *t;
    long k;
    size_t i;

    if (one != NULL) {
        json_decref(list);
        k = inspect_find_tunnel(in, one);
        if (k < 0 || in->cl->tunnels[k].public_url[0] == '\0')
            return inspect_send_error(c, 404, "no tunnel of that name");
        return inspect_send_json(c, 200, inspect_tunnel_json(in, (size_t)k));
    }
    for (i = 0; list != NULL && i < in->cl->ntunnels; i++) {
        if (in->cl->tunnels[i].public_url[0] == '\0')
            continue; /* not bound yet: it has no URL to show */
        t = inspect_tunnel_json(in, i);
        if (t == NULL || json_array_append_new(list, t) != 0) {
            json_decref(list);
            return inspect_send_json(c, 500, NULL);
        }
    }
    return inspect_send_json(c, 200,
                             json_pack("{s:o, s:s}", "tunnels", list, "uri", "/api/tunnels"));
}

static json_t *
inspect_entry_json(const struct inspect *in, const struct inspect_entry *e, int raw)
{
    json_t *o = inspect_api_entry(e, inspect_tunnel_name(&in->cl->tunnels[e->rec.tunnel]));
    json_t *part;

    if (o != NULL && !raw) { /* the page's list: no bodies */
        if ((part = json_object_get(o, "request")) != NULL && json_is_object(part))
            json_object_del(part, "raw");
        if ((part = json_object_get(o, "response")) != NULL && json_is_object(part))
            json_object_del(part, "raw");
    }
    return o;
}

static enum MHD_Result
inspect_get_requests(struct inspect *in, struct MHD_Connection *c)
{
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *tname = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tunnel_name");
    const char *raw = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "raw");
    unsigned long n = in->ring.n;
    long tunnel = -1;
    struct inspect_entry *e;
    json_t *list = json_array(), *o;
    char *end;

    if (limit != NULL) {
        n = strtoul(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || *end != '\0') {
            json_decref(list);
            return inspect_send_error(c, 400, "limit: expected a number");
        }
    }
    if (tname != NULL && (tunnel = inspect_find_tunnel(in, tname)) < 0) {
        json_decref(list);
        return inspect_send_error(c, 404, "no tunnel of that name");
    }
    /* Newest first, as ngrok lists them. */
    TAILQ_FOREACH_REVERSE(e, &in->ring.list, inspect_list, link)
    {
        if (list == NULL || n == 0)
            break;
        if (tunnel >= 0 && e->rec.tunnel != (size_t)tunnel)
            continue;
        o = inspect_entry_json(in, e, raw == NULL || strcmp(raw, "0") != 0);
        if (o == NULL || json_array_append_new(list, o) != 0) {
            json_decref(list);
            list = NULL;
        }
        n--;
    }
    if (list == NULL)
        return inspect_send_json(c, 500, NULL);
    return inspect_send_json(
        c, 200, json_pack("{s:o, s:s}", "requests", list, "uri", "/api/requests/http"));
}

static void inspect_replay_free(struct inspect_replay *p);

/* Starts a replay of e, against the local service of tunnel (its own, or another the caller
 * named). Returns 0, or NGR_ELIMIT (too many under way), NGR_EINVAL (its method or target
 * longer than libcurl is given: NGR_REPLAY_METHOD_LEN, NGR_REPLAY_TARGET_LEN), NGR_ENOMEM. */
static int inspect_replay_start(struct inspect *in, const struct inspect_entry *e, size_t tunnel);

static enum MHD_Result
inspect_post_replay(struct inspect *in, struct MHD_Connection *c, struct inspect_req *rq)
{
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *id = NULL, *tname = NULL;
    struct inspect_entry *e;
    char msg[256];
    json_error_t jerr;
    json_t *o;
    long tunnel;
    int rc;

    /* A plain form can send only urlencoded, multipart or text/plain: JSON needs a script,
     * and a script of another origin needs a preflight that is never granted. */
    if (!inspect_access_json_type(type))
        return inspect_send_error(c, 415, "send the body as Content-Type: application/json");
    if (rq->too_large)
        return inspect_send_error(c, 413, "the body is too large");
    o = json_loadb(rq->body, rq->len, 0, &jerr);
    if (o == NULL || json_unpack(o, "{s:s, s?s}", "id", &id, "tunnel_name", &tname) != 0) {
        json_decref(o);
        return inspect_send_error(c, 400,
                                  "expected {\"id\": \"...\"} (and optionally "
                                  "\"tunnel_name\")");
    }
    e = inspect_ring_find(&in->ring, inspect_api_parse_id(id));
    if (e == NULL) {
        json_decref(o);
        return inspect_send_error(c, 404, "no request with that id is kept");
    }
    tunnel = tname != NULL ? inspect_find_tunnel(in, tname) : (long)e->rec.tunnel;
    json_decref(o);
    if (tunnel < 0 || in->cl->tunnels[tunnel].opt->proto == FRAME_PROTO_TCP)
        return inspect_send_error(c, 404, "no HTTP tunnel of that name");
    if (e->cap == NULL || e->cap->req_head == 0)
        return inspect_send_error(c, 400,
                                  "this request's head was not kept: it cannot be "
                                  "replayed");
    if (e->cap->req_cut) {
        snprintf(msg, sizeof(msg),
                 "this request's body (%llu bytes) was cut at --inspect-body-max (%zu bytes): "
                 "it cannot be replayed",
                 (unsigned long long)e->cap->req_body, e->cap->body_max);
        return inspect_send_error(c, 400, msg);
    }
    if (e->cap->req_short) {
        snprintf(msg, sizeof(msg),
                 "this request's body ended after %llu bytes, before its end (the visitor left, "
                 "or the request failed first): it cannot be replayed",
                 (unsigned long long)e->cap->req_body);
        return inspect_send_error(c, 400, msg);
    }
    rc = inspect_replay_start(in, e, (size_t)tunnel);
    if (rc == NGR_ELIMIT)
        return inspect_send_error(c, 503, "too many replays under way: try again");
    if (rc == NGR_EINVAL)
        return inspect_send_error(c, 400,
                                  "this request's method or target is too long to be "
                                  "sent again");
    if (rc != 0)
        return inspect_send_error(c, 500, "out of memory");
    return inspect_send(c, 204, NULL, "", 0, 0);
}

static enum MHD_Result
inspect_route(struct inspect *in, struct MHD_Connection *c, const char *url, const char *method,
              struct inspect_req *rq)
{
    static const char reqs[] = "/api/requests/http";
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    struct inspect_entry *e;

    if (strcmp(url, "/") == 0) {
        if (!get)
            return inspect_send_error(c, 405, "GET only");
        return inspect_send(c, 200, "text/html; charset=utf-8", (void *)inspect_page_html,
                            inspect_page_len, 0);
    }
    if (strcmp(url, "/api/tunnels") == 0 || strncmp(url, "/api/tunnels/", 13) == 0) {
        if (!get)
            return inspect_send_error(c, 405, "GET only");
        return inspect_get_tunnels(in, c, url[12] == '/' ? url + 13 : NULL);
    }
    if (strcmp(url, reqs) == 0) {
        if (get)
            return inspect_get_requests(in, c);
        if (strcmp(method, "POST") == 0)
            return inspect_post_replay(in, c, rq);
        if (strcmp(method, "DELETE") == 0) {
            /* No form sends DELETE, and a script of another origin needs a preflight that
             * is never granted; a body, if any, must still be JSON (one past the buffer
             * was never kept, so its length says nothing). */
            if ((rq->len > 0 || rq->too_large) &&
                !inspect_access_json_type(
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")))
                return inspect_send_error(c, 415, "send the body as application/json");
            inspect_ring_clear(&in->ring);
            return inspect_send(c, 204, NULL, "", 0, 0);
        }
        return inspect_send_error(c, 405, "GET, POST or DELETE");
    }
    if (strncmp(url, reqs, sizeof(reqs) - 1) == 0 && url[sizeof(reqs) - 1] == '/') {
        if (!get)
            return inspect_send_error(c, 405, "GET only");
        e = inspect_ring_find(&in->ring, inspect_api_parse_id(url + sizeof(reqs)));
        if (e == NULL)
            return inspect_send_error(c, 404, "no request with that id is kept");
        return inspect_send_json(c, 200, inspect_entry_json(in, e, 1));
    }
    return inspect_send_error(c, 404,
                              "not found: the API is under /api/tunnels and "
                              "/api/requests/http");
}

static enum MHD_Result
inspect_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                   const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    struct inspect *in = cls;
    struct inspect_req *rq = *ctx;
    char msg[NGR_ADDR_LEN + 128];

    if (rq == NULL) { /* the head: answer after the body, if any */
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        *ctx = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (rq->len + *upload_size > sizeof(rq->body))
            rq->too_large = 1;
        else {
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!inspect_access_host_ok(&in->access,
                                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"))) {
        snprintf(msg, sizeof(msg), "the inspector answers only requests for its own address (%s)",
                 in->url);
        return inspect_send_error(c, 403, msg);
    }
    if (!inspect_access_token_ok(&in->access,
                                 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")))
        return inspect_send_error(c, 401, "this inspector asks for its --inspect-token");
    return inspect_route(in, c, url, method, rq);
}

static void
inspect_on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                     enum MHD_RequestTerminationCode toe)
{
    free(*ctx);
    *ctx = NULL;
}

/* --- replays ----------------------------------------------------------------------------- */

static size_t
inspect_replay_on_header(char *p, size_t size, size_t nitems, void *arg)
{
    struct inspect_replay *q = arg;
    size_t len = size * nitems;
    long status = 0;

    if (q->cap->resp_head > 0)
        return len; /* trailers */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        capture_response_status(q->cap, p, len);
    } else if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {
            capture_response_head_end(q->cap);
            q->rec.head_ms = loop_now(q->in->loop);
            q->rec.status = (int)status;
        }
    } else {
        capture_response_fields(q->cap, p, len);
    }
    return len;
}

static size_t
inspect_replay_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct inspect_replay *q = arg;

    capture_response_body(q->cap, p, size * nmemb);
    return size * nmemb;
}

static void
inspect_replay_free(struct inspect_replay *p)
{
    if (p == NULL)
        return;
    if (p->easy != NULL) {
        curl_multi_remove_handle(p->in->glue.multi, p->easy);
        curl_easy_cleanup(p->easy);
    }
    curl_slist_free_all(p->headers);
    free(p->body);
    capture_free(p->cap);
    LIST_REMOVE(p, link);
    p->in->nreplays--;
    free(p);
}

/* A replay finished: kept as a new exchange. */
static void
inspect_replay_done(void *owner, CURL *easy, CURLcode res)
{
    struct inspect *in = owner;
    struct inspect_replay *q = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&q);
    if (q == NULL)
        return;
    q->rec.done_ms = loop_now(in->loop);
    if (res != CURLE_OK) {
        q->rec.error = q->errbuf[0] != '\0' ? q->errbuf : curl_easy_strerror(res);
        if (q->rec.status == 0)
            q->rec.status = 502;
    }
    log_info("inspector: a replay got %d%s%s", q->rec.status, q->rec.error != NULL ? ": " : "",
             q->rec.error != NULL ? q->rec.error : "");
    in->count[q->rec.tunnel]++;
    inspect_ring_add(&in->ring, &q->rec, q->cap);
    q->cap = NULL; /* the ring's now, or freed by it */
    inspect_replay_free(q);
}

/* Adds a header line to the list; 0 or NGR_ENOMEM. */
static int
inspect_replay_header(struct inspect_replay *q, const char *p, size_t n)
{
    struct curl_slist *l;
    char *line = malloc(n + 1); /* p is not NUL-terminated (a kept head): no strndup */

    if (line == NULL)
        return NGR_ENOMEM;
    memcpy(line, p, n);
    line[n] = '\0';
    l = curl_slist_append(q->headers, line);
    free(line);
    if (l == NULL)
        return NGR_ENOMEM;
    q->headers = l;
    return 0;
}

static int
inspect_replay_start(struct inspect *in, const struct inspect_entry *e, size_t tunnel)
{
    const struct client_tunnel *t = &in->cl->tunnels[tunnel];
    const struct capture *c = e->cap;
    const char *head = (const char *)buf_head(&c->req), *end = head + c->req_head, *p, *eol, *sp;
    size_t body_len = c->req.len - c->req_head;
    char method[NGR_REPLAY_METHOD_LEN], target[NGR_REPLAY_TARGET_LEN];
    int has_type = 0, has_accept = 0;
    struct inspect_replay *q;

    if (in->nreplays >= NGR_INSPECT_REPLAYS)
        return NGR_ELIMIT;
    /* The request line: METHOD TARGET HTTP/1.1. */
    eol = memchr(head, '\r', c->req_head);
    sp = eol != NULL ? memchr(head, ' ', (size_t)(eol - head)) : NULL;
    p = sp != NULL ? memchr(sp + 1, ' ', (size_t)(eol - sp - 1)) : NULL;
    if (p == NULL || (size_t)(sp - head) >= sizeof(method) ||
        (size_t)(p - sp - 1) >= sizeof(target))
        return NGR_EINVAL;
    snprintf(method, sizeof(method), "%.*s", (int)(sp - head), head);
    snprintf(target, sizeof(target), "%.*s", (int)(p - sp - 1), sp + 1);

    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NGR_ENOMEM;
    q->in = in;
    LIST_INSERT_HEAD(&in->replays, q, link);
    in->nreplays++;
    q->rec.tunnel = tunnel;
    q->rec.replay_of = e->id;
    q->rec.received_ms = loop_now(in->loop);
    q->cap = capture_new(in->cl->capture_body_max);
    q->easy = curl_easy_init();
    if (q->cap == NULL || q->easy == NULL || (body_len > 0 && (q->body = malloc(body_len)) == NULL))
        goto fail;
    capture_request_raw_head(q->cap, head, c->req_head);
    capture_request_body(q->cap, buf_head(&c->req) + c->req_head, body_len);
    if (body_len > 0)
        memcpy(q->body, buf_head(&c->req) + c->req_head, body_len);
    /* The fields as kept, but framing (libcurl frames the body it is given) and Host as the
     * tunnel sends it (--host-header=rewrite). */
    for (p = eol + 2; p < end; p = eol + 2) {
        size_t n;

        eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL || eol == p)
            break;
        n = (size_t)(eol - p);
        if ((n >= 15 && strncasecmp(p, "Content-Length:", 15) == 0) ||
            (n >= 18 && strncasecmp(p, "Transfer-Encoding:", 18) == 0))
            continue;
        if (n >= 5 && strncasecmp(p, "Host:", 5) == 0 && t->opt->host_rewrite) {
            if (inspect_replay_header(q, t->host_header, strlen(t->host_header)) != 0)
                goto fail;
            continue;
        }
        has_type |= n >= 13 && strncasecmp(p, "Content-Type:", 13) == 0;
        has_accept |= n >= 7 && strncasecmp(p, "Accept:", 7) == 0;
        if (inspect_replay_header(q, p, n) != 0)
            goto fail;
    }
    /* libcurl adds nothing of its own, as for any request (replay.c). */
    if (inspect_replay_header(q, "Expect:", 7) != 0 ||
        (!has_accept && inspect_replay_header(q, "Accept:", 7) != 0) ||
        (!has_type && inspect_replay_header(q, "Content-Type:", 13) != 0))
        goto fail;

    replay_easy_defaults(q->easy);
    replay_easy_local(in->cl->replay, q->easy, t);
    curl_glue_setup_easy(&in->glue, q->easy);
    curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, (long)NGR_INSPECT_REPLAY_TIMEOUT_MS);
    curl_easy_setopt(q->easy, CURLOPT_URL, t->base_url);
    curl_easy_setopt(q->easy, CURLOPT_REQUEST_TARGET, target);
    curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->headers);
    curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
    curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(q->easy, CURLOPT_HEADERFUNCTION, inspect_replay_on_header);
    curl_easy_setopt(q->easy, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, inspect_replay_on_body);
    curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(q->easy, CURLOPT_NOBODY, 1L);
    } else if (body_len > 0 || strcmp(method, "GET") != 0) {
        if (body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->body != NULL ? q->body : "");
        }
        curl_easy_setopt(q->easy, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_multi_add_handle(in->glue.multi, q->easy) != CURLM_OK)
        goto fail;
    return 0;
fail:
    inspect_replay_free(q);
    return NGR_ENOMEM;
}

/* --- the exchanges ----------------------------------------------------------------------- */

static void
inspect_on_exchange(void *arg, const struct exchange *x)
{
    struct inspect *in = arg;
    struct inspect_record rec;
    struct capture *cap = NULL;

    if (x->raw) /* a WebSocket's or TCP connection: nothing kept to show or replay */
        return;
    memset(&rec, 0, sizeof(rec));
    rec.tunnel = (size_t)(x->tunnel - in->cl->tunnels);
    if (rec.tunnel >= in->cl->ntunnels)
        return;
    rec.status = x->status;
    rec.error = x->error;
    rec.received_ms = x->started_ms;
    rec.head_ms = x->head_ms;
    rec.done_ms = x->done_ms;
    if (x->capture != NULL) {
        cap = *x->capture;
        *x->capture = NULL;
    }
    in->count[rec.tunnel]++;
    inspect_ring_add(&in->ring, &rec, cap);
}

/* --- start and stop ---------------------------------------------------------------------- */

/* Listens on a, or with fallback on the next free port up to NGR_INSPECT_PORT_LAST. Returns the
 * descriptor, or a negative code with *taken set if every port tried was in use. */
static int
inspect_listen(struct net_addr *a, int fallback, int *taken, struct ngr_err *err)
{
    uint16_t first = a->port, last = fallback ? NGR_INSPECT_PORT_LAST : a->port;
    int fd = NGR_ESYS;

    *taken = 0;
    for (; a->port >= first && a->port <= last; a->port++) {
        fd = net_listen(a, 16, err);
        if (fd >= 0)
            return fd;
        if (errno != EADDRINUSE) /* net_listen leaves the failed call's errno */
            return fd;
    }
    *taken = 1;
    a->port = first;
    return fd;
}

struct inspect *
inspect_new(struct client *cl, int *fatal, struct ngr_err *err)
{
    const struct cli_inspect *o = &cl->opt.inspect;
    struct net_addr a = o->addr;
    struct MHD_Daemon *d;
    struct inspect *in;
    int fd, taken;
    char text[NGR_ADDR_LEN + 8];

    *fatal = 1;
    fd = inspect_listen(&a, !o->given, &taken, err);
    if (fd < 0) {
        if (taken && !o->given) {
            *fatal = 0;
            err_set(err, NGR_ESYS,
                    "inspector: ports %d-%d of %s are all taken; running without it "
                    "(--inspect-addr HOST:PORT, or off)",
                    NGR_INSPECT_PORT_FIRST, NGR_INSPECT_PORT_LAST, a.host);
        } else {
            err_prefix(err, "--inspect-addr");
        }
        return NULL;
    }
    in = calloc(1, sizeof(*in));
    if (in == NULL) {
        close(fd);
        err_set(err, NGR_ENOMEM, "out of memory");
        return NULL;
    }
    in->cl = cl;
    in->loop = cl->loop;
    LIST_INIT(&in->replays);
    inspect_ring_init(&in->ring, o->max_entries, o->budget);
    inspect_access_init(&in->access, a.host, a.port, o->token);
    net_format_addr(&a, text, sizeof(text));
    snprintf(in->url, sizeof(in->url), "http://%s", text);
    d = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, inspect_on_request, in,
                                  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)NGR_INSPECT_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)NGR_INSPECT_CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
                                  inspect_on_completed, in, MHD_OPTION_END);
    if (mhd_glue_start(&in->http, in->loop, d, fd, "inspector", err) != 0)
        goto fail;
    if (curl_glue_init(&in->glue, in->loop, NGR_INSPECT_REPLAYS, inspect_replay_done, in, err) != 0)
        goto fail;
    in->glue_live = 1;
    if (exchange_observe(&cl->exchanges, inspect_on_exchange, in) != 0) {
        err_set(err, NGR_ELIMIT, "inspector: too many consumers of requests");
        goto fail;
    }
    cl->capture = 1;
    cl->capture_body_max = o->body_max;
    return in;
fail:
    inspect_free(in);
    return NULL;
}

void
inspect_free(struct inspect *in)
{
    if (in == NULL)
        return;
    in->cl->capture = 0;
    while (!LIST_EMPTY(&in->replays))
        inspect_replay_free(LIST_FIRST(&in->replays));
    if (in->glue_live)
        curl_glue_free(&in->glue);
    mhd_glue_stop(&in->http); /* closes the listening socket too */
    inspect_ring_clear(&in->ring);
    free(in);
}

const char *
inspect_url(const struct inspect *in)
{
    return in->url;
}
