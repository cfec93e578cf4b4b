/* test_errgroup.c — ts_errgroup_t: Wait waits for every task and returns
 * the first error, the group's context is cancelled by the first error and
 * by Wait, the limit caps concurrency (measured, and exact with a gate),
 * try_go, misuse and panics (in children: they end the process), and the
 * happens-before edge from each fn to Wait (the tsan build).
 *
 * Timing: nothing is asserted about time; blocked tasks are released by
 * gates (channels closed by the test) and every wait is bounded. */
#include "tt.h"

static ts_errgroup_t *group(void)
{
    ts_errgroup_t *g = ts_errgroup_new();
    assert_non_null(g);
    return g;
}

static ts_errgroup_t *group_ctx(ts_ctx_t **ctx)
{
    ts_errgroup_t *g = ts_errgroup_with_context(ts_ctx_background(), ctx);
    assert_non_null(g);
    assert_non_null(*ctx);
    return g;
}

/* Blocks (bounded) until ctx is done; the test fails if it never is. */
static bool wait_ctx_done(ts_ctx_t *ctx)
{
    bool ok = true;
    return tt_recv_within(ts_ctx_done(ctx), NULL, &ok, TT_SOON) == 0 && !ok;
}

/* ---- wait and errors ------------------------------------------------------ */

struct counter {
    atomic_int n;
    int plain[64]; /* written by fn, read after wait: no race */
};

static int count_fn(void *arg)
{
    struct counter *c = arg;
    int i = atomic_fetch_add(&c->n, 1);
    ts_sleep(TS_MILLISECOND);
    if (i < 64)
        c->plain[i] = i + 1;
    return 0;
}

/* Wait returns 0 only after every fn has returned, and sees what each fn
 * wrote without synchronising on its own (Go: fn's return happens before
 * Wait returns). */
static void test_errgroup_wait_waits_for_all(void **state)
{
    (void)state;
    ts_errgroup_t *g = group();
    static struct counter c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 64; i++)
        assert_int_equal(ts_errgroup_go(g, count_fn, &c), 0);
    assert_int_equal(ts_errgroup_wait(g), 0);
    assert_int_equal(atomic_load(&c.n), 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(c.plain[i], i + 1);
    ts_errgroup_free(g);
    tt_end(0);
}

static int fail_7(void *arg)
{
    (void)arg;
    return 7;
}

/* Returns 9 once the group's context is done, i.e. after the first error
 * was recorded: its error can never be the first. */
static int fail_9_after_cancel(void *arg)
{
    TT_CHECK(wait_ctx_done(arg));
    return 9;
}

/* The first error is Wait's result (and again on a second Wait); later
 * errors are dropped. The context is cancelled with ECANCELED, its cause
 * the first error (Go: WithCancelCause, cancel(err)). */
static void test_errgroup_first_error_wins(void **state)
{
    (void)state;
    ts_ctx_t *ctx;
    ts_errgroup_t *g = group_ctx(&ctx);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ts_errgroup_go(g, fail_9_after_cancel, ctx), 0);
    assert_int_equal(ts_errgroup_go(g, fail_7, NULL), 0);
    assert_int_equal(ts_errgroup_wait(g), 7);
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    assert_int_equal(ts_ctx_cause(ctx), 7);
    assert_int_equal(ts_errgroup_wait(g), 7);
    ts_errgroup_free(g);
    tt_end(0);
}

/* A group without a context keeps the first error too. */
static void test_errgroup_without_context_returns_error(void **state)
{
    (void)state;
    ts_errgroup_t *g = group();
    static struct counter c;
    memset(&c, 0, sizeof c);
    assert_int_equal(ts_errgroup_go(g, count_fn, &c), 0);
    assert_int_equal(ts_errgroup_go(g, fail_7, NULL), 0);
    assert_int_equal(ts_errgroup_wait(g), 7);
    assert_int_equal(atomic_load(&c.n), 1);
    ts_errgroup_free(g);
    tt_end(0);
}

struct worker {
    ts_ctx_t *ctx;
    atomic_int stopped;
};

/* A long job that gives up when the group's context is done. */
static int stop_on_done(void *arg)
{
    struct worker *w = arg;
    if (wait_ctx_done(w->ctx))
        atomic_fetch_add(&w->stopped, 1);
    return ts_ctx_err(w->ctx);
}

