/* test_context.c — contexts: cancellation, deadlines, values, propagation,
 * memory (every test frees what it makes: the asan build's LeakSanitizer
 * checks), and the happens-before edges of a cancel (the tsan build).
 *
 * Timing: a timeout is only asserted to fire "within TT_SOON", never at a
 * given instant. */
#include "tt.h"

/* done: ctx's done channel is closed (without blocking). */
static bool is_done(ts_ctx_t *ctx)
{
    bool ok = true;
    return ts_chan_try_recv(ts_ctx_done(ctx), NULL, &ok) == 0 && !ok;
}

/* Waits (bounded) for ctx's done channel to close. */
static bool wait_done(ts_ctx_t *ctx)
{
    bool ok = true;
    return tt_recv_within(ts_ctx_done(ctx), NULL, &ok, TT_SOON) == 0 && !ok;
}

static ts_ctx_t *with_cancel(ts_ctx_t *parent, ts_cancel_t **cancel)
{
    ts_ctx_t *ctx = ts_ctx_with_cancel(parent, cancel);
    assert_non_null(ctx);
    assert_non_null(*cancel);
    return ctx;
}

static ts_ctx_t *with_timeout(ts_ctx_t *parent, int64_t d,
                              ts_cancel_t **cancel)
{
    ts_ctx_t *ctx = ts_ctx_with_timeout(parent, d, cancel);
    assert_non_null(ctx);
    assert_non_null(*cancel);
    return ctx;
}

/* ---- roots -------------------------------------------------------------- */

/* Background and TODO are never done: NULL done channel (a select case on
 * it never fires), no error, no deadline, no values; retain and release
 * leave them alone. */
static void test_ctx_background_is_never_done(void **state)
{
    (void)state;
    ts_ctx_t *roots[] = {ts_ctx_background(), ts_ctx_todo()};
    assert_ptr_not_equal(roots[0], roots[1]);
    for (int i = 0; i < 2; i++) {
        ts_ctx_t *ctx = roots[i];
        assert_ptr_equal(ts_ctx_background(), roots[0]);
        assert_null(ts_ctx_done(ctx));
        assert_int_equal(ts_ctx_err(ctx), 0);
        assert_int_equal(ts_ctx_cause(ctx), 0);
        assert_false(ts_ctx_deadline(ctx, NULL));
        assert_null(ts_ctx_value(ctx, &roots));
        assert_ptr_equal(ts_ctx_retain(ctx), ctx);
        ts_ctx_release(ctx);
        ts_ctx_release(ctx);
        ts_select_case_t c = TS_RECV_CASE(ts_ctx_done(ctx), NULL);
        assert_int_equal(ts_select_deadline(&c, 1, 0,
                                            ts_now() + 20 * TS_MILLISECOND),
                         TS_SELECT_TIMEOUT);
    }
    tt_end(0);
}

/* ---- cancel -------------------------------------------------------------- */

/* ts_cancel closes done and sets ECANCELED; a second ts_cancel, by a holder
 * of another reference, is a no-op. */
static void test_ctx_cancel_closes_done_with_canceled(void **state)
{
    (void)state;
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    assert_non_null(ts_ctx_done(ctx));
    assert_false(is_done(ctx));
    assert_int_equal(ts_ctx_err(ctx), 0);
    assert_int_equal(ts_ctx_cause(ctx), 0);
    assert_false(ts_ctx_deadline(ctx, NULL));

    ts_ctx_retain(ctx); /* keeps ctx and cancel valid after ts_cancel */
    ts_cancel(cancel);
    assert_true(wait_done(ctx));
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    assert_int_equal(ts_ctx_cause(ctx), ECANCELED);
    ts_cancel(cancel);
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    assert_true(is_done(ctx));
    ts_ctx_release(ctx);
    ts_cancel(NULL);
    tt_end(0);
}

/* ts_cancel_cause records a cause, reported by ts_ctx_cause on the context
 * and on its descendants (those cancelled with it and those born after);
 * the error stays ECANCELED. */
static void test_ctx_cancel_cause_is_reported(void **state)
{
    (void)state;
    ts_cancel_t *cancel, *child_cancel, *late_cancel;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    ts_ctx_t *child = with_cancel(ctx, &child_cancel);
    ts_ctx_retain(ctx);
    ts_cancel_cause(cancel, EPIPE);
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    assert_int_equal(ts_ctx_cause(ctx), EPIPE);
    assert_int_equal(ts_ctx_err(child), ECANCELED);
    assert_int_equal(ts_ctx_cause(child), EPIPE);
    ts_ctx_t *late = with_cancel(ctx, &late_cancel);
    assert_int_equal(ts_ctx_cause(late), EPIPE);
    ts_cancel_cause(child_cancel, ENOENT); /* too late: no effect */
    ts_cancel(late_cancel);
    ts_ctx_release(ctx);
    tt_end(0);
}

