/* test_timer.c — clock, sleep, timers, ts_after, ts_after_func, tickers.
 *
 * Timing: only lower bounds are asserted ("not before"), never "within";
 * upper bounds are generous guards that turn a hang into a failure.
 * Stop/Reset follow Go 1.23+: timer channels are synchronous, and after
 * Stop or Reset returns no value from before the call is ever received. */
#include "tt.h"

/* How long "nothing arrives" is watched for after a stopped timer's due
 * time: many times its duration. */
#define QUIET (100 * TS_MILLISECOND)

static int64_t recv_time(ts_chan_t *ch)
{
    int64_t v = -1;
    bool ok = false;
    int r = tt_recv_within(ch, &v, &ok, TT_SOON);
    if (r != 0)
        fail_msg("no value from the timer channel within the guard");
    assert_true(ok);
    return v;
}

/* Fail if anything arrives on ch before deadline. */
static void expect_nothing_until(ts_chan_t *ch, int64_t deadline)
{
    int64_t v = -1;
    ts_select_case_t c = TS_RECV_CASE(ch, &v);
    int r = ts_select_deadline(&c, 1, 0, deadline);
    if (r != TS_SELECT_TIMEOUT)
        fail_msg("unexpected value %lld (select %d, ok %d)", (long long)v, r,
                 (int)c.ok);
    assert_true(ts_now() >= deadline);
}

/* ---- clock and sleep ---------------------------------------------------- */

static void test_now_is_monotonic(void **state)
{
    (void)state;
    int64_t prev = ts_now();
    assert_true(prev > 0);
    for (int i = 0; i < 100000; i++) {
        int64_t t = ts_now();
        assert_true(t >= prev);
        prev = t;
    }
    tt_end(0);
}

static int sleep_body(void *arg)
{
    (void)arg;
    static const int64_t ds[] = {1 * TS_MILLISECOND, 5 * TS_MILLISECOND,
                                 20 * TS_MILLISECOND, 250 * TS_MICROSECOND};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        int64_t t0 = ts_now();
        ts_sleep(ds[i]);
        TT_CHECK(ts_now() - t0 >= ds[i]);
    }
    ts_sleep(0);
    ts_sleep(-TS_SECOND);
    return 0;
}

/* ts_sleep sleeps at least the duration, from a task and from a plain
 * thread; zero or negative durations return. */
static void test_sleep_waits_at_least_duration(void **state)
{
    (void)state;
    assert_int_equal(sleep_body(NULL), 0);
    assert_int_equal(ts_run(sleep_body, NULL), 0);
    tt_end(0);
}

static void sleeper_task(void *arg)
{
    void **a = arg;
    int64_t d = (int64_t)(intptr_t)a[1];
    int64_t t0 = ts_now();
    ts_sleep(d);
    TT_CHECK(ts_now() - t0 >= d);
    tt_signal(a[0]);
}

/* A sleeping task is parked with reason "sleep" (not spinning). */
static void test_sleep_parks_task_with_reason_sleep(void **state)
{
    (void)state;
    ts_chan_t *done = ts_chan_make(0, 1);
    assert_non_null(done);
    void *args[2] = {done, (void *)(intptr_t)(300 * TS_MILLISECOND)};
    uint64_t id = ts_go(sleeper_task, args);
    assert_true(id != 0);
    struct ts_task_info info;
    assert_true(tt_wait_parked(id, TS_WAIT_SLEEP, 250 * TS_MILLISECOND, &info));
    assert_string_equal(info.wait_text, "sleep");
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    tt_end(0);
    ts_chan_release(done);
}

/* Many tasks sleeping different durations all wake, none early. */
static void test_sleep_many_tasks_all_wake(void **state)
{
    (void)state;
    long n = tt_scaled(1000, 200);
    ts_chan_t *done = ts_chan_make(0, (size_t)n);
    assert_non_null(done);
    void **args = calloc((size_t)n, 2 * sizeof(void *));
    assert_non_null(args);
    uint64_t seed = 12345;
    for (long i = 0; i < n; i++) {
        args[2 * i] = done;
        args[2 * i + 1] =
            (void *)(intptr_t)(int64_t)(tt_rand(&seed) % (20 * TS_MILLISECOND));
        assert_true(ts_go(sleeper_task, &args[2 * i]) != 0);
    }
    assert_int_equal(tt_wait_done(done, n, TT_SOON), n);
    tt_end(0);
    free(args);
    ts_chan_release(done);
}

/* ---- channel timers ------------------------------------------------------ */

