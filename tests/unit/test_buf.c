/* test_buf.c: unit tests of the bounded byte queue (buf.h), with a plain array as the model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

/* Fills p with bytes that depend on their position from start, so misplaced bytes show. */
static void
test_buf_pattern(uint8_t *p, size_t n, size_t start)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)((start + i) * 31 + 7);
}

static void
test_buf_assert_pattern(const struct buf *b, size_t start)
{
    size_t i;

    for (i = 0; i < b->len; i++)
        if (buf_head(b)[i] != (uint8_t)((start + i) * 31 + 7))
            fail_msg("byte %zu of %zu (stream offset %zu) is wrong", i, b->len, start + i);
}

static void
test_buf_init_allocates_nothing(void **state)
{
    struct buf b;

    (void)state;
    memset(&b, 0x5a, sizeof(b));
    buf_init(&b, 1000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.off, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.limit, 1000);
    /* Appending nothing allocates nothing. */
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_null(b.data);
    buf_free(&b);
    buf_free(&b); /* twice is harmless */
    assert_null(b.data);
}

static void
test_buf_limit(void **state)
{
    struct buf b;
    uint8_t src[300];

    (void)state;
    test_buf_pattern(src, sizeof(src), 0);
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, src, 60), 0);
    /* Over the limit: refused whole, nothing appended. */
    assert_int_equal(buf_append(&b, src + 60, 41), NGR_ELIMIT);
    assert_int_equal(b.len, 60);
    test_buf_assert_pattern(&b, 0);
    /* Exactly to the limit. */
    assert_int_equal(buf_append(&b, src + 60, 40), 0);
    assert_int_equal(b.len, 100);
    assert_true(b.cap <= 100);
    test_buf_assert_pattern(&b, 0);
    assert_int_equal(buf_append(&b, src, 1), NGR_ELIMIT);
    assert_int_equal(b.len, 100);
    /* Sizes that would overflow len + n. */
    assert_int_equal(buf_append(&b, src, SIZE_MAX), NGR_ELIMIT);
    assert_int_equal(buf_append(&b, src, SIZE_MAX - 50), NGR_ELIMIT);
    assert_int_equal(b.len, 100);
    /* Room again once consumed. */
    buf_consume(&b, 10);
    assert_int_equal(buf_append(&b, src + 100, 10), 0);
    assert_int_equal(b.len, 100);
    test_buf_assert_pattern(&b, 10);
    buf_free(&b);

    /* Limit 0 refuses everything but nothing. */
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, src, 1), NGR_ELIMIT);
    assert_int_equal(buf_append(&b, src, 0), 0);
    assert_null(b.data);
    assert_null(buf_reserve(&b, 1, 0));

    /* An empty buffer refuses a single append over the limit. */
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, src, 101), NGR_ELIMIT);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

/* Growth a byte at a time, to a limit that is not a power of two: the storage never passes
 * the limit and the bytes stay in order. */
static void
test_buf_growth(void **state)
{
    struct buf b;
    size_t i, limit = 10007;
    uint8_t c;

    (void)state;
    buf_init(&b, limit);
    for (i = 0; i < limit; i++) {
        test_buf_pattern(&c, 1, i);
        assert_int_equal(buf_append(&b, &c, 1), 0);
        assert_true(b.cap >= b.off + b.len);
        assert_true(b.cap <= limit);
    }
    assert_int_equal(b.len, limit);
    test_buf_assert_pattern(&b, 0);
    assert_int_equal(buf_append(&b, &c, 1), NGR_ELIMIT);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.limit, limit);

    /* One big append. */
    {
        uint8_t *big = malloc(limit);
        assert_non_null(big);
        test_buf_pattern(big, limit, 0);
        assert_int_equal(buf_append(&b, big, limit), 0);
        test_buf_assert_pattern(&b, 0);
        assert_true(b.cap <= limit);
        free(big);
    }
    buf_free(&b);
}

