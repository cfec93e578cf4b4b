/* test_task.c — tasks: ts_run, ts_go, ts_self, ts_yield, ts_procs,
 * ts_num_tasks, the introspection walk, and stack overflow.
 *
 * Per-process settings (TASKSCOPE_PROCS, TASKSCOPE_STACK) and behaviours
 * that end the process run as scenarios in a child (see tt.h). */
#include "tt.h"

#include "runtime/stack.h"

/* ---- helpers ------------------------------------------------------------ */

static void noop_task(void *arg)
{
    (void)arg;
}

/* Parks on the gate channel until it is closed; then signals done (if any). */
struct gate {
    ts_chan_t *gate;
    ts_chan_t *done;
    atomic_long counter;
    atomic_long sum;
};

static void wait_gate_task(void *arg)
{
    struct gate *g = arg;
    bool ok = true;
    int r = ts_chan_recv(g->gate, NULL, &ok);
    TT_CHECK_EQ(r, 0);
    TT_CHECK(!ok);
    if (g->done)
        tt_signal(g->done);
}

/* Consumes about 1.1 KiB of stack per level; the volatile pad read after
 * the call keeps the compiler from turning it into a loop. */
static __attribute__((noinline)) uint64_t recurse(uint64_t depth,
                                                  uint64_t limit)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    pad[sizeof pad - 1] = (char)(depth >> 8);
    if (depth >= limit)
        return (uint64_t)pad[0];
    return recurse(depth + 1, limit) + (uint64_t)pad[sizeof pad - 1];
}

/* ---- ts_run ------------------------------------------------------------- */

static int main_returns_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static void test_run_returns_main_result(void **state)
{
    (void)state;
    assert_int_equal(ts_run(main_returns_arg, (void *)(intptr_t)42), 42);
    assert_int_equal(ts_run(main_returns_arg, (void *)(intptr_t)0), 0);
    assert_int_equal(ts_run(main_returns_arg, (void *)(intptr_t)-7), -7);
    tt_end(0);
}

struct in_task {
    int marker;
    uint64_t self;
};

static int main_records_self(void *arg)
{
    struct in_task *t = arg;
    t->marker = 1234;
    t->self = ts_self();
    return 0;
}

static void test_run_runs_main_in_a_task(void **state)
{
    (void)state;
    struct in_task t = {0};
    assert_int_equal(ts_run(main_records_self, &t), 0);
    assert_int_equal(t.marker, 1234);
    assert_true(t.self != 0);
    tt_end(0);
}

static int main_sleeps_and_returns(void *arg)
{
    ts_sleep(5 * TS_MILLISECOND);
    TT_CHECK(ts_self() != 0);
    return (int)(intptr_t)arg * 3 + 1;
}

static void *thread_runs_main(void *arg)
{
    intptr_t i = (intptr_t)arg;
    int r = ts_run(main_sleeps_and_returns, (void *)i);
    TT_CHECK_EQ(r, i * 3 + 1);
    return NULL;
}

/* ts_run may be called concurrently from several threads; each call runs
 * its own main task and gets that task's result. */
static void test_run_from_several_threads_concurrently(void **state)
{
    (void)state;
    pthread_t th[8];
    for (intptr_t i = 0; i < 8; i++)
        th[i] = tt_thread(thread_runs_main, (void *)i);
    for (int i = 0; i < 8; i++)
        tt_join(th[i]);
    tt_end(0);
}

static int main_leaves_task_blocked(void *arg)
{
    struct gate *g = arg;
    uint64_t id = ts_go(wait_gate_task, g);
    TT_CHECK(id != 0);
    return 0;
}

/* Like Go's main, ts_run returns when main returns, whatever its other
 * tasks are doing. */
