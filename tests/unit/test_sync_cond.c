/* ts_cond_t (include/taskscope/sync.h): Go's sync.Cond — signal wakes the
 * oldest waiter, broadcast all, a signal with no waiter is not kept, and a
 * bounded buffer built on two conds moves every item exactly once. */
#include "tt.h"

struct room {
    ts_mutex_t m;
    ts_cond_t c;
    int generation;     /* guarded by m */
    atomic_int woken;
    int order[8];       /* guarded by m: who woke, in order */
    int norder;
    ts_chan_t *done;
};

struct guest {
    struct room *r;
    int id;
};

/* Waits for one generation change, then records itself. */
static void guest_task(void *arg)
{
    struct guest *g = arg;
    struct room *r = g->r;
    ts_mutex_lock(&r->m);
    int gen = r->generation;
    while (r->generation == gen)
        ts_cond_wait(&r->c);
    if (r->norder < 8)
        r->order[r->norder++] = g->id;
    ts_mutex_unlock(&r->m);
    atomic_fetch_add(&r->woken, 1);
    tt_signal(r->done);
}

static void *guest_thread(void *arg)
{
    guest_task(arg);
    return NULL;
}

static void room_init(struct room *r, int n)
{
    memset(r, 0, sizeof *r);
    ts_cond_init(&r->c, &r->m);
    r->done = ts_chan_make(0, n);
}

/* bump: change the generation under the mutex, then signal or broadcast. */
static void bump(struct room *r, bool all)
{
    ts_mutex_lock(&r->m);
    r->generation++;
    ts_mutex_unlock(&r->m);
    if (all)
        ts_cond_broadcast(&r->c);
    else
        ts_cond_signal(&r->c);
}

/* Three waiters queue one after the other: signal wakes them in that
 * order, one per signal. */
static void test_cond_signal_wakes_oldest_waiter(void **state)
{
    (void)state;
    static struct room r;
    room_init(&r, 3);
    struct guest g[3];
    for (int i = 0; i < 3; i++) {
        g[i] = (struct guest){&r, i};
        uint64_t id = tt_go(guest_task, &g[i]);
        struct ts_task_info info;
        assert_true(tt_wait_parked(id, TS_WAIT_COND, TT_SOON, &info));
        assert_ptr_equal(info.wait_object, &r.c);
    }
    for (int i = 0; i < 3; i++) {
        bump(&r, false);
        assert_int_equal(tt_wait_done(r.done, 1, TT_SOON), 1);
        ts_sleep(TS_MILLISECOND);
        assert_int_equal(atomic_load(&r.woken), i + 1);
    }
    ts_mutex_lock(&r.m);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.order[i], i);
    ts_mutex_unlock(&r.m);
    ts_chan_release(r.done);
    tt_end(0);
}

/* Broadcast wakes every waiter, tasks and threads alike. */
static void test_cond_broadcast_wakes_all(void **state)
{
    (void)state;
    enum { TASKS = 20, THREADS = 3 };
    static struct room r;
    room_init(&r, TASKS + THREADS);
    struct guest g[TASKS + THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < TASKS + THREADS; i++) {
        g[i] = (struct guest){&r, i};
        if (i < TASKS)
            tt_go(guest_task, &g[i]);
        else
            th[i - TASKS] = tt_thread(guest_thread, &g[i]);
    }
    assert_true(tt_wait_parked_on(&r.c, TS_WAIT_COND, TASKS, TT_SOON));
    /* the threads: wait until every ticket is out (wait_ counts them) */
    int64_t deadline = ts_now() + TT_SOON;
    while (__atomic_load_n(&r.c.wait_, __ATOMIC_ACQUIRE) < TASKS + THREADS &&
           ts_now() < deadline)
        ts_sleep(TS_MILLISECOND / 4);
    bump(&r, true);
    assert_int_equal(tt_wait_done(r.done, TASKS + THREADS, TT_SOON),
                     TASKS + THREADS);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    ts_chan_release(r.done);
    tt_end(0);
}

/* A signal nobody waits for is lost, as in Go: a later waiter sleeps
 * until the next one. */
