/* ts_sem_t (include/taskscope/sync.h): golang.org/x/sync/semaphore's
 * Weighted — FIFO service (a large head request holds back smaller ones),
 * try_acquire, deadlines, the release misuse panic, and a stress run that
 * never exceeds the size. */
#include "tt.h"

/* ---- helpers ---------------------------------------------------------- */

struct req {
    ts_sem_t *s;
    int64_t n;
    int64_t deadline;   /* 0: no deadline */
    int rc;
    atomic_int got;
    ts_chan_t *done;
};

static void acquire_task(void *arg)
{
    struct req *r = arg;
    r->rc = r->deadline ? ts_sem_acquire_deadline(r->s, r->n, r->deadline)
                        : ts_sem_acquire(r->s, r->n);
    atomic_store(&r->got, r->rc == 0);
    tt_signal(r->done);
}

static void *acquire_thread(void *arg)
{
    acquire_task(arg);
    return NULL;
}

/* ---- behaviour -------------------------------------------------------- */

static void test_sem_try_acquire_within_size(void **state)
{
    (void)state;
    ts_sem_t s = TS_SEM_INIT(3);
    assert_true(ts_sem_try_acquire(&s, 2));
    assert_false(ts_sem_try_acquire(&s, 2));
    assert_true(ts_sem_try_acquire(&s, 1));
    assert_false(ts_sem_try_acquire(&s, 1));
    ts_sem_release(&s, 3);
    assert_int_equal(ts_sem_acquire(&s, 3), 0);
    ts_sem_release(&s, 3);
    ts_sem_t s2;
    ts_sem_init(&s2, 5);
    assert_true(ts_sem_try_acquire(&s2, 5));
    ts_sem_release(&s2, 5);
    tt_end(0);
}

/* Size 10, 8 held: A wants 5 and queues; B wants 1 and queues behind A
 * although 2 are free (and try_acquire(1) fails): first come, first
 * served. Releasing 8 serves A, then B. */
static void test_sem_large_head_request_holds_back_smaller(void **state)
{
    (void)state;
    ts_sem_t s = TS_SEM_INIT(10);
    ts_chan_t *done = ts_chan_make(0, 2);
    assert_true(ts_sem_try_acquire(&s, 8));
    struct req a = {.s = &s, .n = 5, .done = done};
    struct req b = {.s = &s, .n = 1, .done = done};
    uint64_t ida = tt_go(acquire_task, &a);
    struct ts_task_info info;
    assert_true(tt_wait_parked(ida, TS_WAIT_SEMACQUIRE, TT_SOON, &info));
    assert_ptr_equal(info.wait_object, &s);
    uint64_t idb = tt_go(acquire_task, &b);
    assert_true(tt_wait_parked(idb, TS_WAIT_SEMACQUIRE, TT_SOON, NULL));
    assert_false(ts_sem_try_acquire(&s, 1));
    ts_sem_release(&s, 8);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_true(ts_sem_try_acquire(&s, 4)); /* 6 held by A and B */
    assert_false(ts_sem_try_acquire(&s, 1));
    ts_sem_release(&s, 10);
    ts_chan_release(done);
    tt_end(0);
}

/* A plain thread waits for units a task holds. */
static void release_later(void *arg)
{
    ts_sleep(2 * TS_MILLISECOND);
    ts_sem_release(arg, 2);
}

