/* test_mutex_cycles.c — wait-for cycles through ts_mutex_t locks
 * (profiler/cycles.c's TS__WAIT_MUTEX waits: the partner is the holder
 * runtime/mutex.c records) and the leak detector's sync candidates
 * (profiler/leaks.c, sync_target).
 *
 * As in test_cycles.c, each situation runs in a child scenario (tt.h): its
 * stuck tasks stay blocked until the child exits, and the reports are read
 * there: the goroutineleak JSON (stdout), ts_leakcheck's dump (stderr),
 * the exit-time report of TASKSCOPE_LEAKS_OUT (a file), and the global
 * deadlock report. The mutexes of a leaked cycle are malloc'd blocks of
 * their own that only the blocked tasks reference (a spawner task starts
 * them and returns; argument blocks are cleared before being freed); the
 * child learns their addresses only complemented (tl_note_object),
 * printed at exit. A barrier (a static WaitGroup) makes every member hold its first
 * lock before any takes its second.
 *
 * Under ThreadSanitizer the leak scenarios are skipped: TSan's allocator is
 * not glibc's (the detector cannot find the mutexes' blocks) and its sync
 * metadata holds every mutex's address (docs/profiler.md). The deadlock
 * report needs no reachability and runs there too. */
#define TP_SCENARIOS_LEAVE_TASKS_BLOCKED /* no LeakSanitizer: tt_prof.h */
#include "tt_leaks.h"
#include "tt_prof.h"

#include <taskscope/profile.h>
#include <taskscope/sync.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define MAX_RING 3

/* ======================================================================
 * child side
 * ==================================================================== */

static ts_waitgroup_t barrier; /* every member holds its first lock */

static ts_mutex_t *make_mutex(void)
{
    ts_mutex_t *m = calloc(1, sizeof *m);
    TT_REQUIRE(m != NULL, NULL);
    tl_note_object(m);
    return m;
}

static ts_chan_t *make_chan(void)
{
    ts_chan_t *c = ts_chan_make(sizeof(int), 0);
    tl_note_object(c);
    return c;
}

/* What a member uses, in a heap block it clears and frees. */
struct args {
    ts_mutex_t *first, *second;
    ts_chan_t *chan;
};

static struct args take(void *arg)
{
    struct args a = *(struct args *)arg;
    explicit_bzero(arg, sizeof a);
    free(arg);
    return a;
}

/* lock_member: takes its lock, waits for the others to take theirs, then
 * takes the next member's: blocked for good. */
TP_NOINLINE static void lock_member(void *arg)
{
    struct args a = take(arg);
    ts_mutex_lock(a.first);
    ts_waitgroup_done(&barrier);
    ts_waitgroup_wait(&barrier);
    ts_mutex_lock(a.second);
    ts_mutex_unlock(a.second);
    ts_mutex_unlock(a.first);
    TP_NO_TAIL_CALL();
}

/* send_member: holds the lock, then sends on a channel only the lock's
 * waiter would receive from. */
TP_NOINLINE static void send_member(void *arg)
{
    struct args a = take(arg);
    ts_mutex_lock(a.first);
    ts_waitgroup_done(&barrier);
    ts_waitgroup_wait(&barrier);
    int v = 1;
    ts_chan_send(a.chan, &v);
    ts_mutex_unlock(a.first);
    TP_NO_TAIL_CALL();
}

/* recv_member: would take the lock, then receive from the channel. */
TP_NOINLINE static void recv_member(void *arg)
{
    struct args a = take(arg);
    ts_waitgroup_done(&barrier);
    ts_waitgroup_wait(&barrier);
    ts_mutex_lock(a.second);
    int v;
    ts_chan_recv(a.chan, &v, NULL);
    ts_mutex_unlock(a.second);
    TP_NO_TAIL_CALL();
}

/* sleepy_holder: holds the lock while asleep; it will unlock one day. */
TP_NOINLINE static void sleepy_holder(void *arg)
{
    struct args a = take(arg);
    ts_mutex_lock(a.first);
    ts_waitgroup_done(&barrier);
    ts_sleep(3600 * TS_SECOND);
    ts_mutex_unlock(a.first);
    TP_NO_TAIL_CALL();
}

/* waiter: waits for the sleepy holder's lock. */
TP_NOINLINE static void waiter(void *arg)
{
    struct args a = take(arg);
    ts_waitgroup_wait(&barrier);
    ts_mutex_lock(a.second);
    ts_mutex_unlock(a.second);
    TP_NO_TAIL_CALL();
}

