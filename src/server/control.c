/* control.c: the gateway's control plane: accepts client connections, runs TLS's handshake on
 * a TLS control port, then the session's (preface, HELLO -> WELCOME, BIND -> BOUND or ERROR) and
 * registers tunnels. Stream frames never come here: the session hands them to each stream's
 * ops. docs/protocol.md describes the exchange. */
#include "control.h"
#include "frame.h"
#include "listener.h"
#include "access_rules.h"
#include "log.h"
#include "name_policy.h"
#include "net.h"
#include "public_http.h"
#include "public_tcp.h"
#include "reconnect_secret.h"
#include "reservations.h"
#include "seconds.h"
#include "tls_io.h"
#include "tunnel_table.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uuid/uuid.h>

struct ctl_conn {
    struct session sess;
    struct server *srv;
    TAILQ_ENTRY(ctl_conn) entry;
    char peer[NGR_PEER_LEN];
    /* Before the session: on a TLS port, the first byte is awaited, then TLS's handshake. */
    int fd;
    int live;                /* sess is initialised (the handshake before it, if any, done) */
    struct loop_io pre_io;   /* the socket until then */
    struct tls_io *tls;      /* the handshake under way (the session's once done) */
    struct loop_defer drop;  /* closed before its session started: freed at the turn's end */
    int plain_on_tls;        /* a plain client on the TLS port: HELLO gets the ERROR saying so */
    int hello_done;
    struct tunnel *tunnel;           /* one per session for now; the protocol allows more */
    struct loop_timer bind_deadline; /* HELLO and BIND must both arrive in time */
    int has_token;                   /* the gateway asked for a token and this one was valid */
    int ip_counted;                  /* in srv->conns_by_ip */
    int token_counted;               /* its tunnel is in srv->tunnels_by_token */
    uint8_t token[AUTH_TOKEN_DIGEST]; /* its digest: a reload looks it up again */
    char token_id[sizeof(((struct auth_token *)0)->id)]; /* for logs */
    char secret[RECONNECT_SECRET_LEN + 1]; /* its reconnect secret (WELCOME) */
    char holder[RECONNECT_HOLDER_LEN + 1]; /* that secret's id: what its names are kept for */
    int leaving; /* the client said GOAWAY: its tunnel is gone, its streams finish */
};

static const struct session_handler control_handler;
static void control_refuse_bind(struct ctl_conn *c, uint32_t handle, uint32_t code,
                                const char *msg);

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

/* 1 if c's token may bind name; else refuses the BIND (handle) and returns 0. */
static int
control_name_allowed(struct ctl_conn *c, uint32_t handle, const char *name)
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
    control_refuse_bind(c, handle, FRAME_CODE_AUTH, msg);
    return 0;
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

/* The control connection whose session t's streams open on. */
static struct ctl_conn *
control_conn_of(struct tunnel *t)
{
    return (struct ctl_conn *)(void *)((char *)t->sess - offsetof(struct ctl_conn, sess));
}

/* c's tunnel ends: it leaves the table and its port closes (a pool's port stays with the
 * rest). Public requests it still carries go on until they end (tunnel_retire). keep: the
 * name (or port) stays its client's for the reconnect grace once no tunnel of its pool is
 * left; else a new session of that client holds it now. */
static void
control_tunnel_end(struct ctl_conn *c, const char *reason, int keep)
{
    struct tunnel *t = c->tunnel, *heir = t->pool_next != t ? t->pool_next : NULL;
    size_t left;

    public_tcp_unbind(t, heir);
    left = tunnel_table_remove(&c->srv->tunnels, t);
    if (left > 0)
        log_info("tunnel %s: %s closed: %s (%zu left in its pool)", t->id, t->public_url,
                 reason, left);
    else
        log_info("tunnel %s: %s closed: %s", t->id, t->public_url, reason);
    if (keep && left == 0 && t->slot[0] != '\0')
        reservations_lose(&c->srv->res, t->slot, reservations_now());
    tunnel_retire(t);
    c->tunnel = NULL;
    c->srv->ntunnels--;
    if (c->token_counted)
        usage_drop(&c->srv->tunnels_by_token, c->token, sizeof(c->token));
    c->token_counted = 0;
}

/* A new session of t's client binds t's name (or port) while t's session lingers (a dead
 * peer not yet noticed, a client restarted): the old session ends and gives it up. */
