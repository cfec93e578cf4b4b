/* taskscope — ts_limiter_t: golang.org/x/time/rate's token bucket, and seed
 * 002's multiLimiter on top of it.
 *
 * The bucket is not refilled by a timer: its state is the token count at
 * one instant (`last`), and every call first advances it to its own
 * instant, adding limit tokens per second elapsed, capped at burst. Tokens
 * go negative when reservations borrow from the future; `last_event` is the
 * latest time to act granted, so a cancelled reservation can tell how many
 * of its tokens later reservations have already counted on.
 *
 * Invariants (every field under mu):
 *   - tokens <= burst after every advance; advance never moves time
 *     backwards: an instant before `last` counts as `last` (no tokens
 *     added, none removed);
 *   - limit == TS_RATE_INF: every request is granted at once and the
 *     state is not touched (burst ignored); limit == 0: burst is the
 *     number of events still allowed, each grant lowers it (Go's rule);
 *   - a granted reservation of n tokens lowered tokens by n at `now` and
 *     has time_to_act = now + time to earn the deficit; last_event >= the
 *     time_to_act of every reservation granted since.
 *
 * Wait: reserve first (bounded by the context's deadline, so a deadline
 * that comes first fails at once, as in Go), then ts_select_deadline on the
 * context's done channel with the time to act as the deadline: no timer of
 * our own. Done first: cancel the reservation, return the context's error.
 *
 * Rejected: a refill timer per limiter (a task or timer per limiter for
 * nothing; Go does without), and atomics instead of the mutex: several
 * fields change together and Go's mutex costs us nothing to keep.
 *
 * ThreadSanitizer: ts_mutex_t publishes unlock -> lock, so calls on one
 * limiter are ordered; nothing else of our own. */
#include <errno.h>
#include <stdlib.h>
#include <taskscope/rate.h>
#include <taskscope/select.h>
#include <taskscope/sync.h>
#include <taskscope/time.h>

struct ts_limiter {
    ts_mutex_t mu;
    /* guarded by mu */
    double limit;       /* tokens per second, TS_RATE_INF: no limit */
    int burst;          /* bucket size */
    double tokens;      /* tokens at `last`; negative: borrowed */
    int64_t last;       /* instant tokens was computed for */
    int64_t last_event; /* latest time to act granted */
};

struct ts_multi_limiter {
    int n;                 /* limiters */
    ts_limiter_t *ls[];    /* sorted by limit, ascending; immutable */
};

/* ---- conversions (Go's durationFromTokens / tokensFromDuration) -------- */

static int64_t duration_from_tokens(double limit, double tokens)
{
    if (limit <= 0)
        return TS_RATE_INF_DURATION;
    double d = tokens / limit * (double)TS_SECOND;
    return d >= (double)INT64_MAX ? TS_RATE_INF_DURATION : (int64_t)d;
}

static double tokens_from_duration(double limit, int64_t d)
{
    return limit <= 0 ? 0 : (double)d / (double)TS_SECOND * limit;
}

/* add_sat: t + d, saturating at INT64_MAX (d >= 0). */
static int64_t add_sat(int64_t t, int64_t d)
{
    return d > INT64_MAX - t ? INT64_MAX : t + d;
}

double ts_rate_every(int64_t interval)
{
    return interval <= 0 ? TS_RATE_INF : (double)TS_SECOND / (double)interval;
}

/* ---- the limiter ------------------------------------------------------- */

ts_limiter_t *ts_limiter_new(double r, int burst)
{
    ts_limiter_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->limit = r;
    l->burst = burst;
    l->tokens = burst;
    l->last = ts_now();
    return l;
}

void ts_limiter_free(ts_limiter_t *l)
{
    free(l);
}

/* advance: the tokens at now (not stored). Called with mu held. */
static double advance(ts_limiter_t *l, int64_t now)
{
    int64_t last = now < l->last ? now : l->last;
    double tokens = l->tokens + tokens_from_duration(l->limit, now - last);
    return tokens > l->burst ? l->burst : tokens;
}