static void test_sem_thread_waits_for_task_release(void **state)
{
    (void)state;
    ts_sem_t s = TS_SEM_INIT(2);
    ts_chan_t *done = ts_chan_make(0, 1);
    assert_true(ts_sem_try_acquire(&s, 2));
    struct req r = {.s = &s, .n = 2, .done = done};
    pthread_t t = tt_thread(acquire_thread, &r);
    tt_go(release_later, &s);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    tt_join(t);
    assert_int_equal(r.rc, 0);
    ts_sem_release(&s, 2);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- deadlines -------------------------------------------------------- */

static void test_sem_deadline_times_out_holding_nothing(void **state)
{
    (void)state;
    ts_sem_t s = TS_SEM_INIT(4);
    assert_true(ts_sem_try_acquire(&s, 3));
    /* from the cmocka thread, then from a task */
    assert_int_equal(ts_sem_acquire_deadline(&s, 2, ts_now() +
                                                         2 * TS_MILLISECOND),
                     ETIMEDOUT);
    ts_chan_t *done = ts_chan_make(0, 1);
    struct req r = {.s = &s, .n = 2, .deadline = ts_now() + 2 * TS_MILLISECOND,
                    .done = done};
    tt_go(acquire_task, &r);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(r.rc, ETIMEDOUT);
    assert_true(ts_sem_try_acquire(&s, 1)); /* nothing leaked: 4 held */
    assert_false(ts_sem_try_acquire(&s, 1));
    ts_sem_release(&s, 4);
    /* an expired deadline fails even with units free, as in Go */
    assert_int_equal(ts_sem_acquire_deadline(&s, 1, ts_now() - 1), ETIMEDOUT);
    assert_int_equal(ts_sem_acquire_deadline(&s, 1, ts_now() + TT_SOON), 0);
    ts_sem_release(&s, 1);
    /* more than size: never fits, times out, blocks nobody */
    assert_int_equal(ts_sem_acquire_deadline(&s, 5, ts_now() +
                                                         TS_MILLISECOND),
                     ETIMEDOUT);
    ts_chan_release(done);
    tt_end(0);
}

/* The head times out: the smaller request queued behind it fits and is
 * served at once. */
static void test_sem_head_timeout_serves_those_behind(void **state)
{
    (void)state;
    ts_sem_t s = TS_SEM_INIT(10);
    ts_chan_t *done = ts_chan_make(0, 2);
    assert_true(ts_sem_try_acquire(&s, 8));
    struct req a = {.s = &s, .n = 5, .done = done,
                    .deadline = ts_now() + 30 * TS_MILLISECOND};
    struct req b = {.s = &s, .n = 2, .done = done};
    uint64_t ida = tt_go(acquire_task, &a);
    assert_true(tt_wait_parked(ida, TS_WAIT_SEMACQUIRE, TT_SOON, NULL));
    tt_go(acquire_task, &b);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);
    assert_int_equal(a.rc, ETIMEDOUT);
    assert_int_equal(b.rc, 0);
    ts_sem_release(&s, 10);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- misuse --------------------------------------------------------- */

static void op_release_two(void *s)
{
    ts_sem_release(s, 2);
}

static void misuse_checks(void)
{
    ts_sem_t s = TS_SEM_INIT(5);
    TT_CHECK(ts_sem_try_acquire(&s, 1));
    TT_CHECK(tt_misuse_panic(op_release_two, &s,
                         "semaphore: released more than held"));
    /* still one held */
    TT_CHECK(ts_sem_try_acquire(&s, 4));
    TT_CHECK(!ts_sem_try_acquire(&s, 1));
    ts_sem_release(&s, 5);
}

static void misuse_task(void *arg)
{
    misuse_checks();
    tt_signal(arg);
}

static void test_sem_release_more_than_held_panics(void **state)
{
    (void)state;
    misuse_checks();
    ts_chan_t *done = ts_chan_make(0, 0);
    tt_go(misuse_task, done);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- stress --------------------------------------------------------- */

struct pool {
    ts_sem_t s;
    atomic_long in_use;
    atomic_long timeouts;
    long per;
    ts_chan_t *done;
};

enum { POOL_SIZE = 10 };

static atomic_ullong seeds;

static void pool_work(struct pool *p)
{
    uint64_t seed = atomic_fetch_add(&seeds, 1) + 1;
    for (long i = 0; i < p->per; i++) {
        int64_t n = 1 + (int64_t)(tt_rand(&seed) % 3);
        int rc = i % 8 == 0
                     ? ts_sem_acquire_deadline(&p->s, n,
                                               ts_now() + TS_MICROSECOND * 50)
                     : ts_sem_acquire(&p->s, n);
        if (rc == ETIMEDOUT) {
            atomic_fetch_add(&p->timeouts, 1);
            continue;
        }
        long now = atomic_fetch_add(&p->in_use, n) + n;
        if (now > POOL_SIZE)
            tt_failf(__FILE__, __LINE__, "%ld units in use", now);
        if (i % 2 == 0)
            ts_yield();
        atomic_fetch_sub(&p->in_use, n);
        ts_sem_release(&p->s, n);
    }
}

static void pool_task(void *arg)
{
    pool_work(arg);
    tt_signal(((struct pool *)arg)->done);
}

static void *pool_thread(void *arg)
{
    pool_task(arg);
    return NULL;
}

/* 1,000 tasks and 2 threads, 1,000,000 acquisitions in all (scaled), one
 * in eight with a short deadline: never more than the size in use, every
 * worker finishes, and all units are back at the end. */
static void test_sem_stress_never_exceeds_size(void **state)
{
    (void)state;
    enum { TASKS = 1000, THREADS = 2, ALL = TASKS + THREADS };
    static struct pool p;
    memset(&p, 0, sizeof p);
    ts_sem_init(&p.s, POOL_SIZE);
    p.done = ts_chan_make(0, ALL);
    p.per = tt_scaled(1000000, ALL) / ALL;
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(pool_thread, &p);
    for (int i = 0; i < TASKS; i++)
        tt_go(pool_task, &p);
    assert_int_equal(tt_wait_done(p.done, ALL, TT_SOON), ALL);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    assert_true(ts_sem_try_acquire(&p.s, POOL_SIZE));
    ts_sem_release(&p.s, POOL_SIZE);
    printf("timeouts: %ld\n", atomic_load(&p.timeouts));
    ts_chan_release(p.done);
    tt_end(0);
}

/* Size one is a mutex: a plain counter guarded by it adds up exactly, and
 * release happens before the next acquire (TSan checks it). */
struct binary {
    ts_sem_t s;
    long counter;       /* guarded by s */
    long per;
    ts_chan_t *done;
};

static void binary_task(void *arg)
{
    struct binary *b = arg;
    for (long i = 0; i < b->per; i++) {
        TT_CHECK_EQ(ts_sem_acquire(&b->s, 1), 0);
        b->counter++;
        if (i % 16 == 0)
            ts_yield();
        ts_sem_release(&b->s, 1);
    }
    tt_signal(b->done);
}

static void test_sem_size_one_counter_exact(void **state)
{
    (void)state;
    enum { TASKS = 100 };
    static struct binary b;
    memset(&b, 0, sizeof b);
    ts_sem_init(&b.s, 1);
    b.done = ts_chan_make(0, TASKS);
    b.per = tt_scaled(100000, TASKS) / TASKS;
    for (int i = 0; i < TASKS; i++)
        tt_go(binary_task, &b);
    assert_int_equal(tt_wait_done(b.done, TASKS, TT_SOON), TASKS);
    assert_int_equal(b.counter, b.per * TASKS);
    ts_chan_release(b.done);
    tt_end(0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_sem_try_acquire_within_size),
        TT_TEST(test_sem_large_head_request_holds_back_smaller),
        TT_TEST(test_sem_thread_waits_for_task_release),
        TT_TEST(test_sem_deadline_times_out_holding_nothing),
        TT_TEST(test_sem_head_timeout_serves_those_behind),
        TT_TEST(test_sem_release_more_than_held_panics),
        TT_TEST(test_sem_stress_never_exceeds_size),
        TT_TEST(test_sem_size_one_counter_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
