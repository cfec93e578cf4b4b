/* test_rate.c — ts_limiter_t (golang.org/x/time/rate) and the multi
 * limiter of seed 002.
 *
 * Timing: the token arithmetic is checked at fixed instants (allow_n,
 * reserve_n, tokens_at with an explicit `now`), so the counts are exact
 * whatever the machine's speed. Blocking calls are only bounded (TT_SOON),
 * or bounded below by what the limiter guarantees (a wait never returns
 * before its tokens are there); rates of one token an hour make "not yet"
 * certain. */
#include <math.h>

#include "tt.h"

#define MS TS_MILLISECOND

static ts_limiter_t *limiter(double r, int burst)
{
    ts_limiter_t *l = ts_limiter_new(r, burst);
    assert_non_null(l);
    return l;
}

/* |a - b| within a microsecond's worth of float error. */
static bool near(double a, double b)
{
    return fabs(a - b) < 1e-6;
}

/* ---- allow ------------------------------------------------------------------ */

/* A new limiter is full: burst 5 allows exactly 5 events at one instant. */
static void test_rate_allow_burst_at_one_instant(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(1, 5);
    int64_t now = ts_now();
    for (int i = 0; i < 5; i++)
        assert_true(ts_limiter_allow_n(l, now, 1));
    assert_false(ts_limiter_allow_n(l, now, 1));
    assert_true(near(ts_limiter_tokens_at(l, now), 0));
    ts_limiter_free(l);
    tt_end(0);
}

/* Go's documented model: r tokens a second, capped at burst. 10/s, burst
 * 2: one token every 100 ms, never more than 2 saved. */
static void test_rate_refills_at_rate_up_to_burst(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(10, 2);
    int64_t t = ts_now();
    assert_true(ts_limiter_allow_n(l, t, 2));
    assert_false(ts_limiter_allow_n(l, t + 50 * MS, 1));
    assert_true(ts_limiter_allow_n(l, t + 100 * MS, 1));
    assert_false(ts_limiter_allow_n(l, t + 150 * MS, 1));
    assert_true(near(ts_limiter_tokens_at(l, t + 150 * MS), 0.5));
    assert_true(near(ts_limiter_tokens_at(l, t + 60 * TS_SECOND), 2));
    assert_true(ts_limiter_allow_n(l, t + 60 * TS_SECOND, 2));
    assert_false(ts_limiter_allow_n(l, t + 60 * TS_SECOND, 1));
    /* an instant before the last update adds nothing, takes nothing */
    assert_false(ts_limiter_allow_n(l, t, 1));
    ts_limiter_free(l);
    tt_end(0);
}

/* allow_n never grants more than the burst, even to a full bucket. */
static void test_rate_allow_n_over_burst_is_false(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(1, 3);
    int64_t t = ts_now();
    assert_false(ts_limiter_allow_n(l, t, 4));
    assert_true(ts_limiter_allow_n(l, t, 3));
    ts_limiter_free(l);
    tt_end(0);
}

/* Every(d) is 1/d; d <= 0 is no limit. */
static void test_rate_every(void **state)
{
    (void)state;
    assert_true(near(ts_rate_every(100 * MS), 10));
    assert_true(near(ts_rate_every(2 * TS_SECOND), 0.5));
    assert_true(ts_rate_every(0) == TS_RATE_INF);
    assert_true(ts_rate_every(-1) == TS_RATE_INF);
    tt_end(0);
}

/* TS_RATE_INF allows everything, whatever the burst, and never waits. */
static void test_rate_inf_always_allows(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(TS_RATE_INF, 0);
    for (int i = 0; i < 1000; i++)
        assert_true(ts_limiter_allow(l));
    assert_true(ts_limiter_allow_n(l, ts_now(), 1000000));
    assert_int_equal(ts_limiter_wait_n(l, ts_ctx_background(), 1000), 0);
    ts_reservation_t r = ts_limiter_reserve_n(l, ts_now(), 50);
    assert_true(r.ok);
    assert_int_equal(ts_reservation_delay(&r), 0);
    ts_limiter_free(l);
    tt_end(0);
}