/* Cancelling a child leaves its parent and its siblings alone; cancelling
 * the parent then cancels the remaining sibling. */
static void test_ctx_cancel_child_leaves_parent_and_siblings(void **state)
{
    (void)state;
    ts_cancel_t *cancel, *c1, *c2;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    ts_ctx_t *child1 = with_cancel(ctx, &c1);
    ts_ctx_t *child2 = with_timeout(ctx, TS_HOUR, &c2);
    ts_ctx_retain(child1);
    ts_cancel(c1);
    assert_true(is_done(child1));
    assert_false(is_done(ctx));
    assert_false(is_done(child2));
    assert_int_equal(ts_ctx_err(ctx), 0);
    assert_int_equal(ts_ctx_err(child2), 0);
    ts_ctx_release(child1);

    ts_cancel(cancel); /* child2 keeps ctx alive */
    assert_true(is_done(child2));
    assert_int_equal(ts_ctx_err(child2), ECANCELED);
    ts_cancel(c2);
    tt_end(0);
}

/* A child cancelled on its own leaves its parent's list: cancelling many,
 * then the parent, touches none of them again (ASan would see a use after
 * free), and nothing is leaked (LeakSanitizer). */
static void test_ctx_cancelled_children_leave_parent(void **state)
{
    (void)state;
    ts_cancel_t *cancel, *cc;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    long n = tt_scaled(1000, 50);
    for (long i = 0; i < n; i++) {
        if (i % 2)
            with_cancel(ctx, &cc);
        else
            with_timeout(ctx, TS_HOUR, &cc);
        ts_cancel(cc);
    }
    ts_ctx_retain(ctx);
    ts_cancel(cancel);
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    ts_ctx_release(ctx);
    tt_end(0);
}

/* A context made from a cancelled parent is born cancelled with the
 * parent's error and cause, whatever its kind (a deadline child too). */
static void test_ctx_child_of_cancelled_parent_is_born_cancelled(void **state)
{
    (void)state;
    static const int key = 0;
    ts_cancel_t *cancel, *c1, *c2;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    ts_ctx_retain(ctx);
    ts_cancel_cause(cancel, EPIPE);
    ts_ctx_t *child = with_cancel(ctx, &c1);
    ts_ctx_t *timed = with_timeout(ctx, TS_HOUR, &c2);
    ts_ctx_t *value = ts_ctx_with_value(ctx, &key, NULL);
    assert_non_null(value);
    ts_ctx_t *all[] = {child, timed, value};
    for (int i = 0; i < 3; i++) {
        assert_true(is_done(all[i]));
        assert_int_equal(ts_ctx_err(all[i]), ECANCELED);
        assert_int_equal(ts_ctx_cause(all[i]), EPIPE);
    }
    ts_cancel(c1);
    ts_cancel(c2);
    ts_ctx_release(value);
    ts_ctx_release(ctx);
    tt_end(0);
}

/* ---- fan-out ------------------------------------------------------------- */

/* Cancelling a parent cancels a 10,000-child fan-out (scaled): cancel
 * children, deadline children, and cancel grandchildren reached through a
 * value context; every done channel is closed when ts_cancel returns, with
 * the parent's error and cause. */
static void test_ctx_cancel_parent_cancels_fanout(void **state)
{
    (void)state;
    static const int key = 0;
    long n = tt_scaled(10000, 300);
    ts_ctx_t **kids = calloc((size_t)n, sizeof *kids);
    ts_cancel_t **cancels = calloc((size_t)n, sizeof *cancels);
    assert_non_null(kids);
    assert_non_null(cancels);
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    for (long i = 0; i < n; i++) {
        if (i % 3 == 0) {
            kids[i] = with_cancel(ctx, &cancels[i]);
        } else if (i % 3 == 1) {
            kids[i] = with_timeout(ctx, TS_HOUR, &cancels[i]);
        } else {
            ts_ctx_t *v = ts_ctx_with_value(ctx, &key, NULL);
            assert_non_null(v);
            kids[i] = with_cancel(v, &cancels[i]);
            ts_ctx_release(v); /* the grandchild holds it */
        }
    }
    ts_cancel_cause(cancel, ESHUTDOWN);
    long closed = 0;
    for (long i = 0; i < n; i++) {
        closed += is_done(kids[i]) && ts_ctx_err(kids[i]) == ECANCELED &&
                  ts_ctx_cause(kids[i]) == ESHUTDOWN;
        ts_cancel(cancels[i]);
    }
    assert_int_equal(closed, n);
    free(kids);
    free(cancels);
    tt_end(0);
}