enum shape { RING2, RING3, MIXED, SLEEPY };

struct setup {
    enum shape shape;
    uint64_t ids[MAX_RING];
    int n;
    ts_chan_t *done; /* closed once every task started is parked */
};

static uint64_t go_with(void (*fn)(void *), ts_mutex_t *first,
                        ts_mutex_t *second, ts_chan_t *chan)
{
    struct args *a = malloc(sizeof *a);
    TT_REQUIRE(a != NULL, 0);
    *a = (struct args){first, second, chan};
    return ts_go(fn, a);
}

static void spawn(struct setup *s)
{
    int n = s->shape == RING3 ? 3 : s->shape == RING2 ? 2 : 1;
    ts_waitgroup_add(&barrier, s->shape == SLEEPY ? 1 : n == 1 ? 2 : n);
    ts_mutex_t *m[MAX_RING];
    for (int i = 0; i < n; i++)
        m[i] = make_mutex();
    ts_chan_t *c = s->shape == MIXED ? make_chan() : NULL;
    if (s->shape == MIXED) {
        s->ids[s->n++] = go_with(send_member, m[0], NULL, c);
        s->ids[s->n++] = go_with(recv_member, NULL, m[0], c);
    } else if (s->shape == SLEEPY) {
        s->ids[s->n++] = go_with(sleepy_holder, m[0], NULL, NULL);
        s->ids[s->n++] = go_with(waiter, NULL, m[0], NULL);
    } else {
        for (int i = 0; i < n; i++)
            s->ids[s->n++] = go_with(lock_member, m[i], m[(i + 1) % n], NULL);
    }
    explicit_bzero(m, sizeof m);
    explicit_bzero(&c, sizeof c);
}

/* spawner: starts the shape's tasks, waits until each is parked for good
 * (the waiter of SLEEPY on the lock, its holder asleep) and returns: its
 * stack, with its copies of the objects, goes back to the pool. */
TP_NOINLINE static void spawner(void *arg)
{
    struct setup *s = arg;
    spawn(s);
    int last = s->shape == MIXED ? TS_WAIT_CHAN_SEND : TS_WAIT_MUTEX;
    for (int i = 0; i < s->n; i++)
        TT_CHECK(tt_wait_parked(s->ids[i],
                                s->shape == SLEEPY && i == 0 ? TS_WAIT_SLEEP
                                : i == 0                      ? last
                                                              : TS_WAIT_MUTEX,
                                TT_SOON, NULL));
    ts_chan_close(s->done);
}

static int cycle_main(void *arg)
{
    struct setup *s = arg;
    ts_leakcheck_snapshot();
    s->done = ts_chan_make(0, 0);
    ts_go(spawner, s);
    TT_CHECK_EQ(tt_recv_within(s->done, NULL, NULL, TT_SOON), 0);
    ts_chan_release(s->done);
    s->done = NULL;
    return tl_child_report(s->ids, s->n);
}

static int run_shape(enum shape shape)
{
    atexit(tl_print_objects_at_exit); /* before the runtime's: runs after */
    static struct setup s;
    s.shape = shape;
    return ts_run(cycle_main, &s);
}

static int scenario_ring2(void) { return run_shape(RING2); }
static int scenario_ring3(void) { return run_shape(RING3); }
static int scenario_mixed(void) { return run_shape(MIXED); }
static int scenario_sleepy(void) { return run_shape(SLEEPY); }

/* contention: 8 tasks lock one malloc'd mutex 20000 times each, only
 * their stacks referencing it (the last one frees it); the leak detector
 * runs meanwhile, three times. */
enum { CONTENDERS = 8, ROUNDS = 20000 };
static long counter;        /* guarded by the contended mutex */
static atomic_int finished;

TP_NOINLINE static void contender(void *arg)
{
    struct args a = take(arg);
    for (int i = 0; i < ROUNDS; i++) {
        ts_mutex_lock(a.first);
        counter++;
        if (i % 64 == 0)
            ts_yield(); /* runnable while holding it */
        ts_mutex_unlock(a.first);
    }
    if (atomic_fetch_add(&finished, 1) == CONTENDERS - 1)
        free(a.first);
    ts_waitgroup_done(&barrier);
}

static void start_contenders(void)
{
    ts_mutex_t *mu = make_mutex();
    ts_waitgroup_add(&barrier, CONTENDERS);
    for (int i = 0; i < CONTENDERS; i++)
        go_with(contender, mu, NULL, NULL);
    explicit_bzero(&mu, sizeof mu);
}

