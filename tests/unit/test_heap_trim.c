/* test_heap_trim.c: unit tests of heap_trim.h: notes within one period make one trim, a note
 * after a trim arms the next, stop disarms; and (without a sanitizer's allocator in place of
 * glibc's) a trim gives back the pages of freed chunks in the middle of the heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap_trim.h"
#include "script.h"

static unsigned long test_heap_trim_calls;

static void
test_heap_trim_count(void)
{
    test_heap_trim_calls++;
}

struct test_heap_trim_notes {
    struct heap_trim trim;
};

/* Three notes in one turn, one trim; then a note after it, a second trim. */
static int
test_heap_trim_notes_script(struct test_script *t)
{
    struct test_heap_trim_notes *s = t->arg;

    switch (t->phase) {
    case 0:
        heap_trim_note(&s->trim);
        heap_trim_note(&s->trim);
        heap_trim_note(&s->trim);
        assert_true(loop_timer_armed(&s->trim.timer));
        assert_int_equal(s->trim.trims, 0);
        t->phase++;
        return 0;
    case 1:
        TEST_SCRIPT_AWAIT(t, s->trim.trims > 0, "the first trim");
        assert_int_equal(s->trim.trims, 1);
        assert_int_equal(test_heap_trim_calls, 1);
        assert_false(loop_timer_armed(&s->trim.timer)); /* nothing freed since: nothing armed */
        heap_trim_note(&s->trim);
        t->phase++;
        return 0;
    case 2:
        TEST_SCRIPT_AWAIT(t, s->trim.trims > 1, "the trim after the second note");
        assert_int_equal(s->trim.trims, 2);
        assert_int_equal(test_heap_trim_calls, 2);
        return 1;
    }
    return 1;
}

static void
test_heap_trim_one_per_period(void **state)
{
    struct test_heap_trim_notes s;
    struct loop *l = loop_new();

    (void)state;
    assert_non_null(l);
    test_heap_trim_calls = 0;
    heap_trim_init(&s.trim, l, test_heap_trim_count);
    assert_false(loop_timer_armed(&s.trim.timer));
    test_script_run(l, test_heap_trim_notes_script, &s);
    heap_trim_stop(&s.trim);
    loop_free(l);
}

static void
test_heap_trim_stop_disarms(void **state)
{
    struct heap_trim trim;
    struct loop *l = loop_new();

    (void)state;
    assert_non_null(l);
    test_heap_trim_calls = 0;
    heap_trim_init(&trim, l, test_heap_trim_count);
    heap_trim_note(&trim);
    assert_true(loop_timer_armed(&trim.timer));
    heap_trim_stop(&trim);
    assert_false(loop_timer_armed(&trim.timer));
    heap_trim_stop(&trim); /* idempotent */
    loop_free(l);
    assert_int_equal(test_heap_trim_calls, 0);
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_HEAP_TRIM_GLIBC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_HEAP_TRIM_GLIBC 0
#endif
#endif
#ifndef TEST_HEAP_TRIM_GLIBC
#define TEST_HEAP_TRIM_GLIBC 1
#endif

#define TEST_HEAP_TRIM_CHUNKS 64
#define TEST_HEAP_TRIM_CHUNK (256 * 1024 + 1) /* libcurl's receive buffer in the client */

/* Resident bytes of this process (/proc/self/statm). */
static size_t
test_heap_trim_rss(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

struct test_heap_trim_real {
    struct heap_trim trim;
};

static int
test_heap_trim_real_script(struct test_script *t)
{
    struct test_heap_trim_real *s = t->arg;

    if (t->phase == 0) {
        heap_trim_note(&s->trim);
        t->phase++;
    }
    TEST_SCRIPT_AWAIT(t, s->trim.trims > 0, "the trim");
    return 1;
}

/* Big chunks written and freed between small ones still held, as the client's heap is under
 * load: glibc keeps their pages (they are not at the top); the trim gives them back. */
static void
test_heap_trim_gives_pages_back(void **state)
{
    char *big[TEST_HEAP_TRIM_CHUNKS], *small[TEST_HEAP_TRIM_CHUNKS];
    size_t before, freed, trimmed, i;
    struct test_heap_trim_real s;
    struct loop *l;

    (void)state;
    if (!TEST_HEAP_TRIM_GLIBC)
        skip(); /* the sanitizer's allocator takes glibc's place: nothing for malloc_trim */
    /* As the client sets it (limits.h): such chunks come from the heap, which is shrunk only
     * past 4 MiB free at its top. */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
    l = loop_new();
    assert_non_null(l);
    for (i = 0; i < TEST_HEAP_TRIM_CHUNKS; i++) {
        big[i] = malloc(TEST_HEAP_TRIM_CHUNK);
        small[i] = malloc(64);
        assert_non_null(big[i]);
        assert_non_null(small[i]);
        memset(big[i], 0x5a, TEST_HEAP_TRIM_CHUNK);
    }
    before = test_heap_trim_rss();
    for (i = 0; i < TEST_HEAP_TRIM_CHUNKS; i++)
        free(big[i]);
    freed = test_heap_trim_rss();
    heap_trim_init(&s.trim, l, NULL);
    test_script_run(l, test_heap_trim_real_script, &s);
    trimmed = test_heap_trim_rss();
    /* 16 MiB were written and freed: glibc kept nearly all of it, the trim gave most back. */
    assert_true(freed + (size_t)TEST_HEAP_TRIM_CHUNKS * TEST_HEAP_TRIM_CHUNK / 4 > before);
    assert_true(trimmed + (size_t)TEST_HEAP_TRIM_CHUNKS * TEST_HEAP_TRIM_CHUNK / 2 < freed);
    for (i = 0; i < TEST_HEAP_TRIM_CHUNKS; i++)
        free(small[i]);
    heap_trim_stop(&s.trim);
    loop_free(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_trim_one_per_period),
        cmocka_unit_test(test_heap_trim_stop_disarms),
        cmocka_unit_test(test_heap_trim_gives_pages_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
