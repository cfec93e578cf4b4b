/* ts_waitgroup_t (include/taskscope/sync.h): Go's sync.WaitGroup — zero
 * value, waiting from tasks and threads, Done happens before Wait returns,
 * reuse, the misuse panics, and a stress run with no lost wake-ups. */
#include "tt.h"

/* ---- helpers ---------------------------------------------------------- */

struct group {
    ts_waitgroup_t wg;
    long slots[64];      /* written before Done, read after Wait: no atomics */
    ts_chan_t *done;
    atomic_int returned; /* waiters past Wait */
};

struct worker {
    struct group *g;
    int i;
};

static void worker_task(void *arg)
{
    struct worker *w = arg;
    ts_sleep(TS_MILLISECOND);
    w->g->slots[w->i] = w->i + 1;
    ts_waitgroup_done(&w->g->wg);
}

static void waiter_task(void *arg)
{
    struct group *g = arg;
    ts_waitgroup_wait(&g->wg);
    for (int i = 0; i < 64; i++)
        TT_CHECK_EQ(g->slots[i], i + 1);
    atomic_fetch_add(&g->returned, 1);
    tt_signal(g->done);
}

static void *waiter_thread(void *arg)
{
    waiter_task(arg);
    return NULL;
}

/* ---- behaviour -------------------------------------------------------- */

static void test_waitgroup_zero_value_wait_returns(void **state)
{
    (void)state;
    ts_waitgroup_t wg = TS_WAITGROUP_INIT;
    ts_waitgroup_wait(&wg);
    ts_waitgroup_add(&wg, 2);
    ts_waitgroup_done(&wg);
    ts_waitgroup_add(&wg, -1);
    ts_waitgroup_wait(&wg);
    tt_end(0);
}

/* Waiters in tasks and in plain threads all return once the 64 workers
 * are done, and see every worker's write (Done happens before Wait
 * returns; TSan checks it in the tsan build). */
static void test_waitgroup_wait_returns_after_every_done(void **state)
{
    (void)state;
    enum { WAITERS = 8, THREADS = 2 };
    static struct group g;
    memset(&g, 0, sizeof g);
    g.done = ts_chan_make(0, WAITERS + THREADS);
    struct worker w[64];
    ts_waitgroup_add(&g.wg, 64);
    uint64_t first = 0;
    for (int i = 0; i < WAITERS; i++) {
        uint64_t id = tt_go(waiter_task, &g);
        first = first ? first : id;
    }
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(waiter_thread, &g);
    struct ts_task_info info;
    assert_true(tt_wait_parked(first, TS_WAIT_WAITGROUP, TT_SOON, &info));
    assert_ptr_equal(info.wait_object, &g.wg);
    assert_int_equal(atomic_load(&g.returned), 0);
    for (int i = 0; i < 64; i++) {
        w[i] = (struct worker){&g, i};
        tt_go(worker_task, &w[i]);
    }
    assert_int_equal(tt_wait_done(g.done, WAITERS + THREADS, TT_SOON),
                     WAITERS + THREADS);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    ts_chan_release(g.done);
    tt_end(0);
}

/* Once every Wait of a round returned, the group is used again. */
static void test_waitgroup_reused_after_wait(void **state)
{
    (void)state;
    static struct group g;
    memset(&g, 0, sizeof g);
    g.done = ts_chan_make(0, 1);
    struct worker w[64];
    for (int round = 0; round < 3; round++) {
        memset(g.slots, 0, sizeof g.slots);
        ts_waitgroup_add(&g.wg, 64);
        tt_go(waiter_task, &g);
        for (int i = 0; i < 64; i++) {
            w[i] = (struct worker){&g, i};
            tt_go(worker_task, &w[i]);
        }
        assert_int_equal(tt_wait_done(g.done, 1, TT_SOON), 1);
        ts_waitgroup_wait(&g.wg);
    }
    ts_chan_release(g.done);
    tt_end(0);
}

/* ---- misuse --------------------------------------------------------- */

static void op_done(void *wg)
{
    ts_waitgroup_done(wg);
}

static void op_add_minus_two(void *wg)
{
    ts_waitgroup_add(wg, -2);
}

static void negative_checks(void)
{
    ts_waitgroup_t wg = TS_WAITGROUP_INIT;
    TT_CHECK(tt_misuse_panic(op_done, &wg, "sync: negative WaitGroup counter"));
    ts_waitgroup_add(&wg, 1);
    TT_CHECK(tt_misuse_panic(op_add_minus_two, &wg,
                         "sync: negative WaitGroup counter"));
    /* the bad Add was undone: the counter is still 1 */
    ts_waitgroup_done(&wg);
    ts_waitgroup_wait(&wg);
}

static void negative_task(void *arg)
{
    negative_checks();
    tt_signal(arg);
}

static void test_waitgroup_negative_counter_panics(void **state)
{
    (void)state;
    negative_checks();
    ts_chan_t *done = ts_chan_make(0, 0);
    tt_go(negative_task, done);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    ts_chan_release(done);
    tt_end(0);
}