static void
control_take_over(struct ctl_conn *c, struct tunnel *t)
{
    struct ctl_conn *old = control_conn_of(t);

    log_info("tunnel %s: its client is back from %s", t->id, c->peer);
    control_tunnel_end(old, "replaced by a new connection of its client", 0);
    session_close(&old->sess, 0, "replaced by a new connection of its client");
}

static void
control_refuse_bind(struct ctl_conn *c, uint32_t handle, uint32_t code, const char *msg)
{
    log_info("control %s: bind refused: %s", c->peer, msg);
    session_send_error(&c->sess, code, handle, msg);
    session_close(&c->sess, 0, "bind refused");
}

/* Sends BOUND for a registered tunnel. */
static int
control_send_bound(struct ctl_conn *c, struct tunnel *t)
{
    struct frame_bound out;
    int rc;

    c->tunnel = t;
    c->srv->ntunnels++;
    if (c->srv->cfg.reconnect_grace_ms > 0 && t->slot[0] != '\0')
        reservations_take(&c->srv->res, t->slot, t->holder);
    if (c->has_token)
        c->token_counted = usage_add(&c->srv->tunnels_by_token, c->token, sizeof(c->token)) == 0;
    memset(&out, 0, sizeof(out));
    out.handle = t->handle;
    out.id = frame_str_c(t->id);
    out.subdomain = frame_str_c(t->subdomain);
    out.public_url = frame_str_c(t->public_url);
    if (t->pool_next != t)
        log_info("tunnel %s: %s bound by %s, joining its pool (%zu tunnels)", t->id,
                 t->public_url, c->peer, tunnel_pool_size(t));
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
control_holder(const struct ctl_conn *c, int pool, char out[RECONNECT_HOLDER_LEN + 1])
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
control_claim_slot(struct ctl_conn *c, const struct frame_bind *b, const char *slot,
                   const char *what, int fallback, struct tunnel **join)
{
    struct tunnel *e = tunnel_table_find_slot(&c->srv->tunnels, slot, strlen(slot)), *m;
    char holder[RECONNECT_HOLDER_LEN + 1], msg[NGR_MAX_MESSAGE];
    int pool = control_bind_pooled(b);

    *join = NULL;
    for (m = e; m != NULL; m = m->pool_next != e ? m->pool_next : NULL)
        if (strcmp(control_conn_of(m)->holder, c->holder) == 0) {
            control_take_over(c, m);
            e = tunnel_table_find_slot(&c->srv->tunnels, slot, strlen(slot));
            break;
        }
    if (e == NULL)
        return 0;
    control_holder(c, pool, holder);
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
        snprintf(msg, sizeof(msg), "%s is in use by a client without --pool; a pool cannot "
                                   "share it",
                 what);
    else if (pool)
        snprintf(msg, sizeof(msg), "%s is a pool of clients with another token", what);
    else
        snprintf(msg, sizeof(msg), "%s is already in use", what);
    control_refuse_bind(c, b->handle, FRAME_CODE_NAME_TAKEN, msg);
    return -1;
}

/* A new tunnel for BIND b on c, or NULL with the BIND refused (bad protections) or the
 * session closed (out of memory). */
static struct tunnel *
control_tunnel_new(struct ctl_conn *c, const struct frame_bind *b)
{
    struct tunnel *t = tunnel_new();
    struct ngr_err err;

    if (t == NULL) {
        session_close(&c->sess, FRAME_CODE_INTERNAL, "out of memory");
        return NULL;
    }
    if (control_bind_rate(c, b, t, &err) != 0) {
        tunnel_free(t);
        control_refuse_bind(c, b->handle, FRAME_CODE_UNSUPPORTED, err.msg);
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
             err_set(&err, NGR_EINVAL, "basic auth is for HTTP tunnels; a TCP tunnel can "
                                       "only limit addresses") != 0)) {
            tunnel_free(t);
            control_refuse_bind(c, b->handle, FRAME_CODE_UNSUPPORTED, err.msg);
            return NULL;
        }
    }
    t->proto = b->proto;
    t->handle = b->handle;
    t->sess = &c->sess;
    t->pool = control_bind_pooled(b);
    control_holder(c, t->pool, t->holder);
    snprintf(t->client_addr, sizeof(t->client_addr), "%s", c->peer);
    return t;
}