/* A timer sends ts_now() once, not before creation + d. */
static void test_timer_fires_once_with_time_after_deadline(void **state)
{
    (void)state;
    int64_t d = 20 * TS_MILLISECOND;
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_timer_new(d);
    assert_non_null(t);
    ts_chan_t *c = ts_timer_chan(t);
    assert_non_null(c);
    assert_int_equal(ts_chan_elem_size(c), sizeof(int64_t));
    int64_t v = recv_time(c);
    assert_true(v >= t0 + d);
    assert_true(v <= ts_now());
    expect_nothing_until(c, ts_now() + QUIET);
    assert_false(ts_timer_stop(t)); /* expired and received */
    ts_timer_free(t);
    tt_end(0);
}

static void test_timer_nonpositive_duration_fires_at_once(void **state)
{
    (void)state;
    int64_t t0 = ts_now();
    ts_timer_t *a = ts_timer_new(0);
    ts_timer_t *b = ts_timer_new(-TS_SECOND);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(recv_time(ts_timer_chan(a)) >= t0);
    assert_true(recv_time(ts_timer_chan(b)) >= t0);
    ts_timer_free(a);
    ts_timer_free(b);
    tt_end(0);
}

struct timer_waiter {
    ts_chan_t *c;
    ts_chan_t *done;
    int64_t value;
};

static void timer_recv_task(void *arg)
{
    struct timer_waiter *w = arg;
    bool ok = false;
    TT_CHECK_EQ(ts_chan_recv(w->c, &w->value, &ok), 0);
    TT_CHECK(ok);
    tt_signal(w->done);
}

/* A task parked in a plain receive on the timer channel is woken by the
 * fire; so is a plain thread. */
static void test_timer_wakes_blocked_receiver(void **state)
{
    (void)state;
    int64_t d = 30 * TS_MILLISECOND;
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_timer_new(d);
    assert_non_null(t);
    struct timer_waiter w = {.c = ts_timer_chan(t), .done = ts_chan_make(0, 1)};
    assert_non_null(w.done);
    uint64_t id = ts_go(timer_recv_task, &w);
    assert_true(id != 0);
    assert_int_equal(tt_wait_done(w.done, 1, TT_SOON), 1);
    assert_true(w.value >= t0 + d);
    ts_timer_free(t);

    /* plain thread: the cmocka thread sleeps in ts_chan_recv; no task is
     * running, nothing but the timer can wake it (the alarm guards it) */
    t0 = ts_now();
    t = ts_timer_new(d);
    assert_non_null(t);
    int64_t v = 0;
    bool ok = false;
    assert_int_equal(ts_chan_recv(ts_timer_chan(t), &v, &ok), 0);
    assert_true(ok);
    assert_true(v >= t0 + d);
    ts_timer_free(t);
    tt_end(0);
    ts_chan_release(w.done);
}

/* ---- stop ---------------------------------------------------------------- */

/* Stopped before its time: stop reports true, nothing is ever received,
 * and a second stop reports false. */
static void test_timer_stop_before_fire_returns_true(void **state)
{
    (void)state;
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_timer_new(20 * TS_MILLISECOND);
    assert_non_null(t);
    assert_true(ts_timer_stop(t));
    expect_nothing_until(ts_timer_chan(t), t0 + 20 * TS_MILLISECOND + QUIET);
    assert_false(ts_timer_stop(t));
    ts_timer_free(t);
    tt_end(0);
}

static void test_timer_stop_after_receive_returns_false(void **state)
{
    (void)state;
    ts_timer_t *t = ts_timer_new(TS_MILLISECOND);
    assert_non_null(t);
    (void)recv_time(ts_timer_chan(t));
    assert_false(ts_timer_stop(t));
    ts_timer_free(t);
    tt_end(0);
}

/* Go 1.23: the timer's time has passed but nobody received the value. The
 * channel is synchronous, so the value was never "sent"; stop prevents it:
 * it reports true and the stale value is never received afterwards. (The
 * pre-1.23 drain idiom `if !t.Stop() { <-t.C }` is therefore unneeded.) */
static void test_timer_stop_after_fire_before_receive_returns_true(void **state)
{
    (void)state;
    ts_timer_t *t = ts_timer_new(TS_MILLISECOND);
    assert_non_null(t);
    ts_sleep(30 * TS_MILLISECOND);
    assert_true(ts_timer_stop(t));
    expect_nothing_until(ts_timer_chan(t), ts_now() + QUIET);
    assert_false(ts_timer_stop(t));
    ts_timer_free(t);
    tt_end(0);
}

