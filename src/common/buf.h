/* buf.h: a bounded byte queue. Created with its limit, allocates nothing until bytes arrive,
 * grows up to the limit, and frees its storage once drained, so an idle owner costs no memory.
 * A buffer that refills at once (a session's output, a request's body) can keep its storage
 * instead (buf_init_kept) and give it back when its owner goes quiet (buf_trim): growing a
 * buffer again for every write copied each byte once more and churned the allocator. */
#ifndef NGR_BUF_H
#define NGR_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

struct buf {
    uint8_t *data; /* owned; NULL while empty */
    size_t off;    /* first unread byte */
    size_t len;    /* unread bytes, starting at data + off */
    size_t cap;    /* allocated bytes */
    size_t limit;  /* len never exceeds this */
    int keep;      /* storage over NGR_BUF_KEEP_MIN stays when drained, until buf_trim or buf_free */
};

/* Sets the limit; allocates nothing. */
void buf_init(struct buf *b, size_t limit);
/* Like buf_init, but storage larger than NGR_BUF_KEEP_MIN stays when the buffer is drained; a
 * smaller one is freed as usual (cheap to get again), so an owner that only trickles (a quiet
 * session's heartbeats) still holds nothing between its writes. */
void buf_init_kept(struct buf *b, size_t limit);
/* Releases the storage of an empty buffer; does nothing to one that holds bytes. */
void buf_trim(struct buf *b);
/* Releases storage; the buffer stays usable (empty, same limit). */
void buf_free(struct buf *b);

/* Appends n bytes. Returns 0, NGR_ELIMIT if len + n would pass the limit (nothing appended),
 * or NGR_ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Like buf_append but ignores the limit: for the few control frames that must bypass it. */
int buf_append_force(struct buf *b, const void *p, size_t n);
/* Reserves room for n more bytes and returns where to write them (commit with buf_commit), or
 * NULL if the limit or memory forbids it. */
uint8_t *buf_reserve(struct buf *b, size_t n, int force);
void buf_commit(struct buf *b, size_t n);

/* The unread bytes (borrowed; valid until the next call that changes the buffer). */
static inline const uint8_t *
buf_head(const struct buf *b)
{
    return b->data != NULL ? b->data + b->off : (const uint8_t *)"";
}

/* Drops n (<= len) bytes from the front; frees storage when nothing is left (unless kept and
 * larger than NGR_BUF_KEEP_MIN). */
void buf_consume(struct buf *b, size_t n);
/* Copies up to n bytes out and consumes them; returns how many. */
size_t buf_take(struct buf *b, void *out, size_t n);

#endif
