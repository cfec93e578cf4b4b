/* ts_pool_t (include/taskscope/pool.h): Go's sync.Pool — new_fn when
 * empty, reuse on the same task, the two-step victim cleanup, and no
 * object lost or handed out twice under contention. */
#include "tt.h"

struct obj {
    atomic_int in_use;   /* 1 while a caller holds it from get */
    long payload;        /* plain: written by the holder, TSan checks it */
};

struct counts {
    atomic_long made;
    atomic_long freed;
};

static void *make_obj(void *arg)
{
    struct counts *c = arg;
    struct obj *o = calloc(1, sizeof *o);
    if (o)
        atomic_fetch_add(&c->made, 1);
    return o;
}

static void free_obj(void *x, void *arg)
{
    struct counts *c = arg;
    struct obj *o = x;
    TT_CHECK_EQ(atomic_load(&o->in_use), 0);
    atomic_fetch_add(&c->freed, 1);
    free(o);
}

static void init_pool(ts_pool_t *p, struct counts *c)
{
    memset(c, 0, sizeof *c);
    ts_pool_init(p, make_obj, c);
    p->free_fn = free_obj;
}

/* ---- basics --------------------------------------------------------- */

static void test_pool_get_empty_calls_new(void **state)
{
    (void)state;
    ts_pool_t p;
    struct counts c;
    init_pool(&p, &c);
    void *a = ts_pool_get(&p), *b = ts_pool_get(&p);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(atomic_load(&c.made), 2);
    free(a);
    free(b);
    ts_pool_destroy(&p);
    tt_end(0);
}

static void test_pool_zero_value_get_returns_null(void **state)
{
    (void)state;
    ts_pool_t p;
    memset(&p, 0, sizeof p);
    assert_null(ts_pool_get(&p));
    static int x;
    ts_pool_put(&p, &x);
    ts_pool_put(&p, NULL); /* no-op, as Put(nil) */
    assert_ptr_equal(ts_pool_get(&p), &x);
    assert_null(ts_pool_get(&p));
    ts_pool_destroy(&p);
    tt_end(0);
}

struct same_task {
    ts_pool_t *p;
    ts_chan_t *done;
};

static void put_get_task(void *arg)
{
    struct same_task *s = arg;
    void *a = ts_pool_get(s->p);
    ts_pool_put(s->p, a);
    TT_CHECK(ts_pool_get(s->p) == a); /* from the P's private slot */
    void *b = ts_pool_get(s->p);
    TT_CHECK(b != a);
    ts_pool_put(s->p, a);
    ts_pool_put(s->p, b);
    tt_signal(s->done);
}

/* Put then get on the same task returns the same object. */
static void test_pool_put_then_get_same_task_returns_it(void **state)
{
    (void)state;
    ts_pool_t p;
    struct counts c;
    init_pool(&p, &c);
    struct same_task s = {&p, ts_chan_make(0, 1)};
    tt_go(put_get_task, &s);
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    ts_chan_release(s.done);
    assert_int_equal(atomic_load(&c.made), 2);
    ts_pool_destroy(&p);
    assert_int_equal(atomic_load(&c.freed), 2);
    tt_end(0);
}

/* A plain thread's put goes to the threads' list; its get takes it back. */
static void test_pool_plain_thread_put_get(void **state)
{
    (void)state;
    ts_pool_t p;
    struct counts c;
    init_pool(&p, &c);
    void *a = ts_pool_get(&p);
    ts_pool_put(&p, a);
    assert_ptr_equal(ts_pool_get(&p), a);
    free(a);
    ts_pool_destroy(&p);
    tt_end(0);
}

/* The victim cache: one cleanup keeps objects reachable by get, a second
 * drops them through free_fn (Go's two GCs). */
static void test_pool_cleanup_twice_drops(void **state)
{
    (void)state;
    ts_pool_t p;
    struct counts c;
    init_pool(&p, &c);
    void *a = ts_pool_get(&p), *b = ts_pool_get(&p);
    ts_pool_put(&p, a);
    ts_pool_put(&p, b);
    ts_pool_cleanup();
    assert_int_equal(atomic_load(&c.freed), 0);
    void *got = ts_pool_get(&p); /* from the victim cache */
    assert_true(got == a || got == b);
    ts_pool_put(&p, got); /* back in the primary cache */
    ts_pool_cleanup();    /* drops the other, keeps got as victim */
    assert_int_equal(atomic_load(&c.freed), 1);
    ts_pool_cleanup();
    assert_int_equal(atomic_load(&c.freed), 2);
    void *fresh = ts_pool_get(&p);
    assert_int_equal(atomic_load(&c.made), 3);
    ts_pool_put(&p, fresh);
    ts_pool_destroy(&p);
    assert_int_equal(atomic_load(&c.freed), 3);
    tt_end(0);
}