struct deadline_waiter {
    ts_chan_t *c;
    ts_chan_t *done;
    int64_t deadline;
    int result;
};

static void timer_select_task(void *arg)
{
    struct deadline_waiter *w = arg;
    int64_t v = 0;
    ts_select_case_t c = TS_RECV_CASE(w->c, &v);
    w->result = ts_select_deadline(&c, 1, 0, w->deadline);
    tt_signal(w->done);
}

/* A receiver already waiting when the timer is stopped gets nothing. */
static void test_timer_stop_with_waiting_receiver_delivers_nothing(void **state)
{
    (void)state;
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_timer_new(50 * TS_MILLISECOND);
    assert_non_null(t);
    struct deadline_waiter w = {.c = ts_timer_chan(t),
                                .done = ts_chan_make(0, 1),
                                .deadline = t0 + 50 * TS_MILLISECOND + QUIET};
    assert_non_null(w.done);
    uint64_t id = ts_go(timer_select_task, &w);
    assert_true(id != 0);
    assert_true(tt_wait_parked(id, TS_WAIT_SELECT, TT_SOON, NULL));
    bool stopped = ts_timer_stop(t);
    assert_int_equal(tt_wait_done(w.done, 1, TT_SOON), 1);
    if (stopped)
        assert_int_equal(w.result, TS_SELECT_TIMEOUT);
    else /* a very slow machine: it fired first, so it must have delivered */
        assert_int_equal(w.result, 0);
    ts_timer_free(t);
    tt_end(0);
    ts_chan_release(w.done);
}

/* ---- reset --------------------------------------------------------------- */

/* Go 1.23: reset of a timer whose time passed but whose value was not
 * received discards that value (reset reports true, as stop would) and
 * delivers exactly one new value, not before the new duration. */
static void test_timer_reset_after_fire_before_receive_sends_only_new_value(
    void **state)
{
    (void)state;
    ts_timer_t *t = ts_timer_new(TS_MILLISECOND);
    assert_non_null(t);
    ts_sleep(30 * TS_MILLISECOND);
    int64_t d = 30 * TS_MILLISECOND;
    int64_t t1 = ts_now();
    assert_true(ts_timer_reset(t, d));
    int64_t v = recv_time(ts_timer_chan(t));
    assert_true(v >= t1 + d); /* not the stale value from before t1 */
    expect_nothing_until(ts_timer_chan(t), ts_now() + QUIET);
    ts_timer_free(t);
    tt_end(0);
}

/* Reset of an active timer reports true and moves its time. */
static void test_timer_reset_active_returns_true(void **state)
{
    (void)state;
    ts_timer_t *t = ts_timer_new(TS_HOUR);
    assert_non_null(t);
    int64_t d = 10 * TS_MILLISECOND;
    int64_t t1 = ts_now();
    assert_true(ts_timer_reset(t, d));
    assert_true(recv_time(ts_timer_chan(t)) >= t1 + d);
    expect_nothing_until(ts_timer_chan(t), ts_now() + QUIET);
    ts_timer_free(t);
    tt_end(0);
}

/* Reset of a stopped or already received timer reports false and arms it
 * again. */
static void test_timer_reset_inactive_returns_false_and_rearms(void **state)
{
    (void)state;
    int64_t d = 10 * TS_MILLISECOND;
    ts_timer_t *t = ts_timer_new(TS_HOUR);
    assert_non_null(t);
    assert_true(ts_timer_stop(t));
    int64_t t1 = ts_now();
    assert_false(ts_timer_reset(t, d));
    assert_true(recv_time(ts_timer_chan(t)) >= t1 + d);
    /* now expired and received */
    int64_t t2 = ts_now();
    assert_false(ts_timer_reset(t, d));
    assert_true(recv_time(ts_timer_chan(t)) >= t2 + d);
    ts_timer_free(t);
    tt_end(0);
}

/* Go 1.23: timer channels are synchronous: len and cap report 0, also
 * when the time has passed and the value waits to be received. */
static void test_timer_chan_len_and_cap_are_zero(void **state)
{
    (void)state;
    ts_timer_t *t = ts_timer_new(TS_MILLISECOND);
    assert_non_null(t);
    ts_chan_t *c = ts_timer_chan(t);
    assert_int_equal(ts_chan_cap(c), 0);
    assert_int_equal(ts_chan_len(c), 0);
    ts_sleep(30 * TS_MILLISECOND);
    assert_int_equal(ts_chan_cap(c), 0);
    assert_int_equal(ts_chan_len(c), 0);
    (void)recv_time(c); /* the value is still there to receive */
    ts_timer_free(t);
    tt_end(0);
}