/* A zero rate lets through its burst in all, then nothing (Go). */
static void test_rate_zero_limit_allows_burst_once(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(0, 2);
    int64_t t = ts_now();
    assert_true(ts_limiter_allow_n(l, t, 1));
    assert_true(ts_limiter_allow_n(l, t + TS_HOUR, 1));
    assert_false(ts_limiter_allow_n(l, t + 2 * TS_HOUR, 1));
    assert_int_equal(ts_limiter_burst(l), 0);
    ts_limiter_free(l);
    tt_end(0);
}

/* ---- reserve ------------------------------------------------------------- */

/* Reserve borrows from the future: 10/s, burst 1; the first event acts now,
 * the second 100 ms later, the third 200 ms later; n > burst is not ok. */
static void test_rate_reserve_delays(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(10, 1);
    int64_t t = ts_now();
    ts_reservation_t r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = ts_limiter_reserve_n(l, t, 1);
        assert_true(r[i].ok);
        int64_t d = ts_reservation_delay_from(&r[i], t);
        assert_true(llabs(d - i * 100 * MS) <= 1000);
    }
    assert_true(near(ts_limiter_tokens_at(l, t), -2));
    assert_int_equal(ts_reservation_delay_from(&r[1], t + TS_SECOND), 0);
    ts_reservation_t big = ts_limiter_reserve_n(l, t, 2);
    assert_false(big.ok);
    assert_true(ts_reservation_delay_from(&big, t) == TS_RATE_INF_DURATION);
    ts_reservation_cancel_at(&big, t); /* a no-op */
    assert_true(near(ts_limiter_tokens_at(l, t), -2));
    ts_limiter_free(l);
    tt_end(0);
}

/* Cancelling the latest reservation gives its token back; cancelling one
 * that later reservations count on gives back only what they do not;
 * after its time to act, nothing. */
static void test_rate_reserve_cancel_restores_tokens(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(10, 1);
    int64_t t = ts_now();
    ts_reservation_t now1 = ts_limiter_reserve_n(l, t, 1);
    ts_reservation_t later = ts_limiter_reserve_n(l, t, 1);
    assert_true(now1.ok && later.ok);
    ts_reservation_cancel_at(&later, t);
    assert_true(near(ts_limiter_tokens_at(l, t), 0));
    /* the freed slot goes to the next reservation: 100 ms, not 200 */
    ts_reservation_t next = ts_limiter_reserve_n(l, t, 1);
    assert_true(llabs(ts_reservation_delay_from(&next, t) - 100 * MS) <=
                1000);
    /* now1 acted at t: cancelling it later restores nothing */
    ts_reservation_cancel_at(&now1, t + MS);
    assert_true(near(ts_limiter_tokens_at(l, t + MS), -1 + 0.01));
    ts_limiter_free(l);
    tt_end(0);
}

/* ---- wait ------------------------------------------------------------------ */

static ts_ctx_t *with_cancel(ts_cancel_t **cancel)
{
    ts_ctx_t *ctx = ts_ctx_with_cancel(ts_ctx_background(), cancel);
    assert_non_null(ctx);
    return ctx;
}

/* A token there now: wait returns 0 at once and takes it. */
static void test_rate_wait_takes_available_token(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(ts_rate_every(TS_HOUR), 2);
    assert_int_equal(ts_limiter_wait(l, ts_ctx_background()), 0);
    assert_int_equal(ts_limiter_wait_n(l, ts_ctx_background(), 1), 0);
    assert_true(ts_limiter_tokens(l) < 0.01);
    ts_limiter_free(l);
    tt_end(0);
}

/* An empty bucket: wait blocks until the token is earned (50 ms at 20/s:
 * never sooner), then returns 0. */
static void test_rate_wait_blocks_until_token(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(20, 1);
    assert_true(ts_limiter_allow(l));
    int64_t start = ts_now();
    assert_int_equal(ts_limiter_wait(l, ts_ctx_background()), 0);
    int64_t took = ts_now() - start;
    assert_true(took >= 49 * MS);
    assert_true(took < TT_SOON);
    ts_limiter_free(l);
    tt_end(0);
}

/* A done context: its error at once, nothing taken. */
static void test_rate_wait_cancelled_ctx_returns_canceled(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(1, 1);
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = ts_ctx_retain(with_cancel(&cancel));
    ts_cancel(cancel);
    assert_int_equal(ts_limiter_wait(l, ctx), ECANCELED);
    assert_true(ts_limiter_tokens(l) > 0.99);
    ts_ctx_release(ctx);
    ts_limiter_free(l);
    tt_end(0);
}