static int scenario_negative(void)
{
    ts_waitgroup_t wg = TS_WAITGROUP_INIT;
    ts_waitgroup_done(&wg);
    puts("UNREACHED");
    return 0;
}

static void test_waitgroup_negative_counter_unrecovered_exits(void **state)
{
    (void)state;
    tt_expect_panic("negative", "sync: negative WaitGroup counter");
}

/* On one P, deterministically: the last Done readies the waiter, and the
 * same task Adds again before the waiter runs. The waiter wakes to a
 * counter that is not zero: Go's reuse panic. */
static ts_waitgroup_t reuse_wg;
static atomic_int reuse_panicked;

static void op_wait(void *wg)
{
    ts_waitgroup_wait(wg);
}

static void reuse_waiter(void *arg)
{
    if (tt_misuse_panic(op_wait, &reuse_wg, "sync: WaitGroup is reused before "
                                        "previous Wait has returned"))
        atomic_store(&reuse_panicked, 1);
    tt_signal(arg);
}

static void reuse_releaser(void *arg)
{
    ts_waitgroup_done(&reuse_wg);
    ts_waitgroup_add(&reuse_wg, 1); /* no yield between: one P */
    tt_signal(arg);
}

static int scenario_reuse(void)
{
    ts_chan_t *done = ts_chan_make(0, 2);
    ts_waitgroup_add(&reuse_wg, 1);
    uint64_t w = ts_go(reuse_waiter, done);
    if (!tt_wait_parked(w, TS_WAIT_WAITGROUP, TT_SOON, NULL))
        return 3;
    ts_go(reuse_releaser, done);
    if (tt_wait_done(done, 2, TT_SOON) != 2)
        return 4;
    return atomic_load(&reuse_panicked) ? 0 : 5;
}

static void test_waitgroup_reuse_before_wait_returned_panics(void **state)
{
    (void)state;
    tt_expect_scenario_ok("reuse", 1);
}

/* ---- stress --------------------------------------------------------- */

struct stress {
    ts_waitgroup_t wg;
    long per;
    ts_chan_t *done;
};

static void stress_worker(void *arg)
{
    struct stress *s = arg;
    for (long i = 0; i < s->per; i++) {
        ts_waitgroup_done(&s->wg);
        if (i % 16 == 0)
            ts_yield();
    }
}

static void stress_waiter(void *arg)
{
    struct stress *s = arg;
    ts_waitgroup_wait(&s->wg);
    tt_signal(s->done);
}

static void *stress_waiter_thread(void *arg)
{
    stress_waiter(arg);
    return NULL;
}

/* 1,000 tasks call Done 1,000,000 times in all (scaled) while 100 tasks
 * and a thread wait: every waiter returns (no lost wake-up), and the
 * counter is exactly zero after (a second Wait returns at once). Then
 * many short rounds, each with its own waiters. */
static void test_waitgroup_stress(void **state)
{
    (void)state;
    enum { WORKERS = 1000, WAITERS = 100 };
    struct stress s = {.wg = TS_WAITGROUP_INIT,
                       .done = ts_chan_make(0, WAITERS + 1)};
    s.per = tt_scaled(1000000, WORKERS) / WORKERS;
    ts_waitgroup_add(&s.wg, (int)(s.per * WORKERS));
    for (int i = 0; i < WAITERS; i++)
        tt_go(stress_waiter, &s);
    pthread_t t = tt_thread(stress_waiter_thread, &s);
    for (int i = 0; i < WORKERS; i++)
        tt_go(stress_worker, &s);
    assert_int_equal(tt_wait_done(s.done, WAITERS + 1, TT_SOON), WAITERS + 1);
    tt_join(t);
    ts_waitgroup_wait(&s.wg);

    long rounds = tt_scaled(2000, 50);
    s.per = 1;
    for (long r = 0; r < rounds; r++) {
        ts_waitgroup_add(&s.wg, 4);
        tt_go(stress_waiter, &s);
        for (int i = 0; i < 4; i++)
            tt_go(stress_worker, &s);
        if (tt_wait_done(s.done, 1, TT_SOON) != 1)
            fail_msg("round %ld: the waiter never returned", r);
        ts_waitgroup_wait(&s.wg);
    }
    ts_chan_release(s.done);
    tt_end(0);
}

static const struct tt_scenario scenarios[] = {
    {"negative", scenario_negative},
    {"reuse", scenario_reuse},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_waitgroup_zero_value_wait_returns),
        TT_TEST(test_waitgroup_wait_returns_after_every_done),
        TT_TEST(test_waitgroup_reused_after_wait),
        TT_TEST(test_waitgroup_negative_counter_panics),
        TT_TEST(test_waitgroup_negative_counter_unrecovered_exits),
        TT_TEST(test_waitgroup_reuse_before_wait_returned_panics),
        TT_TEST(test_waitgroup_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
