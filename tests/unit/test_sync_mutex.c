/* ts_mutex_t (include/taskscope/sync.h): Go's sync.Mutex — zero value,
 * trylock, blocking from tasks and threads, the misuse panic, exclusion
 * under stress, starvation mode, and what the profiles record. */
#include "tt.h"
#include "tt_prof.h"

#include <sys/mman.h>
#include <taskscope/profile.h>

/* ---- helpers ---------------------------------------------------------- */

static void op_unlock(void *m)
{
    ts_mutex_unlock(m);
}

/* A task that locks m, signals `locked`, waits for `release`, unlocks. */
struct holder {
    ts_mutex_t *m;
    ts_chan_t *locked;
    ts_chan_t *release;
    ts_chan_t *done;
};

static void holder_task(void *arg)
{
    struct holder *h = arg;
    ts_mutex_lock(h->m);
    tt_signal(h->locked);
    TT_CHECK(tt_recv_within(h->release, NULL, NULL, TT_SOON) == 0);
    ts_mutex_unlock(h->m);
    tt_signal(h->done);
}

struct locker {
    ts_mutex_t *m;
    atomic_int got;
    ts_chan_t *done;
};

static void locker_task(void *arg)
{
    struct locker *l = arg;
    ts_mutex_lock(l->m);
    atomic_store(&l->got, 1);
    ts_mutex_unlock(l->m);
    tt_signal(l->done);
}

static void *locker_thread(void *arg)
{
    locker_task(arg);
    return NULL;
}

/* ---- behaviour -------------------------------------------------------- */

static void test_mutex_zero_value_is_unlocked(void **state)
{
    (void)state;
    ts_mutex_t m;
    memset(&m, 0, sizeof m);
    assert_true(ts_mutex_trylock(&m));
    assert_false(ts_mutex_trylock(&m));
    ts_mutex_unlock(&m);
    ts_mutex_lock(&m);
    assert_false(ts_mutex_trylock(&m));
    ts_mutex_unlock(&m);
    tt_end(0);
}

static ts_mutex_t static_mutex = TS_MUTEX_INIT;

static void test_mutex_static_initializer(void **state)
{
    (void)state;
    ts_mutex_lock(&static_mutex);
    ts_mutex_unlock(&static_mutex);
    assert_true(ts_mutex_trylock(&static_mutex));
    ts_mutex_unlock(&static_mutex);
    tt_end(0);
}

/* Not owned, as in Go: another task may unlock what one locked. */
static void unlock_other(void *arg)
{
    struct locker *l = arg;
    ts_mutex_unlock(l->m);
    tt_signal(l->done);
}

static void test_mutex_unlock_from_another_task(void **state)
{
    (void)state;
    ts_mutex_t m = TS_MUTEX_INIT;
    ts_chan_t *done = ts_chan_make(0, 0);
    struct locker l = {.m = &m, .done = done};
    ts_mutex_lock(&m);
    tt_go(unlock_other, &l);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_true(ts_mutex_trylock(&m));
    ts_mutex_unlock(&m);
    ts_chan_release(done);
    tt_end(0);
}

/* A task blocked in lock parks with Go's reason and the mutex as object,
 * and gets the mutex once the holder unlocks. */
static void test_mutex_lock_parks_task_until_unlock(void **state)
{
    (void)state;
    ts_mutex_t m = TS_MUTEX_INIT;
    ts_chan_t *done = ts_chan_make(0, 0);
    struct locker l = {.m = &m, .done = done};
    ts_mutex_lock(&m);
    uint64_t id = tt_go(locker_task, &l);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_MUTEX, TT_SOON, &info));
    assert_ptr_equal(info.wait_object, &m);
    assert_int_equal(atomic_load(&l.got), 0);
    ts_mutex_unlock(&m);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(atomic_load(&l.got), 1);
    ts_chan_release(done);
    tt_end(0);
}

/* Held by a task, waited for by a plain thread; then the reverse. */
static void test_mutex_between_tasks_and_threads(void **state)
{
    (void)state;
    ts_mutex_t m = TS_MUTEX_INIT;
    ts_chan_t *locked = ts_chan_make(0, 0), *release = ts_chan_make(0, 0);
    ts_chan_t *done = ts_chan_make(0, 4);
    struct holder h = {&m, locked, release, done};
    tt_go(holder_task, &h);
    assert_int_equal(tt_wait_done(locked, 1, TT_SOON), 1);
    struct locker l = {.m = &m, .done = done};
    pthread_t t = tt_thread(locker_thread, &l);
    ts_sleep(5 * TS_MILLISECOND);
    assert_int_equal(atomic_load(&l.got), 0);
    tt_signal(release);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);
    tt_join(t);
    assert_int_equal(atomic_load(&l.got), 1);

    /* the cmocka thread holds it; a task waits */
    atomic_store(&l.got, 0);
    ts_mutex_lock(&m);
    uint64_t id = tt_go(locker_task, &l);
    assert_true(tt_wait_parked(id, TS_WAIT_MUTEX, TT_SOON, NULL));
    ts_mutex_unlock(&m);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(atomic_load(&l.got), 1);
    ts_chan_release(locked);
    ts_chan_release(release);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- misuse --------------------------------------------------------- */