static void test_cond_signal_without_waiter_is_not_kept(void **state)
{
    (void)state;
    static struct room r;
    room_init(&r, 1);
    ts_cond_signal(&r.c);
    ts_cond_broadcast(&r.c);
    struct guest g = {&r, 0};
    uint64_t id = tt_go(guest_task, &g);
    assert_true(tt_wait_parked(id, TS_WAIT_COND, TT_SOON, NULL));
    ts_cond_signal(&r.c); /* generation unchanged: it waits again */
    ts_sleep(2 * TS_MILLISECOND);
    assert_true(tt_wait_parked(id, TS_WAIT_COND, TT_SOON, NULL));
    assert_int_equal(atomic_load(&r.woken), 0);
    bump(&r, false);
    assert_int_equal(tt_wait_done(r.done, 1, TT_SOON), 1);
    ts_chan_release(r.done);
    tt_end(0);
}

/* ---- stress: a bounded buffer on two conds --------------------------- */

enum { CAP = 8 };

struct buffer {
    ts_mutex_t m;
    ts_cond_t not_empty, not_full;
    long items[CAP];    /* guarded by m */
    int head, count;    /* guarded by m */
    long sum;           /* guarded by m: what consumers took */
    long per;           /* items per producer */
    ts_chan_t *done;
};

static void produce(struct buffer *b)
{
    for (long i = 1; i <= b->per; i++) {
        ts_mutex_lock(&b->m);
        while (b->count == CAP)
            ts_cond_wait(&b->not_full);
        b->items[(b->head + b->count++) % CAP] = i;
        ts_mutex_unlock(&b->m);
        ts_cond_signal(&b->not_empty);
    }
}

static void consume(struct buffer *b)
{
    for (long i = 0; i < b->per; i++) {
        ts_mutex_lock(&b->m);
        while (b->count == 0)
            ts_cond_wait(&b->not_empty);
        b->sum += b->items[b->head];
        b->head = (b->head + 1) % CAP;
        b->count--;
        ts_mutex_unlock(&b->m);
        ts_cond_signal(&b->not_full);
    }
}

static void producer_task(void *arg)
{
    produce(arg);
    tt_signal(((struct buffer *)arg)->done);
}

static void consumer_task(void *arg)
{
    consume(arg);
    tt_signal(((struct buffer *)arg)->done);
}

static void *consumer_thread(void *arg)
{
    consumer_task(arg);
    return NULL;
}

static void *producer_thread(void *arg)
{
    producer_task(arg);
    return NULL;
}

/* 500 producers and 500 consumers (2 of each plain threads) move
 * 1,000,000 items (scaled) through an 8-slot buffer: every item arrives
 * exactly once (the sums match) and nobody is left asleep. */
static void test_cond_stress_bounded_buffer(void **state)
{
    (void)state;
    enum { PAIRS = 500, THREAD_PAIRS = 2 };
    static struct buffer b;
    memset(&b, 0, sizeof b);
    ts_cond_init(&b.not_empty, &b.m);
    ts_cond_init(&b.not_full, &b.m);
    b.done = ts_chan_make(0, 2 * PAIRS);
    b.per = tt_scaled(1000000, 2 * PAIRS) / PAIRS;
    pthread_t th[2 * THREAD_PAIRS];
    for (int i = 0; i < THREAD_PAIRS; i++) {
        th[2 * i] = tt_thread(producer_thread, &b);
        th[2 * i + 1] = tt_thread(consumer_thread, &b);
    }
    for (int i = THREAD_PAIRS; i < PAIRS; i++) {
        tt_go(producer_task, &b);
        tt_go(consumer_task, &b);
    }
    assert_int_equal(tt_wait_done(b.done, 2 * PAIRS, TT_SOON), 2 * PAIRS);
    for (int i = 0; i < 2 * THREAD_PAIRS; i++)
        tt_join(th[i]);
    assert_int_equal(b.count, 0);
    assert_int_equal(b.sum, (long)PAIRS * (b.per * (b.per + 1) / 2));
    ts_chan_release(b.done);
    tt_end(0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_cond_signal_wakes_oldest_waiter),
        TT_TEST(test_cond_broadcast_wakes_all),
        TT_TEST(test_cond_signal_without_waiter_is_not_kept),
        TT_TEST(test_cond_stress_bounded_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
