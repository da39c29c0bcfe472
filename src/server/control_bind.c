/* control_bind.c: a control connection's BIND: the name (checked against the reserved names,
 * the token's list and the reservations) or the TCP port, joining a pool or taking over the
 * client's own old tunnel, the tunnel's options (rate, response timeout, protections), its
 * registration and BOUND; and the end of its tunnel. docs/protocol.md sections 6 and 10. */
#include "control_conn.h"
#include "access_rules.h"
#include "log.h"
#include "name_policy.h"
#include "public_http.h"
#include "public_tcp.h"
#include "reservations.h"
#include "seconds.h"
#include "tunnel_table.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

static void control_bind_refuse(struct ctl_conn *c, uint32_t handle, uint32_t code,
                                const char *msg);

/* 1 if c's token may bind name; else refuses the BIND (handle) and returns 0. */
static int
control_bind_name_allowed(struct ctl_conn *c, uint32_t handle, const char *name)
{
    const struct auth_token *t;
    char msg[NGR_MAX_MESSAGE];

    if (!c->has_token)
        return 1;
    t = auth_tokens_find(&c->srv->tokens, c->token);
    if (t != NULL && auth_token_allows(t, name))
        return 1;
    snprintf(msg, sizeof(msg), "name '%s' is not allowed for this token%s", name,
             t != NULL && t->names != NULL ? "; ask the gateway's operator which names it may bind"
                                           : "");
    control_bind_refuse(c, handle, FRAME_CODE_AUTH, msg);
    return 0;
}

/* The control connection whose session t's streams open on. */
static struct ctl_conn *
control_bind_conn_of(struct tunnel *t)
{
    return (struct ctl_conn *)(void *)((char *)t->sess - offsetof(struct ctl_conn, sess));
}

void
control_bind_end(struct ctl_conn *c, struct tunnel *t, const char *reason, int keep)
{
    struct tunnel *heir = t->pool_next != t ? t->pool_next : NULL;
    size_t left, i;

    for (i = 0; i < c->ntunnels && c->tunnels[i] != t; i++)
        ;
    if (i == c->ntunnels)
        return;
    memmove(&c->tunnels[i], &c->tunnels[i + 1], (c->ntunnels - i - 1) * sizeof(c->tunnels[0]));
    c->ntunnels--;

    public_tcp_unbind(t, heir);
    left = tunnel_table_remove(&c->srv->tunnels, t);
    if (left > 0)
        log_info("tunnel %s: %s closed: %s (%zu left in its pool)", t->id, t->public_url, reason,
                 left);
    else
        log_info("tunnel %s: %s closed: %s", t->id, t->public_url, reason);
    if (keep && left == 0 && t->slot[0] != '\0')
        reservations_lose(&c->srv->res, t->slot, reservations_now());
    c->srv->ntunnels--;
    if (t->token_counted)
        usage_drop(&c->srv->tunnels_by_token, c->token, sizeof(c->token));
    tunnel_retire(t);
}

void
control_bind_end_all(struct ctl_conn *c, const char *reason, int keep)
{
    while (c->ntunnels > 0)
        control_bind_end(c, c->tunnels[c->ntunnels - 1], reason, keep);
}

/* A new session of t's client binds t's name (or port) while t's session lingers (a dead
 * peer not yet noticed, a client restarted): the old session ends and gives it up. */
static void
control_bind_take_over(struct ctl_conn *c, struct tunnel *t)
{
    struct ctl_conn *old = control_bind_conn_of(t);

    log_info("tunnel %s: its client is back from %s", t->id, c->peer);
    control_bind_end(old, t, "replaced by a new connection of its client", 0);
    session_close(&old->sess, 0, "replaced by a new connection of its client");
}

static void
control_bind_refuse(struct ctl_conn *c, uint32_t handle, uint32_t code, const char *msg)
{
    log_info("control %s: bind refused: %s", c->peer, msg);
    session_send_error(&c->sess, code, handle, msg);
    session_close(&c->sess, 0, "bind refused");
}

