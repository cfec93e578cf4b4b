/* taskscope — rate: golang.org/x/time/rate's token bucket, and seed 002's
 * multiLimiter.
 *
 * A limiter holds up to `burst` tokens (full at first) and gains `r` per
 * second; an event takes one token (n for the _n calls). Allow takes them
 * if they are there now; Reserve takes them now or in the future and says
 * how long to wait; Wait blocks until they are there or a context is done.
 * r == TS_RATE_INF lets everything through, whatever the burst. A zero rate
 * lets through `burst` events in all, then nothing (Go's rule: each one
 * lowers the burst). Instants are ts_now() nanoseconds; the _at and _n
 * calls take one explicitly (Go's AllowN(t, n), ReserveN(t, n), ...), so a
 * program (or a test) can reason about a fixed instant.
 *
 * Go                                   taskscope
 *   rate.NewLimiter(r, b)                ts_limiter_new(r, b)
 *   rate.Every(d), rate.Inf              ts_rate_every(d), TS_RATE_INF
 *   lim.Allow(), AllowN(t, n)            ts_limiter_allow, ts_limiter_allow_n
 *   lim.Reserve(), ReserveN(t, n)        ts_limiter_reserve, ts_limiter_reserve_n
 *   r.OK(), r.Delay(), DelayFrom(t)      r.ok, ts_reservation_delay(_from)
 *   r.Cancel(), CancelAt(t)              ts_reservation_cancel(_at)
 *   lim.Wait(ctx), WaitN(ctx, n)         ts_limiter_wait, ts_limiter_wait_n
 *   lim.SetLimit(r), SetBurst(b)         ts_limiter_set_limit(_at), _set_burst(_at)
 *   lim.Limit(), Burst(), Tokens()       ts_limiter_limit, _burst, _tokens(_at)
 *   MultiLimiter(ls...) (seed 002)       ts_multi_limiter_new(ls, n)
 *
 * Errors of Wait: EINVAL when n exceeds the burst (Go's "rate: Wait(n=%d)
 * exceeds limiter's burst %d"), ETIMEDOUT when the context's deadline comes
 * before the tokens would (returned at once, without waiting: Go's "would
 * exceed context deadline"), else the context's error (ECANCELED,
 * ETIMEDOUT).
 *
 * Every call is safe from any task or plain thread, concurrently. Memory:
 * the creator frees a limiter (ts_limiter_free) once nobody uses it; a
 * reservation is a plain value, nothing to free, but must not be cancelled
 * after its limiter is freed. Memory model: the limiter's calls are
 * ordered by its mutex (sync.h). */
#ifndef TASKSCOPE_RATE_H
#define TASKSCOPE_RATE_H

#include <float.h>
#include <stdbool.h>
#include <stdint.h>
#include <taskscope/context.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

/* Go's rate.Inf: no limit. */
#define TS_RATE_INF DBL_MAX
/* Go's InfDuration: the delay of a reservation that is not OK. */
#define TS_RATE_INF_DURATION INT64_MAX

typedef struct ts_limiter ts_limiter_t;
typedef struct ts_multi_limiter ts_multi_limiter_t;

/* A reservation of tokens (Go's rate.Reservation), by value. */
typedef struct ts_reservation {
    bool ok;             /* read-only: the tokens were granted */
    int tokens;          /* private: tokens taken */
    int64_t time_to_act; /* private: when they are there (ts_now clock) */
    double limit;        /* private: the rate when reserved */
    ts_limiter_t *lim;   /* private */
} ts_reservation_t;

/* ts_rate_every: the rate of one event per interval ns (Go's Every);
 * TS_RATE_INF when interval <= 0. */
TS_EXPORT double ts_rate_every(int64_t interval);

/* ts_limiter_new: r tokens per second (TS_RATE_INF: no limit), bucket of
 * burst tokens, full. NULL when out of memory. */
TS_EXPORT ts_limiter_t *ts_limiter_new(double r, int burst);

/* ts_limiter_free: free l; nobody may use it any more. NULL is a no-op. */
TS_EXPORT void ts_limiter_free(ts_limiter_t *l);

/* ts_limiter_limit / ts_limiter_burst: the current rate and burst. */
TS_EXPORT double ts_limiter_limit(ts_limiter_t *l);
TS_EXPORT int ts_limiter_burst(ts_limiter_t *l);