/* cleanup_every: put runs the cleanup itself once that long has passed. */
static void test_pool_timed_cleanup_in_put(void **state)
{
    (void)state;
    ts_pool_t p;
    struct counts c;
    init_pool(&p, &c);
    p.cleanup_every = 20 * TS_MILLISECOND;
    void *o[3];
    for (int i = 0; i < 3; i++)
        o[i] = ts_pool_get(&p);
    ts_pool_put(&p, o[0]);
    ts_sleep(40 * TS_MILLISECOND);
    ts_pool_put(&p, o[1]); /* cleanup: o[0], o[1] become victims */
    assert_int_equal(atomic_load(&c.freed), 0);
    ts_sleep(40 * TS_MILLISECOND);
    ts_pool_put(&p, o[2]); /* cleanup: both dropped, o[2] a victim */
    assert_int_equal(atomic_load(&c.freed), 2);
    ts_pool_destroy(&p);
    assert_int_equal(atomic_load(&c.freed), 3);
    tt_end(0);
}

/* ---- contention ------------------------------------------------------ */

struct hammer {
    ts_pool_t pool;
    struct counts c;
    long ops;             /* per worker */
    atomic_long dup;      /* gets that returned an object in use */
    atomic_bool stop;     /* stops the cleaner thread */
    ts_chan_t *done;
};

static void use_objects(struct hammer *h, uint64_t seed)
{
    struct obj *held[4];
    for (long i = 0; i < h->ops; i++) {
        int n = 1 + (int)(tt_rand(&seed) % 4);
        long tag = (long)seed;
        for (int k = 0; k < n; k++) {
            held[k] = ts_pool_get(&h->pool);
            if (atomic_exchange(&held[k]->in_use, 1) != 0)
                atomic_fetch_add(&h->dup, 1);
            held[k]->payload = tag; /* a race if put !-> get */
        }
        if (tt_rand(&seed) % 8 == 0)
            ts_yield();
        for (int k = 0; k < n; k++) {
            TT_CHECK(held[k]->payload == tag);
            atomic_store(&held[k]->in_use, 0);
            ts_pool_put(&h->pool, held[k]);
        }
    }
}

static void hammer_task(void *arg)
{
    struct hammer *h = arg;
    use_objects(h, ts_self() * 7919 + 1);
    tt_signal(h->done);
}

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    use_objects(h, (uint64_t)pthread_self() | 1);
    return NULL;
}

static void *cleaner_thread(void *arg)
{
    struct hammer *h = arg;
    while (!atomic_load(&h->stop)) {
        ts_pool_cleanup();
        usleep(200);
    }
    return NULL;
}

/* 1,000 tasks and 2 threads get 1-4 objects, yield, put them back, while a
 * thread runs cleanups: no object is ever held twice (in_use), none is
 * lost (made == freed after destroy), free_fn never sees a held one. */
static void test_pool_hammer_never_loses_or_duplicates(void **state)
{
    (void)state;
    enum { TASKS = 1000, THREADS = 2 };
    static struct hammer h;
    memset(&h, 0, sizeof h);
    init_pool(&h.pool, &h.c);
    h.ops = tt_scaled(1000000, 20000) / (TASKS + THREADS);
    h.done = ts_chan_make(0, TASKS);
    pthread_t cleaner = tt_thread(cleaner_thread, &h);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(hammer_thread, &h);
    for (int i = 0; i < TASKS; i++)
        tt_go(hammer_task, &h);
    assert_int_equal(tt_wait_done(h.done, TASKS, 60 * TS_SECOND), TASKS);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    atomic_store(&h.stop, true);
    tt_join(cleaner);
    assert_int_equal(atomic_load(&h.dup), 0);
    ts_pool_destroy(&h.pool);
    assert_int_equal(atomic_load(&h.c.made), atomic_load(&h.c.freed));
    ts_chan_release(h.done);
    tt_end(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TT_TEST(test_pool_get_empty_calls_new),
        TT_TEST(test_pool_zero_value_get_returns_null),
        TT_TEST(test_pool_put_then_get_same_task_returns_it),
        TT_TEST(test_pool_plain_thread_put_get),
        TT_TEST(test_pool_cleanup_twice_drops),
        TT_TEST(test_pool_timed_cleanup_in_put),
        TT_TEST(test_pool_hammer_never_loses_or_duplicates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
