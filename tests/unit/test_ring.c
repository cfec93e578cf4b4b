/* test_ring.c — profiler/ring.c: SPSC event rings and the per-thread
 * registry.
 *
 * Single-ring behaviour is checked on standalone rings; the concurrency
 * tests run a real producer and consumer (bounded by TASKSCOPE_TEST_SCALE)
 * and check conservation: every record pushed is consumed exactly once, in
 * order, or was refused by push and counted as dropped. The registry is
 * process-wide, so each registry test tags its records with its own
 * `object` value and counts only those. */
#include "tt_prof.h"

#include "profiler/contention.h"
#include "profiler/ring.h"

static struct ts__event ev_seq(uint64_t seq, uint64_t object)
{
    struct ts__event ev = {0};
    ev.time = seq;
    ev.task = seq * 3;
    ev.object = object;
    ev.kind = TS__EV_BLOCK;
    ev.wait_reason = (uint8_t)(seq % 7);
    return ev;
}

static void test_ring_new_rejects_bad_capacity(void **state)
{
    (void)state;
    struct ts__ring *r;
    assert_int_equal(ts__ring_new(0, &r), EINVAL);
    assert_int_equal(ts__ring_new(25, &r), EINVAL);
    assert_int_equal(ts__ring_new(4, NULL), EINVAL);
    tp_end();
}

static void test_ring_layout_separates_head_and_tail(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct ts__event), 64);
    size_t tail = offsetof(struct ts__ring, tail);
    size_t head = offsetof(struct ts__ring, head);
    assert_true(head / 64 != tail / 64);
    assert_int_equal(offsetof(struct ts__ring, slots) % 64, 0);
    tp_end();
}

static void test_ring_pop_returns_records_in_push_order(void **state)
{
    (void)state;
    struct ts__ring *r;
    assert_int_equal(ts__ring_new(4, &r), 0);
    struct ts__event out;
    assert_false(ts__ring_pop(r, &out));
    for (uint64_t i = 0; i < 10; i++) {
        struct ts__event ev = ev_seq(i, 0xabc);
        assert_true(ts__ring_push(r, &ev));
    }
    for (uint64_t i = 0; i < 10; i++) {
        assert_true(ts__ring_pop(r, &out));
        assert_int_equal(out.time, i);
        assert_int_equal(out.task, i * 3);
        assert_int_equal(out.object, 0xabc);
        assert_int_equal(out.kind, TS__EV_BLOCK);
    }
    assert_false(ts__ring_pop(r, &out));
    ts__ring_free(r);
    tp_end();
}

static void test_ring_wraps_around(void **state)
{
    (void)state;
    struct ts__ring *r;
    assert_int_equal(ts__ring_new(2, &r), 0); /* 4 slots */
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 100; round++) {
        for (int k = 0; k < 3; k++) {
            struct ts__event ev = ev_seq(next_in++, 0);
            assert_true(ts__ring_push(r, &ev));
        }
        struct ts__event out;
        for (int k = 0; k < 3; k++) {
            assert_true(ts__ring_pop(r, &out));
            assert_int_equal(out.time, next_out++);
        }
    }
    assert_true(r->tail > 4 * r->cap); /* the indices went round */
    assert_int_equal(ts__ring_dropped(r), 0);
    ts__ring_free(r);
    tp_end();
}

static void test_ring_full_drops_and_counts(void **state)
{
    (void)state;
    struct ts__ring *r;
    assert_int_equal(ts__ring_new(3, &r), 0); /* 8 slots */
    for (uint64_t i = 0; i < 8; i++) {
        struct ts__event ev = ev_seq(i, 0);
        assert_true(ts__ring_push(r, &ev));
    }
    for (uint64_t i = 8; i < 13; i++) {
        struct ts__event ev = ev_seq(i, 0);
        assert_false(ts__ring_push(r, &ev));
    }
    assert_int_equal(ts__ring_dropped(r), 5);
    /* The kept records are the first 8, untouched by the refused pushes. */
    struct ts__event out;
    assert_true(ts__ring_pop(r, &out));
    assert_int_equal(out.time, 0);
    /* One slot freed: one push fits again. */
    struct ts__event ev = ev_seq(100, 0);
    assert_true(ts__ring_push(r, &ev));
    assert_false(ts__ring_push(r, &ev));
    assert_int_equal(ts__ring_dropped(r), 6);
    for (uint64_t i = 1; i < 8; i++) {
        assert_true(ts__ring_pop(r, &out));
        assert_int_equal(out.time, i);
    }
    assert_true(ts__ring_pop(r, &out));
    assert_int_equal(out.time, 100);
    assert_false(ts__ring_pop(r, &out));
    ts__ring_free(r);
    tp_end();
}