/* ts_timer_free stops the timer; NULL is a no-op. */
static void test_timer_free_before_fire_and_null(void **state)
{
    (void)state;
    ts_timer_t *t = ts_timer_new(5 * TS_MILLISECOND);
    assert_non_null(t);
    ts_timer_free(t);
    ts_timer_free(NULL);
    ts_sleep(30 * TS_MILLISECOND); /* its due time passes harmlessly */
    tt_end(0);
}

/* ---- ts_after -------------------------------------------------------------- */

static void test_after_delivers_once(void **state)
{
    (void)state;
    int64_t d = 10 * TS_MILLISECOND;
    int64_t t0 = ts_now();
    ts_chan_t *c = ts_after(d);
    assert_non_null(c);
    assert_true(recv_time(c) >= t0 + d);
    expect_nothing_until(c, ts_now() + QUIET);
    ts_chan_release(c);
    tt_end(0);
}

/* The caller may drop its reference before the timer fires. */
static void test_after_release_before_fire_is_safe(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        ts_chan_t *c = ts_after((i % 5) * TS_MILLISECOND);
        assert_non_null(c);
        ts_chan_release(c);
    }
    ts_sleep(30 * TS_MILLISECOND);
    tt_end(0);
}

/* ---- ts_after_func --------------------------------------------------------- */

struct func_run {
    ts_chan_t *done;
    atomic_int runs;
    uint64_t self;
    int64_t at;
};

static void record_run(void *arg)
{
    struct func_run *f = arg;
    f->self = ts_self();
    f->at = ts_now();
    atomic_fetch_add(&f->runs, 1);
    tt_signal(f->done);
}

/* The function runs once, in a task of its own, not before its time; the
 * timer has no channel; stop after the run reports false. */
static void test_after_func_runs_function_in_a_task(void **state)
{
    (void)state;
    struct func_run f = {.done = ts_chan_make(0, 2)};
    assert_non_null(f.done);
    int64_t d = 10 * TS_MILLISECOND;
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_after_func(d, record_run, &f);
    assert_non_null(t);
    assert_null(ts_timer_chan(t));
    assert_int_equal(tt_wait_done(f.done, 1, TT_SOON), 1);
    assert_true(f.self != 0);
    assert_true(f.at >= t0 + d);
    assert_false(ts_timer_stop(t));
    expect_nothing_until(f.done, ts_now() + QUIET);
    assert_int_equal(atomic_load(&f.runs), 1);
    ts_timer_free(t);
    tt_end(0);
    ts_chan_release(f.done);
}

static void test_after_func_stop_prevents_run(void **state)
{
    (void)state;
    struct func_run f = {.done = ts_chan_make(0, 2)};
    assert_non_null(f.done);
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_after_func(20 * TS_MILLISECOND, record_run, &f);
    assert_non_null(t);
    assert_true(ts_timer_stop(t));
    expect_nothing_until(f.done, t0 + 20 * TS_MILLISECOND + QUIET);
    assert_int_equal(atomic_load(&f.runs), 0);
    assert_false(ts_timer_stop(t));
    ts_timer_free(t);
    tt_end(0);
    ts_chan_release(f.done);
}

/* Reset re-arms a function timer: before it ran (moves it), after it ran
 * (runs it again). */
static void test_after_func_reset_reschedules(void **state)
{
    (void)state;
    struct func_run f = {.done = ts_chan_make(0, 2)};
    assert_non_null(f.done);
    ts_timer_t *t = ts_after_func(TS_HOUR, record_run, &f);
    assert_non_null(t);
    int64_t d = 10 * TS_MILLISECOND;
    int64_t t1 = ts_now();
    assert_true(ts_timer_reset(t, d));
    assert_int_equal(tt_wait_done(f.done, 1, TT_SOON), 1);
    assert_true(f.at >= t1 + d);
    int64_t t2 = ts_now();
    assert_false(ts_timer_reset(t, d));
    assert_int_equal(tt_wait_done(f.done, 1, TT_SOON), 1);
    assert_true(f.at >= t2 + d);
    assert_int_equal(atomic_load(&f.runs), 2);
    ts_timer_free(t);
    tt_end(0);
    ts_chan_release(f.done);
}