/* ts_limiter_tokens(_at): the tokens available now (at now); negative while
 * reservations wait for tokens not yet there. */
TS_EXPORT double ts_limiter_tokens(ts_limiter_t *l);
TS_EXPORT double ts_limiter_tokens_at(ts_limiter_t *l, int64_t now);

/* ts_limiter_allow: ts_limiter_allow_n(l, ts_now(), 1).
 * ts_limiter_allow_n: take n tokens if they are there at now; true if
 * taken. Never blocks; false takes nothing. */
TS_EXPORT bool ts_limiter_allow(ts_limiter_t *l);
TS_EXPORT bool ts_limiter_allow_n(ts_limiter_t *l, int64_t now, int n);

/* ts_limiter_reserve: ts_limiter_reserve_n(l, ts_now(), 1).
 * ts_limiter_reserve_n: take n tokens at now, borrowing from the future if
 * needed; the result's delay says how long to wait before acting. Not ok
 * (nothing taken) when n exceeds the burst (and the rate is finite). */
TS_EXPORT ts_reservation_t ts_limiter_reserve(ts_limiter_t *l);
TS_EXPORT ts_reservation_t ts_limiter_reserve_n(ts_limiter_t *l,
                                                int64_t now, int n);

/* ts_reservation_delay(_from): ns from now (from now) until r's tokens are
 * there, 0 if they are; TS_RATE_INF_DURATION when !r->ok. */
TS_EXPORT int64_t ts_reservation_delay(const ts_reservation_t *r);
TS_EXPORT int64_t ts_reservation_delay_from(const ts_reservation_t *r,
                                            int64_t now);

/* ts_reservation_cancel(_at): the reservation will not be used: give back
 * as many of its tokens as later reservations allow (none once its time to
 * act has passed). No-op when !r->ok. */
TS_EXPORT void ts_reservation_cancel(ts_reservation_t *r);
TS_EXPORT void ts_reservation_cancel_at(ts_reservation_t *r, int64_t now);

/* ts_limiter_wait: ts_limiter_wait_n(l, ctx, 1).
 * ts_limiter_wait_n: block until n tokens are there and take them, or until
 * ctx is done (the reservation is then cancelled). 0, or EINVAL / ETIMEDOUT
 * / ECANCELED as in the top comment; nothing taken on error. */
TS_EXPORT int ts_limiter_wait(ts_limiter_t *l, ts_ctx_t *ctx);
TS_EXPORT int ts_limiter_wait_n(ts_limiter_t *l, ts_ctx_t *ctx, int n);

/* ts_limiter_set_limit(_at) / ts_limiter_set_burst(_at): change the rate
 * or the burst from now (at now) on; tokens earned so far are kept.
 * Reservations already made keep their time to act. */
TS_EXPORT void ts_limiter_set_limit(ts_limiter_t *l, double r);
TS_EXPORT void ts_limiter_set_limit_at(ts_limiter_t *l, int64_t now,
                                       double r);
TS_EXPORT void ts_limiter_set_burst(ts_limiter_t *l, int burst);
TS_EXPORT void ts_limiter_set_burst_at(ts_limiter_t *l, int64_t now,
                                       int burst);

/* ts_multi_limiter_new: seed 002's multiLimiter over ls[0..n-1] (n >= 0),
 * sorted by limit, most restrictive first. Copies the array; the limiters
 * stay the caller's and must outlive it. NULL when out of memory or n < 0.
 * Free with ts_multi_limiter_free (NULL is a no-op). */
TS_EXPORT ts_multi_limiter_t *ts_multi_limiter_new(ts_limiter_t **ls, int n);
TS_EXPORT void ts_multi_limiter_free(ts_multi_limiter_t *m);

/* ts_multi_limiter_wait: ts_limiter_wait on each limiter in turn, most
 * restrictive first; the first error is returned (tokens taken from the
 * limiters before it stay taken, as in the seed). */
TS_EXPORT int ts_multi_limiter_wait(ts_multi_limiter_t *m, ts_ctx_t *ctx);

/* ts_multi_limiter_limit: the most restrictive limit (TS_RATE_INF for no
 * limiters). */
TS_EXPORT double ts_multi_limiter_limit(ts_multi_limiter_t *m);

TS_END_DECLS

#endif