/* ---- deadlines ----------------------------------------------------------- */

/* A timeout cancels its context with ETIMEDOUT (Go's DeadlineExceeded),
 * and its descendants with it; ts_cancel afterwards keeps the error. */
static void test_ctx_timeout_fires_with_deadline_exceeded(void **state)
{
    (void)state;
    ts_cancel_t *cancel, *cc;
    int64_t before = ts_now();
    ts_ctx_t *ctx = with_timeout(ts_ctx_background(), 10 * TS_MILLISECOND,
                                 &cancel);
    ts_ctx_t *child = with_cancel(ctx, &cc);
    int64_t dl = 0;
    assert_true(ts_ctx_deadline(ctx, &dl));
    assert_true(dl >= before + 10 * TS_MILLISECOND);
    assert_true(wait_done(ctx));
    assert_int_equal(ts_ctx_err(ctx), ETIMEDOUT);
    assert_int_equal(ts_ctx_cause(ctx), ETIMEDOUT);
    assert_true(wait_done(child));
    assert_int_equal(ts_ctx_err(child), ETIMEDOUT);
    ts_cancel(cc);
    ts_ctx_retain(ctx);
    ts_cancel(cancel);
    assert_int_equal(ts_ctx_err(ctx), ETIMEDOUT);
    ts_ctx_release(ctx);
    tt_end(0);
}

/* A deadline already past gives a context born with ETIMEDOUT. */
static void test_ctx_past_deadline_is_born_timed_out(void **state)
{
    (void)state;
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = ts_ctx_with_deadline(ts_ctx_background(),
                                         ts_now() - TS_SECOND, &cancel);
    assert_non_null(ctx);
    assert_true(is_done(ctx));
    assert_int_equal(ts_ctx_err(ctx), ETIMEDOUT);
    ts_cancel(cancel);
    tt_end(0);
}

/* Cancelling a timeout context before its deadline stops its timer: the
 * error is ECANCELED and no timer task is left behind. */
static void test_ctx_timeout_cancelled_early_is_canceled(void **state)
{
    (void)state;
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = with_timeout(ts_ctx_background(), TS_HOUR, &cancel);
    ts_ctx_retain(ctx);
    ts_cancel(cancel);
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    ts_ctx_release(ctx);
    tt_end(0);
}

/* Go's WithDeadline rule: a child asking for a later deadline than its
 * parent's keeps the parent's; an earlier one is its own. Cancel and value
 * children inherit the deadline. */
static void test_ctx_deadline_inherits_earlier_parent_deadline(void **state)
{
    (void)state;
    static const int key = 0;
    ts_cancel_t *cancel, *c1, *c2, *c3;
    ts_ctx_t *ctx = with_timeout(ts_ctx_background(), TS_HOUR, &cancel);
    int64_t parent_dl, dl;
    assert_true(ts_ctx_deadline(ctx, &parent_dl));

    ts_ctx_t *later = with_timeout(ctx, 2 * TS_HOUR, &c1);
    assert_true(ts_ctx_deadline(later, &dl));
    assert_int_equal(dl, parent_dl);

    ts_ctx_t *earlier = ts_ctx_with_deadline(ctx, parent_dl - TS_MINUTE, &c2);
    assert_non_null(earlier);
    assert_true(ts_ctx_deadline(earlier, &dl));
    assert_int_equal(dl, parent_dl - TS_MINUTE);

    ts_ctx_t *plain = with_cancel(ctx, &c3);
    ts_ctx_t *value = ts_ctx_with_value(plain, &key, NULL);
    assert_non_null(value);
    assert_true(ts_ctx_deadline(value, &dl));
    assert_int_equal(dl, parent_dl);

    ts_ctx_release(value);
    ts_cancel(c3);
    ts_cancel(c2);
    ts_cancel(c1);
    ts_cancel(cancel);
    tt_end(0);
}

/* Contexts whose short timeouts fire while their creators cancel them:
 * either error is fine, nothing is leaked or touched after free, and every
 * timer task ends (tt_end). */
