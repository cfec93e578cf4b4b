/* ts_rwmutex_t (include/taskscope/sync.h): Go's sync.RWMutex — shared
 * readers, exclusive writers, a pending writer stops new readers, the
 * misuse panics, and a stress run mixing readers and writers. */
#include "tt.h"

/* ---- helpers ---------------------------------------------------------- */

struct side {
    ts_rwmutex_t *rw;
    atomic_int in;    /* 1 while it holds the lock */
    ts_chan_t *release;
    ts_chan_t *done;
};

static void reader_task(void *arg)
{
    struct side *s = arg;
    ts_rwmutex_rlock(s->rw);
    atomic_store(&s->in, 1);
    TT_CHECK(tt_recv_within(s->release, NULL, NULL, TT_SOON) == 0);
    atomic_store(&s->in, 0);
    ts_rwmutex_runlock(s->rw);
    tt_signal(s->done);
}

static void writer_task(void *arg)
{
    struct side *s = arg;
    ts_rwmutex_lock(s->rw);
    atomic_store(&s->in, 1);
    TT_CHECK(tt_recv_within(s->release, NULL, NULL, TT_SOON) == 0);
    atomic_store(&s->in, 0);
    ts_rwmutex_unlock(s->rw);
    tt_signal(s->done);
}

static void *reader_thread(void *arg)
{
    reader_task(arg);
    return NULL;
}

static void side_init(struct side *s, ts_rwmutex_t *rw)
{
    *s = (struct side){.rw = rw, .release = ts_chan_make(0, 1),
                       .done = ts_chan_make(0, 1)};
}

static void side_free(struct side *s)
{
    ts_chan_release(s->release);
    ts_chan_release(s->done);
}

/* ---- behaviour -------------------------------------------------------- */

static void test_rwmutex_zero_value_readers_share_writer_excludes(void **state)
{
    (void)state;
    ts_rwmutex_t rw;
    memset(&rw, 0, sizeof rw);
    ts_rwmutex_rlock(&rw);
    assert_true(ts_rwmutex_tryrlock(&rw));
    assert_false(ts_rwmutex_trylock(&rw));
    ts_rwmutex_runlock(&rw);
    ts_rwmutex_runlock(&rw);
    assert_true(ts_rwmutex_trylock(&rw));
    assert_false(ts_rwmutex_tryrlock(&rw));
    assert_false(ts_rwmutex_trylock(&rw));
    ts_rwmutex_unlock(&rw);
    ts_rwmutex_lock(&rw);
    ts_rwmutex_unlock(&rw);
    tt_end(0);
}

/* Two readers (a task and a thread) hold it at once; a writer parks until
 * both left. */
static void test_rwmutex_writer_waits_for_readers(void **state)
{
    (void)state;
    static ts_rwmutex_t rw = TS_RWMUTEX_INIT;
    struct side r1, r2, w;
    side_init(&r1, &rw);
    side_init(&r2, &rw);
    side_init(&w, &rw);
    tt_go(reader_task, &r1);
    pthread_t t = tt_thread(reader_thread, &r2);
    while (!atomic_load(&r1.in) || !atomic_load(&r2.in))
        ts_sleep(TS_MILLISECOND / 4);
    uint64_t wid = tt_go(writer_task, &w);
    struct ts_task_info info;
    assert_true(tt_wait_parked(wid, TS_WAIT_RWMUTEX_LOCK, TT_SOON, &info));
    assert_ptr_equal(info.wait_object, &rw);
    tt_signal(r1.release);
    assert_int_equal(tt_wait_done(r1.done, 1, TT_SOON), 1);
    ts_sleep(2 * TS_MILLISECOND);
    assert_int_equal(atomic_load(&w.in), 0);
    tt_signal(r2.release);
    assert_int_equal(tt_wait_done(r2.done, 1, TT_SOON), 1);
    tt_join(t);
    while (!atomic_load(&w.in))
        ts_sleep(TS_MILLISECOND / 4);
    tt_signal(w.release);
    assert_int_equal(tt_wait_done(w.done, 1, TT_SOON), 1);
    side_free(&r1);
    side_free(&r2);
    side_free(&w);
    tt_end(0);
}

/* Go's writer preference: once a writer waits, a new reader parks (and
 * tryrlock fails) although a reader still holds the lock; the writer goes
 * first, then the new reader. */
static void test_rwmutex_pending_writer_stops_new_readers(void **state)
{
    (void)state;
    static ts_rwmutex_t rw = TS_RWMUTEX_INIT;
    struct side r1, r2, w;
    side_init(&r1, &rw);
    side_init(&r2, &rw);
    side_init(&w, &rw);
    tt_go(reader_task, &r1);
    while (!atomic_load(&r1.in))
        ts_sleep(TS_MILLISECOND / 4);
    uint64_t wid = tt_go(writer_task, &w);
    assert_true(tt_wait_parked(wid, TS_WAIT_RWMUTEX_LOCK, TT_SOON, NULL));
    assert_false(ts_rwmutex_tryrlock(&rw));
    uint64_t rid = tt_go(reader_task, &r2);
    struct ts_task_info info;
    assert_true(tt_wait_parked(rid, TS_WAIT_RWMUTEX_RLOCK, TT_SOON, &info));
    assert_ptr_equal(info.wait_object, &rw);
    tt_signal(r1.release);
    while (!atomic_load(&w.in))
        ts_sleep(TS_MILLISECOND / 4);
    assert_int_equal(atomic_load(&r2.in), 0);
    tt_signal(w.release);
    while (!atomic_load(&r2.in))
        ts_sleep(TS_MILLISECOND / 4);
    tt_signal(r2.release);
    assert_int_equal(tt_wait_done(r1.done, 1, TT_SOON), 1);
    assert_int_equal(tt_wait_done(w.done, 1, TT_SOON), 1);
    assert_int_equal(tt_wait_done(r2.done, 1, TT_SOON), 1);
    side_free(&r1);
    side_free(&r2);
    side_free(&w);
    tt_end(0);
}