/* Seed 001's pattern: the first failure cancels the context, the other
 * tasks see done and stop early; their ECANCELED comes second and is not
 * the group's error. */
static void test_errgroup_first_error_cancels_others(void **state)
{
    (void)state;
    struct worker w = {0};
    ts_errgroup_t *g = group_ctx(&w.ctx);
    long n = tt_scaled(50, 5);
    for (long i = 0; i < n; i++)
        assert_int_equal(ts_errgroup_go(g, stop_on_done, &w), 0);
    assert_int_equal(ts_ctx_err(w.ctx), 0);
    assert_int_equal(ts_errgroup_go(g, fail_7, NULL), 0);
    assert_int_equal(ts_errgroup_wait(g), 7);
    assert_int_equal(atomic_load(&w.stopped), n);
    ts_errgroup_free(g);
    tt_end(0);
}

/* No error: the context is still cancelled when Wait returns (Go: "the
 * first time a function passed to Go returns a non-nil error or the first
 * time Wait returns"), and stays valid until free. */
static void test_errgroup_wait_cancels_context(void **state)
{
    (void)state;
    ts_ctx_t *ctx;
    ts_errgroup_t *g = group_ctx(&ctx);
    static struct counter c;
    memset(&c, 0, sizeof c);
    assert_int_equal(ts_errgroup_go(g, count_fn, &c), 0);
    assert_int_equal(ts_errgroup_wait(g), 0);
    assert_true(wait_ctx_done(ctx));
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    assert_int_equal(ts_ctx_cause(ctx), ECANCELED);
    ts_errgroup_free(g);
    tt_end(0);
}

/* A group freed without any task (nor wait) cancels and frees its
 * context: nothing leaks (LeakSanitizer in the asan build). */
static void test_errgroup_free_without_wait(void **state)
{
    (void)state;
    ts_ctx_t *ctx;
    ts_errgroup_free(group_ctx(&ctx));
    ts_errgroup_free(NULL);
    tt_end(0);
}

/* ---- limit ------------------------------------------------------------------ */

struct gated {
    ts_chan_t *gate;    /* closed by the test to let every fn return */
    atomic_int cur;     /* fns running now */
    atomic_int max;     /* most running at once */
    atomic_int ran;
};

static int gated_fn(void *arg)
{
    struct gated *s = arg;
    int cur = atomic_fetch_add(&s->cur, 1) + 1;
    int max = atomic_load(&s->max);
    while (cur > max && !atomic_compare_exchange_weak(&s->max, &max, cur))
        ;
    bool ok = true;
    TT_CHECK(tt_recv_within(s->gate, NULL, &ok, TT_SOON) == 0 && !ok);
    atomic_fetch_sub(&s->cur, 1);
    atomic_fetch_add(&s->ran, 1);
    return 0;
}

static void gated_init(struct gated *s)
{
    memset(s, 0, sizeof *s);
    s->gate = ts_chan_make(0, 0);
    assert_non_null(s->gate);
}

struct starter {
    ts_errgroup_t *g;
    struct gated *s;
    int n;
    ts_chan_t *done;
};

static void start_all(void *arg)
{
    struct starter *st = arg;
    for (int i = 0; i < st->n; i++)
        TT_CHECK_EQ(ts_errgroup_go(st->g, gated_fn, st->s), 0);
    tt_signal(st->done);
}

/* With limit 3, a fourth go blocks ("semacquire") while three fns are held
 * at the gate; once released, every fn runs and no more than 3 ever ran at
 * once. */
static void test_errgroup_limit_caps_concurrency(void **state)
{
    (void)state;
    static struct gated s;
    gated_init(&s);
    ts_errgroup_t *g = group();
    ts_errgroup_set_limit(g, 3);
    struct starter st = {g, &s, (int)tt_scaled(20, 6), ts_chan_make(0, 1)};
    uint64_t id = tt_go(start_all, &st);
    int64_t deadline = ts_now() + TT_SOON;
    while (atomic_load(&s.cur) < 3 && ts_now() < deadline)
        ts_sleep(TS_MILLISECOND / 2);
    assert_true(tt_wait_parked(id, TS_WAIT_SEMACQUIRE, TT_SOON, NULL));
    assert_int_equal(atomic_load(&s.cur), 3);
    ts_chan_close(s.gate);
    assert_int_equal(tt_wait_done(st.done, 1, TT_SOON), 1);
    assert_int_equal(ts_errgroup_wait(g), 0);
    assert_int_equal(atomic_load(&s.ran), st.n);
    assert_int_equal(atomic_load(&s.max), 3);
    ts_errgroup_free(g);
    ts_chan_release(s.gate);
    ts_chan_release(st.done);
    tt_end(0);
}