static void
test_buf_consume(void **state)
{
    struct buf b;
    uint8_t src[1000];

    (void)state;
    test_buf_pattern(src, sizeof(src), 0);
    buf_init(&b, 4096);
    assert_int_equal(buf_append(&b, src, 1000), 0);
    buf_consume(&b, 0);
    assert_int_equal(b.len, 1000);
    buf_consume(&b, 1);
    assert_int_equal(b.len, 999);
    test_buf_assert_pattern(&b, 1);
    buf_consume(&b, 500);
    assert_int_equal(b.len, 499);
    test_buf_assert_pattern(&b, 501);
    assert_non_null(b.data);
    /* Drained: the storage goes. */
    buf_consume(&b, 499);
    assert_int_equal(b.len, 0);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.off, 0);
    /* And comes back. */
    assert_int_equal(buf_append(&b, src, 10), 0);
    test_buf_assert_pattern(&b, 0);
    /* Consuming more than there is drains it too. */
    buf_consume(&b, 11);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* Consuming from an empty buffer is harmless. */
    buf_consume(&b, 0);
    buf_consume(&b, 5);
    assert_null(b.data);
}

/* A kept buffer holds on to its storage (over NGR_BUF_KEEP_MIN) when drained, refills without growing
 * again, and gives it back only through buf_trim (and only when empty) or buf_free. */
static void
test_buf_kept(void **state)
{
    struct buf b;
    uint8_t src[30000], out[30000];
    uint8_t *storage;
    size_t cap;

    (void)state;
    test_buf_pattern(src, sizeof(src), 0);
    buf_init_kept(&b, 40960);
    assert_null(b.data); /* still nothing until bytes arrive */
    assert_int_equal(buf_append(&b, src, 30000), 0);
    storage = b.data;
    cap = b.cap;
    assert_int_equal(buf_take(&b, out, 30000), 30000);
    assert_memory_equal(out, src, 30000);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.off, 0);
    assert_ptr_equal(b.data, storage); /* kept */
    assert_int_equal(b.cap, cap);
    /* Refilled in place, no regrowth, bytes right. */
    assert_int_equal(buf_append(&b, src, 20000), 0);
    assert_ptr_equal(b.data, storage);
    test_buf_assert_pattern(&b, 0);
    /* buf_trim leaves a buffer with bytes alone ... */
    buf_trim(&b);
    assert_ptr_equal(b.data, storage);
    assert_int_equal(b.len, 20000);
    test_buf_assert_pattern(&b, 0);
    buf_consume(&b, 20000);
    assert_non_null(b.data);
    /* ... and frees an empty one, which stays usable and kept. */
    buf_trim(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(buf_append(&b, src, 10000), 0);
    buf_consume(&b, 10000);
    assert_non_null(b.data);
    /* The limit still holds. */
    assert_int_equal(buf_append(&b, src, 30000), 0);
    assert_int_equal(buf_append(&b, src, 10961), NGR_ELIMIT);
    assert_int_equal(b.len, 30000);
    buf_free(&b);
    assert_null(b.data);
    /* Storage of NGR_BUF_KEEP_MIN or less is freed when drained, kept or not. */
    assert_int_equal(buf_append(&b, src, 100), 0);
    assert_true(b.cap <= NGR_BUF_KEEP_MIN);
    buf_consume(&b, 100);
    assert_null(b.data);
    /* buf_trim on a plain, empty buffer is harmless. */
    buf_init(&b, 16);
    buf_trim(&b);
    assert_null(b.data);
}