static void test_run_does_not_wait_for_other_tasks(void **state)
{
    (void)state;
    struct gate g = {.gate = ts_chan_make(0, 0), .done = ts_chan_make(0, 1)};
    assert_non_null(g.gate);
    assert_non_null(g.done);
    assert_int_equal(ts_run(main_leaves_task_blocked, &g), 0);
    assert_int_equal(tt_wait_num_tasks(tt_baseline + 1, TT_SOON),
                     tt_baseline + 1);
    ts_chan_close(g.gate);
    assert_int_equal(tt_wait_done(g.done, 1, TT_SOON), 1);
    tt_end(0);
    ts_chan_release(g.gate);
    ts_chan_release(g.done);
}

/* ---- ts_go -------------------------------------------------------------- */

#define IDS_PER_CREATOR 1000

struct id_batch {
    uint64_t ids[IDS_PER_CREATOR];
    int n;
};

static void create_batch(struct id_batch *b)
{
    for (b->n = 0; b->n < IDS_PER_CREATOR; b->n++) {
        b->ids[b->n] = ts_go(noop_task, NULL);
        if (b->ids[b->n] == 0) {
            tt_failf(__FILE__, __LINE__, "ts_go returned 0");
            return;
        }
    }
}

static void *thread_creates_batch(void *arg)
{
    create_batch(arg);
    return NULL;
}

static void task_creates_batch(void *arg)
{
    struct id_batch *b = arg;
    create_batch(b);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct ids_main {
    struct id_batch *batches; /* [4]: two made by tasks, two by threads */
    ts_chan_t *done;
};

static void task_creates_batch_and_signals(void *arg)
{
    void **a = arg;
    task_creates_batch(a[0]);
    tt_signal(a[1]);
}

/* Ids start at 1, are never reused and are handed out in increasing order:
 * one creator sees strictly increasing ids, and ids from creators running
 * concurrently (tasks and plain threads) never collide. */
static void test_go_ids_are_unique_and_increasing(void **state)
{
    (void)state;
    struct id_batch *b = calloc(4, sizeof *b);
    assert_non_null(b);
    ts_chan_t *done = ts_chan_make(0, 2);
    assert_non_null(done);
    void *args[2][2] = {{&b[0], done}, {&b[1], done}};
    assert_true(tt_go(task_creates_batch_and_signals, args[0]) != 0);
    assert_true(tt_go(task_creates_batch_and_signals, args[1]) != 0);
    pthread_t t2 = tt_thread(thread_creates_batch, &b[2]);
    pthread_t t3 = tt_thread(thread_creates_batch, &b[3]);
    tt_join(t2);
    tt_join(t3);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);

    uint64_t *all = malloc(4 * IDS_PER_CREATOR * sizeof *all);
    assert_non_null(all);
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(b[i].n, IDS_PER_CREATOR);
        for (int j = 0; j < b[i].n; j++) {
            assert_true(b[i].ids[j] >= 1);
            if (j > 0)
                assert_true(b[i].ids[j] > b[i].ids[j - 1]);
            all[n++] = b[i].ids[j];
        }
    }
    qsort(all, n, sizeof *all, cmp_u64);
    for (size_t i = 1; i < n; i++)
        assert_true(all[i] != all[i - 1]);
    /* a later task gets a larger id than all of these */
    uint64_t later = ts_go(noop_task, NULL);
    assert_true(later > all[n - 1]);
    tt_end(0);
    free(all);
    free(b);
    ts_chan_release(done);
}

struct from_thread {
    ts_chan_t *ch;
    uint64_t id;
};

static void send_self_task(void *arg)
{
    struct from_thread *f = arg;
    uint64_t me = ts_self();
    int r = ts_chan_send(f->ch, &me);
    TT_CHECK_EQ(r, 0);
}

static void *thread_starts_task(void *arg)
{
    struct from_thread *f = arg;
    TT_CHECK_EQ(ts_self(), 0);
    f->id = ts_go(send_self_task, f);
    TT_CHECK(f->id != 0);
    uint64_t got = 0;
    bool ok = false;
    TT_CHECK_EQ(tt_recv_within(f->ch, &got, &ok, TT_SOON), 0);
    TT_CHECK(ok);
    TT_CHECK_EQ(got, f->id);
    return NULL;
}

