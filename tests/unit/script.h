/* script.h: the unit tests' way to drive a real loop step by step. A test is a script that the
 * turn hook runs at the end of every turn: each phase waits for a condition (TEST_SCRIPT_AWAIT),
 * acts, and moves on (phase++); the script returns nonzero when it is done. A deadline ends a
 * script that stops making progress and says which phase waited for what. Header only; include
 * after cmocka.h. */
#ifndef NGR_TEST_SCRIPT_H
#define NGR_TEST_SCRIPT_H

#include "loop.h"

#define TEST_SCRIPT_DEADLINE_MS 10000

struct test_script {
    struct loop *l;
    int (*fn)(struct test_script *t);
    void *arg; /* the test's own state */
    void (*after)(
        void *arg); /* optional: runs every turn after the script (the program's own hook) */
    int phase;
    const char *awaiting;
    struct loop_timer deadline;
    int timed_out;
};

/* Waits in the current phase: the script returns and runs again at the end of a later turn. */
#define TEST_SCRIPT_AWAIT(t, cond, what)                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (t)->awaiting = (what);                                                                \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)

static void
test_script_turn(void *arg)
{
    struct test_script *t = arg;
    int done, phase;

    do {
        phase = t->phase;
        done = t->fn(t);
    } while (!done && t->phase != phase);
    if (t->after != NULL)
        t->after(t->arg);
    if (done)
        loop_stop(t->l);
    else
        loop_limit_wait(t->l, 20); /* poll: a condition may hold without a new event */
}

static void
test_script_deadline(void *arg)
{
    struct test_script *t = arg;

    t->timed_out = 1;
    loop_stop(t->l);
}

/* Runs l (once: a stopped loop stays stopped) until fn is done, with after (or NULL) after it
 * every turn; fails the test on the deadline. */
static void __attribute__((unused))
test_script_run_after(struct loop *l, int (*fn)(struct test_script *t), void *arg,
                      void (*after)(void *arg))
{
    struct test_script t;

    memset(&t, 0, sizeof(t));
    t.l = l;
    t.fn = fn;
    t.arg = arg;
    t.after = after;
    t.awaiting = "the first turn";
    loop_set_turn_hook(l, test_script_turn, &t);
    loop_timer_init(&t.deadline, test_script_deadline, &t);
    assert_int_equal(loop_timer_start(l, &t.deadline, TEST_SCRIPT_DEADLINE_MS), 0);
    loop_wake(l);
    assert_int_equal(loop_run(l), 0);
    loop_timer_stop(l, &t.deadline);
    loop_set_turn_hook(l, NULL, NULL);
    if (t.timed_out)
        fail_msg("no progress in %d ms: phase %d was waiting for %s", TEST_SCRIPT_DEADLINE_MS,
                 t.phase, t.awaiting);
}

static void __attribute__((unused))
test_script_run(struct loop *l, int (*fn)(struct test_script *t), void *arg)
{
    test_script_run_after(l, fn, arg, NULL);
}

#endif
