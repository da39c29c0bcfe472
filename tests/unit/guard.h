/* guard.h: places test input right before an inaccessible page (picohttpparser's test.c trick),
 * so code that reads or writes one byte past the end crashes the test instead of passing. */
#ifndef NGR_TEST_GUARD_H
#define NGR_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Large enough for a whole frame of NGR_FRAME_MAX_PAYLOAD and some. */
#define GUARD_AREA (80 * 1024)

struct guard {
    uint8_t *map;
    size_t maplen;
    size_t datalen; /* accessible bytes before the guard page */
};

static struct guard guard;

/* cmocka group setup: maps GUARD_AREA bytes and one PROT_NONE page after them. */
static inline int
guard_setup(void **state)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);

    (void)state;
    guard.datalen = (GUARD_AREA + ps - 1) / ps * ps;
    guard.maplen = guard.datalen + ps;
    guard.map =
        mmap(NULL, guard.maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard.map == MAP_FAILED)
        return -1;
    return mprotect(guard.map + guard.datalen, ps, PROT_NONE);
}

static inline int
guard_teardown(void **state)
{
    (void)state;
    munmap(guard.map, guard.maplen);
    return 0;
}

/* Copies len bytes so that they end at the guard page and makes them read-only, so reading past
 * them or writing into them crashes. Valid until the next guard_* call. */
static inline const uint8_t *
guard_place(const void *src, size_t len)
{
    uint8_t *p;

    assert_true(len <= guard.datalen);
    assert_int_equal(mprotect(guard.map, guard.datalen, PROT_READ | PROT_WRITE), 0);
    p = guard.map + guard.datalen - len;
    if (len > 0)
        memcpy(p, src, len);
    assert_int_equal(mprotect(guard.map, guard.datalen, PROT_READ), 0);
    return p;
}

/* cap writable bytes (filled with 0xa5) ending at the guard page: writing past cap crashes. */
static inline uint8_t *
guard_out(size_t cap)
{
    uint8_t *p;

    assert_true(cap <= guard.datalen);
    assert_int_equal(mprotect(guard.map, guard.datalen, PROT_READ | PROT_WRITE), 0);
    p = guard.map + guard.datalen - cap;
    memset(p, 0xa5, cap);
    return p;
}

#endif