static void
test_buf_take(void **state)
{
    struct buf b;
    uint8_t src[100], out[200];

    (void)state;
    test_buf_pattern(src, sizeof(src), 0);
    buf_init(&b, 100);
    assert_int_equal(buf_take(&b, out, 10), 0);
    assert_int_equal(buf_append(&b, src, 100), 0);
    assert_int_equal(buf_take(&b, out, 0), 0);
    assert_int_equal(b.len, 100);
    assert_int_equal(buf_take(&b, out, 30), 30);
    assert_memory_equal(out, src, 30);
    assert_int_equal(b.len, 70);
    test_buf_assert_pattern(&b, 30);
    /* Asking for more than is there gives what is there and drains. */
    memset(out, 0, sizeof(out));
    assert_int_equal(buf_take(&b, out, 200), 70);
    assert_memory_equal(out, src + 30, 70);
    assert_int_equal(out[70], 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* Exactly what is there drains too. */
    assert_int_equal(buf_append(&b, src, 5), 0);
    assert_int_equal(buf_take(&b, out, 5), 5);
    assert_null(b.data);
}

static void
test_buf_reserve_commit(void **state)
{
    struct buf b;
    uint8_t *p, *q;
    uint8_t src[1000];

    (void)state;
    test_buf_pattern(src, sizeof(src), 0);
    buf_init(&b, 1000);
    p = buf_reserve(&b, 100, 0);
    assert_non_null(p);
    assert_true(b.cap >= 100);
    assert_int_equal(b.len, 0); /* reserving is not appending */
    memcpy(p, src, 60);
    buf_commit(&b, 60);
    assert_int_equal(b.len, 60);
    test_buf_assert_pattern(&b, 0);
    /* The next reserve continues after the committed bytes. */
    p = buf_reserve(&b, 40, 0);
    assert_ptr_equal(p, buf_head(&b) + 60);
    memcpy(p, src + 60, 40);
    buf_commit(&b, 40);
    test_buf_assert_pattern(&b, 0);
    /* Over the limit: NULL, nothing changed. */
    assert_null(buf_reserve(&b, 901, 0));
    assert_int_equal(b.len, 100);
    assert_null(buf_reserve(&b, SIZE_MAX, 0));
    assert_null(buf_reserve(&b, SIZE_MAX, 1));
    assert_null(buf_reserve(&b, SIZE_MAX - 100 + 1, 1));
    test_buf_assert_pattern(&b, 0);
    /* Up to the limit exactly. */
    p = buf_reserve(&b, 900, 0);
    assert_non_null(p);
    memcpy(p, src + 100, 900);
    buf_commit(&b, 900);
    assert_int_equal(b.len, 1000);
    test_buf_assert_pattern(&b, 0);
    assert_null(buf_reserve(&b, 1, 0));

    /* After consuming from the front, reserving slides the unread bytes down. */
    buf_consume(&b, 990);
    assert_int_equal(b.len, 10);
    q = buf_reserve(&b, 500, 0);
    assert_non_null(q);
    assert_ptr_equal(q, buf_head(&b) + 10);
    test_buf_assert_pattern(&b, 990);
    test_buf_pattern(q, 500, 1000);
    buf_commit(&b, 500);
    test_buf_assert_pattern(&b, 990);
    buf_free(&b);
}

/* buf_append_force passes the limit (control frames must go out), but only it. */
static void
test_buf_force(void **state)
{
    struct buf b;
    uint8_t src[500];
    uint8_t *p;

    (void)state;
    test_buf_pattern(src, sizeof(src), 0);
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, src, 100), 0);
    assert_int_equal(buf_append_force(&b, src + 100, 150), 0);
    assert_int_equal(b.len, 250);
    test_buf_assert_pattern(&b, 0);
    /* Ordinary appends stay refused while over the limit. */
    assert_int_equal(buf_append(&b, src, 1), NGR_ELIMIT);
    assert_null(buf_reserve(&b, 1, 0));
    p = buf_reserve(&b, 50, 1);
    assert_non_null(p);
    memcpy(p, src + 250, 50);
    buf_commit(&b, 50);
    test_buf_assert_pattern(&b, 0);
    /* Back under the limit, ordinary appends work again. */
    buf_consume(&b, 250);
    assert_int_equal(b.len, 50);
    assert_int_equal(buf_append(&b, src + 300, 50), 0);
    test_buf_assert_pattern(&b, 250);
    assert_int_equal(buf_append_force(&b, src, 0), 0);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.limit, 100);

    /* Forced into a limit-0 buffer. */
    buf_init(&b, 0);
    assert_int_equal(buf_append_force(&b, src, 10), 0);
    assert_int_equal(b.len, 10);
    test_buf_assert_pattern(&b, 0);
    buf_free(&b);
}

