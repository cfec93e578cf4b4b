/* taskscope — clock, sleep, timers and tickers.
 *
 * All durations and instants are int64_t nanoseconds; instants come from
 * ts_now(), a monotonic clock (CLOCK_MONOTONIC). Timers live on per-P 4-ary
 * heaps and fire from the scheduler; a fired channel timer sends ts_now() (an
 * int64_t) on its channel.
 *
 * Stop and Reset follow Go 1.23+: a timer channel is synchronous (len and cap
 * report 0) and once ts_timer_stop or ts_timer_reset returns, no value from
 * before the call is ever received from the channel. The pre-1.23 pitfalls —
 * draining with `if !t.Stop() { <-t.C }`, which deadlocks when the value was
 * already received, and a stale tick arriving right after Reset — cannot
 * happen: never drain by hand. */
#ifndef TASKSCOPE_TIME_H
#define TASKSCOPE_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <taskscope/export.h>
#include <taskscope/chan.h>

TS_BEGIN_DECLS

#define TS_NANOSECOND ((int64_t)1)
#define TS_MICROSECOND ((int64_t)1000 * TS_NANOSECOND)
#define TS_MILLISECOND ((int64_t)1000 * TS_MICROSECOND)
#define TS_SECOND ((int64_t)1000 * TS_MILLISECOND)
#define TS_MINUTE ((int64_t)60 * TS_SECOND)
#define TS_HOUR ((int64_t)60 * TS_MINUTE)

/* ts_now: monotonic time in nanoseconds. */
TS_EXPORT int64_t ts_now(void);

/* ts_sleep: block the calling task (wait reason "sleep") for at least ns
 * nanoseconds; ns <= 0 returns at once. From a plain thread it sleeps the
 * thread. */
TS_EXPORT void ts_sleep(int64_t ns);

typedef struct ts_timer ts_timer_t;

/* ts_timer_new: a timer that sends ts_now() on its channel once, d
 * nanoseconds from now (d <= 0: as soon as possible). NULL on ENOMEM.
 * Free with ts_timer_free. */
TS_EXPORT ts_timer_t *ts_timer_new(int64_t d);

/* ts_after_func: a timer that runs fn(arg) in a new task d nanoseconds from
 * now. Its channel is NULL. Stop and Reset work as for other timers. */
TS_EXPORT ts_timer_t *ts_after_func(int64_t d, void (*fn)(void *arg),
                                    void *arg);

/* ts_timer_chan: the timer's channel (owned by the timer: do not release). */
TS_EXPORT ts_chan_t *ts_timer_chan(ts_timer_t *t);

/* ts_timer_stop: prevent the timer from firing. Returns true if the call
 * stopped it — including when it fired but nobody received the value yet:
 * that value is discarded (Go 1.23). False if it had already expired (its
 * value received, or its function started) or been stopped. */
TS_EXPORT bool ts_timer_stop(ts_timer_t *t);

/* ts_timer_reset: make the timer fire d nanoseconds from now. Returns true
 * if the timer had been active (as ts_timer_stop would have returned). */
TS_EXPORT bool ts_timer_reset(ts_timer_t *t, int64_t d);

/* ts_timer_free: stop the timer and free it. Tasks blocked on its channel
 * stay blocked; free only when nobody waits on it. NULL is a no-op. */
TS_EXPORT void ts_timer_free(ts_timer_t *t);

/* ts_after: a channel that receives ts_now() once, d nanoseconds from now.
 * The caller owns one reference (ts_chan_release it when done); the timer
 * behind it frees itself after firing. */
TS_EXPORT ts_chan_t *ts_after(int64_t d);

typedef struct ts_ticker ts_ticker_t;

/* ts_ticker_new: a ticker sending ts_now() every period ns (period > 0, else
 * NULL). A slow receiver misses ticks rather than queueing them, as in Go.
 * Its channel is a timer channel too: len and cap read 0. */
TS_EXPORT ts_ticker_t *ts_ticker_new(int64_t period);
TS_EXPORT ts_chan_t *ts_ticker_chan(ts_ticker_t *t);
/* ts_ticker_stop: no tick is sent after it returns (none stale is pending). */
TS_EXPORT void ts_ticker_stop(ts_ticker_t *t);
/* ts_ticker_reset: stop, then tick every period ns from now. Returns 0, or
 * EINVAL (ticker unchanged) when t is NULL or period <= 0. */
TS_EXPORT int ts_ticker_reset(ts_ticker_t *t, int64_t period);
/* ts_ticker_free: stop and free. NULL is a no-op. */
TS_EXPORT void ts_ticker_free(ts_ticker_t *t);

TS_END_DECLS

#endif
