/* state_store.h: what the gateway keeps across restarts and crashes, in one SQLite database
 * in its state directory: the key that signs reconnect secrets, and the reservations (a slot
 * such as "http:myapp" or "tcp:40001", its holder's id, and when it expires). SQLite because
 * a crash mid-write must leave the file whole (its journal makes every write a transaction,
 * WAL keeps them cheap), and because it is well kept and in Debian. Each call is one
 * transaction; nothing here is on a request's path (binds and lost sessions only). */
#ifndef NGR_STATE_STORE_H
#define NGR_STATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sqlite3;
struct sqlite3_stmt;

struct state_store {
    struct sqlite3 *db;
    struct sqlite3_stmt *put, *del;
};

/* Opens (creating it and its tables) the database at path. Returns 0, or NGR_ESYS with
 * SQLite's reason. */
NGR_MUST_CHECK int state_store_open(struct state_store *s, const char *path, struct ngr_err *err);
void state_store_close(struct state_store *s);
/* The signing key: the stored one, or n new bytes from make (stored before return). Returns 0
 * or a negative code. */
NGR_MUST_CHECK int state_store_key(struct state_store *s, uint8_t *key, size_t n,
                                   int (*make)(uint8_t *key), struct ngr_err *err);
/* Calls each(arg, slot, holder, expires_ms) for every reservation. */
NGR_MUST_CHECK int state_store_load(struct state_store *s,
                                    void (*each)(void *arg, const char *slot, const char *holder,
                                                 int64_t expires_ms),
                                    void *arg, struct ngr_err *err);
/* Deletes the reservations that expired by now_ms. */
NGR_MUST_CHECK int state_store_prune(struct state_store *s, int64_t now_ms, struct ngr_err *err);
/* Writes one reservation (expires_ms 0: in use), or deletes it. Return 0 or NGR_ESYS (logged
 * by the caller: the reservation still holds in memory). */
NGR_MUST_CHECK int state_store_put(struct state_store *s, const char *slot, const char *holder,
                                   int64_t expires_ms, struct ngr_err *err);
NGR_MUST_CHECK int state_store_del(struct state_store *s, const char *slot, struct ngr_err *err);

/* The database file of a gateway: DIR/gateway-HASH.db, HASH from the listen addresses and the
 * domain, so gateways that listen elsewhere never share reservations. Returns 0 or NGR_ELIMIT
 * (out too small). */
NGR_MUST_CHECK int state_store_path(const char *dir, const char *identity, char *out, size_t cap);

#endif