/* Sends BOUND for a registered tunnel. */
static int
control_bind_send_bound(struct ctl_conn *c, struct tunnel *t)
{
    struct frame_bound out;
    int rc;

    c->tunnels[c->ntunnels++] = t;
    c->srv->ntunnels++;
    if (c->srv->cfg.reconnect_grace_ms > 0 && t->slot[0] != '\0')
        reservations_take(&c->srv->res, t->slot, t->holder);
    if (c->has_token)
        t->token_counted = usage_add(&c->srv->tunnels_by_token, c->token, sizeof(c->token)) == 0;
    memset(&out, 0, sizeof(out));
    out.handle = t->handle;
    out.id = frame_str_c(t->id);
    out.subdomain = frame_str_c(t->subdomain);
    out.public_url = frame_str_c(t->public_url);
    if (t->pool_next != t)
        log_info("tunnel %s: %s bound by %s, joining its pool (%zu tunnels)", t->id, t->public_url,
                 c->peer, tunnel_pool_size(t));
    else
        log_info("tunnel %s: %s bound by %s%s", t->id, t->public_url, c->peer,
                 t->pool ? " as a pool" : "");
    rc = session_send_bound(&c->sess, &out);
    /* Requests that waited for this name while its client was away go to it now. */
    if (rc == 0 && t->subdomain[0] != '\0')
        public_http_release_held(c->srv, t->subdomain);
    return rc;
}

/* The response timeout t takes: BIND's response_timeout (seconds), at most the gateway's,
 * which is also the default. Returns 0, or NGR_EINVAL with the reason. */
static int
control_bind_timeout(struct ctl_conn *c, const struct frame_bind *b, struct tunnel *t,
                     struct ngr_err *err)
{
    uint64_t max = c->srv->cfg.response_timeout_ms, ms = max;
    char v[32];
    size_t i;

    for (i = 0; i < b->nopts; i++) {
        if (!frame_str_eq(b->opts[i].name, "response_timeout"))
            continue;
        snprintf(v, sizeof(v), "%.*s", (int)(b->opts[i].value.len < 31 ? b->opts[i].value.len : 31),
                 b->opts[i].value.p);
        if (seconds_parse("response timeout", v, &ms, err) != 0)
            return NGR_EINVAL;
        if (ms > max)
            return err_set(err, NGR_EINVAL,
                           "response timeout %.1f s is above this gateway's maximum of %.1f s "
                           "(response_timeout)",
                           (double)ms / 1000, (double)max / 1000);
    }
    t->response_timeout_ms = ms;
    return 0;
}

/* The rate t takes: what BIND asked for (rate_limit, rate_burst), at most the gateway's
 * max_rate, which is also the default. Returns 0, or NGR_EINVAL with the reason. */
static int
control_bind_rate(struct ctl_conn *c, const struct frame_bind *b, struct tunnel *t,
                  struct ngr_err *err)
{
    uint32_t per_s = c->srv->cfg.max_rate, burst = 0, max = c->srv->cfg.max_rate;
    size_t i;

    for (i = 0; i < b->nopts; i++) {
        struct frame_str v = b->opts[i].value;

        if (frame_str_eq(b->opts[i].name, "rate_limit")) {
            if (rate_limit_parse(v.p, v.len, &per_s, err) != 0)
                return NGR_EINVAL;
            if (max != 0 && per_s > max)
                return err_set(err, NGR_EINVAL,
                               "rate %u/s is above this gateway's maximum of %u/s (max_rate)",
                               per_s, max);
        } else if (frame_str_eq(b->opts[i].name, "rate_burst")) {
            unsigned long n = 0;
            size_t k;

            for (k = 0; k < v.len && v.p[k] >= '0' && v.p[k] <= '9' && n <= NGR_RATE_MAX; k++)
                n = n * 10 + (unsigned long)(v.p[k] - '0');
            if (v.len == 0 || k != v.len || n == 0 || n > NGR_RATE_MAX)
                return err_set(err, NGR_EINVAL, "rate burst: a number of requests, 1 to %d",
                               NGR_RATE_MAX);
            burst = (uint32_t)n;
        }
    }
    rate_limit_init(&t->rate, per_s, burst, loop_now(c->srv->loop));
    return control_bind_timeout(c, b, t, err);
}

/* 1 if BIND b asks to share its name or port with other clients (its "pool" option). */
static int
control_bind_pooled(const struct frame_bind *b)
{
    size_t i;

    for (i = 0; i < b->nopts; i++)
        if (frame_str_eq(b->opts[i].name, "pool"))
            return 1;
    return 0;
}