struct collect {
    uint64_t n;
    uint64_t next;  /* expected time of the next record */
    uint64_t object; /* count only records with this object (0 = all) */
    bool in_order;
};

static void collect_fn(const struct ts__event *ev, void *arg)
{
    struct collect *c = arg;
    if (c->object != 0 && ev->object != c->object)
        return;
    if (ev->time != c->next)
        c->in_order = false;
    c->next = ev->time + 1;
    c->n++;
}

static void test_ring_drain_passes_records_oldest_first(void **state)
{
    (void)state;
    struct ts__ring *r;
    assert_int_equal(ts__ring_new(8, &r), 0);
    for (uint64_t i = 0; i < 200; i++) {
        struct ts__event ev = ev_seq(i, 0);
        assert_true(ts__ring_push(r, &ev));
    }
    struct collect c = {.in_order = true};
    assert_int_equal(ts__ring_drain(r, 50, collect_fn, &c), 50);
    assert_int_equal(c.n, 50);
    assert_int_equal(ts__ring_drain(r, 0, collect_fn, &c), 150);
    assert_int_equal(c.n, 200);
    assert_true(c.in_order);
    assert_int_equal(ts__ring_drain(r, 0, collect_fn, &c), 0);
    ts__ring_free(r);
    tp_end();
}

/* ---- one producer, one consumer ------------------------------------ */

/* The producer pushes `total` numbered records as fast as it can into a
 * small ring, so it overruns the consumer; the consumer alternates pop and
 * drain. Conservation: consumed == accepted pushes, accepted + dropped ==
 * total, and what was consumed arrived in increasing order without
 * duplicates (time strictly increasing). */
struct spsc {
    struct ts__ring *r;
    uint64_t total;
    uint64_t accepted;  /* producer's own count; read after join */
    int done;           /* atomic: producer finished */
};

