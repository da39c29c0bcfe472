/* tunnel_table.h: the gateway's tunnels, found by slot (public routing: "http:NAME",
 * "tcp:PORT") and by id (admin API). One table in the server's context (struct server); routing
 * and the admin API read the same entries. A slot has one tunnel, or a pool: tunnels bound with
 * --pool by one holder share it, and routing takes them in turn. A tunnel outlives its place
 * in the table while public requests still hold it (tunnel_retire). */
#ifndef NGR_TUNNEL_TABLE_H
#define NGR_TUNNEL_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uthash.h>

#include "err.h"
#include "latency_hist.h"
#include "limits.h"
#include "rate_limit.h"
#include "reconnect_secret.h"

struct access_rules;

struct session;
struct tcp_listener;

struct tunnel {
    UT_hash_handle hh_slot;
    UT_hash_handle hh_id;
    char id[NGR_ID_LEN];
    char subdomain[NGR_MAX_SUBDOMAIN + 1];
    uint8_t proto; /* enum frame_proto */
    char public_url[NGR_URL_LEN];
    char client_addr[NGR_PEER_LEN];
    time_t created_at;
    uint64_t requests;
    uint64_t bytes_in;        /* request body bytes from public clients toward the local service */
    uint64_t bytes_out;       /* response body bytes from the local service toward public clients */
    uint32_t streams;         /* open now */
    uint64_t by_class[6];     /* finished requests by status class (metrics.h's classes) */
    struct latency_hist latency;         /* a request's whole time at the gateway */
    struct latency_hist service_latency; /* the local service's time to its head (REPLY) */
    uint64_t hit_body;        /* requests refused: body over max_body_size (413) */
    uint64_t hit_streams;     /* requests or connections refused: max_streams_per_tunnel (503) */
    uint64_t hit_address;     /* refused by the tunnel's address rules (403, or closed) */
    uint64_t hit_auth;        /* refused for want of its basic-auth credentials (401) */
    struct access_rules *rules; /* what the client asked the gateway to enforce; NULL: none; owned */
    struct rate_limit rate;   /* requests (TCP: connections) a second it takes; per_s 0: any */
    uint64_t hit_rate;        /* refused by that rate (429; TCP: closed) */
    uint64_t response_timeout_ms; /* a request's wait for its response head, then 504 */
    uint32_t handle;          /* the client's BIND handle, named in OPEN */
    char holder[RECONNECT_HOLDER_LEN + 1]; /* its client's reconnect secret's id */
    char slot[NGR_SLOT_LEN];  /* its reservation ("http:NAME", "tcp:PORT"); empty: none */
    struct session *sess;     /* the owner's control session, where its streams open; borrowed */
    struct tcp_listener *tcp; /* TCP tunnels: the public port (public_tcp.c); a pool's
                               * members share one */
    unsigned pool : 1;        /* bound with --pool: the holder's other tunnels may share the slot */
    unsigned retired : 1;     /* out of the table: freed when its last stream ends */
    unsigned token_counted : 1; /* counted among its token's tunnels (control_bind.c) */
    struct tunnel *pool_next, *pool_prev; /* the slot's tunnels, a ring; NULL: not in the table */
    struct tunnel *pool_turn; /* on the ring's member in the index: the next one routed to */
};

/* Two uthash indexes over the same tunnels (by slot, one member per pool); all zero is an
 * empty table. */
struct tunnel_table {
    struct tunnel *by_slot;
    struct tunnel *by_id;
};

/* Returns a new tunnel with a fresh random id, or NULL; free with tunnel_free (never added),
 * or tunnel_retire once removed. */
struct tunnel *tunnel_new(void);
void tunnel_free(struct tunnel *t);
/* t is out of the table: freed now, or when the last of its streams ends. */
void tunnel_retire(struct tunnel *t);
/* One of t's streams (a public request or connection) ended: t->streams drops, and a retired
 * t with none left is freed. */
void tunnel_stream_end(struct tunnel *t);

/* Adds t under t->id and under t->slot (unless empty). A taken slot is joined when both its
 * tunnels and t are pools of the same holder. Returns 0 or NGR_EEXIST (the slot is taken). */
NGR_MUST_CHECK int tunnel_table_add(struct tunnel_table *tt, struct tunnel *t);
/* Takes t out; returns how many tunnels still share its slot. */
size_t tunnel_table_remove(struct tunnel_table *tt, struct tunnel *t);
/* Lookups, compared exactly (callers lowercase names). A pool's slot gives one member, the
 * same each time. Borrowed results. */
struct tunnel *tunnel_table_find_slot(const struct tunnel_table *tt, const char *slot,
                                      size_t len);
struct tunnel *tunnel_table_find_subdomain(const struct tunnel_table *tt, const char *name,
                                           size_t len);
/* Routing: the slot's tunnel, or the next of its pool in turn (round robin), passing over one
 * whose session is closing while another is left. route_subdomain: the slot "http:NAME". */
struct tunnel *tunnel_table_route(struct tunnel_table *tt, const char *slot, size_t len);
struct tunnel *tunnel_table_route_subdomain(struct tunnel_table *tt, const char *name,
                                            size_t len);
/* How many tunnels share t's slot (1 without a pool; 0 if t is out of the table). */
size_t tunnel_pool_size(const struct tunnel *t);
struct tunnel *tunnel_table_find_id(const struct tunnel_table *tt, const char *id, size_t len);
size_t tunnel_table_count(const struct tunnel_table *tt);
/* Iteration in insertion order: first, then next until NULL. */
struct tunnel *tunnel_table_first(const struct tunnel_table *tt);
struct tunnel *tunnel_table_next(struct tunnel *t);

#endif