/* ts_go works from a plain thread that never entered the runtime before. */
static void test_go_from_plain_thread_runs_task(void **state)
{
    (void)state;
    struct from_thread f = {.ch = ts_chan_make(sizeof(uint64_t), 0)};
    assert_non_null(f.ch);
    tt_join(tt_thread(thread_starts_task, &f));
    assert_true(f.id != 0);
    tt_end(0);
    ts_chan_release(f.ch);
}

/* ---- ts_self ------------------------------------------------------------ */

static void *thread_reports_self(void *arg)
{
    *(uint64_t *)arg = ts_self();
    return NULL;
}

static void test_self_is_zero_on_plain_thread(void **state)
{
    (void)state;
    assert_int_equal(ts_self(), 0);
    uint64_t other = 99;
    tt_join(tt_thread(thread_reports_self, &other));
    assert_int_equal(other, 0);
    tt_end(0);
}

static void test_self_is_task_id_inside_task(void **state)
{
    (void)state;
    struct from_thread f = {.ch = ts_chan_make(sizeof(uint64_t), 1)};
    assert_non_null(f.ch);
    for (int i = 0; i < 20; i++) {
        uint64_t id = ts_go(send_self_task, &f);
        assert_true(id != 0);
        uint64_t got = 0;
        bool ok = false;
        assert_int_equal(tt_recv_within(f.ch, &got, &ok, TT_SOON), 0);
        assert_true(ok);
        assert_int_equal(got, id);
    }
    tt_end(0);
    ts_chan_release(f.ch);
}

/* ---- ts_yield and ts_procs -------------------------------------------- */

/* Scenario (TASKSCOPE_PROCS=1): two tasks hand a turn back and forth, each
 * spinning on ts_yield until the turn is its own. With one P and no
 * preemption, the only way the other task gets to run is the yield: if
 * ts_yield did not let it run, the spinner would spin forever (the parent's
 * timeout catches that). A second phase checks the yields interleave: two
 * tasks released together that append to a log and yield must not run one
 * after the other. */
#define PINGPONG_ROUNDS 1000
#define ALTERNATE_ROUNDS 200

struct pingpong {
    atomic_int turn;
    int me;
    ts_chan_t *done;
    ts_chan_t *gate;
    char *log;
    atomic_int pos;
};

static void pingpong_task(void *arg)
{
    struct pingpong **pp = arg;
    struct pingpong *p = pp[0];
    int me = (int)(intptr_t)pp[1];
    for (int i = 0; i < PINGPONG_ROUNDS; i++) {
        while (atomic_load(&p->turn) != me)
            ts_yield();
        atomic_store(&p->turn, 1 - me);
    }
    tt_signal(p->done);
}

static void alternate_task(void *arg)
{
    struct pingpong **pp = arg;
    struct pingpong *p = pp[0];
    char me = (char)(intptr_t)pp[1];
    if (ts_chan_recv(p->gate, NULL, NULL) != 0)
        fprintf(stderr, "gate recv failed\n");
    for (int i = 0; i < ALTERNATE_ROUNDS; i++) {
        p->log[atomic_fetch_add(&p->pos, 1)] = me;
        ts_yield();
    }
    tt_signal(p->done);
}