/* Whom c's tunnel's name is kept for: c's reconnect secret's holder; for a pool, the pool's
 * token (every client holding it, or any client on a gateway without tokens). */
static void
control_bind_holder(const struct ctl_conn *c, int pool, char out[RECONNECT_HOLDER_LEN + 1])
{
    char id[5 + AUTH_TOKEN_DIGEST];

    if (!pool) {
        snprintf(out, RECONNECT_HOLDER_LEN + 1, "%s", c->holder);
        return;
    }
    memcpy(id, "pool:", 5);
    if (c->has_token)
        memcpy(id + 5, c->token, AUTH_TOKEN_DIGEST);
    reconnect_secret_holder(id, c->has_token ? sizeof(id) : 5, out);
}

/* Before c binds slot (what: "subdomain 'NAME'", "port N"): a tunnel of c's own client still
 * there (a lost session not yet noticed) gives it up; a pool c may join is *join. Returns 0,
 * or -1 with the BIND refused: the slot is someone else's, or shared in a way b's is not. With
 * fallback, a slot c cannot have is no refusal (a TCP port: another is picked). */
static int
control_bind_claim_slot(struct ctl_conn *c, const struct frame_bind *b, const char *slot,
                        const char *what, int fallback, struct tunnel **join)
{
    struct tunnel *e = tunnel_table_find_slot(&c->srv->tunnels, slot, strlen(slot)), *m;
    char holder[RECONNECT_HOLDER_LEN + 1], msg[NGR_MAX_MESSAGE];
    int pool = control_bind_pooled(b);

    *join = NULL;
    for (m = e; m != NULL; m = m->pool_next != e ? m->pool_next : NULL)
        if (strcmp(control_bind_conn_of(m)->holder, c->holder) == 0) {
            control_bind_take_over(c, m);
            e = tunnel_table_find_slot(&c->srv->tunnels, slot, strlen(slot));
            break;
        }
    if (e == NULL)
        return 0;
    control_bind_holder(c, pool, holder);
    if (pool && e->pool && strcmp(e->holder, holder) == 0) {
        *join = e;
        return 0;
    }
    if (fallback && !pool)
        return 0;
    if (e->pool && !pool)
        snprintf(msg, sizeof(msg), "%s is served by a pool of clients: add --pool to join it",
                 what);
    else if (pool && !e->pool)
        snprintf(msg, sizeof(msg),
                 "%s is in use by a client without --pool; a pool cannot "
                 "share it",
                 what);
    else if (pool)
        snprintf(msg, sizeof(msg), "%s is a pool of clients with another token", what);
    else
        snprintf(msg, sizeof(msg), "%s is already in use", what);
    control_bind_refuse(c, b->handle, FRAME_CODE_NAME_TAKEN, msg);
    return -1;
}

/* A new tunnel for BIND b on c, or NULL with the BIND refused (bad protections) or the
 * session closed (out of memory). */
static struct tunnel *
control_bind_tunnel_new(struct ctl_conn *c, const struct frame_bind *b)
{
    struct tunnel *t = tunnel_new();
    struct ngr_err err;

    if (t == NULL) {
        session_close(&c->sess, FRAME_CODE_INTERNAL, "out of memory");
        return NULL;
    }
    if (control_bind_rate(c, b, t, &err) != 0) {
        tunnel_free(t);
        control_bind_refuse(c, b->handle, FRAME_CODE_UNSUPPORTED, err.msg);
        return NULL;
    }
    if (b->nopts > 0) {
        t->rules = malloc(sizeof(*t->rules));
        if (t->rules == NULL) {
            tunnel_free(t);
            session_close(&c->sess, FRAME_CODE_INTERNAL, "out of memory");
            return NULL;
        }
        if (access_rules_init(t->rules, &err) != 0 ||
            access_rules_from_bind(t->rules, b, &err) != 0 ||
            (b->proto == FRAME_PROTO_TCP && t->rules->ncreds > 0 &&
             err_set(&err, NGR_EINVAL,
                     "basic auth is for HTTP tunnels; a TCP tunnel can "
                     "only limit addresses") != 0)) {
            tunnel_free(t);
            control_bind_refuse(c, b->handle, FRAME_CODE_UNSUPPORTED, err.msg);
            return NULL;
        }
    }
    t->proto = b->proto;
    t->handle = b->handle;
    t->sess = &c->sess;
    t->pool = control_bind_pooled(b);
    control_bind_holder(c, t->pool, t->holder);
    snprintf(t->client_addr, sizeof(t->client_addr), "%s", c->peer);
    return t;
}