static void test_after_func_free_prevents_run(void **state)
{
    (void)state;
    struct func_run f = {.done = ts_chan_make(0, 2)};
    assert_non_null(f.done);
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_after_func(20 * TS_MILLISECOND, record_run, &f);
    assert_non_null(t);
    ts_timer_free(t);
    expect_nothing_until(f.done, t0 + 20 * TS_MILLISECOND + QUIET);
    assert_int_equal(atomic_load(&f.runs), 0);
    tt_end(0);
    ts_chan_release(f.done);
}

/* ---- tickers --------------------------------------------------------------- */

/* A ticker ticks again and again; the k-th tick is not before t0 + k*period
 * (a late tick may be dropped, never queued). */
static void test_ticker_ticks_repeatedly(void **state)
{
    (void)state;
    int64_t p = 10 * TS_MILLISECOND;
    int64_t t0 = ts_now();
    ts_ticker_t *tk = ts_ticker_new(p);
    assert_non_null(tk);
    ts_chan_t *c = ts_ticker_chan(tk);
    assert_non_null(c);
    int64_t prev = t0;
    for (int k = 1; k <= 5; k++) {
        int64_t v = recv_time(c);
        assert_true(v >= t0 + k * p);
        assert_true(v > prev);
        prev = v;
    }
    ts_ticker_free(tk);
    tt_end(0);
}

/* After stop returns no tick arrives, not even one pending from before. */
static void test_ticker_stop_prevents_further_ticks(void **state)
{
    (void)state;
    int64_t p = 5 * TS_MILLISECOND;
    ts_ticker_t *tk = ts_ticker_new(p);
    assert_non_null(tk);
    (void)recv_time(ts_ticker_chan(tk));
    ts_sleep(3 * p); /* a tick is due but not received */
    ts_ticker_stop(tk);
    expect_nothing_until(ts_ticker_chan(tk), ts_now() + 20 * p);
    ts_ticker_free(tk);
    tt_end(0);
}

/* Reset changes the period: from an hour to 10 ms (ticks come, none before
 * reset + k*period), and back to an hour (ticks stop). */
static void test_ticker_reset_changes_period(void **state)
{
    (void)state;
    ts_ticker_t *tk = ts_ticker_new(TS_HOUR);
    assert_non_null(tk);
    ts_chan_t *c = ts_ticker_chan(tk);
    int64_t p = 10 * TS_MILLISECOND;
    int64_t t1 = ts_now();
    ts_ticker_reset(tk, p);
    for (int k = 1; k <= 3; k++)
        assert_true(recv_time(c) >= t1 + k * p);
    ts_ticker_reset(tk, TS_HOUR);
    expect_nothing_until(c, ts_now() + QUIET);
    ts_ticker_free(tk);
    tt_end(0);
}

static void test_ticker_rejects_nonpositive_period(void **state)
{
    (void)state;
    assert_null(ts_ticker_new(0));
    assert_null(ts_ticker_new(-TS_SECOND));
    ts_ticker_free(NULL);
    tt_end(0);
}

/* Reset with a bad period is refused and leaves the ticker ticking at its
 * old period (Go panics here; taskscope reports EINVAL). */
static void test_ticker_reset_rejects_nonpositive_period(void **state)
{
    (void)state;
    ts_ticker_t *tk = ts_ticker_new(5 * TS_MILLISECOND);
    assert_non_null(tk);
    assert_int_equal(EINVAL, ts_ticker_reset(tk, 0));
    assert_int_equal(EINVAL, ts_ticker_reset(tk, -TS_SECOND));
    assert_int_equal(EINVAL, ts_ticker_reset(NULL, TS_SECOND));
    int64_t v;
    assert_int_equal(0, tt_recv_within(ts_ticker_chan(tk), &v, NULL, TT_SOON));
    assert_int_equal(0, ts_ticker_reset(tk, TS_HOUR));
    ts_ticker_free(tk);
    tt_end(0);
}

/* Ticker channels are synchronous too (Go 1.23). */
static void test_ticker_chan_len_and_cap_are_zero(void **state)
{
    (void)state;
    ts_ticker_t *tk = ts_ticker_new(TS_MILLISECOND);
    assert_non_null(tk);
    ts_sleep(20 * TS_MILLISECOND);
    assert_int_equal(ts_chan_cap(ts_ticker_chan(tk)), 0);
    assert_int_equal(ts_chan_len(ts_ticker_chan(tk)), 0);
    ts_ticker_free(tk);
    tt_end(0);
}

/* ---- many timers ----------------------------------------------------------- */

struct many_func {
    ts_chan_t *done;
    int64_t deadline;
};