/* The port a reconnecting TCP client asks back (BIND's subdomain: its digits), or 0. */
static unsigned
control_wanted_port(const struct frame_bind *b)
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
    unsigned want = control_wanted_port(b);
    char slot[NGR_SLOT_LEN], what[32];

    if (want == 0 && control_bind_pooled(b)) {
        control_refuse_bind(c, b->handle, FRAME_CODE_UNSUPPORTED,
                            "a pool shares one port: ask for it (ngrnotok tcp --pool "
                            "--remote-port PORT)");
        return 0;
    }
    snprintf(slot, sizeof(slot), "tcp:%u", want);
    snprintf(what, sizeof(what), "port %u", want);
    if (want != 0 && control_claim_slot(c, b, slot, what, 1, &join) != 0)
        return 0;
    t = control_tunnel_new(c, b);
    if (t == NULL)
        return 0;
    if (join != NULL) {
        public_tcp_share(t, join);
    } else if (public_tcp_bind(c->srv, t, want, &err) != 0) {
        tunnel_free(t);
        control_refuse_bind(
            c, b->handle, err.code == NGR_EINVAL ? FRAME_CODE_UNSUPPORTED : FRAME_CODE_UNAVAILABLE,
            err.msg);
        return 0;
    }
    if (tunnel_table_add(&c->srv->tunnels, t) != 0) { /* a port just opened: cannot collide */
        public_tcp_unbind(t, join);
        tunnel_free(t);
        control_refuse_bind(c, b->handle, FRAME_CODE_INTERNAL, "tunnel table refused the tunnel");
        return 0;
    }
    return control_send_bound(c, t);
}