double ts_limiter_limit(ts_limiter_t *l)
{
    ts_mutex_lock(&l->mu);
    double r = l->limit;
    ts_mutex_unlock(&l->mu);
    return r;
}

int ts_limiter_burst(ts_limiter_t *l)
{
    ts_mutex_lock(&l->mu);
    int b = l->burst;
    ts_mutex_unlock(&l->mu);
    return b;
}

double ts_limiter_tokens_at(ts_limiter_t *l, int64_t now)
{
    ts_mutex_lock(&l->mu);
    double tokens = advance(l, now);
    ts_mutex_unlock(&l->mu);
    return tokens;
}

double ts_limiter_tokens(ts_limiter_t *l)
{
    return ts_limiter_tokens_at(l, ts_now());
}

/* reserve: Go's reserveN: grant n tokens at now if they are there within
 * max_wait ns. Called with mu held. */
static ts_reservation_t reserve(ts_limiter_t *l, int64_t now, int n,
                                int64_t max_wait)
{
    ts_reservation_t r = {.lim = l, .limit = l->limit, .time_to_act = now};
    if (l->limit == TS_RATE_INF) {
        r.ok = true;
        r.tokens = n;
        return r;
    }
    if (l->limit == 0) {
        r.ok = l->burst >= n;
        if (r.ok)
            l->burst -= n;
        r.tokens = l->burst;
        return r;
    }
    double tokens = advance(l, now) - n;
    int64_t wait = tokens < 0 ? duration_from_tokens(l->limit, -tokens) : 0;
    r.ok = n <= l->burst && wait <= max_wait;
    if (!r.ok)
        return r;
    r.tokens = n;
    r.time_to_act = add_sat(now, wait);
    l->last = now;
    l->tokens = tokens;
    l->last_event = r.time_to_act;
    return r;
}

static ts_reservation_t reserve_locked(ts_limiter_t *l, int64_t now, int n,
                                       int64_t max_wait)
{
    ts_mutex_lock(&l->mu);
    ts_reservation_t r = reserve(l, now, n, max_wait);
    ts_mutex_unlock(&l->mu);
    return r;
}

bool ts_limiter_allow_n(ts_limiter_t *l, int64_t now, int n)
{
    return reserve_locked(l, now, n, 0).ok;
}

bool ts_limiter_allow(ts_limiter_t *l)
{
    return ts_limiter_allow_n(l, ts_now(), 1);
}

ts_reservation_t ts_limiter_reserve_n(ts_limiter_t *l, int64_t now, int n)
{
    return reserve_locked(l, now, n, TS_RATE_INF_DURATION);
}

ts_reservation_t ts_limiter_reserve(ts_limiter_t *l)
{
    return ts_limiter_reserve_n(l, ts_now(), 1);
}

/* ---- reservations ------------------------------------------------------ */

int64_t ts_reservation_delay_from(const ts_reservation_t *r, int64_t now)
{
    if (!r->ok)
        return TS_RATE_INF_DURATION;
    return r->time_to_act > now ? r->time_to_act - now : 0;
}

int64_t ts_reservation_delay(const ts_reservation_t *r)
{
    return ts_reservation_delay_from(r, ts_now());
}

/* restore: give back r's tokens that no later reservation counts on:
 * those between r's time to act and the last event were promised to
 * others. Called with mu held. */
static void restore(ts_limiter_t *l, const ts_reservation_t *r, int64_t now)
{
    double give = r->tokens - tokens_from_duration(r->limit,
                                                   l->last_event -
                                                   r->time_to_act);
    if (give <= 0)
        return;
    double tokens = advance(l, now) + give;
    l->tokens = tokens > l->burst ? l->burst : tokens;
    l->last = now;
    if (r->time_to_act == l->last_event) {
        /* r was the latest: the last event is the one before it */
        int64_t prev = r->time_to_act -
                       duration_from_tokens(r->limit, r->tokens);
        if (prev >= now)
            l->last_event = prev;
    }
}

void ts_reservation_cancel_at(ts_reservation_t *r, int64_t now)
{
    if (!r->ok)
        return;
    ts_limiter_t *l = r->lim;
    ts_mutex_lock(&l->mu);
    if (l->limit != TS_RATE_INF && r->tokens != 0 && r->time_to_act >= now)
        restore(l, r, now);
    ts_mutex_unlock(&l->mu);
}