static void check_deadline_run(void *arg)
{
    struct many_func *m = arg;
    TT_CHECK(ts_now() >= m->deadline);
    TT_CHECK(ts_self() != 0);
    tt_signal(m->done);
}

/* 10,000 timers (scaled) with random durations up to 100 ms: every
 * channel timer delivers a time not before its deadline (received in
 * creation order, so most have long expired and wait in their synchronous
 * channel), and every function timer runs, not before its deadline. */
static void test_timer_many_random_timers_all_fire(void **state)
{
    (void)state;
    long n = tt_scaled(10000, 2000);
    uint64_t seed = 777;
    ts_timer_t **ts = calloc((size_t)n, sizeof *ts);
    int64_t *deadline = calloc((size_t)n, sizeof *deadline);
    struct many_func *mf = calloc((size_t)n, sizeof *mf);
    ts_timer_t **fs = calloc((size_t)n, sizeof *fs);
    ts_chan_t *done = ts_chan_make(0, (size_t)n);
    assert_true(ts && deadline && mf && fs && done);
    for (long i = 0; i < n; i++) {
        int64_t d = (int64_t)(tt_rand(&seed) % (100 * TS_MILLISECOND));
        deadline[i] = ts_now() + d;
        ts[i] = ts_timer_new(d);
        assert_non_null(ts[i]);
        d = (int64_t)(tt_rand(&seed) % (100 * TS_MILLISECOND));
        mf[i].done = done;
        mf[i].deadline = ts_now() + d;
        fs[i] = ts_after_func(d, check_deadline_run, &mf[i]);
        assert_non_null(fs[i]);
    }
    for (long i = 0; i < n; i++) {
        int64_t v = recv_time(ts_timer_chan(ts[i]));
        if (v < deadline[i])
            fail_msg("timer %ld fired %lld ns early", i,
                     (long long)(deadline[i] - v));
    }
    assert_int_equal(tt_wait_done(done, n, TT_SOON), n);
    for (long i = 0; i < n; i++) {
        ts_timer_free(ts[i]);
        ts_timer_free(fs[i]);
    }
    tt_end(0);
    free(ts);
    free(deadline);
    free(mf);
    free(fs);
    ts_chan_release(done);
}

/* ---- stop / reset racing the fire ---------------------------------------- */

/* Busy-waits d ns (no parking: the timer fires on another M meanwhile). */
static void spin_for(int64_t d)
{
    int64_t end = ts_now() + d;
    while (ts_now() < end)
        ;
}

/* Stop races the fire: the timer is due within 0-200 us and stop comes at
 * a random point around then. Nobody receives, so by Go 1.23 rules stop
 * always reports true (an expired, unreceived value is discarded), and no
 * value ever arrives after it returned. A fire that completes concurrently
 * with stop and still lands in the channel shows up here. */