static int yield_one_proc_main(void *arg)
{
    (void)arg;
    if (ts_procs() != 1) {
        fprintf(stderr, "ts_procs() = %d, want 1\n", ts_procs());
        return 1;
    }
    struct pingpong p = {.done = ts_chan_make(0, 2),
                         .gate = ts_chan_make(0, 0),
                         .log = calloc(2 * ALTERNATE_ROUNDS + 1, 1)};
    if (!p.done || !p.gate || !p.log)
        return 1;
    struct pingpong *a0[2] = {&p, (void *)(intptr_t)0};
    struct pingpong *a1[2] = {&p, (void *)(intptr_t)1};
    if (!ts_go(pingpong_task, a0) || !ts_go(pingpong_task, a1))
        return 1;
    for (int i = 0; i < 2; i++)
        if (ts_chan_recv(p.done, NULL, NULL) != 0)
            return 1;

    struct pingpong *b0[2] = {&p, (void *)(intptr_t)'A'};
    struct pingpong *b1[2] = {&p, (void *)(intptr_t)'B'};
    if (!ts_go(alternate_task, b0) || !ts_go(alternate_task, b1))
        return 1;
    ts_sleep(10 * TS_MILLISECOND); /* let both park on the gate */
    ts_chan_close(p.gate);
    for (int i = 0; i < 2; i++)
        if (ts_chan_recv(p.done, NULL, NULL) != 0)
            return 1;
    int switches = 0;
    for (int i = 1; i < 2 * ALTERNATE_ROUNDS; i++)
        switches += p.log[i] != p.log[i - 1];
    printf("switches=%d log=%.40s...\n", switches, p.log);
    /* Go alternates strictly (2*ROUNDS-1 switches); demand only that the
     * two loops interleave throughout. */
    if (switches < ALTERNATE_ROUNDS) {
        fprintf(stderr, "yielding tasks did not alternate: %d switches\n",
                switches);
        return 1;
    }
    return 0;
}

static int scenario_yield_one_proc(void)
{
    return ts_run(yield_one_proc_main, NULL);
}

static void test_yield_lets_other_tasks_run_on_one_proc(void **state)
{
    (void)state;
    tt_expect_scenario_ok("yield_one_proc", 1);
    tt_end(0);
}

static void test_yield_from_plain_thread_returns(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++)
        ts_yield();
    tt_end(0);
}

static int scenario_procs_env(void)
{
    printf("procs=%d\n", ts_procs());
    return ts_procs() == 3 ? 0 : 1;
}

static void test_procs_honours_env(void **state)
{
    (void)state;
    tt_expect_scenario_ok("procs_env", 3);
    tt_end(0);
}

static void test_procs_is_at_least_one(void **state)
{
    (void)state;
    assert_true(ts_procs() >= 1);
    assert_true(ts_procs() <= 256);
    tt_end(0);
}

/* ---- many tasks, ts_num_tasks ----------------------------------------- */

struct many {
    struct gate g;
    long n;
};

static void many_task(void *arg)
{
    struct gate *g = arg;
    /* park until every task exists, then count */
    bool ok = true;
    TT_CHECK_EQ(ts_chan_recv(g->gate, NULL, &ok), 0);
    TT_CHECK(!ok);
    atomic_fetch_add(&g->counter, 1);
    tt_signal(g->done);
}

static int many_tasks_main(void *arg)
{
    struct many *m = arg;
    int64_t before = ts_num_tasks(); /* includes this main task */
    for (long i = 0; i < m->n; i++)
        if (ts_go(many_task, &m->g) == 0) {
            tt_failf(__FILE__, __LINE__, "ts_go failed at %ld", i);
            return 1;
        }
    /* all n exist at once: each is parked on the gate */
    TT_CHECK_EQ(ts_num_tasks(), before + m->n);
    ts_chan_close(m->g.gate);
    long got = tt_wait_done(m->g.done, m->n, TT_SOON);
    TT_CHECK_EQ(got, m->n);
    return 0;
}

/* 10,000 tasks (scaled), alive at the same time, all run to completion. */
static void test_go_many_tasks_all_run_to_completion(void **state)
{
    (void)state;
    struct many m = {.n = tt_scaled(10000, 1000)};
    m.g.gate = ts_chan_make(0, 0);
    m.g.done = ts_chan_make(0, (size_t)m.n);
    assert_non_null(m.g.gate);
    assert_non_null(m.g.done);
    assert_int_equal(ts_run(many_tasks_main, &m), 0);
    assert_int_equal(atomic_load(&m.g.counter), m.n);
    tt_end(0);
    ts_chan_release(m.g.gate);
    ts_chan_release(m.g.done);
}

struct summer {
    atomic_long sum;
    ts_chan_t *done;
};

static void add_task(void *arg)
{
    void **a = arg;
    struct summer *s = a[0];
    atomic_fetch_add(&s->sum, (long)(intptr_t)a[1]);
    tt_signal(s->done);
}

