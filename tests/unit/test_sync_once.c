/* ts_once_t (include/taskscope/sync.h): Go's sync.Once and OnceValue —
 * one call among concurrent callers, callers wait for it, a panic counts
 * as done, the result variant returns (or re-raises) the first call's
 * outcome to everyone. */
#include "tt.h"

/* ---- helpers ---------------------------------------------------------- */

/* panics_with: op(arg) panicked, with message msg (the function's own
 * panic: any code). */
static bool panics_with(void (*op)(void *), void *arg, const char *msg)
{
    ts_panic_value_t v;
    return tt_panic_of(op, arg, &v) && strcmp(v.message, msg) == 0;
}

/* ---- one call, everyone waits ---------------------------------------- */

struct shared {
    ts_once_t once;
    atomic_int calls;
    long data[16];     /* written by the one call, read by every caller */
    ts_chan_t *done;
};

static void init_data(void *arg)
{
    struct shared *s = arg;
    atomic_fetch_add(&s->calls, 1);
    ts_sleep(10 * TS_MILLISECOND); /* others arrive meanwhile and wait */
    for (int i = 0; i < 16; i++)
        s->data[i] = i * 3;
}

static void caller_task(void *arg)
{
    struct shared *s = arg;
    ts_once_do(&s->once, init_data, s);
    for (int i = 0; i < 16; i++)
        TT_CHECK_EQ(s->data[i], i * 3);
    tt_signal(s->done);
}

static void *caller_thread(void *arg)
{
    caller_task(arg);
    return NULL;
}

/* 100 tasks and 4 threads race to ts_once_do: the function runs once and
 * every caller returns after it, seeing its writes. */
static void test_once_runs_once_and_callers_wait(void **state)
{
    (void)state;
    enum { TASKS = 100, THREADS = 4 };
    static struct shared s;
    memset(&s, 0, sizeof s);
    s.done = ts_chan_make(0, TASKS + THREADS);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(caller_thread, &s);
    for (int i = 0; i < TASKS; i++)
        tt_go(caller_task, &s);
    assert_int_equal(tt_wait_done(s.done, TASKS + THREADS, TT_SOON),
                     TASKS + THREADS);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    assert_int_equal(atomic_load(&s.calls), 1);
    ts_once_do(&s.once, init_data, &s); /* done: returns at once */
    assert_int_equal(atomic_load(&s.calls), 1);
    ts_chan_release(s.done);
    tt_end(0);
}

/* A caller arriving while the function runs parks on the once's mutex. */
static void test_once_second_caller_parks_while_running(void **state)
{
    (void)state;
    static struct shared s;
    memset(&s, 0, sizeof s);
    s.done = ts_chan_make(0, 2);
    tt_go(caller_task, &s);
    while (atomic_load(&s.calls) == 0)
        ts_sleep(TS_MILLISECOND / 4);
    uint64_t id = tt_go(caller_task, &s);
    assert_true(tt_wait_parked(id, TS_WAIT_MUTEX, TT_SOON, NULL));
    assert_int_equal(tt_wait_done(s.done, 2, TT_SOON), 2);
    assert_int_equal(atomic_load(&s.calls), 1);
    ts_chan_release(s.done);
    tt_end(0);
}

static ts_once_t static_once = TS_ONCE_INIT;
static int static_calls;

static void count_call(void *arg)
{
    (void)arg;
    static_calls++;
}

static void test_once_static_initializer(void **state)
{
    (void)state;
    ts_once_do(&static_once, count_call, NULL);
    ts_once_do(&static_once, count_call, NULL);
    assert_int_equal(static_calls, 1);
    tt_end(0);
}

/* ---- panics ----------------------------------------------------------- */

static void panicking(void *arg)
{
    (void)arg;
    ts_panic("init failed");
}

static void once_panicking(void *o)
{
    ts_once_do(o, panicking, NULL);
}

static void count_arg(void *arg)
{
    (*(int *)arg)++;
}

