/* public_admit.c: a public request's admission to its tunnel; see public_admit.h. */
#include "public_admit.h"
#include "access_rules.h"
#include "cidr.h"
#include "metrics.h"
#include "net.h"
#include "rate_limit.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <string.h>

/* Collects the X-Forwarded-For and -Proto fields, in order, into the scratch array. */
struct public_admit_fwd {
    struct frame_field *fields;
    size_t n;
};

static enum MHD_Result
public_admit_collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                     const char *value, size_t value_size)
{
    struct public_admit_fwd *c = cls;
    struct frame_str name = {key, key_size};

    if (!frame_str_eq(name, "x-forwarded-for") && !frame_str_eq(name, "x-forwarded-proto"))
        return MHD_YES;
    if (c->n >= NGR_MAX_HEADERS)
        return MHD_NO;
    c->fields[c->n].name = name;
    c->fields[c->n].value.p = value ? value : "";
    c->fields[c->n].value.len = value ? value_size : 0;
    c->n++;
    return MHD_YES;
}

void
public_admit_client(struct server *srv, struct MHD_Connection *conn, int tls,
                    struct trusted_proxy_view *view)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct public_admit_fwd col = {srv->http_fields, 0};
    char peer[NGR_PEER_LEN];

    net_format_ip(ci ? ci->client_addr : NULL, peer, sizeof(peer));
    /* Only a trusted peer's fields are read; public_http.c collects the whole head later into
     * the same scratch array. */
    if (srv->cfg.trusted_proxy.n > 0 && cidr_list_match(&srv->cfg.trusted_proxy, peer))
        MHD_get_connection_values_n(conn, MHD_HEADER_KIND, public_admit_collect, &col);
    trusted_proxy_resolve(&srv->cfg.trusted_proxy, peer, tls ? "https" : "http", col.fields, col.n,
                          view);
}

int
public_admit_address(struct server *srv, const char *client_ip, struct error_page *why)
{
    if (srv->cfg.deny_cidr.n == 0 || !cidr_list_match(&srv->cfg.deny_cidr, client_ip))
        return 0;
    srv->metrics.limit_hits[METRICS_LIMIT_ADDRESS]++;
    error_page_set(why, 403, "Forbidden", "This gateway does not serve your address (%s).",
                   client_ip);
    return -1;
}

int
public_admit_tunnel(struct server *srv, struct tunnel *t, const char *client_ip,
                    const char *authorization, struct error_page *why,
                    struct public_admit_extra *extra)
{
    uint32_t wait;

    memset(extra, 0, sizeof(*extra));
    /* What the tunnel's client asked the gateway to enforce: nothing reaches it otherwise. */
    if (t->rules != NULL && !access_rules_address_ok(t->rules, client_ip)) {
        t->hit_address++;
        srv->metrics.limit_hits[METRICS_LIMIT_ADDRESS]++;
        error_page_set(why, 403, "Forbidden", "Your address (%s) may not reach this tunnel.",
                       client_ip);
        return -1;
    }
    if (t->rules != NULL && !access_rules_auth_ok(t->rules, authorization)) {
        t->hit_auth++;
        srv->metrics.limit_hits[METRICS_LIMIT_AUTH]++;
        extra->auth_challenge = 1;
        error_page_set(why, 401, "Unauthorized",
                       "This tunnel asks for a user name and a password: reload the page to "
                       "enter them. Reach it over HTTPS: over plain HTTP they travel in clear "
                       "text.");
        return -1;
    }
    if ((wait = rate_limit_take(&t->rate, loop_now(srv->loop))) != 0) {
        t->hit_rate++;
        srv->metrics.limit_hits[METRICS_LIMIT_RATE]++;
        extra->retry_after = wait;
        error_page_set(why, 429, "Too Many Requests",
                       "The tunnel takes %u requests a second (its rate limit); try again in %u s.",
                       t->rate.per_s, wait);
        return -1;
    }
    return 0;
}

int
public_admit_stream(struct server *srv, struct tunnel *t, const struct frame_head *h,
                    struct error_page *why)
{
    if (h->body == FRAME_BODY_LENGTH && srv->cfg.max_body_size != 0 &&
        h->length > srv->cfg.max_body_size) {
        t->hit_body++;
        srv->metrics.limit_hits[METRICS_LIMIT_BODY]++;
        error_page_set(why, 413, "Content Too Large",
                       "The request body is %" PRIu64 " bytes; this gateway takes at most %" PRIu64
                       " (max_body_size).",
                       h->length, srv->cfg.max_body_size);
        return -1;
    }
    if (t->streams >= srv->cfg.max_streams_per_tunnel) {
        t->hit_streams++;
        srv->metrics.limit_hits[METRICS_LIMIT_STREAMS]++;
        error_page_set(why, 503, "Service Unavailable",
                       "The tunnel has %u requests in progress, its limit "
                       "(max_streams_per_tunnel); try again shortly.",
                       srv->cfg.max_streams_per_tunnel);
        return -1;
    }
    return 0;
}
