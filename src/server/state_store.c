/* state_store.c: the gateway's SQLite database; see state_store.h. */
#include "state_store.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "limits.h"

static int
state_store_fail(struct state_store *s, struct ngr_err *err, const char *what)
{
    return err_set(err, NGR_ESYS, "%s: %s", what,
                   s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
}

int
state_store_open(struct state_store *s, const char *path, struct ngr_err *err)
{
    static const char schema[] =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS reservations (slot TEXT PRIMARY KEY, holder TEXT NOT NULL,"
        " expires_ms INTEGER NOT NULL);";

    memset(s, 0, sizeof(*s));
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        state_store_fail(s, err, path);
        state_store_close(s);
        return NGR_ESYS;
    }
    sqlite3_busy_timeout(s->db, NGR_STATE_BUSY_MS);
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO reservations (slot, holder, expires_ms) "
                           "VALUES (?1, ?2, ?3)",
                           -1, &s->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM reservations WHERE slot = ?1", -1, &s->del,
                           NULL) != SQLITE_OK) {
        state_store_fail(s, err, path);
        state_store_close(s);
        return NGR_ESYS;
    }
    return 0;
}

void
state_store_close(struct state_store *s)
{
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_close(s->db);
    memset(s, 0, sizeof(*s));
}

int
state_store_key(struct state_store *s, uint8_t *key, size_t n, int (*make)(uint8_t *key),
                struct ngr_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, found = 0;

    if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = 'reconnect_key'", -1, &st,
                           NULL) != SQLITE_OK)
        return state_store_fail(s, err, "reading the key");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == n) {
        memcpy(key, sqlite3_column_blob(st, 0), n);
        found = 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return state_store_fail(s, err, "reading the key");
    if (found)
        return 0;
    if (make(key) != 0)
        return err_set(err, NGR_ESYS, "no random bytes for a key");
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO meta (k, v) VALUES ('reconnect_key', ?1)", -1,
                           &st, NULL) != SQLITE_OK)
        return state_store_fail(s, err, "writing the key");
    sqlite3_bind_blob(st, 1, key, (int)n, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : state_store_fail(s, err, "writing the key");
}

int
state_store_load(struct state_store *s,
                 void (*each)(void *arg, const char *slot, const char *holder, int64_t expires_ms),
                 void *arg, struct ngr_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT slot, holder, expires_ms FROM reservations", -1, &st,
                           NULL) != SQLITE_OK)
        return state_store_fail(s, err, "reading reservations");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *slot = (const char *)sqlite3_column_text(st, 0);
        const char *holder = (const char *)sqlite3_column_text(st, 1);
        if (slot != NULL && holder != NULL)
            each(arg, slot, holder, sqlite3_column_int64(st, 2));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : state_store_fail(s, err, "reading reservations");
}

static int
state_store_run(struct state_store *s, sqlite3_stmt *st, struct ngr_err *err, const char *what)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : state_store_fail(s, err, what);
}

int
state_store_prune(struct state_store *s, int64_t now_ms, struct ngr_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM reservations WHERE expires_ms != 0 AND expires_ms <= ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return state_store_fail(s, err, "pruning reservations");
    sqlite3_bind_int64(st, 1, now_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : state_store_fail(s, err, "pruning reservations");
}

int
state_store_put(struct state_store *s, const char *slot, const char *holder, int64_t expires_ms,
                struct ngr_err *err)
{
    sqlite3_bind_text(s->put, 1, slot, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s->put, 2, holder, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s->put, 3, expires_ms);
    return state_store_run(s, s->put, err, "writing a reservation");
}

int
state_store_del(struct state_store *s, const char *slot, struct ngr_err *err)
{
    sqlite3_bind_text(s->del, 1, slot, -1, SQLITE_TRANSIENT);
    return state_store_run(s, s->del, err, "deleting a reservation");
}

int
state_store_path(const char *dir, const char *identity, char *out, size_t cap)
{
    uint8_t d[32];
    int n;

    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, identity, strlen(identity), d) != 0)
        memset(d, 0, sizeof(d));
    n = snprintf(out, cap, "%s/gateway-%02x%02x%02x%02x%02x%02x.db", dir, d[0], d[1], d[2], d[3],
                 d[4], d[5]);
    return n > 0 && (size_t)n < cap ? 0 : NGR_ELIMIT;
}