static void test_ctx_timeout_racing_cancel_is_safe(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    long n = tt_scaled(3000, 200);
    for (long i = 0; i < n; i++) {
        ts_cancel_t *cancel;
        int64_t d = (int64_t)(tt_rand(&seed) % 50) * TS_MICROSECOND;
        ts_ctx_t *ctx = with_timeout(ts_ctx_background(), d, &cancel);
        if (i % 4 == 0)
            ts_sleep(d);
        ts_ctx_retain(ctx);
        ts_cancel(cancel);
        int err = ts_ctx_err(ctx);
        assert_true(err == ECANCELED || err == ETIMEDOUT);
        ts_ctx_release(ctx);
    }
    tt_end(0);
}

/* ---- values -------------------------------------------------------------- */

/* Values are found through the whole chain, across cancel contexts, and the
 * nearest context carrying a key shadows the farther ones. A value
 * context's done and error are its cancellable ancestor's. */
static void test_ctx_values_found_through_chain_and_shadowed(void **state)
{
    (void)state;
    static const int k1 = 0, k2 = 0, missing = 0;
    int a = 1, b = 2, c = 3;
    ts_cancel_t *cancel;
    ts_ctx_t *v1 = ts_ctx_with_value(ts_ctx_background(), &k1, &a);
    assert_non_null(v1);
    assert_null(ts_ctx_done(v1));
    ts_ctx_t *mid = with_cancel(v1, &cancel);
    ts_ctx_t *v2 = ts_ctx_with_value(mid, &k2, &b);
    ts_ctx_t *v3 = ts_ctx_with_value(v2, &k1, &c);
    assert_non_null(v2);
    assert_non_null(v3);

    assert_ptr_equal(ts_ctx_value(v3, &k1), &c);
    assert_ptr_equal(ts_ctx_value(v3, &k2), &b);
    assert_ptr_equal(ts_ctx_value(v2, &k1), &a);
    assert_ptr_equal(ts_ctx_value(mid, &k1), &a);
    assert_null(ts_ctx_value(mid, &k2));
    assert_null(ts_ctx_value(v3, &missing));
    assert_ptr_equal(ts_ctx_done(v3), ts_ctx_done(mid));

    ts_ctx_release(v1); /* mid holds it */
    ts_cancel(cancel);  /* v2 holds mid */
    assert_int_equal(ts_ctx_err(v3), ECANCELED);
    assert_true(is_done(v3));
    assert_ptr_equal(ts_ctx_value(v3, &k1), &c); /* values outlive cancel */
    ts_ctx_release(v2); /* v3 holds it */
    ts_ctx_release(v3); /* frees the chain */
    tt_end(0);
}

/* ---- tasks and threads ---------------------------------------------------- */

struct waiter_arg {
    ts_ctx_t *ctx;      /* a reference of the task's own */
    ts_chan_t *signal;  /* tt_signal when done */
};

/* Blocks in select on ctx's done and a channel nobody sends on. */
static void waiter_task(void *p)
{
    struct waiter_arg *a = p;
    ts_chan_t *never = ts_chan_make(0, 0);
    ts_select_case_t cases[] = {TS_RECV_CASE(never, NULL),
                                TS_RECV_CASE(ts_ctx_done(a->ctx), NULL)};
    int r = ts_select_deadline(cases, 2, 0, ts_now() + TT_SOON);
    TT_CHECK_EQ(r, 1);
    TT_CHECK(!cases[1].ok);
    TT_CHECK_EQ(ts_ctx_err(a->ctx), ECANCELED);
    ts_chan_release(never);
    ts_ctx_release(a->ctx);
    tt_signal(a->signal);
}

static void *cancel_thread(void *cancel)
{
    ts_cancel(cancel);
    return NULL;
}

/* A plain thread's ts_cancel wakes tasks blocked in select on done, of the
 * context itself and of a descendant; each sees ECANCELED. */
static void test_ctx_cancel_from_thread_wakes_select(void **state)
{
    (void)state;
    enum { N = 8 };
    static const int key = 0;
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    ts_ctx_t *value = ts_ctx_with_value(ctx, &key, NULL);
    assert_non_null(value);
    ts_chan_t *signal = ts_chan_make(0, 0);
    struct waiter_arg args[N];
    uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        args[i] = (struct waiter_arg){ts_ctx_retain(i % 2 ? value : ctx),
                                      signal};
        ids[i] = tt_go(waiter_task, &args[i]);
    }
    for (int i = 0; i < N; i++)
        assert_true(tt_wait_parked(ids[i], TS_WAIT_SELECT, TT_SOON, NULL));
    ts_ctx_release(value);
    tt_join(tt_thread(cancel_thread, cancel));
    assert_int_equal(tt_wait_done(signal, N, TT_SOON), N);
    ts_chan_release(signal);
    tt_end(0);
}

