/* reservations.h: which names (and TCP ports) belong to which client across lost connections
 * and restarts. A slot ("http:NAME", "tcp:PORT") is in use by its holder while a tunnel holds
 * it; when the tunnel's session is lost it stays the holder's for the reconnect grace
 * (--reconnect-grace), and nobody else may bind it until then. A holder is a reconnect
 * secret's id (reconnect_secret.h). Kept in memory and, with a state directory, in
 * state_store.h's database, which also keeps the key that signs the secrets. At start every
 * slot the store says was in use is counted as lost then: the gateway that held it is gone. */
#ifndef NGR_RESERVATIONS_H
#define NGR_RESERVATIONS_H

#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "err.h"
#include "limits.h"
#include "reconnect_secret.h"
#include "state_store.h"


struct reservation {
    UT_hash_handle hh;
    char slot[NGR_SLOT_LEN];
    char holder[RECONNECT_HOLDER_LEN + 1];
    int64_t expires_ms; /* wall clock (ms since the epoch); 0: in use */
};

struct reservations {
    struct reservation *by_slot;
    size_t n;
    uint64_t grace_ms;
    int64_t sweep_at_ms; /* wall clock: the next look for expired ones (reservations_lose) */
    uint8_t key[RECONNECT_KEY_LEN];
    struct state_store store;
    int stored; /* store is open */
};

enum reservation_owner {
    RESERVATION_FREE,  /* nobody's: anyone may bind it */
    RESERVATION_MINE,  /* the asking holder's (in use or in its grace) */
    RESERVATION_OTHER, /* another holder's */
};

/* Opens the table: with path, the store there (its key and reservations, in-use ones lost as
 * of now_ms); with NULL, a table in memory and a new key. Returns 0, or a negative code with
 * the reason in err (the table is then empty, in memory, and usable). */
NGR_MUST_CHECK int reservations_open(struct reservations *r, const char *path, uint64_t grace_ms,
                                     int64_t now_ms, struct ngr_err *err);
void reservations_close(struct reservations *r);
/* Whose slot is: holder may be NULL (no one asks). An expired reservation is removed here. With
 * RESERVATION_OTHER, *left_ms (if not NULL) says how long it still holds (0: in use). */
enum reservation_owner reservations_owner(struct reservations *r, const char *slot,
                                          const char *holder, int64_t now_ms, int64_t *left_ms);
/* holder's tunnel holds slot now. */
void reservations_take(struct reservations *r, const char *slot, const char *holder);
/* The tunnel holding slot is gone: the slot stays its holder's until now_ms + grace (with no
 * grace it is free at once). At most once a grace, every expired reservation goes too (names
 * whose clients never came back), so the table holds what was lost within about two graces. */
void reservations_lose(struct reservations *r, const char *slot, int64_t now_ms);
/* The wall clock in ms since the epoch. */
int64_t reservations_now(void);

#endif