/* Random appends, reserves, consumes and takes (fixed seed) against a plain array. */
static void
test_buf_model(void **state)
{
    enum { LIMIT = 3000, OPS = 200000 };
    static uint8_t model[LIMIT + 2000];
    uint8_t tmp[2000];
    size_t mlen = 0, written = 0, read = 0;
    uint32_t x = 12345;
    struct buf b;
    int op;

    (void)state;
    buf_init(&b, LIMIT);
    for (op = 0; op < OPS; op++) {
        size_t n;
        int rc;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        n = (x >> 8) % (op % 7 == 0 ? 1500 : 64);
        switch (x % 5) {
        case 0: /* append */
            test_buf_pattern(tmp, n, written);
            rc = buf_append(&b, tmp, n);
            if (mlen + n > LIMIT) {
                assert_int_equal(rc, NGR_ELIMIT);
                break;
            }
            assert_int_equal(rc, 0);
            memcpy(model + mlen, tmp, n);
            mlen += n;
            written += n;
            break;
        case 1: { /* reserve, then commit part (reserving nothing is not a case) */
            uint8_t *p = buf_reserve(&b, n + 1, 0);
            size_t k = (x >> 3) % (n + 2);
            if (mlen + n + 1 > LIMIT) {
                assert_null(p);
                break;
            }
            assert_non_null(p);
            test_buf_pattern(p, k, written);
            buf_commit(&b, k);
            test_buf_pattern(model + mlen, k, written);
            mlen += k;
            written += k;
            break;
        }
        case 2: /* consume */
            if (n > mlen)
                n = mlen;
            buf_consume(&b, n);
            memmove(model, model + n, mlen - n);
            mlen -= n;
            read += n;
            break;
        case 3: /* take */
            rc = (int)buf_take(&b, tmp, n);
            assert_int_equal(rc, n < mlen ? n : mlen);
            assert_memory_equal(tmp, model, (size_t)rc);
            memmove(model, model + rc, mlen - (size_t)rc);
            mlen -= (size_t)rc;
            read += (size_t)rc;
            break;
        case 4: /* force a little over the limit now and then */
            if (op % 11 != 0 || n > 200)
                break;
            test_buf_pattern(tmp, n, written);
            assert_int_equal(buf_append_force(&b, tmp, n), 0);
            memcpy(model + mlen, tmp, n);
            mlen += n;
            written += n;
            break;
        }
        assert_int_equal(b.len, mlen);
        /* Drained by consume or take: no storage kept (a bare reserve may keep some). */
        if (mlen == 0 && (x % 5 == 2 || x % 5 == 3))
            assert_null(b.data);
        if (mlen > 0)
            assert_memory_equal(buf_head(&b), model, mlen);
        assert_true(b.off + b.len <= b.cap || b.data == NULL);
    }
    (void)read;
    buf_free(&b);
}

/* Known bug: with force set and bytes consumed from the front, b->off + need wraps around, so
 * a reservation of SIZE_MAX - len bytes is "granted" inside the old storage (and
 * buf_append_force would then memcpy that many bytes). It must be NULL. */
static void
test_buf_reserve_force_overflow(void **state)
{
    struct buf b;
    uint8_t src[15] = {0};

    (void)state;
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, src, sizeof(src)), 0);
    buf_consume(&b, 10); /* off 10, len 5 */
    assert_null(buf_reserve(&b, SIZE_MAX - b.len, 1));
    assert_null(buf_reserve(&b, SIZE_MAX - b.len - 5, 1));
    buf_free(&b);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_init_allocates_nothing),
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_consume),
        cmocka_unit_test(test_buf_kept),
        cmocka_unit_test(test_buf_take),
        cmocka_unit_test(test_buf_reserve_commit),
        cmocka_unit_test(test_buf_force),
        cmocka_unit_test(test_buf_model),
        cmocka_unit_test(test_buf_reserve_force_overflow),
    };

    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