/* ---- misuse --------------------------------------------------------- */

static void op_runlock(void *rw)
{
    ts_rwmutex_runlock(rw);
}

static void op_unlock(void *rw)
{
    ts_rwmutex_unlock(rw);
}

static void misuse_checks(void)
{
    ts_rwmutex_t rw = TS_RWMUTEX_INIT;
    TT_CHECK(tt_misuse_panic(op_runlock, &rw, "sync: RUnlock of unlocked RWMutex"));
    TT_CHECK(tt_misuse_panic(op_unlock, &rw, "sync: Unlock of unlocked RWMutex"));
    ts_rwmutex_lock(&rw);
    TT_CHECK(tt_misuse_panic(op_runlock, &rw, "sync: RUnlock of unlocked RWMutex"));
    ts_rwmutex_unlock(&rw);
    ts_rwmutex_rlock(&rw);
    TT_CHECK(tt_misuse_panic(op_unlock, &rw, "sync: Unlock of unlocked RWMutex"));
    ts_rwmutex_runlock(&rw);
    /* every bad call left the lock as it was: free */
    TT_CHECK(ts_rwmutex_trylock(&rw));
    ts_rwmutex_unlock(&rw);
    TT_CHECK(ts_rwmutex_tryrlock(&rw));
    ts_rwmutex_runlock(&rw);
}

static void misuse_task(void *arg)
{
    misuse_checks();
    tt_signal(arg);
}

static void test_rwmutex_misuse_panics(void **state)
{
    (void)state;
    misuse_checks();
    ts_chan_t *done = ts_chan_make(0, 0);
    tt_go(misuse_task, done);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    ts_chan_release(done);
    tt_end(0);
}

static int scenario_runlock_unlocked(void)
{
    ts_rwmutex_t rw = TS_RWMUTEX_INIT;
    ts_rwmutex_runlock(&rw);
    puts("UNREACHED");
    return 0;
}

static void test_rwmutex_runlock_unrecovered_exits(void **state)
{
    (void)state;
    tt_expect_panic("runlock_unlocked", "sync: RUnlock of unlocked RWMutex");
}

/* ---- stress --------------------------------------------------------- */

struct table {
    ts_rwmutex_t rw;
    long a, b;          /* writers keep a == b; guarded by rw */
    long per;
    atomic_int readers_in;
    atomic_int writers_in;
    atomic_long writes;
    ts_chan_t *done;
};

static void table_work(struct table *t, uint64_t seed)
{
    for (long i = 0; i < t->per; i++) {
        if (tt_rand(&seed) % 8 == 0) {
            ts_rwmutex_lock(&t->rw);
            if (atomic_fetch_add(&t->writers_in, 1) != 0 ||
                atomic_load(&t->readers_in) != 0)
                tt_failf(__FILE__, __LINE__, "writer not alone");
            t->a++;
            if (i % 4 == 0)
                ts_yield();
            t->b++;
            atomic_fetch_add(&t->writes, 1);
            atomic_fetch_sub(&t->writers_in, 1);
            ts_rwmutex_unlock(&t->rw);
        } else {
            ts_rwmutex_rlock(&t->rw);
            atomic_fetch_add(&t->readers_in, 1);
            if (atomic_load(&t->writers_in) != 0 || t->a != t->b)
                tt_failf(__FILE__, __LINE__, "reader saw a writer");
            if (i % 4 == 0)
                ts_yield();
            atomic_fetch_sub(&t->readers_in, 1);
            ts_rwmutex_runlock(&t->rw);
        }
    }
}

static atomic_ullong seeds;

static void table_task(void *arg)
{
    table_work(arg, atomic_fetch_add(&seeds, 1) + 1);
    tt_signal(((struct table *)arg)->done);
}

static void *table_thread(void *arg)
{
    table_task(arg);
    return NULL;
}

/* 1,000 tasks and 4 threads, 1,000,000 operations in all (scaled), one
 * in eight a write: readers never overlap a writer, writers never overlap
 * anyone, no update is lost and everyone finishes. */
static void test_rwmutex_stress_readers_and_writers(void **state)
{
    (void)state;
    enum { TASKS = 1000, THREADS = 4, ALL = TASKS + THREADS };
    static struct table t;
    memset(&t, 0, sizeof t);
    t.done = ts_chan_make(0, ALL);
    t.per = tt_scaled(1000000, ALL) / ALL;
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(table_thread, &t);
    for (int i = 0; i < TASKS; i++)
        tt_go(table_task, &t);
    assert_int_equal(tt_wait_done(t.done, ALL, TT_SOON), ALL);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    assert_int_equal(t.a, t.b);
    assert_int_equal(t.a, atomic_load(&t.writes));
    assert_true(ts_rwmutex_trylock(&t.rw));
    ts_rwmutex_unlock(&t.rw);
    ts_chan_release(t.done);
    tt_end(0);
}

static const struct tt_scenario scenarios[] = {
    {"runlock_unlocked", scenario_runlock_unlocked},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_rwmutex_zero_value_readers_share_writer_excludes),
        TT_TEST(test_rwmutex_writer_waits_for_readers),
        TT_TEST(test_rwmutex_pending_writer_stops_new_readers),
        TT_TEST(test_rwmutex_misuse_panics),
        TT_TEST(test_rwmutex_runlock_unrecovered_exits),
        TT_TEST(test_rwmutex_stress_readers_and_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