/* The port a reconnecting TCP client asks back (BIND's subdomain: its digits), or 0. */
static unsigned
control_bind_wanted_port(const struct frame_bind *b)
{
    unsigned port = 0;
    size_t i;

    for (i = 0; i < b->subdomain.len && i < 5; i++) {
        if (b->subdomain.p[i] < '0' || b->subdomain.p[i] > '9')
            return 0;
        port = port * 10 + (unsigned)(b->subdomain.p[i] - '0');
    }
    return i == b->subdomain.len && port <= 65535 ? port : 0;
}

static int
control_bind_tcp(struct ctl_conn *c, const struct frame_bind *b)
{
    struct ngr_err err;
    struct tunnel *t, *join = NULL;
    unsigned want = control_bind_wanted_port(b);
    char slot[NGR_SLOT_LEN], what[32];

    if (want == 0 && control_bind_pooled(b)) {
        control_bind_refuse(c, b->handle, FRAME_CODE_UNSUPPORTED,
                            "a pool shares one port: ask for it (ngrnotok tcp --pool "
                            "--remote-port PORT)");
        return 0;
    }
    snprintf(slot, sizeof(slot), "tcp:%u", want);
    snprintf(what, sizeof(what), "port %u", want);
    if (want != 0 && control_bind_claim_slot(c, b, slot, what, 1, &join) != 0)
        return 0;
    t = control_bind_tunnel_new(c, b);
    if (t == NULL)
        return 0;
    if (join != NULL) {
        public_tcp_share(t, join);
    } else if (public_tcp_bind(c->srv, t, want, &err) != 0) {
        tunnel_free(t);
        control_bind_refuse(
            c, b->handle, err.code == NGR_EINVAL ? FRAME_CODE_UNSUPPORTED : FRAME_CODE_UNAVAILABLE,
            err.msg);
        return 0;
    }
    if (tunnel_table_add(&c->srv->tunnels, t) != 0) { /* a port just opened: cannot collide */
        public_tcp_unbind(t, join);
        tunnel_free(t);
        control_bind_refuse(c, b->handle, FRAME_CODE_INTERNAL, "tunnel table refused the tunnel");
        return 0;
    }
    return control_bind_send_bound(c, t);
}

