/* tunnel_table.h: the gateway's tunnels, found by subdomain (public routing) and by id (admin
 * API). One table in the server's context (struct server); routing and the admin API read the
 * same entries. */
#ifndef NGR_TUNNEL_TABLE_H
#define NGR_TUNNEL_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uthash.h>

#include "err.h"
#include "limits.h"
#include "rate_limit.h"
#include "reconnect_secret.h"

struct access_rules;

struct session;
struct tcp_listener;

struct tunnel {
    UT_hash_handle hh_name;
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
    struct tcp_listener *tcp; /* TCP tunnels: the public port; owned (public_tcp.c) */
};

/* Two uthash indexes over the same tunnels; all zero is an empty table. */
struct tunnel_table {
    struct tunnel *by_name;
    struct tunnel *by_id;
};

/* Returns a new tunnel with a fresh random id, or NULL; free with tunnel_free. */
struct tunnel *tunnel_new(void);
void tunnel_free(struct tunnel *t);

/* Adds t under t->id, and under t->subdomain unless it is empty (TCP tunnels have none).
 * Returns 0 or NGR_EEXIST (the subdomain is taken). */
NGR_MUST_CHECK int tunnel_table_add(struct tunnel_table *tt, struct tunnel *t);
void tunnel_table_remove(struct tunnel_table *tt, struct tunnel *t);
/* Lookups; name is compared exactly (callers lowercase it). Borrowed results. */
struct tunnel *tunnel_table_find_subdomain(const struct tunnel_table *tt, const char *name,
                                           size_t len);
struct tunnel *tunnel_table_find_id(const struct tunnel_table *tt, const char *id, size_t len);
size_t tunnel_table_count(const struct tunnel_table *tt);
/* Iteration in insertion order: first, then next until NULL. */
struct tunnel *tunnel_table_first(const struct tunnel_table *tt);
struct tunnel *tunnel_table_next(struct tunnel *t);

#endif