void ts_reservation_cancel(ts_reservation_t *r)
{
    ts_reservation_cancel_at(r, ts_now());
}

/* ---- wait -------------------------------------------------------------- */

/* sleep_until: 0 at deadline, or ctx's error if it is done first. */
static int sleep_until(ts_ctx_t *ctx, int64_t deadline)
{
    ts_select_case_t done = TS_RECV_CASE(ts_ctx_done(ctx), NULL);
    if (ts_select_deadline(&done, 1, 0, deadline) == TS_SELECT_TIMEOUT)
        return 0;
    return ts_ctx_err(ctx);
}

int ts_limiter_wait_n(ts_limiter_t *l, ts_ctx_t *ctx, int n)
{
    int64_t now = ts_now();
    ts_mutex_lock(&l->mu);
    bool too_many = n > l->burst && l->limit != TS_RATE_INF;
    ts_mutex_unlock(&l->mu);
    if (too_many)
        return EINVAL;
    int err = ts_ctx_err(ctx);
    if (err)
        return err;
    int64_t deadline, max_wait = TS_RATE_INF_DURATION;
    if (ts_ctx_deadline(ctx, &deadline))
        max_wait = deadline - now;
    ts_reservation_t r = reserve_locked(l, now, n, max_wait);
    if (!r.ok)
        return ETIMEDOUT;
    if (ts_reservation_delay_from(&r, now) == 0)
        return 0;
    err = sleep_until(ctx, r.time_to_act);
    if (err)
        ts_reservation_cancel(&r);
    return err;
}

int ts_limiter_wait(ts_limiter_t *l, ts_ctx_t *ctx)
{
    return ts_limiter_wait_n(l, ctx, 1);
}

/* ---- settings ---------------------------------------------------------- */

void ts_limiter_set_limit_at(ts_limiter_t *l, int64_t now, double r)
{
    ts_mutex_lock(&l->mu);
    l->tokens = advance(l, now);
    l->last = now;
    l->limit = r;
    ts_mutex_unlock(&l->mu);
}

void ts_limiter_set_limit(ts_limiter_t *l, double r)
{
    ts_limiter_set_limit_at(l, ts_now(), r);
}

void ts_limiter_set_burst_at(ts_limiter_t *l, int64_t now, int burst)
{
    ts_mutex_lock(&l->mu);
    l->tokens = advance(l, now);
    l->last = now;
    l->burst = burst;
    ts_mutex_unlock(&l->mu);
}

void ts_limiter_set_burst(ts_limiter_t *l, int burst)
{
    ts_limiter_set_burst_at(l, ts_now(), burst);
}

/* ---- multiLimiter (seed 002) ------------------------------------------- */

static int by_limit(const void *a, const void *b)
{
    double la = ts_limiter_limit(*(ts_limiter_t *const *)a);
    double lb = ts_limiter_limit(*(ts_limiter_t *const *)b);
    return (la > lb) - (la < lb);
}

ts_multi_limiter_t *ts_multi_limiter_new(ts_limiter_t **ls, int n)
{
    if (n < 0)
        return NULL;
    ts_multi_limiter_t *m = malloc(sizeof *m + (size_t)n * sizeof *ls);
    if (!m)
        return NULL;
    m->n = n;
    for (int i = 0; i < n; i++)
        m->ls[i] = ls[i];
    qsort(m->ls, (size_t)n, sizeof *ls, by_limit);
    return m;
}

void ts_multi_limiter_free(ts_multi_limiter_t *m)
{
    free(m);
}

int ts_multi_limiter_wait(ts_multi_limiter_t *m, ts_ctx_t *ctx)
{
    for (int i = 0; i < m->n; i++) {
        int err = ts_limiter_wait(m->ls[i], ctx);
        if (err)
            return err;
    }
    return 0;
}

double ts_multi_limiter_limit(ts_multi_limiter_t *m)
{
    return m->n > 0 ? ts_limiter_limit(m->ls[0]) : TS_RATE_INF;
}