/* Tasks that run immediately (no gate): the sum of their arguments. */
static void test_go_tasks_each_run_exactly_once(void **state)
{
    (void)state;
    long n = tt_scaled(10000, 1000);
    struct summer s = {.done = ts_chan_make(0, (size_t)n)};
    assert_non_null(s.done);
    void **args = calloc((size_t)n, 2 * sizeof(void *));
    assert_non_null(args);
    for (long i = 0; i < n; i++) {
        args[2 * i] = &s;
        args[2 * i + 1] = (void *)(intptr_t)(i + 1);
        assert_true(ts_go(add_task, &args[2 * i]) != 0);
    }
    assert_int_equal(tt_wait_done(s.done, n, TT_SOON), n);
    assert_int_equal(atomic_load(&s.sum), n * (n + 1) / 2);
    tt_end(0);
    free(args);
    ts_chan_release(s.done);
}

static void test_num_tasks_counts_live_tasks(void **state)
{
    (void)state;
    struct gate g = {.gate = ts_chan_make(0, 0), .done = ts_chan_make(0, 100)};
    assert_non_null(g.gate);
    assert_non_null(g.done);
    for (int i = 0; i < 100; i++)
        assert_true(ts_go(wait_gate_task, &g) != 0);
    /* counted from creation, parked or not */
    assert_int_equal(ts_num_tasks(), tt_baseline + 100);
    assert_int_equal(ts_introspect_count(), tt_baseline + 100);
    assert_true(tt_wait_parked_on(g.gate, TS_WAIT_CHAN_RECV, 100, TT_SOON));
    assert_int_equal(ts_num_tasks(), tt_baseline + 100);
    ts_chan_close(g.gate);
    assert_int_equal(tt_wait_done(g.done, 100, TT_SOON), 100);
    /* returned tasks are no longer counted */
    assert_int_equal(tt_wait_num_tasks(tt_baseline, TT_SOON), tt_baseline);
    tt_end(0);
    ts_chan_release(g.gate);
    ts_chan_release(g.done);
}

/* ---- introspection ------------------------------------------------------ */

struct blocked {
    ts_chan_t *ch;
    ts_chan_t *done; /* receivers signal after writing value */
    uint64_t parent;
    uint64_t child;
    int64_t before;
    int value;
};

static void recv_one_task(void *arg)
{
    struct blocked *b = arg;
    int v = 0;
    bool ok = false;
    TT_CHECK_EQ(ts_chan_recv(b->ch, &v, &ok), 0);
    TT_CHECK(ok);
    b->value = v;
    tt_signal(b->done);
}

static void send_one_task(void *arg)
{
    struct blocked *b = arg;
    int v = 77;
    TT_CHECK_EQ(ts_chan_send(b->ch, &v), 0);
}

/* Small on purpose: the test checks create_pc lies inside it. */
static __attribute__((noinline)) void spawn_receiver(struct blocked *b)
{
    b->parent = ts_self();
    b->child = ts_go(recv_one_task, b);
}

static int introspect_recv_main(void *arg)
{
    struct blocked *b = arg;
    b->before = ts_now();
    spawn_receiver(b);
    TT_REQUIRE(b->child != 0, 1);
    struct ts_task_info info;
    TT_REQUIRE(tt_wait_parked(b->child, TS_WAIT_CHAN_RECV, TT_SOON, &info),
               1);
    TT_CHECK_EQ(info.id, b->child);
    TT_CHECK_EQ(info.state, TS_TASK_WAITING);
    TT_CHECK_EQ(info.wait_reason, TS_WAIT_CHAN_RECV);
    TT_CHECK(info.wait_text != NULL &&
             strcmp(info.wait_text, "chan receive") == 0);
    TT_CHECK(info.wait_object == (const void *)b->ch);
    TT_CHECK_EQ(info.parent_id, b->parent);
    TT_CHECK(info.create_pc != 0);
    /* "return address inside the ts_go caller" */
    TT_CHECK(info.create_pc > (uintptr_t)spawn_receiver &&
             info.create_pc < (uintptr_t)spawn_receiver + 4096);
    /* "ts_now() when it parked": the runtime may read a coarse clock
     * (CLOCK_MONOTONIC_COARSE lags by up to a tick), so allow 50 ms of lag
     * but never a time in the future. */
    TT_CHECK(info.wait_since >= b->before - 50 * TS_MILLISECOND);
    TT_CHECK(info.wait_since <= ts_now());
    TT_CHECK((uintptr_t)info.stack_lo < (uintptr_t)info.stack_hi);
    /* the parent (this task) is running and not waiting */
    struct ts_task_info me;
    TT_CHECK(tt_task_info(ts_self(), &me));
    TT_CHECK_EQ(me.state, TS_TASK_RUNNING);
    TT_CHECK_EQ(me.wait_reason, TS_WAIT_NONE);
    TT_CHECK(strcmp(me.wait_text, "") == 0);
    int v = 5;
    TT_CHECK_EQ(ts_chan_send(b->ch, &v), 0);
    return 0;
}