static int contention_main(void *arg)
{
    (void)arg;
    start_contenders();
    printf("IDS\n");
    for (int i = 0; i < 3; i++) {
        printf("JSON ");
        TT_CHECK_EQ(ts_profile_write_json("goroutineleak", 1), 0);
    }
    ts_waitgroup_wait(&barrier);
    printf("COUNT %ld\n", counter);
    return atomic_load(&tt_failures) ? 1 : 0;
}

static int scenario_contention(void)
{
    return ts_run(contention_main, NULL);
}

/* embedded: a mutex inside a malloc'd object, after other fields. Its
 * holder is leaked (it waits on a channel only it has), a second task
 * waits for the mutex, and a third, asleep, holds only a pointer to the
 * object: it may unlock the mutex one day (Go's mutexes are not owned),
 * so the waiter must not be reported. */
struct object {
    long a, b;
    ts_mutex_t mu;
};

TP_NOINLINE static void object_keeper(void *arg)
{
    struct object *o = arg;
    ts_sleep(3600 * TS_SECOND);
    ts_mutex_unlock(&o->mu);
}

TP_NOINLINE static void lonely_holder(void *arg)
{
    struct args a = take(arg);
    ts_mutex_lock(a.first);
    ts_waitgroup_done(&barrier);
    ts_chan_t *c = ts_chan_make(sizeof(int), 0);
    int v;
    ts_chan_recv(c, &v, NULL);
    TP_NO_TAIL_CALL();
}

static int embedded_main(void *arg)
{
    (void)arg;
    struct object *o = calloc(1, sizeof *o);
    TT_REQUIRE(o != NULL, 1);
    ts_waitgroup_add(&barrier, 1);
    uint64_t holder = go_with(lonely_holder, &o->mu, NULL, NULL);
    uint64_t w = go_with(waiter, NULL, &o->mu, NULL);
    ts_go(object_keeper, o);
    explicit_bzero(&o, sizeof o);
    TT_CHECK(tt_wait_parked(holder, TS_WAIT_CHAN_RECV, TT_SOON, NULL));
    TT_CHECK(tt_wait_parked(w, TS_WAIT_MUTEX, TT_SOON, NULL));
    printf("IDS %llu %llu\nJSON ", (unsigned long long)holder,
           (unsigned long long)w);
    TT_CHECK_EQ(ts_profile_write_json("goroutineleak", 1), 0);
    return atomic_load(&tt_failures) ? 1 : 0;
}

static int scenario_embedded(void)
{
    return ts_run(embedded_main, NULL);
}

/* deadlock_main: the main task and another lock two static mutexes in
 * opposite orders, and nothing else is left: the deadlock report. */
static ts_mutex_t static_a, static_b;

static void other_order(void *arg)
{
    (void)arg;
    ts_mutex_lock(&static_b);
    ts_waitgroup_done(&barrier);
    ts_mutex_lock(&static_a);
}