static int shared_word;

struct writer_arg {
    ts_cancel_t *cancel; /* the creator's reference, handed over */
};

static void writer_task(void *p)
{
    struct writer_arg *a = p;
    shared_word = 42;
    ts_cancel(a->cancel);
}

/* The cancel happens before ts_ctx_err returns its error: a write made
 * before ts_cancel is visible to whoever sees the error, without any
 * channel operation (in the tsan build, TSan checks the edge). */
static void test_ctx_err_observes_writes_before_cancel(void **state)
{
    (void)state;
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    ts_ctx_retain(ctx);
    shared_word = 0;
    struct writer_arg arg = {cancel};
    tt_go(writer_task, &arg);
    int64_t deadline = ts_now() + TT_SOON;
    while (ts_ctx_err(ctx) == 0 && ts_now() < deadline)
        ts_sleep(TS_MICROSECOND * 100);
    assert_int_equal(ts_ctx_err(ctx), ECANCELED);
    assert_int_equal(shared_word, 42);
    ts_ctx_release(ctx);
    tt_end(0);
}

struct racer_arg {
    ts_cancel_t *cancel; /* the child's creator reference */
    ts_chan_t *signal;
};

static void racer_task(void *p)
{
    struct racer_arg *a = p;
    ts_cancel(a->cancel);
    tt_signal(a->signal);
}

/* Children cancel themselves in tasks while the parent is cancelled from
 * the test thread: each child ends cancelled exactly once, whichever wins,
 * and leaves the parent's list either way (ASan, TSan). */
static void test_ctx_children_racing_parent_cancel(void **state)
{
    (void)state;
    long n = tt_scaled(2000, 100);
    struct racer_arg *args = calloc((size_t)n, sizeof *args);
    assert_non_null(args);
    ts_chan_t *signal = ts_chan_make(0, 0);
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = with_cancel(ts_ctx_background(), &cancel);
    for (long i = 0; i < n; i++) {
        if (i % 2)
            with_cancel(ctx, &args[i].cancel);
        else
            with_timeout(ctx, TS_MILLISECOND, &args[i].cancel);
        args[i].signal = signal;
    }
    for (long i = 0; i < n; i++)
        tt_go(racer_task, &args[i]);
    ts_cancel(cancel);
    assert_int_equal(tt_wait_done(signal, n, TT_SOON), n);
    ts_chan_release(signal);
    free(args);
    tt_end(0);
}

/* ---- misuse -------------------------------------------------------------- */

static int scenario_nil_parent(void)
{
    ts_cancel_t *cancel;
    ts_ctx_with_cancel(NULL, &cancel);
    puts("UNREACHED");
    return 0;
}

static const struct tt_scenario scenarios[] = {
    {"nil_parent", scenario_nil_parent},
};

/* A NULL parent panics with Go's message. */
static void test_ctx_nil_parent_panics(void **state)
{
    (void)state;
    tt_expect_panic("nil_parent", "cannot create context from nil parent");
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
        TT_TEST(test_ctx_background_is_never_done),
        TT_TEST(test_ctx_cancel_closes_done_with_canceled),
        TT_TEST(test_ctx_cancel_cause_is_reported),
        TT_TEST(test_ctx_cancel_child_leaves_parent_and_siblings),
        TT_TEST(test_ctx_cancelled_children_leave_parent),
        TT_TEST(test_ctx_child_of_cancelled_parent_is_born_cancelled),
        TT_TEST(test_ctx_cancel_parent_cancels_fanout),
        TT_TEST(test_ctx_timeout_fires_with_deadline_exceeded),
        TT_TEST(test_ctx_past_deadline_is_born_timed_out),
        TT_TEST(test_ctx_timeout_cancelled_early_is_canceled),
        TT_TEST(test_ctx_deadline_inherits_earlier_parent_deadline),
        TT_TEST(test_ctx_timeout_racing_cancel_is_safe),
        TT_TEST(test_ctx_values_found_through_chain_and_shadowed),
        TT_TEST(test_ctx_cancel_from_thread_wakes_select),
        TT_TEST(test_ctx_err_observes_writes_before_cancel),
        TT_TEST(test_ctx_children_racing_parent_cancel),
        TT_TEST(test_ctx_nil_parent_panics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