static void *spsc_producer(void *p)
{
    struct spsc *s = p;
    for (uint64_t i = 0; i < s->total; i++) {
        struct ts__event ev = ev_seq(i, 1);
        if (ts__ring_push(s->r, &ev))
            s->accepted++;
    }
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

struct strict {
    uint64_t n;
    uint64_t last; /* time of the previous record + 1 */
    bool ok;
};

static void strict_fn(const struct ts__event *ev, void *arg)
{
    struct strict *c = arg;
    if (ev->time + 1 <= c->last || ev->task != ev->time * 3)
        c->ok = false;
    c->last = ev->time + 1;
    c->n++;
}

static void test_ring_spsc_stress_conserves_records(void **state)
{
    (void)state;
    struct spsc s = {.total = (uint64_t)tt_scaled(2000000, 20000)};
    assert_int_equal(ts__ring_new(6, &s.r), 0); /* 64 slots */
    pthread_t t = tt_thread(spsc_producer, &s);
    struct strict c = {.ok = true};
    for (uint64_t k = 0;; k++) {
        bool done = __atomic_load_n(&s.done, __ATOMIC_ACQUIRE);
        if (k & 1) {
            struct ts__event ev;
            while (ts__ring_pop(s.r, &ev))
                strict_fn(&ev, &c);
        } else {
            ts__ring_drain(s.r, 0, strict_fn, &c);
        }
        if (done && ts__ring_drain(s.r, 0, strict_fn, &c) == 0)
            break;
    }
    tt_join(t);
    assert_true(c.ok);
    assert_int_equal(c.n, s.accepted);
    assert_int_equal(s.accepted + ts__ring_dropped(s.r), s.total);
    ts__ring_free(s.r);
    tp_end();
}

/* ---- registry ------------------------------------------------------ */

static void test_ring_for_thread_returns_same_ring(void **state)
{
    (void)state;
    struct ts__ring *a = ts__ring_for_thread();
    assert_non_null(a);
    assert_ptr_equal(ts__ring_for_thread(), a);
    assert_int_equal(a->cap, (uint64_t)1 << TS__RING_THREAD_LOG2);
    assert_int_equal(a->tid, gettid());
    tp_end();
}

static void count_ring(struct ts__ring *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
}

static int registry_size(void)
{
    int n = 0;
    ts__ring_foreach(count_ring, &n);
    return n;
}

struct find_ring {
    const struct ts__ring *want;
    bool found;
};

static void find_ring_fn(struct ts__ring *r, void *arg)
{
    struct find_ring *f = arg;
    if (r == f->want)
        f->found = true;
}

static bool registered(const struct ts__ring *r)
{
    struct find_ring f = {.want = r};
    ts__ring_foreach(find_ring_fn, &f);
    return f.found;
}

struct pusher {
    uint64_t object;
    uint64_t n;
    struct ts__ring *ring; /* the thread's ring, for the test to check */
    pthread_barrier_t *pushed; /* NULL: exit right after pushing */
    pthread_barrier_t *release;
};

static void *pusher_main(void *p)
{
    struct pusher *u = p;
    u->ring = ts__ring_for_thread();
    for (uint64_t i = 0; i < u->n; i++) {
        struct ts__event ev = ev_seq(i, u->object);
        TT_CHECK(ts__ring_record(&ev));
    }
    if (u->pushed) {
        pthread_barrier_wait(u->pushed);
        pthread_barrier_wait(u->release);
    }
    return NULL;
}

/* collect_fn into c[ev->object - 0x7000] for the three objects. */
static void collect_each_fn(const struct ts__event *ev, void *arg)
{
    struct collect *c = arg;
    if (ev->object >= 0x7000 && ev->object < 0x7003)
        collect_fn(ev, &c[ev->object - 0x7000]);
}

static void test_ring_registry_drains_every_live_thread(void **state)
{
    (void)state;
    enum { THREADS = 3 };
    pthread_barrier_t pushed, release;
    pthread_barrier_init(&pushed, NULL, THREADS + 1);
    pthread_barrier_init(&release, NULL, THREADS + 1);
    struct pusher u[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        u[i] = (struct pusher){.object = 0x7000 + i, .n = 100 + i,
                               .pushed = &pushed, .release = &release};
        t[i] = tt_thread(pusher_main, &u[i]);
    }
    pthread_barrier_wait(&pushed);
    for (int i = 0; i < THREADS; i++)
        assert_true(registered(u[i].ring));
    struct collect c[THREADS];
    for (int i = 0; i < THREADS; i++)
        c[i] = (struct collect){.object = 0x7000 + i, .in_order = true};
    ts__ring_drain_all(collect_each_fn, c);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(c[i].n, 100 + i);
        assert_true(c[i].in_order);
        /* Drained rings of live threads stay registered. */
        assert_true(registered(u[i].ring));
    }
    pthread_barrier_wait(&release);
    for (int i = 0; i < THREADS; i++)
        tt_join(t[i]);
    pthread_barrier_destroy(&pushed);
    pthread_barrier_destroy(&release);
    ts__ring_drain_all(collect_fn, &(struct collect){.in_order = true});
    tp_end();
}

static void test_ring_registry_reclaims_exited_thread(void **state)
{
    (void)state;
    ts__ring_drain_all(collect_fn, &(struct collect){.in_order = true});
    int before = registry_size();
    struct pusher u = {.object = 0x8001, .n = 500};
    pthread_t t = tt_thread(pusher_main, &u);
    tt_join(t);
    /* Exited, not yet drained: still registered, records still there. */
    assert_true(registered(u.ring));
    assert_int_equal(registry_size(), before + 1);
    struct collect c = {.object = 0x8001, .in_order = true};
    ts__ring_drain_all(collect_fn, &c);
    assert_int_equal(c.n, 500);
    assert_true(c.in_order);
    /* Dead and drained: unlinked and freed. */
    assert_int_equal(registry_size(), before);
    tp_end();
}

