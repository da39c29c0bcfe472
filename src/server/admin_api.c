/* admin_api.c: the admin API, a second libmicrohttpd daemon on the same loop. It answers at once
 * from the tunnel table with jansson; nothing here runs per public request. */
#include "admin_api.h"
#include "access_rules.h"
#include "frame.h"
#include "latency_hist.h"
#include "log.h"
#include "metrics_text.h"
#include "net.h"
#include "tunnel_table.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A histogram's p50, p90 and p99 in milliseconds (estimated within its buckets, as PromQL's
 * histogram_quantile does), and its count. */
static json_t *
admin_api_latency_json(const struct latency_hist *h)
{
    return json_pack("{s:I, s:f, s:f, s:f}", "count", (json_int_t)h->count, "p50_ms",
                     (double)latency_hist_quantile_us(h, 0.50) / 1000.0, "p90_ms",
                     (double)latency_hist_quantile_us(h, 0.90) / 1000.0, "p99_ms",
                     (double)latency_hist_quantile_us(h, 0.99) / 1000.0);
}

/* Returns a new reference. */
static json_t *
admin_api_tunnel_json(const struct tunnel *t)
{
    char created[32];
    struct tm tm;
    json_t *o, *pool = json_null(), *clients;
    const struct tunnel *m = t;

    gmtime_r(&t->created_at, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const struct access_rules *r = t->rules;

    /* A pool's every tunnel lists them all: which clients serve the name. */
    if (t->pool && (clients = json_array()) != NULL) {
        do {
            json_array_append_new(clients, json_pack("{s:s, s:s}", "id", m->id, "client_addr",
                                                     m->client_addr));
            m = m->pool_next;
        } while (m != NULL && m != t);
        pool = json_pack("{s:I, s:o}", "size", (json_int_t)json_array_size(clients), "clients",
                         clients);
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, "
                  "s:I}, s:{s:b, s:I, s:I, s:I, s:I}, s:o}",
                  "id", t->id, "subdomain", t->subdomain, "proto",
                  t->proto == FRAME_PROTO_TCP ? "tcp" : "http", "public_url", t->public_url,
                  "client_addr", t->client_addr, "created_at", created, "requests",
                  (json_int_t)t->requests, "bytes_in", (json_int_t)t->bytes_in, "bytes_out",
                  (json_int_t)t->bytes_out, "streams", (json_int_t)t->streams, "limits_hit",
                  "max_body_size", (json_int_t)t->hit_body, "max_streams_per_tunnel",
                  (json_int_t)t->hit_streams, "address", (json_int_t)t->hit_address,
                  "basic_auth", (json_int_t)t->hit_auth, "rate_limit", (json_int_t)t->hit_rate,
                  "protection", "basic_auth", r != NULL && r->ncreds > 0, "allow_cidr",
                  (json_int_t)(r ? r->allow.n : 0), "deny_cidr", (json_int_t)(r ? r->deny.n : 0),
                  "rate_per_s", (json_int_t)t->rate.per_s, "rate_burst",
                  (json_int_t)t->rate.burst, "pool", pool != NULL ? pool : json_null());
    if (o != NULL && t->proto != FRAME_PROTO_TCP)
        json_object_set_new(o, "latency",
                            json_pack("{s:o, s:o}", "gateway", admin_api_latency_json(&t->latency),
                                      "service", admin_api_latency_json(&t->service_latency)));
    return o;
}

/* Takes ownership of body. hname: one more header (Allow, WWW-Authenticate), or NULL. */
static enum MHD_Result
admin_api_reply(struct MHD_Connection *conn, unsigned status, json_t *body, const char *hname,
                const char *hvalue)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char *text;

    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (hname != NULL)
        MHD_add_response_header(resp, hname, hvalue);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
admin_api_error(struct MHD_Connection *conn, unsigned status, const char *error,
                const char *message, const char *hname, const char *hvalue)
{
    return admin_api_reply(conn, status, json_pack("{s:s, s:s}", "error", error, "message", message),
                           hname, hvalue);
}

/* With an admin token set, the request must carry "Authorization: Bearer TOKEN" (the scheme in
 * any case); the token is compared as a digest, in constant time (auth_tokens.c). */
static int
admin_api_authorized(const struct server *srv, struct MHD_Connection *conn)
{
    const char *h;
    uint8_t d[AUTH_TOKEN_DIGEST];

    if (!srv->admin_tokens.active)
        return 1;
    h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    auth_token_digest(h, strcspn(h, " \t"), d);
    return h[strcspn(h, " \t")] == '\0' && auth_tokens_find(&srv->admin_tokens, d) != NULL;
}

/* GET /metrics: Prometheus' text format, made piece by piece as libmicrohttpd sends it. */
static ssize_t
admin_api_metrics_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t n = metrics_scrape_read(cls, buf, max);

    (void)pos;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void
admin_api_metrics_free(void *cls)
{
    metrics_scrape_free(cls);
}

static enum MHD_Result
admin_api_metrics(struct MHD_Connection *conn, const struct server *srv)
{
    struct metrics_scrape *sc = metrics_scrape_new(srv);
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (sc == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, NGR_METRICS_PIECE,
                                             admin_api_metrics_read, sc, admin_api_metrics_free);
    if (resp == NULL) {
        metrics_scrape_free(sc);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
admin_api_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                 const char *version, const char *upload_data, size_t *upload_data_size,
                 void **con_cls)
{
    static int first_call_marker;
    const struct server *srv = cls;
    json_t *list, *item;
    struct tunnel *t;
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    if (*con_cls == NULL) { /* wait for the whole request; bodies are ignored */
        *con_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!admin_api_authorized(srv, conn))
        return admin_api_error(conn, 401, "unauthorized",
                               "this admin API needs the header Authorization: Bearer TOKEN",
                               "WWW-Authenticate", "Bearer realm=\"ngrnotokd admin\"");
    if (strcmp(url, "/metrics") == 0) {
        if (!is_get)
            return admin_api_error(conn, 405, "method_not_allowed",
                                   "only GET is allowed on /metrics", MHD_HTTP_HEADER_ALLOW,
                                   "GET, HEAD");
        return admin_api_metrics(conn, srv);
    }
    if (strcmp(url, "/tunnels") == 0 || strcmp(url, "/tunnels/") == 0) {
        if (!is_get)
            return admin_api_error(conn, 405, "method_not_allowed",
                                   "only GET is allowed on /tunnels", MHD_HTTP_HEADER_ALLOW,
                                   "GET, HEAD");
        list = json_array();
        for (t = tunnel_table_first(&srv->tunnels); t != NULL; t = tunnel_table_next(t))
            json_array_append_new(list, admin_api_tunnel_json(t));
        return admin_api_reply(conn, 200, json_pack("{s:o}", "tunnels", list), NULL, NULL);
    }
    if (strncmp(url, "/tunnels/", 9) == 0 && strchr(url + 9, '/') == NULL) {
        if (!is_get)
            return admin_api_error(conn, 405, "method_not_allowed",
                                   "only GET is allowed on /tunnels/{id}",
                                   MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        t = tunnel_table_find_id(&srv->tunnels, url + 9, strlen(url + 9));
        if (t == NULL)
            return admin_api_error(conn, 404, "tunnel_not_found", "no tunnel with this id", NULL,
                                   NULL);
        item = admin_api_tunnel_json(t);
        return admin_api_reply(conn, 200, item, NULL, NULL);
    }
    return admin_api_error(conn, 404, "not_found",
                           "unknown path; try GET /tunnels, GET /tunnels/{id} or GET /metrics",
                           NULL, NULL);
}

int
admin_api_start(struct server *srv, struct ngr_err *err)
{
    struct MHD_Daemon *d;
    int fd;

    fd = net_listen(&srv->cfg.admin_addr, NGR_ADMIN_BACKLOG, err);
    if (fd < 0)
        return fd;
    d = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, admin_api_access, srv,
                         MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)NGR_ADMIN_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)NGR_ADMIN_CONN_TIMEOUT_S, MHD_OPTION_END);
    return mhd_glue_start(&srv->admin, srv->loop, d, fd, "admin", err);
}

void
admin_api_stop(struct server *srv)
{
    mhd_glue_stop(&srv->admin);
}