static void unlock_unlocked_checks(void)
{
    ts_mutex_t m = TS_MUTEX_INIT;
    TT_CHECK(tt_misuse_panic(op_unlock, &m, "sync: unlock of unlocked mutex"));
    /* the bad call left the mutex as it was: unlocked and usable */
    TT_CHECK(ts_mutex_trylock(&m));
    TT_CHECK(tt_misuse_panic(op_unlock, &(ts_mutex_t)TS_MUTEX_INIT,
                         "sync: unlock of unlocked mutex"));
    ts_mutex_unlock(&m);
    TT_CHECK(tt_misuse_panic(op_unlock, &m, "sync: unlock of unlocked mutex"));
}

static void unlock_unlocked_task(void *arg)
{
    unlock_unlocked_checks();
    tt_signal(arg);
}

static void test_mutex_unlock_of_unlocked_panics(void **state)
{
    (void)state;
    unlock_unlocked_checks(); /* plain thread */
    ts_chan_t *done = ts_chan_make(0, 0);
    tt_go(unlock_unlocked_task, done);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    ts_chan_release(done);
    tt_end(0);
}

static int scenario_unlock_unlocked(void)
{
    ts_mutex_t m = TS_MUTEX_INIT;
    ts_mutex_unlock(&m);
    puts("UNREACHED");
    return 0;
}

static void test_mutex_unlock_of_unlocked_unrecovered_exits(void **state)
{
    (void)state;
    tt_expect_panic("unlock_unlocked", "sync: unlock of unlocked mutex");
}

/* ---- stress: exclusion and no lost wake-ups ------------------------- */

struct counter {
    ts_mutex_t m;
    long value;   /* guarded by m, deliberately not atomic */
    long per;     /* increments per worker */
    int inside;   /* guarded by m: workers inside, must stay <= 1 */
    ts_chan_t *done;
};

static void count_work(struct counter *c)
{
    for (long i = 0; i < c->per; i++) {
        ts_mutex_lock(&c->m);
        if (++c->inside != 1)
            tt_failf(__FILE__, __LINE__, "%d holders at once", c->inside);
        c->value++;
        if (i % 64 == 0)
            ts_yield(); /* let others pile up on the mutex */
        c->inside--;
        ts_mutex_unlock(&c->m);
    }
}

static void count_task(void *arg)
{
    count_work(arg);
    tt_signal(((struct counter *)arg)->done);
}

static void *count_thread(void *arg)
{
    count_task(arg);
    return NULL;
}

/* 1,000 tasks share 1,000,000 increments (scaled); the total is exact
 * and every task finishes, so no wake-up was lost. */
static void test_mutex_stress_tasks_counter_exact(void **state)
{
    (void)state;
    enum { TASKS = 1000 };
    struct counter c = {.m = TS_MUTEX_INIT, .done = ts_chan_make(0, TASKS)};
    c.per = tt_scaled(1000000, TASKS) / TASKS;
    for (int i = 0; i < TASKS; i++)
        tt_go(count_task, &c);
    assert_int_equal(tt_wait_done(c.done, TASKS, TT_SOON), TASKS);
    assert_int_equal(c.value, c.per * TASKS);
    ts_chan_release(c.done);
    tt_end(0);
}

/* Tasks and plain threads hammer one mutex together. */
static void test_mutex_stress_tasks_and_threads(void **state)
{
    (void)state;
    enum { TASKS = 64, THREADS = 4 };
    struct counter c = {.m = TS_MUTEX_INIT,
                        .done = ts_chan_make(0, TASKS + THREADS)};
    c.per = tt_scaled(200000, TASKS + THREADS) / (TASKS + THREADS);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(count_thread, &c);
    for (int i = 0; i < TASKS; i++)
        tt_go(count_task, &c);
    assert_int_equal(tt_wait_done(c.done, TASKS + THREADS, TT_SOON),
                     TASKS + THREADS);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    assert_int_equal(c.value, c.per * (TASKS + THREADS));
    ts_chan_release(c.done);
    tt_end(0);
}

/* ---- starvation mode ------------------------------------------------ */