static int deadlock_main(void *arg)
{
    (void)arg;
    ts_mutex_lock(&static_a);
    ts_waitgroup_add(&barrier, 1);
    printf("IDS 1 %llu\n", (unsigned long long)ts_go(other_order, NULL));
    printf("OBJ 0 %p\nOBJ 1 %p\n", (void *)&static_a, (void *)&static_b);
    ts_waitgroup_wait(&barrier);
    ts_mutex_lock(&static_b);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_deadlock(void)
{
    return ts_run(deadlock_main, NULL);
}

/* ======================================================================
 * parent side
 * ==================================================================== */

/* wait_line: the report's line for one wait: a lock names its holder, a
 * channel the tasks that hold it. */
static const char *wait_line(uint64_t task, const char *reason,
                             const char *kind, const char *obj, uint64_t by)
{
    static char line[256];
    snprintf(line, sizeof line, "\tgoroutine %llu [%s] on %s %s, held %sby goroutine %llu\n",
             (unsigned long long)task, reason, kind, obj,
             strcmp(kind, "mutex") == 0 ? "" : "only ", (unsigned long long)by);
    return line;
}

static const char *json_wait(uint64_t task, const char *reason,
                             const char *kind, const char *obj, uint64_t by)
{
    static char text[256];
    snprintf(text, sizeof text,
             "{\"task\":%llu,\"wait_reason\":\"%s\",\"kind\":\"%s\","
             "\"object\":\"%s\",\"held_by\":[%llu]}",
             (unsigned long long)task, reason, kind, obj,
             (unsigned long long)by);
    return text;
}

/* expect_stacks: each member's dump after the cycle's lines. */
static void expect_stacks(const char *section, const struct tl_run *r,
                          const char *fn)
{
    for (int i = 0; i < r->nids; i++) {
        char hdr[96];
        snprintf(hdr, sizeof hdr, "\ngoroutine %llu [",
                 (unsigned long long)r->ids[i]);
        tl_expect_in("cycle section", section, hdr);
    }
    if (tl_count_str(section, fn) < (size_t)r->nids)
        fail_msg("cycle section: want %d stacks with %s:\n%s", r->nids, fn,
                 section);
}

#define SKIP_UNDER_TSAN()                                                     \
    do {                                                                      \
        if (UNDER_TSAN) {                                                     \
            tp_end();                                                         \
            skip();                                                           \
        }                                                                     \
    } while (0)

/* ======================================================================
 * tests
 * ==================================================================== */

/* A holds m0 and waits for m1, B holds m1 and waits for m0: every report
 * names both tasks, both mutexes and holders, and both stacks. */
static void test_ab_ba_mutex_cycle_is_reported(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    struct tl_run r;
    tl_run_scenario("ring2", NULL, 0, &r);
    uint64_t a = r.ids[0], b = r.ids[1];
    assert_true(r.nids == 2 && r.objs[0][0] && r.objs[1][0]);
    const char *m0 = r.objs[0], *m1 = r.objs[1];
    const char *lock = "sync.Mutex.Lock";

    tl_expect_in("exit report", r.report, "taskscope: 2 leaked tasks");
    const char *sec = tl_cycle_section(r.report, 2);
    tl_expect_in("exit report", sec, wait_line(a, lock, "mutex", m1, b));
    tl_expect_in("exit report", sec, wait_line(b, lock, "mutex", m0, a));
    expect_stacks(sec, &r, "\nlock_member(...)\n");
    assert_int_equal(tl_count_str(r.report, "wait-for cycle"), 1);

    tl_expect_in("goroutineleak JSON", r.json, "\"total\":2,");
    tl_expect_in("goroutineleak JSON", r.json, json_wait(a, lock, "mutex", m1, b));
    tl_expect_in("goroutineleak JSON", r.json, json_wait(b, lock, "mutex", m0, a));

    tl_expect_in("ts_leakcheck", r.c.err, "ts_leakcheck: 2 unexpected tasks");
    sec = tl_cycle_section(r.c.err, 2);
    tl_expect_in("ts_leakcheck", sec, wait_line(a, lock, "mutex", m1, b));
    tp_end();
}

/* Three tasks, each holding its lock and waiting for the next one's. */
static void test_three_task_mutex_ring_is_reported(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    struct tl_run r;
    tl_run_scenario("ring3", NULL, 0, &r);
    assert_int_equal(r.nids, 3);
    const char *sec = tl_cycle_section(r.report, 3);
    for (int i = 0; i < 3; i++)
        tl_expect_in("exit report", sec,
                  wait_line(r.ids[i], "sync.Mutex.Lock", "mutex",
                            r.objs[(i + 1) % 3], r.ids[(i + 1) % 3]));
    expect_stacks(sec, &r, "\nlock_member(...)\n");
    char want[96];
    snprintf(want, sizeof want, "\"cycles\":[{\"tasks\":[%llu,%llu,%llu]",
             (unsigned long long)r.ids[0], (unsigned long long)r.ids[1],
             (unsigned long long)r.ids[2]);
    tl_expect_in("goroutineleak JSON", r.json, want);
    tp_end();
}

/* A holds the lock and sends on c; B, holding c for a later receive,
 * waits for the lock. */
static void test_mixed_mutex_and_channel_cycle_is_reported(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    struct tl_run r;
    tl_run_scenario("mixed", NULL, 0, &r);
    uint64_t a = r.ids[0], b = r.ids[1];
    const char *sec = tl_cycle_section(r.report, 2);
    tl_expect_in("exit report", sec, wait_line(a, "chan send", "chan", r.objs[1], b));
    tl_expect_in("exit report", sec,
              wait_line(b, "sync.Mutex.Lock", "mutex", r.objs[0], a));
    tl_expect_in("cycle section", sec, "\nsend_member(...)\n");
    tl_expect_in("cycle section", sec, "\nrecv_member(...)\n");
    tl_expect_in("goroutineleak JSON", r.json,
              json_wait(b, "sync.Mutex.Lock", "mutex", r.objs[0], a));
    tp_end();
}

/* A task waits for a lock whose holder only sleeps: it will be unlocked,
 * so nothing is leaked and there is no cycle. */
static void test_waiting_for_a_sleeping_holder_is_no_leak(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("sleepy", NULL, 0, &r);
    tl_expect_in("goroutineleak JSON", r.json, "\"total\":0,");
    tl_expect_in("goroutineleak JSON", r.json, "\"cycles\":[]}");
    tl_expect_not_in("exit report", r.report, "goroutine");
    tl_expect_not_in("ts_leakcheck", r.c.err, "wait-for cycle");
    tp_end();
}

/* Heavy contention on one mutex only the contenders reference: the
 * detector, run while they contend, finds nothing. */
static void test_contention_is_no_leak(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("contention", NULL, 0, &r);
    tl_expect_in("stdout", r.c.out, "COUNT 160000\n");
    assert_int_equal(tl_count_str(r.c.out, "\"total\":0,"), 3);
    assert_int_equal(tl_count_str(r.c.out, "\"cycles\":[]}"), 3);
    tl_expect_not_in("exit report", r.report, "goroutine");
    tp_end();
}

/* A mutex embedded in an object that a live task still reaches: its
 * waiter is not leaked, only the holder (blocked on a channel of its
 * own) is. */
static void test_mutex_reachable_through_its_object_is_no_leak(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    struct tl_run r;
    tl_run_scenario("embedded", NULL, 0, &r);
    assert_int_equal(r.nids, 2);
    tl_expect_in("goroutineleak JSON", r.json, "\"total\":1,");
    tl_expect_in("goroutineleak JSON", r.json, "\"cycles\":[]}");
    char hdr[64];
    snprintf(hdr, sizeof hdr, "goroutine %llu [chan receive (leaked)]",
             (unsigned long long)r.ids[0]);
    tl_expect_in("exit report", r.report, hdr);
    snprintf(hdr, sizeof hdr, "goroutine %llu [", (unsigned long long)r.ids[1]);
    tl_expect_not_in("exit report", r.report, hdr);
    tp_end();
}

/* Every task is stuck in an AB/BA deadlock on static mutexes (reachable
 * by name: not leaked): the deadlock report still ends with the cycle. */
static void test_deadlock_report_names_the_mutex_cycle(void **state)
{
    (void)state;
    struct tl_run r;
    tl_run_scenario("deadlock", "TASKSCOPE_LEAKS_FORMAT=json", 2, &r);
    assert_int_equal(r.nids, 2);
    const char *err = r.c.err;
    if (strncmp(err, "fatal error: all goroutines are asleep - deadlock!\n\n",
                52) != 0)
        fail_msg("stderr:\n%s", err);
    const char *sec = tl_cycle_section(err, 2);
    tl_expect_in("deadlock report", sec,
              wait_line(1, "sync.Mutex.Lock", "mutex", r.objs[1], r.ids[1]));
    tl_expect_in("deadlock report", sec,
              wait_line(r.ids[1], "sync.Mutex.Lock", "mutex", r.objs[0], 1));
    tl_expect_in("deadlock report", sec, "\ndeadlock_main(...)\n");
    tl_expect_in("deadlock report", sec, "\nother_order(...)\n");
    char want[64];
    snprintf(want, sizeof want, "\"cycles\":[{\"tasks\":[1,%llu],",
             (unsigned long long)r.ids[1]);
    tl_expect_in("deadlock JSON", r.report, want);
    tp_end();
}

/* ======================================================================
 * main
 * ==================================================================== */

static const struct tt_scenario scenarios[] = {
    {"ring2", scenario_ring2},         {"ring3", scenario_ring3},
    {"mixed", scenario_mixed},         {"sleepy", scenario_sleepy},
    {"contention", scenario_contention}, {"deadlock", scenario_deadlock},
    {"embedded", scenario_embedded},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TP_TEST(test_ab_ba_mutex_cycle_is_reported),
        TP_TEST(test_three_task_mutex_ring_is_reported),
        TP_TEST(test_mixed_mutex_and_channel_cycle_is_reported),
        TP_TEST(test_waiting_for_a_sleeping_holder_is_no_leak),
        TP_TEST(test_contention_is_no_leak),
        TP_TEST(test_mutex_reachable_through_its_object_is_no_leak),
        TP_TEST(test_deadlock_report_names_the_mutex_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