/* The walk sees a task blocked on a channel: WAITING, "chan receive", the
 * channel as the wait object, its creator as parent, where it was created,
 * since when it waits, and its stack bounds. */
static void test_introspect_shows_task_blocked_on_chan_recv(void **state)
{
    (void)state;
    struct blocked b = {.ch = ts_chan_make(sizeof(int), 0),
                        .done = ts_chan_make(0, 1)};
    assert_non_null(b.ch);
    assert_non_null(b.done);
    assert_int_equal(ts_run(introspect_recv_main, &b), 0);
    assert_int_equal(tt_wait_done(b.done, 1, TT_SOON), 1);
    assert_int_equal(b.value, 5);
    tt_end(0);
    ts_chan_release(b.ch);
    ts_chan_release(b.done);
}

static void test_introspect_shows_task_blocked_on_chan_send(void **state)
{
    (void)state;
    struct blocked b = {.ch = ts_chan_make(sizeof(int), 0)};
    assert_non_null(b.ch);
    uint64_t id = ts_go(send_one_task, &b);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_SEND, TT_SOON, &info));
    assert_string_equal(info.wait_text, "chan send");
    assert_ptr_equal(info.wait_object, b.ch);
    int v = 0;
    bool ok = false;
    assert_int_equal(ts_chan_recv(b.ch, &v, &ok), 0);
    assert_true(ok);
    assert_int_equal(v, 77);
    tt_end(0);
    ts_chan_release(b.ch);
}

/* A task created by a plain thread (here the cmocka thread) has parent 0. */
static void test_introspect_thread_created_task_has_no_parent(void **state)
{
    (void)state;
    struct blocked b = {.ch = ts_chan_make(sizeof(int), 0),
                        .done = ts_chan_make(0, 1)};
    assert_non_null(b.ch);
    assert_non_null(b.done);
    uint64_t id = ts_go(recv_one_task, &b);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, &info));
    assert_int_equal(info.parent_id, 0);
    assert_true(info.create_pc != 0);
    int v = 1;
    assert_int_equal(ts_chan_send(b.ch, &v), 0);
    assert_int_equal(tt_wait_done(b.done, 1, TT_SOON), 1);
    assert_int_equal(b.value, 1);
    tt_end(0);
    ts_chan_release(b.ch);
    ts_chan_release(b.done);
}

struct spinner {
    atomic_int running;
    atomic_int stop;
    ts_chan_t *done;
};

static void spin_task(void *arg)
{
    struct spinner *s = arg;
    atomic_store(&s->running, 1);
    while (!atomic_load(&s->stop))
        ; /* holds its P on purpose, never yields */
    tt_signal(s->done);
}