/* n > burst can never succeed: EINVAL (Go: "rate: Wait(n=2) exceeds
 * limiter's burst 1"), before looking at the context. */
static void test_rate_wait_n_over_burst_is_einval(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(1, 1);
    assert_int_equal(ts_limiter_wait_n(l, ts_ctx_background(), 2), EINVAL);
    assert_true(ts_limiter_tokens(l) > 0.99);
    ts_limiter_free(l);
    tt_end(0);
}

/* A deadline before the token (one an hour; deadline TT_SOON away): Go
 * returns at once, "would exceed context deadline". Returning while the
 * context is not yet done proves it did not wait for the deadline. */
static void test_rate_wait_deadline_before_token_returns_at_once(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(ts_rate_every(TS_HOUR), 1);
    assert_true(ts_limiter_allow(l));
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = ts_ctx_with_timeout(ts_ctx_background(), TT_SOON,
                                        &cancel);
    assert_non_null(ctx);
    assert_int_equal(ts_limiter_wait(l, ctx), ETIMEDOUT);
    assert_int_equal(ts_ctx_err(ctx), 0);
    assert_true(ts_limiter_tokens(l) < 0.01 && ts_limiter_tokens(l) > -0.5);
    ts_cancel(cancel);
    ts_limiter_free(l);
    tt_end(0);
}

struct waiter {
    ts_limiter_t *l;
    ts_ctx_t *ctx;
    int err;
    ts_chan_t *done;
};

static void wait_task(void *arg)
{
    struct waiter *w = arg;
    w->err = ts_limiter_wait(w->l, w->ctx);
    tt_signal(w->done);
}

/* A task blocked in wait (token an hour away) returns ECANCELED when its
 * context is cancelled, and gives its reserved token back. */
static void test_rate_wait_cancel_while_waiting_restores(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(ts_rate_every(TS_HOUR), 1);
    assert_true(ts_limiter_allow(l));
    ts_cancel_t *cancel;
    /* the task's own reference: ts_cancel drops the creator's */
    struct waiter w = {l, ts_ctx_retain(with_cancel(&cancel)), -1,
                       ts_chan_make(0, 1)};
    uint64_t id = tt_go(wait_task, &w);
    assert_true(tt_wait_parked(id, -1, TT_SOON, NULL));
    assert_true(ts_limiter_tokens(l) < -0.5);
    ts_cancel(cancel);
    assert_int_equal(tt_wait_done(w.done, 1, TT_SOON), 1);
    assert_int_equal(w.err, ECANCELED);
    assert_true(ts_limiter_tokens(l) > -0.5);
    ts_ctx_release(w.ctx);
    ts_chan_release(w.done);
    ts_limiter_free(l);
    tt_end(0);
}

/* ---- settings ------------------------------------------------------------ */

/* set_limit keeps the tokens earned so far and earns at the new rate from
 * then on; set_burst raises (or lowers) the cap. */
static void test_rate_set_limit_and_burst(void **state)
{
    (void)state;
    ts_limiter_t *l = limiter(1, 1);
    int64_t t = ts_now();
    assert_true(ts_limiter_allow_n(l, t, 1));
    ts_limiter_set_limit_at(l, t + 500 * MS, 10);
    assert_true(ts_limiter_limit(l) == 10);
    assert_true(near(ts_limiter_tokens_at(l, t + 500 * MS), 0.5));
    assert_true(ts_limiter_allow_n(l, t + 550 * MS, 1));
    ts_limiter_set_burst_at(l, t + 550 * MS, 3);
    assert_int_equal(ts_limiter_burst(l), 3);
    assert_true(near(ts_limiter_tokens_at(l, t + 60 * TS_SECOND), 3));
    ts_limiter_set_limit(l, TS_RATE_INF);
    ts_limiter_set_burst(l, 0);
    assert_true(ts_limiter_allow(l));
    ts_limiter_free(l);
    tt_end(0);
}

/* ---- concurrency ----------------------------------------------------------- */

struct racer {
    ts_limiter_t *l;
    int64_t now;
    atomic_int granted;
    ts_chan_t *done;
};