static void panic_checks(void)
{
    ts_once_t o = TS_ONCE_INIT;
    TT_CHECK(panics_with(once_panicking, &o, "init failed"));
    /* done: neither function runs again, and nothing blocks */
    ts_once_do(&o, panicking, NULL);
    int calls = 0;
    ts_once_do(&o, count_arg, &calls);
    TT_CHECK_EQ(calls, 0);
}

static void panic_task(void *arg)
{
    panic_checks();
    tt_signal(arg);
}

static void test_once_panic_counts_as_done(void **state)
{
    (void)state;
    panic_checks();
    ts_chan_t *done = ts_chan_make(0, 0);
    tt_go(panic_task, done);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- the result variant ---------------------------------------------- */

static atomic_int result_calls;

static int compute(void *arg)
{
    atomic_fetch_add(&result_calls, 1);
    ts_sleep(5 * TS_MILLISECOND);
    return *(int *)arg;
}

struct result_caller {
    ts_once_t *o;
    int arg;
    ts_chan_t *done;
};

static void result_task(void *arg)
{
    struct result_caller *c = arg;
    TT_CHECK_EQ(ts_once_do_result(c->o, compute, &c->arg), 42);
    tt_signal(c->done);
}

/* Every caller gets the first call's result, whatever its own argument. */
static void test_once_result_same_for_every_caller(void **state)
{
    (void)state;
    enum { TASKS = 50 };
    ts_once_t o = TS_ONCE_INIT;
    atomic_store(&result_calls, 0);
    ts_chan_t *done = ts_chan_make(0, TASKS);
    struct result_caller c[TASKS];
    int first = 42;
    assert_int_equal(ts_once_do_result(&o, compute, &first), 42);
    for (int i = 0; i < TASKS; i++) {
        c[i] = (struct result_caller){&o, 1000 + i, done};
        tt_go(result_task, &c[i]);
    }
    assert_int_equal(tt_wait_done(done, TASKS, TT_SOON), TASKS);
    assert_int_equal(atomic_load(&result_calls), 1);
    ts_chan_release(done);
    tt_end(0);
}

/* Concurrent first callers: still one call, one result for all. */
static void test_once_result_concurrent_first_calls(void **state)
{
    (void)state;
    enum { TASKS = 50 };
    ts_once_t o = TS_ONCE_INIT;
    atomic_store(&result_calls, 0);
    ts_chan_t *done = ts_chan_make(0, TASKS);
    struct result_caller c[TASKS];
    for (int i = 0; i < TASKS; i++) {
        c[i] = (struct result_caller){&o, 42, done};
        tt_go(result_task, &c[i]);
    }
    assert_int_equal(tt_wait_done(done, TASKS, TT_SOON), TASKS);
    assert_int_equal(atomic_load(&result_calls), 1);
    ts_chan_release(done);
    tt_end(0);
}

static int panicking_result(void *arg)
{
    int *calls = arg;
    (*calls)++;
    ts_panic("no value: %d", 7);
}

struct result_op {
    ts_once_t *o;
    int *calls;
};

static void op_result(void *arg)
{
    struct result_op *r = arg;
    (void)ts_once_do_result(r->o, panicking_result, r->calls);
}

/* Go's OnceValue: a panic in the function is raised again by every call. */
static void test_once_result_panic_repeats_for_every_caller(void **state)
{
    (void)state;
    static ts_once_t o = TS_ONCE_INIT; /* keeps the panic copy reachable */
    int calls = 0;
    struct result_op r = {&o, &calls};
    for (int i = 0; i < 3; i++)
        assert_true(panics_with(op_result, &r, "no value: 7"));
    assert_int_equal(calls, 1);
    tt_end(0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_once_runs_once_and_callers_wait),
        TT_TEST(test_once_second_caller_parks_while_running),
        TT_TEST(test_once_static_initializer),
        TT_TEST(test_once_panic_counts_as_done),
        TT_TEST(test_once_result_same_for_every_caller),
        TT_TEST(test_once_result_concurrent_first_calls),
        TT_TEST(test_once_result_panic_repeats_for_every_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
