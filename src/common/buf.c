/* buf.c: bounded byte queue; see buf.h. */
#include "buf.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void
buf_init_kept(struct buf *b, size_t limit)
{
    buf_init(b, limit);
    b->keep = 1;
}

void
buf_trim(struct buf *b)
{
    if (b->len == 0)
        buf_free(b);
}

void
buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

uint8_t *
buf_reserve(struct buf *b, size_t n, int force)
{
    size_t need, ncap;
    uint8_t *p;

    if (n > SIZE_MAX / 2 - b->len)
        return NULL; /* no buffer is that large; also keeps off + need from wrapping */
    need = b->len + n;
    if (!force && need > b->limit)
        return NULL;
    if (b->data != NULL && b->off + need <= b->cap)
        return b->data + b->off + b->len;
    if (need <= b->cap) { /* room exists before off: slide the unread bytes down */
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return b->data + b->len;
    }
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap *= 2;
    if (!force && ncap > b->limit)
        ncap = b->limit;
    if (b->off > 0 && b->len > 0)
        memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
    p = realloc(b->data, ncap);
    if (p == NULL)
        return NULL;
    b->data = p;
    b->cap = ncap;
    return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
    b->len += n;
}

static int
buf_append_impl(struct buf *b, const void *p, size_t n, int force)
{
    uint8_t *dst;

    if (n == 0)
        return 0;
    if (!force && (n > b->limit || b->len > b->limit - n))
        return NGR_ELIMIT;
    dst = buf_reserve(b, n, force);
    if (dst == NULL)
        return NGR_ENOMEM;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
    return buf_append_impl(b, p, n, 0);
}

int
buf_append_force(struct buf *b, const void *p, size_t n)
{
    return buf_append_impl(b, p, n, 1);
}

void
buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        if (b->keep && b->cap > NGR_BUF_KEEP_MIN)
            b->off = b->len = 0;
        else
            buf_free(b);
        return;
    }
    b->off += n;
    b->len -= n;
}

size_t
buf_take(struct buf *b, void *out, size_t n)
{
    if (n > b->len)
        n = b->len;
    if (n > 0)
        memcpy(out, buf_head(b), n);
    buf_consume(b, n);
    return n;
}
