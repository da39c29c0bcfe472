/* reservations.c: names and ports kept for their holders; see reservations.h. */
#include "reservations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int64_t
reservations_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
reservations_remove(struct reservations *r, struct reservation *e)
{
    HASH_DEL(r->by_slot, e);
    r->n--;
    free(e);
}

/* Writes e through to the store; a failure is logged and the reservation holds in memory. */
static void
reservations_write(struct reservations *r, const struct reservation *e, int deleted)
{
    struct ngr_err err;
    int rc;

    if (!r->stored)
        return;
    rc = deleted ? state_store_del(&r->store, e->slot, &err)
                 : state_store_put(&r->store, e->slot, e->holder, e->expires_ms, &err);
    if (rc != 0)
        log_warn("state: %s (%s); it holds until the gateway stops", err.msg, e->slot);
}

static struct reservation *
reservations_set(struct reservations *r, const char *slot, const char *holder, int64_t expires_ms)
{
    struct reservation *e;

    HASH_FIND_STR(r->by_slot, slot, e);
    if (e == NULL) {
        if (strlen(slot) >= sizeof(e->slot) || (e = calloc(1, sizeof(*e))) == NULL)
            return NULL;
        snprintf(e->slot, sizeof(e->slot), "%s", slot);
        HASH_ADD_STR(r->by_slot, slot, e);
        r->n++;
    }
    snprintf(e->holder, sizeof(e->holder), "%s", holder);
    e->expires_ms = expires_ms;
    return e;
}

struct reservations_loading {
    struct reservations *r;
    int64_t now_ms;
};

static void
reservations_on_row(void *arg, const char *slot, const char *holder, int64_t expires_ms)
{
    struct reservations_loading *ld = arg;
    struct reservations *r = ld->r;

    /* In use when the last gateway stopped (or crashed): lost as of now. */
    if (expires_ms == 0)
        expires_ms = ld->now_ms + (int64_t)r->grace_ms;
    if (expires_ms > ld->now_ms)
        reservations_set(r, slot, holder, expires_ms);
}

int
reservations_open(struct reservations *r, const char *path, uint64_t grace_ms, int64_t now_ms,
                  struct ngr_err *err)
{
    struct reservations_loading ld = {r, now_ms};
    struct reservation *e, *tmp;
    int rc;

    memset(r, 0, sizeof(*r));
    r->grace_ms = grace_ms;
    if (path == NULL)
        return reconnect_key_new(r->key) == 0 ? 0 : err_set(err, NGR_ESYS, "no random bytes");
    rc = state_store_open(&r->store, path, err);
    if (rc == 0)
        rc = state_store_key(&r->store, r->key, sizeof(r->key), reconnect_key_new, err);
    if (rc == 0)
        rc = state_store_prune(&r->store, now_ms, err);
    if (rc == 0)
        rc = state_store_load(&r->store, reservations_on_row, &ld, err);
    if (rc != 0) {
        HASH_ITER(hh, r->by_slot, e, tmp)
            reservations_remove(r, e);
        if (r->store.db != NULL)
            state_store_close(&r->store);
        if (reconnect_key_new(r->key) != 0)
            memset(r->key, 0, sizeof(r->key));
        return rc;
    }
    r->stored = 1;
    /* What was loaded is written back: slots that were in use get their expiry. */
    HASH_ITER(hh, r->by_slot, e, tmp)
        reservations_write(r, e, 0);
    return 0;
}

void
reservations_close(struct reservations *r)
{
    struct reservation *e, *tmp;

    HASH_ITER(hh, r->by_slot, e, tmp)
        reservations_remove(r, e);
    if (r->stored)
        state_store_close(&r->store);
    r->stored = 0;
}

enum reservation_owner
reservations_owner(struct reservations *r, const char *slot, const char *holder, int64_t now_ms,
                   int64_t *left_ms)
{
    struct reservation *e;

    HASH_FIND_STR(r->by_slot, slot, e);
    if (e == NULL)
        return RESERVATION_FREE;
    if (e->expires_ms != 0 && e->expires_ms <= now_ms) {
        reservations_write(r, e, 1);
        reservations_remove(r, e);
        return RESERVATION_FREE;
    }
    if (holder != NULL && strcmp(holder, e->holder) == 0)
        return RESERVATION_MINE;
    if (left_ms != NULL)
        *left_ms = e->expires_ms == 0 ? 0 : e->expires_ms - now_ms;
    return RESERVATION_OTHER;
}

void
reservations_take(struct reservations *r, const char *slot, const char *holder)
{
    struct reservation *e = reservations_set(r, slot, holder, 0);

    if (e != NULL)
        reservations_write(r, e, 0);
}

/* Drops every reservation expired by now_ms, from memory and the store. */
static void
reservations_sweep(struct reservations *r, int64_t now_ms)
{
    struct reservation *e, *tmp;

    HASH_ITER(hh, r->by_slot, e, tmp)
    {
        if (e->expires_ms != 0 && e->expires_ms <= now_ms) {
            reservations_write(r, e, 1);
            reservations_remove(r, e);
        }
    }
}

void
reservations_lose(struct reservations *r, const char *slot, int64_t now_ms)
{
    struct reservation *e;

    if (now_ms >= r->sweep_at_ms) {
        reservations_sweep(r, now_ms);
        r->sweep_at_ms = now_ms + (int64_t)(r->grace_ms > NGR_RESERVATION_SWEEP_MS
                                                ? r->grace_ms
                                                : NGR_RESERVATION_SWEEP_MS);
    }
    HASH_FIND_STR(r->by_slot, slot, e);
    if (e == NULL)
        return;
    if (r->grace_ms == 0) {
        reservations_write(r, e, 1);
        reservations_remove(r, e);
        return;
    }
    e->expires_ms = now_ms + (int64_t)r->grace_ms;
    reservations_write(r, e, 0);
}