/* A task executing on an M is RUNNING and not waiting. */
static void test_introspect_shows_running_task(void **state)
{
    (void)state;
    struct spinner s = {.done = ts_chan_make(0, 1)};
    assert_non_null(s.done);
    uint64_t id = ts_go(spin_task, &s);
    assert_true(id != 0);
    int64_t deadline = ts_now() + TT_SOON;
    while (!atomic_load(&s.running) && ts_now() < deadline)
        ts_sleep(TS_MILLISECOND);
    assert_true(atomic_load(&s.running));
    struct ts_task_info info;
    assert_true(tt_task_info(id, &info));
    atomic_store(&s.stop, 1);
    assert_int_equal(info.state, TS_TASK_RUNNING);
    assert_int_equal(info.wait_reason, TS_WAIT_NONE);
    assert_string_equal(info.wait_text, "");
    assert_null(info.wait_object);
    assert_int_equal(info.wait_since, 0);
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    tt_end(0);
    ts_chan_release(s.done);
}

static int count_cb(const struct ts_task_info *info, void *arg)
{
    int *n = arg;
    (void)info;
    return ++*n == 3 ? 42 : 0;
}

/* The walk stops at the first non-zero callback value and returns it. */
static void test_introspect_stops_early_with_callback_value(void **state)
{
    (void)state;
    struct gate g = {.gate = ts_chan_make(0, 0), .done = ts_chan_make(0, 5)};
    assert_non_null(g.gate);
    assert_non_null(g.done);
    for (int i = 0; i < 5; i++)
        assert_true(ts_go(wait_gate_task, &g) != 0);
    int n = 0;
    assert_int_equal(ts_introspect_tasks(count_cb, &n), 42);
    assert_int_equal(n, 3);
    ts_chan_close(g.gate);
    assert_int_equal(tt_wait_done(g.done, 5, TT_SOON), 5);
    tt_end(0);
    ts_chan_release(g.gate);
    ts_chan_release(g.done);
}

/* ---- stacks ------------------------------------------------------------ */

struct deep {
    uint64_t levels;
    ts_chan_t *done;
};

static void deep_task(void *arg)
{
    struct deep *d = arg;
    (void)recurse(0, d->levels);
    tt_signal(d->done);
}

/* About 110 KiB of recursion fits the default 256 KiB stack. */
static void test_task_recursion_within_default_stack(void **state)
{
    (void)state;
    struct deep d = {.levels = 100, .done = ts_chan_make(0, 1)};
    assert_non_null(d.done);
    assert_true(ts_go(deep_task, &d) != 0);
    assert_int_equal(tt_wait_done(d.done, 1, TT_SOON), 1);
    tt_end(0);
    ts_chan_release(d.done);
}

/* text contains prefix followed by id and then a non-digit */
static bool names_id(const char *text, const char *prefix,
                     unsigned long long id)
{
    char want[64];
    snprintf(want, sizeof want, "%s%llu", prefix, id);
    size_t l = strlen(want);
    for (const char *w = text; (w = strstr(w, want)) != NULL; w++)
        if (w[l] < '0' || w[l] > '9')
            return true;
    return false;
}

static void overflow_task(void *arg)
{
    (void)arg;
    printf("overflow-task=%llu\n", (unsigned long long)ts_self());
    (void)recurse(0, UINT64_MAX);
    printf("UNREACHED\n");
}

static int overflow_main(void *arg)
{
    (void)arg;
    /* make the overflowing task's id distinctive */
    for (int i = 0; i < 40; i++)
        if (!ts_go(noop_task, NULL))
            return 1;
    if (!ts_go(overflow_task, NULL))
        return 1;
    ts_chan_recv(NULL, NULL, NULL); /* the process dies before this returns */
    printf("UNREACHED\n");
    return 0;
}

static int scenario_stack_overflow(void)
{
    return ts_run(overflow_main, NULL);
}

/* Running off the task stack hits the guard page and kills the process
 * with a fatal message that says "stack overflow" and names the task, as
 * Go's "fatal error: stack overflow" does; never silent corruption. */