static void test_timer_stop_racing_fire_never_delivers_after_stop(void **state)
{
    (void)state;
    long n = tt_scaled(2000, 300);
    uint64_t seed = 31;
    for (long i = 0; i < n; i++) {
        ts_timer_t *t =
            ts_timer_new((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        assert_non_null(t);
        spin_for((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        if (!ts_timer_stop(t))
            fail_msg("iteration %ld: stop of an unreceived timer reported "
                     "false",
                     i);
        expect_nothing_until(ts_timer_chan(t), ts_now() + TS_MILLISECOND);
        ts_timer_free(t);
    }
    tt_end(0);
}

/* Reset races the fire the same way: reset to an hour reports true (the
 * timer was active or its value unreceived) and no value, stale or new,
 * arrives afterwards. */
static void test_timer_reset_racing_fire_never_delivers_stale_value(
    void **state)
{
    (void)state;
    long n = tt_scaled(2000, 300);
    uint64_t seed = 37;
    for (long i = 0; i < n; i++) {
        ts_timer_t *t =
            ts_timer_new((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        assert_non_null(t);
        spin_for((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        if (!ts_timer_reset(t, TS_HOUR))
            fail_msg("iteration %ld: reset of an unreceived timer reported "
                     "false",
                     i);
        expect_nothing_until(ts_timer_chan(t), ts_now() + TS_MILLISECOND);
        assert_true(ts_timer_stop(t));
        ts_timer_free(t);
    }
    tt_end(0);
}

struct stop_race {
    ts_chan_t *tc;     /* the timer's channel */
    ts_chan_t *cancel; /* closed by the test to release the receiver */
    ts_chan_t *result; /* int: 1 = received the timer's value */
};

static void stop_race_receiver(void *arg)
{
    struct stop_race *r = arg;
    int64_t v = 0;
    ts_select_case_t cs[2] = {TS_RECV_CASE(r->tc, &v),
                              TS_RECV_CASE(r->cancel, NULL)};
    int k = ts_select_deadline(cs, 2, 0, ts_now() + TT_SOON);
    int got = k == 0;
    TT_CHECK(k == 0 || k == 1);
    TT_CHECK_EQ(ts_chan_send(r->result, &got), 0);
}

/* Stop races a receiver that is waiting for the fire. Exactly one of the
 * two must win: either stop reports true and the receiver never gets the
 * value, or stop reports false and the receiver gets it. Both (a value
 * delivered after a successful stop) or neither (a value lost) is a bug. */
static void test_timer_stop_racing_receiver_exactly_one_wins(void **state)
{
    (void)state;
    long n = tt_scaled(1000, 200);
    uint64_t seed = 41;
    long stopped_count = 0;
    struct stop_race r = {.result = ts_chan_make(sizeof(int), 1)};
    assert_non_null(r.result);
    for (long i = 0; i < n; i++) {
        ts_timer_t *t =
            ts_timer_new((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        assert_non_null(t);
        r.tc = ts_timer_chan(t);
        r.cancel = ts_chan_make(0, 0);
        assert_non_null(r.cancel);
        assert_true(ts_go(stop_race_receiver, &r) != 0);
        spin_for((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        bool stopped = ts_timer_stop(t);
        int got = -1;
        if (stopped) {
            ts_chan_close(r.cancel);
            assert_int_equal(tt_recv_within(r.result, &got, NULL, TT_SOON), 0);
            if (got != 0)
                fail_msg("iteration %ld: stop reported true but the value "
                         "was received",
                         i);
            stopped_count++;
        } else {
            if (tt_recv_within(r.result, &got, NULL, 2 * TS_SECOND) != 0)
                fail_msg("iteration %ld: stop reported false but the value "
                         "never arrived",
                         i);
            assert_int_equal(got, 1);
            ts_chan_close(r.cancel);
        }
        ts_chan_release(r.cancel);
        ts_timer_free(t);
    }
    print_message("stopped %ld of %ld\n", stopped_count, n);
    ts_chan_release(r.result);
    tt_end(0);
}

static void count_and_signal(void *arg)
{
    struct func_run *f = arg;
    atomic_fetch_add(&f->runs, 1);
    tt_signal(f->done);
}

/* ts_after_func's stop races the fire: stop reports true and the function
 * never runs, or reports false and the function runs (exactly once). */
static void test_after_func_stop_racing_fire_runs_xor_stops(void **state)
{
    (void)state;
    long n = tt_scaled(1000, 200);
    uint64_t seed = 43;
    long stopped_count = 0;
    for (long i = 0; i < n; i++) {
        struct func_run f = {.done = ts_chan_make(0, 2)};
        assert_non_null(f.done);
        ts_timer_t *t =
            ts_after_func((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)),
                          count_and_signal, &f);
        assert_non_null(t);
        spin_for((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        if (ts_timer_stop(t)) {
            stopped_count++;
            expect_nothing_until(f.done, ts_now() + TS_MILLISECOND);
            assert_int_equal(atomic_load(&f.runs), 0);
        } else {
            if (tt_wait_done(f.done, 1, 2 * TS_SECOND) != 1)
                fail_msg("iteration %ld: stop reported false but the "
                         "function never ran",
                         i);
            assert_int_equal(atomic_load(&f.runs), 1);
        }
        ts_timer_free(t);
        /* a function still running holds &f: wait for the task to finish */
        assert_int_equal(tt_wait_num_tasks(tt_baseline, TT_SOON), tt_baseline);
        ts_chan_release(f.done);
    }
    print_message("stopped %ld of %ld\n", stopped_count, n);
    tt_end(0);
}

/* A ticker stopped at a random point around its ticks sends nothing after
 * stop returns. */
static void test_ticker_stop_racing_tick_never_delivers_after_stop(
    void **state)
{
    (void)state;
    long n = tt_scaled(500, 100);
    uint64_t seed = 47;
    for (long i = 0; i < n; i++) {
        ts_ticker_t *tk = ts_ticker_new(50 * TS_MICROSECOND);
        assert_non_null(tk);
        spin_for((int64_t)(tt_rand(&seed) % (200 * TS_MICROSECOND)));
        ts_ticker_stop(tk);
        expect_nothing_until(ts_ticker_chan(tk), ts_now() + TS_MILLISECOND);
        ts_ticker_free(tk);
    }
    tt_end(0);
}

/* ---- timers need no running task ------------------------------------------ */

static void signal_done(void *arg)
{
    tt_signal(arg);
}

static int idle_timers_main(void *arg)
{
    (void)arg;
    /* the only task is this one, and it is parked: nothing but the timer
     * machinery can wake it */
    int64_t t0 = ts_now();
    ts_timer_t *t = ts_timer_new(20 * TS_MILLISECOND);
    if (!t)
        return 1;
    int64_t v = 0;
    if (ts_chan_recv(ts_timer_chan(t), &v, NULL) != 0 ||
        v < t0 + 20 * TS_MILLISECOND)
        return 2;
    ts_timer_free(t);
    t0 = ts_now();
    ts_sleep(20 * TS_MILLISECOND);
    if (ts_now() - t0 < 20 * TS_MILLISECOND)
        return 3;
    ts_chan_t *done = ts_chan_make(0, 0);
    t = ts_after_func(20 * TS_MILLISECOND, signal_done, done);
    if (!done || !t || ts_chan_recv(done, NULL, NULL) != 0)
        return 4;
    ts_timer_free(t);
    ts_chan_t *after = ts_after(20 * TS_MILLISECOND);
    if (!after || ts_chan_recv(after, NULL, NULL) != 0)
        return 5;
    printf("idle timers ok\n");
    return 0;
}

static int scenario_idle_timers(void)
{
    return ts_run(idle_timers_main, NULL);
}

/* With one P and every task parked, timers still fire (the idle P must
 * sleep until the next timer, not forever). Run in a child so that
 * TASKSCOPE_PROCS=1 applies and no other task exists. */
static void test_timer_fires_while_all_tasks_are_blocked(void **state)
{
    (void)state;
    tt_expect_scenario_ok("idle_timers", 1);
    tt_end(0);
}

/* ---- main -------------------------------------------------------------------- */

static const struct tt_scenario scenarios[] = {
    {"idle_timers", scenario_idle_timers},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_now_is_monotonic),
        TT_TEST(test_sleep_waits_at_least_duration),
        TT_TEST(test_sleep_parks_task_with_reason_sleep),
        TT_TEST(test_sleep_many_tasks_all_wake),
        TT_TEST(test_timer_fires_once_with_time_after_deadline),
        TT_TEST(test_timer_nonpositive_duration_fires_at_once),
        TT_TEST(test_timer_wakes_blocked_receiver),
        TT_TEST(test_timer_stop_before_fire_returns_true),
        TT_TEST(test_timer_stop_after_receive_returns_false),
        TT_TEST(test_timer_stop_after_fire_before_receive_returns_true),
        TT_TEST(test_timer_stop_with_waiting_receiver_delivers_nothing),
        TT_TEST(test_timer_reset_after_fire_before_receive_sends_only_new_value),
        TT_TEST(test_timer_reset_active_returns_true),
        TT_TEST(test_timer_reset_inactive_returns_false_and_rearms),
        TT_TEST(test_timer_chan_len_and_cap_are_zero),
        TT_TEST(test_timer_free_before_fire_and_null),
        TT_TEST(test_after_delivers_once),
        TT_TEST(test_after_release_before_fire_is_safe),
        TT_TEST(test_after_func_runs_function_in_a_task),
        TT_TEST(test_after_func_stop_prevents_run),
        TT_TEST(test_after_func_reset_reschedules),
        TT_TEST(test_after_func_free_prevents_run),
        TT_TEST(test_ticker_ticks_repeatedly),
        TT_TEST(test_ticker_stop_prevents_further_ticks),
        TT_TEST(test_ticker_reset_changes_period),
        TT_TEST(test_ticker_rejects_nonpositive_period),
        TT_TEST(test_ticker_reset_rejects_nonpositive_period),
        TT_TEST(test_ticker_chan_len_and_cap_are_zero),
        TT_TEST(test_timer_many_random_timers_all_fire),
        TT_TEST(test_timer_stop_racing_fire_never_delivers_after_stop),
        TT_TEST(test_timer_reset_racing_fire_never_delivers_stale_value),
        TT_TEST(test_timer_stop_racing_receiver_exactly_one_wins),
        TT_TEST(test_after_func_stop_racing_fire_runs_xor_stops),
        TT_TEST(test_ticker_stop_racing_tick_never_delivers_after_stop),
        TT_TEST(test_timer_fires_while_all_tasks_are_blocked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