static void allow_many(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < 100; i++) {
        if (ts_limiter_allow_n(r->l, r->now, 1))
            atomic_fetch_add(&r->granted, 1);
        if (i % 10 == 0)
            ts_yield();
    }
    tt_signal(r->done);
}

/* Eight tasks racing allow_n at one instant share exactly the burst. */
static void test_rate_concurrent_allow_grants_exactly_burst(void **state)
{
    (void)state;
    static struct racer r;
    r.l = limiter(1, 50);
    r.now = ts_now();
    atomic_store(&r.granted, 0);
    r.done = ts_chan_make(0, 8);
    for (int i = 0; i < 8; i++)
        tt_go(allow_many, &r);
    assert_int_equal(tt_wait_done(r.done, 8, TT_SOON), 8);
    assert_int_equal(atomic_load(&r.granted), 50);
    ts_chan_release(r.done);
    ts_limiter_free(r.l);
    tt_end(0);
}

/* ---- multi limiter (seed 002) ---------------------------------------------- */

/* Sorted most restrictive first; limit() is that one's. Wait takes from
 * each in turn: the second wait finds the hourly limiter empty, and its
 * deadline comes first, so it fails at once, after the stricter limiter
 * (first) had granted its token (the seed's order, kept). */
static void test_rate_multi_limiter_waits_on_all(void **state)
{
    (void)state;
    ts_limiter_t *hourly = limiter(ts_rate_every(TS_HOUR), 1);
    ts_limiter_t *slow = limiter(ts_rate_every(2 * TS_HOUR), 3);
    ts_limiter_t *ls[] = {hourly, slow};
    ts_multi_limiter_t *m = ts_multi_limiter_new(ls, 2);
    assert_non_null(m);
    assert_true(near(ts_multi_limiter_limit(m), 1.0 / 7200));
    assert_ptr_equal(ls[0], hourly); /* the caller's array is left alone */
    assert_int_equal(ts_multi_limiter_wait(m, ts_ctx_background()), 0);
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = ts_ctx_with_timeout(ts_ctx_background(), TT_SOON,
                                        &cancel);
    assert_non_null(ctx);
    assert_int_equal(ts_multi_limiter_wait(m, ctx), ETIMEDOUT);
    assert_true(fabs(ts_limiter_tokens(slow) - 1) < 0.01);
    assert_true(fabs(ts_limiter_tokens(hourly)) < 0.01);
    ts_cancel(cancel);
    ts_multi_limiter_free(m);
    ts_limiter_free(hourly);
    ts_limiter_free(slow);
    tt_end(0);
}

/* No limiters: no limit, wait never blocks. */
static void test_rate_multi_limiter_empty(void **state)
{
    (void)state;
    ts_multi_limiter_t *m = ts_multi_limiter_new(NULL, 0);
    assert_non_null(m);
    assert_true(ts_multi_limiter_limit(m) == TS_RATE_INF);
    assert_int_equal(ts_multi_limiter_wait(m, ts_ctx_background()), 0);
    ts_multi_limiter_free(m);
    assert_null(ts_multi_limiter_new(NULL, -1));
    tt_end(0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_rate_allow_burst_at_one_instant),
        TT_TEST(test_rate_refills_at_rate_up_to_burst),
        TT_TEST(test_rate_allow_n_over_burst_is_false),
        TT_TEST(test_rate_every),
        TT_TEST(test_rate_inf_always_allows),
        TT_TEST(test_rate_zero_limit_allows_burst_once),
        TT_TEST(test_rate_reserve_delays),
        TT_TEST(test_rate_reserve_cancel_restores_tokens),
        TT_TEST(test_rate_wait_takes_available_token),
        TT_TEST(test_rate_wait_blocks_until_token),
        TT_TEST(test_rate_wait_cancelled_ctx_returns_canceled),
        TT_TEST(test_rate_wait_n_over_burst_is_einval),
        TT_TEST(test_rate_wait_deadline_before_token_returns_at_once),
        TT_TEST(test_rate_wait_cancel_while_waiting_restores),
        TT_TEST(test_rate_set_limit_and_burst),
        TT_TEST(test_rate_concurrent_allow_grants_exactly_burst),
        TT_TEST(test_rate_multi_limiter_waits_on_all),
        TT_TEST(test_rate_multi_limiter_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