/* A thread hammers lock/unlock without pause, holding the mutex for a
 * little work each time, so a woken waiter nearly always finds it taken
 * again (normal mode favours the running locker). Once the waiter has
 * waited over 1 ms it switches the mutex to starvation mode and the next
 * unlock hands it over. The only bound asserted is TT_SOON (20 s) against
 * an expected ~1 ms; the hammer stops as soon as the waiter got in. */
struct starve {
    ts_mutex_t m;
    atomic_int waiting;
    atomic_int got;
    long hammer_iters;
    atomic_int saw_starving;
    int64_t waited;
};

static void *hammer_thread(void *arg)
{
    struct starve *s = arg;
    int64_t deadline = ts_now() + TT_SOON;
    for (long n = 0; !atomic_load(&s->got); n++) {
        if (n % 1024 == 0 && ts_now() > deadline)
            break;
        if (__atomic_load_n(&s->m.state_, __ATOMIC_RELAXED) & 4)
            atomic_store(&s->saw_starving, 1);
        ts_mutex_lock(&s->m);
        for (int i = 0; i < 5000; i++)
            __asm__ __volatile__(""); /* a little work, held */
        if (atomic_load(&s->waiting))
            s->hammer_iters++;
        ts_mutex_unlock(&s->m);
    }
    return NULL;
}

static void *starved_thread(void *arg)
{
    struct starve *s = arg;
    atomic_store(&s->waiting, 1);
    int64_t t0 = ts_now();
    ts_mutex_lock(&s->m);
    s->waited = ts_now() - t0;
    atomic_store(&s->got, 1);
    ts_mutex_unlock(&s->m);
    return NULL;
}

static void test_mutex_starved_waiter_gets_the_lock(void **state)
{
    (void)state;
    struct starve s = {.m = TS_MUTEX_INIT};
    pthread_t h = tt_thread(hammer_thread, &s);
    ts_sleep(TS_MILLISECOND);
    pthread_t w = tt_thread(starved_thread, &s);
    tt_join(w);
    tt_join(h);
    assert_int_equal(atomic_load(&s.got), 1);
    /* informational only: how long, and whether the hammer saw the mode */
    printf("waiter waited %lld us over %ld hammer iterations; starvation "
           "mode seen: %s\n", (long long)(s.waited / TS_MICROSECOND),
           s.hammer_iters, atomic_load(&s.saw_starving) ? "yes" : "no");
    tt_end(0);
}

/* The same with tasks on two Ps (a scenario: TASKSCOPE_PROCS is per
 * process). The hammer task never yields; it only blocks once the mutex
 * is in starvation mode and handed to the waiter. */
static void hammer_task(void *arg)
{
    hammer_thread(arg);
}

static void starved_task(void *arg)
{
    starved_thread(arg);
}

static int scenario_starvation_tasks(void)
{
    struct starve s = {.m = TS_MUTEX_INIT};
    uint64_t h = ts_go(hammer_task, &s);
    ts_sleep(TS_MILLISECOND);
    ts_go(starved_task, &s);
    int64_t deadline = ts_now() + TT_SOON;
    while ((!atomic_load(&s.got) || tt_task_info(h, NULL)) &&
           ts_now() < deadline)
        ts_sleep(TS_MILLISECOND);
    if (!atomic_load(&s.got)) {
        fprintf(stderr, "the waiter never got the mutex\n");
        return 1;
    }
    return 0;
}

static void test_mutex_starved_waiter_gets_the_lock_tasks(void **state)
{
    (void)state;
    tt_expect_scenario_ok("starvation_tasks", 2);
}

/* The mode switch itself, deterministic on one P (tasks run until they
 * block or yield): H holds the mutex while W queues and waits 5 ms; H
 * unlocks (W is readied but cannot run yet) and relocks at once, then
 * yields. W runs, finds the mutex taken after waiting over 1 ms and turns
 * starvation mode on before sleeping again. H's next unlock hands the
 * mutex to W directly (and yields to it); W, the last waiter, turns the
 * mode off. */
struct mode {
    ts_mutex_t m;
    atomic_int got;    /* W held it (read by H outside the mutex) */
    int starving_seen; /* H: STARVING set after W's second try */
    int got_at_unlock; /* H: W had the mutex when H's unlock returned */
    ts_chan_t *done;
};

static void mode_waiter(void *arg)
{
    struct mode *s = arg;
    ts_mutex_lock(&s->m);
    atomic_store(&s->got, 1);
    ts_mutex_unlock(&s->m);
}

static void mode_holder(void *arg)
{
    struct mode *s = arg;
    ts_mutex_lock(&s->m);
    ts_go(mode_waiter, s);
    ts_sleep(5 * TS_MILLISECOND);
    ts_mutex_unlock(&s->m);
    ts_mutex_lock(&s->m);
    ts_yield();
    s->starving_seen = (__atomic_load_n(&s->m.state_, __ATOMIC_RELAXED) &
                        4) != 0;
    ts_mutex_unlock(&s->m);
    s->got_at_unlock = atomic_load(&s->got);
    tt_signal(s->done);
}