static int
control_on_bind(struct ctl_conn *c, const struct frame *f)
{
    struct frame_bind b;
    struct tunnel *t, *join = NULL;
    char name[NGR_MAX_SUBDOMAIN + 1], msg[NGR_MAX_MESSAGE], esc[NGR_NAME_ESC_LEN];
    char slot[NGR_SLOT_LEN], what[NGR_MAX_SUBDOMAIN + 16], holder[RECONNECT_HOLDER_LEN + 1];
    enum reservation_owner owner;
    int64_t left = 0;

    if (!c->hello_done || frame_bind_decode(f, &b) != 0)
        return NGR_EPROTO;
    if (c->srv->draining) {
        control_refuse_bind(c, b.handle, FRAME_CODE_UNAVAILABLE, "gateway shutting down");
        return 0;
    }
    if (c->tunnel != NULL) {
        control_refuse_bind(c, b.handle, FRAME_CODE_UNSUPPORTED,
                            "this gateway serves one tunnel per connection");
        return 0;
    }
    if (c->srv->ntunnels >= c->srv->cfg.max_tunnels) {
        c->srv->hit_tunnels++;
        snprintf(msg, sizeof(msg), "this gateway holds its maximum of %u tunnels (max_tunnels); "
                                   "try again later",
                 c->srv->cfg.max_tunnels);
        control_refuse_bind(c, b.handle, FRAME_CODE_UNAVAILABLE, msg);
        return 0;
    }
    if (c->has_token && usage_get(&c->srv->tunnels_by_token, c->token, sizeof(c->token)) >=
                            c->srv->cfg.max_tunnels_per_token) {
        c->srv->hit_tunnels_per_token++;
        snprintf(msg, sizeof(msg), "this token holds its maximum of %u tunnels "
                                   "(max_tunnels_per_token); close one first",
                 c->srv->cfg.max_tunnels_per_token);
        control_refuse_bind(c, b.handle, FRAME_CODE_UNAVAILABLE, msg);
        return 0;
    }
    if (b.proto != FRAME_PROTO_HTTP && b.proto != FRAME_PROTO_TCP) {
        control_refuse_bind(c, b.handle, FRAME_CODE_UNSUPPORTED, "unknown tunnel protocol");
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
            control_refuse_bind(c, b.handle, FRAME_CODE_NAME_INVALID, msg);
            return 0;
        }
        memcpy(name, b.subdomain.p, b.subdomain.len);
        name[b.subdomain.len] = '\0';
        snprintf(slot, sizeof(slot), "http:%s", name);
        control_holder(c, control_bind_pooled(&b), holder);
        owner = reservations_owner(&c->srv->res, slot, holder, reservations_now(), &left);
        /* A name kept for this client was checked when it was first granted: a random one
         * comes back too. */
        if (owner != RESERVATION_MINE &&
            name_policy_check(c->srv->cfg.reserved_names, name, msg, sizeof(msg)) != 0) {
            control_refuse_bind(c, b.handle, FRAME_CODE_NAME_INVALID, msg);
            return 0;
        }
    } else if (control_bind_pooled(&b)) {
        control_refuse_bind(c, b.handle, FRAME_CODE_UNSUPPORTED,
                            "a pool shares one name: choose it (ngrnotok http --pool "
                            "--subdomain NAME)");
        return 0;
    } else {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, name);
    }
    if (!control_name_allowed(c, b.handle, name))
        return 0;
    snprintf(slot, sizeof(slot), "http:%s", name);
    snprintf(what, sizeof(what), "subdomain '%s'", name);
    if (control_claim_slot(c, &b, slot, what, 0, &join) != 0)
        return 0;
    if (join == NULL && owner == RESERVATION_OTHER) {
        snprintf(msg, sizeof(msg),
                 "name '%s' is kept for the client that held it for another %lld s (its "
                 "reconnect grace); choose another name",
                 name, (long long)((left + 999) / 1000));
        control_refuse_bind(c, b.handle, FRAME_CODE_NAME_TAKEN, msg);
        return 0;
    }
    t = control_tunnel_new(c, &b);
    if (t == NULL)
        return 0;
    snprintf(t->subdomain, sizeof(t->subdomain), "%s", name);
    snprintf(t->slot, sizeof(t->slot), "http:%s", name);
    server_public_url(c->srv, name, t->public_url, sizeof(t->public_url));
    if (tunnel_table_add(&c->srv->tunnels, t) != 0) {
        snprintf(msg, sizeof(msg), "subdomain '%s' is already in use", name);
        tunnel_free(t);
        control_refuse_bind(c, b.handle, FRAME_CODE_NAME_TAKEN, msg);
        return 0;
    }
    return control_send_bound(c, t);
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
        return control_on_bind(c, f);
    case FRAME_GOAWAY:
    case FRAME_ERROR:
        if (frame_reason_decode(f, &r) != 0)
            return NGR_EPROTO;
        log_escape(esc, sizeof(esc), r.message.p, r.message.len);
        if (f->type == FRAME_GOAWAY && c->tunnel != NULL && s->nstreams > 0) {
            /* The client is stopping: no new request goes to it (they wait for it, or go to
             * the rest of its pool); those under way finish, and the client closes. */
            control_tunnel_end(c, "its client is stopping", 1);
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

    if (c->tunnel != NULL)
        control_tunnel_end(c, reason, 1);
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
    else if (c->tunnel == NULL)
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
    /* Counted from here to control_on_closed; past the limit the client is told why. */
    c->ip_counted = usage_add(&srv->conns_by_ip, c->peer, strlen(c->peer)) == 0;
    if (srv->cfg.max_conns_per_ip != 0 &&
        usage_get(&srv->conns_by_ip, c->peer, strlen(c->peer)) > srv->cfg.max_conns_per_ip) {
        srv->hit_conns_per_ip++;
        log_warn("control %s: refused: %u control connections from this address already "
                 "(max_conns_per_ip)",
                 c->peer, srv->cfg.max_conns_per_ip);
        session_close(&c->sess, FRAME_CODE_UNAVAILABLE,
                      "too many connections from your address: this gateway takes %u "
                      "(max_conns_per_ip)",
                      srv->cfg.max_conns_per_ip);
    }
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
    log_debug("control: connection from %s", c->peer);
    if (srv->control_cred == NULL) {
        control_start_session(c, NULL);
        return;
    }
    if (loop_io_add(srv->loop, &c->pre_io, fd, LOOP_READ, control_on_pre_io, c) != 0) {
        control_drop(c, "cannot watch the connection");
        return;
    }
    /* The ClientHello is often there already. */
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
        } else if (c->tunnel != NULL && c->tunnel->subdomain[0] != '\0' &&
                   !auth_token_allows(t, c->tunnel->subdomain)) {
            log_info("control %s: token %s may no longer bind %s: closing its session", c->peer,
                     c->token_id, c->tunnel->subdomain);
            session_close(&c->sess, FRAME_CODE_AUTH,
                          "name '%s' is no longer allowed for this token",
                          c->tunnel->subdomain);
            closed++;
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
        if (!now && c->tunnel == NULL) {
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