/* try_go starts fns up to the limit, then says false without blocking.
 * Removing the limit is allowed while fns run (Go) and lets try_go start
 * more; a new limit is allowed once they have returned. */
static void test_errgroup_try_go_false_at_limit(void **state)
{
    (void)state;
    static struct gated s;
    gated_init(&s);
    ts_errgroup_t *g = group();
    ts_errgroup_set_limit(g, 2);
    assert_true(ts_errgroup_try_go(g, gated_fn, &s));
    assert_true(ts_errgroup_try_go(g, gated_fn, &s));
    assert_false(ts_errgroup_try_go(g, gated_fn, &s));
    ts_errgroup_set_limit(g, -1);
    assert_true(ts_errgroup_try_go(g, gated_fn, &s));
    ts_chan_close(s.gate);
    assert_int_equal(ts_errgroup_wait(g), 0);
    assert_int_equal(atomic_load(&s.ran), 3);
    ts_errgroup_set_limit(g, 1);
    assert_true(ts_errgroup_try_go(g, fail_7, NULL));
    assert_int_equal(ts_errgroup_wait(g), 7);
    assert_true(ts_errgroup_try_go(g, gated_fn, &s));
    assert_int_equal(ts_errgroup_wait(g), 7);
    assert_int_equal(atomic_load(&s.ran), 4);
    ts_errgroup_free(g);
    ts_chan_release(s.gate);
    tt_end(0);
}

/* ---- misuse and panics (children) ------------------------------------------ */

static int scenario_set_limit_while_active(void)
{
    static struct gated s;
    gated_init(&s);
    ts_errgroup_t *g = ts_errgroup_new();
    ts_errgroup_set_limit(g, 1);
    ts_errgroup_go(g, gated_fn, &s);
    ts_errgroup_set_limit(g, 2);
    puts("UNREACHED");
    return 0;
}

static int panic_fn(void *arg)
{
    (void)arg;
    ts_panic("boom in errgroup");
}

static int scenario_panic_not_recovered(void)
{
    ts_errgroup_t *g = ts_errgroup_new();
    ts_errgroup_go(g, panic_fn, NULL);
    ts_errgroup_wait(g);
    puts("UNREACHED");
    return 0;
}

static const struct tt_scenario scenarios[] = {
    {"set_limit_while_active", scenario_set_limit_while_active},
    {"panic_not_recovered", scenario_panic_not_recovered},
};

/* Changing a limit while fns started under it run panics with Go's
 * message. */
static void test_errgroup_set_limit_while_active_panics(void **state)
{
    (void)state;
    tt_expect_panic("set_limit_while_active",
                    "errgroup: modify limit while 1 goroutines in the group "
                    "are still active");
    tt_end(0);
}

/* A panic in fn is not recovered (x/sync's behaviour since the 2025
 * revert): the program ends with Go's report before Wait returns. */
static void test_errgroup_panic_is_not_recovered(void **state)
{
    (void)state;
    tt_expect_panic("panic_not_recovered", "boom in errgroup");
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
        TT_TEST(test_errgroup_wait_waits_for_all),
        TT_TEST(test_errgroup_first_error_wins),
        TT_TEST(test_errgroup_without_context_returns_error),
        TT_TEST(test_errgroup_first_error_cancels_others),
        TT_TEST(test_errgroup_wait_cancels_context),
        TT_TEST(test_errgroup_free_without_wait),
        TT_TEST(test_errgroup_limit_caps_concurrency),
        TT_TEST(test_errgroup_try_go_false_at_limit),
        TT_TEST(test_errgroup_set_limit_while_active_panics),
        TT_TEST(test_errgroup_panic_is_not_recovered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