static void test_stack_overflow_kills_process_naming_task(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("stack_overflow", NULL, &c);
    const char *p = strstr(c.out, "overflow-task=");
    if (!p)
        fail_msg("overflowing task never ran\nstdout:\n%s\nstderr:\n%s",
                 c.out, c.err);
    unsigned long long id = strtoull(p + strlen("overflow-task="), NULL, 10);
    assert_true(id != 0);
    bool named = names_id(c.err, "task ", id) ||
                 names_id(c.err, "goroutine ", id);
    if (tt_child_exit(&c) == 0 || strstr(c.err, "stack overflow") == NULL ||
        !named || strstr(c.out, "UNREACHED") != NULL)
        fail_msg("want a non-zero exit and \"stack overflow\" naming task "
                 "%llu on stderr; got exit %d\nstdout:\n%s\nstderr:\n%s",
                 id, tt_child_exit(&c), c.out, c.err);
    tt_end(0);
}

static void big_stack_task(void *arg)
{
    ts_chan_t *done = arg;
    (void)recurse(0, 1000); /* about 1.1 MiB */
    printf("deep recursion done\n");
    tt_signal(done);
}

static int big_stack_main(void *arg)
{
    (void)arg;
    ts_chan_t *done = ts_chan_make(0, 1);
    if (!done || !ts_go(big_stack_task, done))
        return 1;
    return tt_wait_done(done, 1, TT_SOON) == 1 ? 0 : 1;
}

static int scenario_big_stack(void)
{
    return ts_run(big_stack_main, NULL);
}

/* TASKSCOPE_STACK=2m (suffix allowed) gives tasks room for recursion that
 * would overflow the default 256 KiB. */
static void test_stack_size_honours_env(void **state)
{
    (void)state;
    static const char *const env[] = {"TASKSCOPE_STACK=2m", NULL};
    struct tt_child c;
    tt_child("big_stack", env, &c);
    tt_expect_child_ok("big_stack", &c);
    tt_end(0);
}

/* ---- main --------------------------------------------------------------- */

static const struct tt_scenario scenarios[] = {
    {"yield_one_proc", scenario_yield_one_proc},
    {"procs_env", scenario_procs_env},
    {"stack_overflow", scenario_stack_overflow},
    {"big_stack", scenario_big_stack},
};

/* ts_go reports a failed stack allocation by returning 0 and creates no
 * task; the next ts_go works again (stack.c's fault-injection hook fails
 * exactly the armed allocation). */
static void test_go_returns_zero_when_no_stack_can_be_allocated(void **state)
{
    (void)state;
    int64_t before = ts_num_tasks();
    ts__stack_fail_nth(1);
    assert_int_equal(0, ts_go(noop_task, NULL));
    assert_int_equal(before, ts_num_tasks());
    assert_true(ts_go(noop_task, NULL) != 0);
    tt_end(0);
}

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_run_returns_main_result),
        TT_TEST(test_run_runs_main_in_a_task),
        TT_TEST(test_run_from_several_threads_concurrently),
        TT_TEST(test_run_does_not_wait_for_other_tasks),
        TT_TEST(test_go_ids_are_unique_and_increasing),
        TT_TEST(test_go_returns_zero_when_no_stack_can_be_allocated),
        TT_TEST(test_go_from_plain_thread_runs_task),
        TT_TEST(test_go_many_tasks_all_run_to_completion),
        TT_TEST(test_go_tasks_each_run_exactly_once),
        TT_TEST(test_self_is_zero_on_plain_thread),
        TT_TEST(test_self_is_task_id_inside_task),
        TT_TEST(test_yield_lets_other_tasks_run_on_one_proc),
        TT_TEST(test_yield_from_plain_thread_returns),
        TT_TEST(test_procs_honours_env),
        TT_TEST(test_procs_is_at_least_one),
        TT_TEST(test_num_tasks_counts_live_tasks),
        TT_TEST(test_introspect_shows_task_blocked_on_chan_recv),
        TT_TEST(test_introspect_shows_task_blocked_on_chan_send),
        TT_TEST(test_introspect_thread_created_task_has_no_parent),
        TT_TEST(test_introspect_shows_running_task),
        TT_TEST(test_introspect_stops_early_with_callback_value),
        TT_TEST(test_task_recursion_within_default_stack),
        TT_TEST(test_stack_overflow_kills_process_naming_task),
        TT_TEST(test_stack_size_honours_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