int
control_bind_handle(struct ctl_conn *c, const struct frame *f)
{
    struct frame_bind b;
    struct tunnel *t, *join = NULL;
    char name[NGR_MAX_SUBDOMAIN + 1], msg[NGR_MAX_MESSAGE], esc[NGR_NAME_ESC_LEN];
    char slot[NGR_SLOT_LEN], what[NGR_MAX_SUBDOMAIN + 16], holder[RECONNECT_HOLDER_LEN + 1];
    enum reservation_owner owner;
    int64_t left = 0;
    size_t i;

    if (!c->hello_done || frame_bind_decode(f, &b) != 0)
        return NGR_EPROTO;
    if (c->srv->draining) {
        control_bind_refuse(c, b.handle, FRAME_CODE_UNAVAILABLE, "gateway shutting down");
        return 0;
    }
    if (c->ntunnels >= NGR_TUNNELS_PER_SESSION) {
        snprintf(msg, sizeof(msg),
                 "a connection holds at most %d tunnels: start the rest from another "
                 "ngrnotok",
                 NGR_TUNNELS_PER_SESSION);
        control_bind_refuse(c, b.handle, FRAME_CODE_UNSUPPORTED, msg);
        return 0;
    }
    for (i = 0; i < c->ntunnels; i++)
        if (c->tunnels[i]->handle == b.handle)
            return NGR_EPROTO; /* a handle names one tunnel of the session */
    if (c->srv->ntunnels >= c->srv->cfg.max_tunnels) {
        c->srv->hit_tunnels++;
        c->srv->metrics.limit_hits[METRICS_LIMIT_TUNNELS]++;
        snprintf(msg, sizeof(msg),
                 "this gateway holds its maximum of %u tunnels (max_tunnels); "
                 "try again later",
                 c->srv->cfg.max_tunnels);
        control_bind_refuse(c, b.handle, FRAME_CODE_UNAVAILABLE, msg);
        return 0;
    }
    if (c->has_token && usage_get(&c->srv->tunnels_by_token, c->token, sizeof(c->token)) >=
                            c->srv->cfg.max_tunnels_per_token) {
        c->srv->hit_tunnels_per_token++;
        c->srv->metrics.limit_hits[METRICS_LIMIT_TUNNELS_PER_TOKEN]++;
        snprintf(msg, sizeof(msg),
                 "this token holds its maximum of %u tunnels "
                 "(max_tunnels_per_token); close one first",
                 c->srv->cfg.max_tunnels_per_token);
        control_bind_refuse(c, b.handle, FRAME_CODE_UNAVAILABLE, msg);
        return 0;
    }
    if (b.proto != FRAME_PROTO_HTTP && b.proto != FRAME_PROTO_TCP) {
        control_bind_refuse(c, b.handle, FRAME_CODE_UNSUPPORTED, "unknown tunnel protocol");
        return 0;
    }
    if (b.proto == FRAME_PROTO_TCP)
        return control_bind_tcp(c, &b);
    owner = RESERVATION_FREE;
    if (b.subdomain.len > 0) {
        if (!name_valid_label(b.subdomain.p, b.subdomain.len)) {
            log_escape(esc, sizeof(esc), b.subdomain.p, b.subdomain.len);
            snprintf(msg, sizeof(msg),
                     "invalid subdomain '%s': use 1-63 lowercase letters, digits or '-', "
                     "not starting or ending with '-'",
                     esc);
            control_bind_refuse(c, b.handle, FRAME_CODE_NAME_INVALID, msg);
            return 0;
        }
        memcpy(name, b.subdomain.p, b.subdomain.len);
        name[b.subdomain.len] = '\0';
        snprintf(slot, sizeof(slot), "http:%s", name);
        control_bind_holder(c, control_bind_pooled(&b), holder);
        owner = reservations_owner(&c->srv->res, slot, holder, reservations_now(), &left);
        /* A name kept for this client was checked when it was first granted: a random one
         * comes back too. */
        if (owner != RESERVATION_MINE &&
            name_policy_check(c->srv->cfg.reserved_names, name, msg, sizeof(msg)) != 0) {
            control_bind_refuse(c, b.handle, FRAME_CODE_NAME_INVALID, msg);
            return 0;
        }
    } else if (control_bind_pooled(&b)) {
        control_bind_refuse(c, b.handle, FRAME_CODE_UNSUPPORTED,
                            "a pool shares one name: choose it (ngrnotok http --pool "
                            "--subdomain NAME)");
        return 0;
    } else {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, name);
    }
    if (!control_bind_name_allowed(c, b.handle, name))
        return 0;
    snprintf(slot, sizeof(slot), "http:%s", name);
    snprintf(what, sizeof(what), "subdomain '%s'", name);
    if (control_bind_claim_slot(c, &b, slot, what, 0, &join) != 0)
        return 0;
    if (join == NULL && owner == RESERVATION_OTHER) {
        snprintf(msg, sizeof(msg),
                 "name '%s' is kept for the client that held it for another %lld s (its "
                 "reconnect grace); choose another name",
                 name, (long long)((left + 999) / 1000));
        control_bind_refuse(c, b.handle, FRAME_CODE_NAME_TAKEN, msg);
        return 0;
    }
    t = control_bind_tunnel_new(c, &b);
    if (t == NULL)
        return 0;
    snprintf(t->subdomain, sizeof(t->subdomain), "%s", name);
    snprintf(t->slot, sizeof(t->slot), "http:%s", name);
    server_public_url(c->srv, name, t->public_url, sizeof(t->public_url));
    if (tunnel_table_add(&c->srv->tunnels, t) != 0) {
        snprintf(msg, sizeof(msg), "subdomain '%s' is already in use", name);
        tunnel_free(t);
        control_bind_refuse(c, b.handle, FRAME_CODE_NAME_TAKEN, msg);
        return 0;
    }
    return control_bind_send_bound(c, t);
}