static int scenario_starvation_mode(void)
{
    static struct mode s;
    s.done = ts_chan_make(0, 1);
    ts_go(mode_holder, &s);
    if (tt_wait_done(s.done, 1, TT_SOON) != 1) {
        fprintf(stderr, "the holder never finished\n");
        return 1;
    }
    if (!s.starving_seen || !s.got_at_unlock ||
        __atomic_load_n(&s.m.state_, __ATOMIC_RELAXED) != 0) {
        fprintf(stderr, "starving seen %d, handed over %d, state %d\n",
                s.starving_seen, s.got_at_unlock, (int)s.m.state_);
        return 1;
    }
    return 0;
}

static void test_mutex_starvation_mode_hands_off_to_waiter(void **state)
{
    (void)state;
    tt_expect_scenario_ok("starvation_mode", 1);
}

/* ---- profiles ----------------------------------------------------- */

static ts_mutex_t prof_mutex = TS_MUTEX_INIT;

static TP_NOINLINE void sync_holder_unlock(void)
{
    ts_mutex_unlock(&prof_mutex);
    TP_NO_TAIL_CALL();
}

static TP_NOINLINE void sync_waiter_lock(void)
{
    ts_mutex_lock(&prof_mutex);
    TP_NO_TAIL_CALL();
}

static void prof_waiter(void *arg)
{
    sync_waiter_lock();
    ts_mutex_unlock(&prof_mutex);
    tt_signal(arg);
}

static bool profile_text(const char *name, char *out, size_t cap)
{
    int fd = memfd_create("ts-profile", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    int rc = ts_profile_write(name, fd, 1);
    off_t len = lseek(fd, 0, SEEK_END);
    bool ok = rc == 0 && len >= 0 && (size_t)len < cap &&
              pread(fd, out, (size_t)len, 0) == len;
    if (ok)
        out[len] = '\0';
    close(fd);
    return ok;
}

/* A waiter blocked 20 ms on a held ts_mutex: the mutex profile blames the
 * unlocker (sync_holder_unlock, under ts_mutex_unlock) and the block
 * profile shows the waiter's lock (sync_waiter_lock). */
static void test_mutex_contention_in_mutex_and_block_profiles(void **state)
{
    (void)state;
    int prev_frac = ts_set_mutex_profile_fraction(1);
    int64_t prev_rate = ts_set_block_profile_rate(1);
    ts_chan_t *done = ts_chan_make(0, 0);
    ts_mutex_lock(&prof_mutex);
    uint64_t id = tt_go(prof_waiter, done);
    assert_true(tt_wait_parked(id, TS_WAIT_MUTEX, TT_SOON, NULL));
    ts_sleep(20 * TS_MILLISECOND);
    sync_holder_unlock();
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);

    static char text[1 << 20];
    assert_true(profile_text("mutex", text, sizeof text));
    if (!strstr(text, "sync_holder_unlock+0x") ||
        !strstr(text, "ts_mutex_unlock+0x"))
        fail_msg("mutex profile without the unlock site:\n%s", text);
    assert_true(profile_text("block", text, sizeof text));
    if (!strstr(text, "sync_waiter_lock+0x"))
        fail_msg("block profile without the waiter's lock:\n%s", text);
    ts_set_mutex_profile_fraction(prev_frac);
    ts_set_block_profile_rate(prev_rate);
    ts_chan_release(done);
    tt_end(0);
}

static const struct tt_scenario scenarios[] = {
    {"unlock_unlocked", scenario_unlock_unlocked},
    {"starvation_tasks", scenario_starvation_tasks},
    {"starvation_mode", scenario_starvation_mode},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_mutex_zero_value_is_unlocked),
        TT_TEST(test_mutex_static_initializer),
        TT_TEST(test_mutex_unlock_from_another_task),
        TT_TEST(test_mutex_lock_parks_task_until_unlock),
        TT_TEST(test_mutex_between_tasks_and_threads),
        TT_TEST(test_mutex_unlock_of_unlocked_panics),
        TT_TEST(test_mutex_unlock_of_unlocked_unrecovered_exits),
        TT_TEST(test_mutex_stress_tasks_counter_exact),
        TT_TEST(test_mutex_stress_tasks_and_threads),
        TT_TEST(test_mutex_starved_waiter_gets_the_lock),
        TT_TEST(test_mutex_starved_waiter_gets_the_lock_tasks),
        TT_TEST(test_mutex_starvation_mode_hands_off_to_waiter),
        TT_TEST(test_mutex_contention_in_mutex_and_block_profiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