/* A record made from a thread-exit destructor that runs after the ring's
 * (glibc runs key destructors in key-creation order, and this key is
 * created after the registry's) must not reach the ring the drainer is
 * about to free: it is refused and counted as lost. */
static pthread_key_t late_key;
static int late_recorded; /* written by the exiting thread, read after join */
static struct ts__ring *late_ring_after_exit;

static void late_destructor(void *p)
{
    (void)p;
    struct ts__event ev = ev_seq(0, 0x8100);
    late_recorded = ts__ring_record(&ev) ? 1 : 0;
    late_ring_after_exit = ts__ring_for_thread();
}

static void *late_main(void *p)
{
    (void)p;
    TT_CHECK(ts__ring_for_thread() != NULL);
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

static void test_ring_record_after_thread_exit_is_lost(void **state)
{
    (void)state;
    assert_non_null(ts__ring_for_thread()); /* registry key exists first */
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    uint64_t lost = ts__ring_lost();
    late_recorded = -1;
    tt_join(tt_thread(late_main, NULL));
    assert_int_equal(late_recorded, 0);
    assert_null(late_ring_after_exit);
    assert_int_equal(ts__ring_lost(), lost + 1);
    struct collect c = {.object = 0x8100, .in_order = true};
    ts__ring_drain_all(collect_fn, &c);
    assert_int_equal(c.n, 0);
    pthread_key_delete(late_key);
    tp_end();
}

/* Threads come and go while a drainer runs: every record of every thread,
 * live or exited, is drained exactly once (no thread pushes more than a
 * ring holds, so none is dropped), and the registry ends where it began. */
struct churn {
    int stop; /* atomic */
    uint64_t drained;
};

static void churn_fn(const struct ts__event *ev, void *arg)
{
    struct churn *c = arg;
    if (ev->object == 0x9000)
        c->drained++;
}

static void *churn_drainer(void *p)
{
    struct churn *c = p;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
        ts__ring_drain_all(churn_fn, c);
    return NULL;
}

static void test_ring_registry_churn_conserves_records(void **state)
{
    (void)state;
    ts__ring_drain_all(collect_fn, &(struct collect){.in_order = true});
    int before = registry_size();
    struct churn c = {0};
    pthread_t d = tt_thread(churn_drainer, &c);
    long rounds = tt_scaled(300, 20);
    uint64_t pushed = 0;
    for (long k = 0; k < rounds; k++) {
        struct pusher u[2] = {{.object = 0x9000, .n = 1 + (uint64_t)k % 900},
                              {.object = 0x9000, .n = 7}};
        pthread_t t0 = tt_thread(pusher_main, &u[0]);
        pthread_t t1 = tt_thread(pusher_main, &u[1]);
        tt_join(t0);
        tt_join(t1);
        pushed += u[0].n + u[1].n;
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    tt_join(d);
    ts__ring_drain_all(churn_fn, &c);
    assert_int_equal(c.drained, pushed);
    assert_int_equal(registry_size(), before);
    tp_end();
}

int main(void)
{
    /* The profiler's drain thread would take these tests' records. */
    ts__profiler_drain_hold(true);
    const struct CMUnitTest tests[] = {
        TP_TEST(test_ring_new_rejects_bad_capacity),
        TP_TEST(test_ring_layout_separates_head_and_tail),
        TP_TEST(test_ring_pop_returns_records_in_push_order),
        TP_TEST(test_ring_wraps_around),
        TP_TEST(test_ring_full_drops_and_counts),
        TP_TEST(test_ring_drain_passes_records_oldest_first),
        TP_TEST(test_ring_spsc_stress_conserves_records),
        TP_TEST(test_ring_for_thread_returns_same_ring),
        TP_TEST(test_ring_registry_drains_every_live_thread),
        TP_TEST(test_ring_registry_reclaims_exited_thread),
        TP_TEST(test_ring_record_after_thread_exit_is_lost),
        TP_TEST(test_ring_registry_churn_conserves_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
