/* taskscope — the public clock, sleep, timer and ticker API.
 *
 * Thin layer over timer.c's protocol. A public timer is a struct ts__timer
 * plus what its fire does: send ts_now() on a timer channel (ts_timer_new,
 * ts_after, tickers) or start a task (ts_after_func).
 *
 * Ownership: ts_timer_new/ts_after_func/ts_ticker_new return a timer the
 * caller frees; the timer owns its channel. ts_after hands the caller a
 * channel reference and frees its own timer right after firing (done hook).
 *
 * Sleep parks the task with the timer armed from the park's unlock function,
 * i.e. once the task is off its stack, so the fire's ts__ready can never see
 * a running task; the woken task then disarms the timer, which waits for the
 * fire still holding the timer's lock, before its stack may be reused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <taskscope/time.h>

#include "runtime/chan_internal.h"
#include "runtime/sched.h"

struct ts_timer {
    struct ts__timer t;       /* first: container of the internal timer */
    void (*fn)(void *);       /* ts_after_func */
    void *fn_arg;
};

/* A ticker is a channel timer that re-arms itself (period > 0). */
struct ts_ticker {
    struct ts_timer tm;
};

int64_t ts_now(void)
{
    return ts__nanotime();
}

/* ------------------------------------------------------------------------
 * Sleep. */

static void sleep_fire(struct ts__timer *t, int64_t now)
{
    (void)now;
    ts__ready(t->arg);
}

static void sleep_arm(void *arg)
{
    struct ts_task *task = arg;
    ts__timer_arm(&task->sleep_timer, task->sleep_timer.when, 0);
}

void ts_sleep(int64_t ns)
{
    if (ns <= 0)
        return;
    int64_t deadline = ts_now() + ns;
    struct ts_task *task = ts__current_task();
    if (!task) {
        struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        return;
    }
    ts__timer_init(&task->sleep_timer, sleep_fire, task);
    task->sleep_timer.when = deadline;
    ts__park(TS_WAIT_SLEEP, NULL, sleep_arm, task);
    ts__timer_disarm(&task->sleep_timer);
}

/* ------------------------------------------------------------------------
 * Channel timers and function timers. */

static int64_t when_after(int64_t d)
{
    int64_t now = ts_now();
    if (d <= 0)
        return now;
    return d > INT64_MAX - now ? INT64_MAX - 1 : now + d;
}

static void chan_fire(struct ts__timer *t, int64_t now)
{
    /* Full buffer: a ticker's receiver is behind; drop the tick (Go). */
    (void)ts_chan_try_send(t->chan, &now);
}

static void func_fire(struct ts__timer *t, int64_t now)
{
    struct ts_timer *pt = (struct ts_timer *)t;
    (void)now;
    if (!ts_go(pt->fn, pt->fn_arg))
        fprintf(stderr, "taskscope: ts_after_func: out of memory starting "
                        "the timer's task; the call was dropped\n");
}

static struct ts_timer *timer_new(void (*fire)(struct ts__timer *, int64_t),
                                  bool with_chan)
{
    ts__sched_start();
    struct ts_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    ts__timer_init(&t->t, fire, t);
    if (with_chan && !(t->t.chan = ts__chan_make_timer())) {
        free(t);
        return NULL;
    }
    return t;
}

ts_timer_t *ts_timer_new(int64_t d)
{
    struct ts_timer *t = timer_new(chan_fire, true);
    if (t)
        ts__timer_arm(&t->t, when_after(d), 0);
    return t;
}

ts_timer_t *ts_after_func(int64_t d, void (*fn)(void *), void *arg)
{
    struct ts_timer *t = timer_new(func_fire, false);
    if (!t)
        return NULL;
    t->fn = fn;
    t->fn_arg = arg;
    ts__timer_arm(&t->t, when_after(d), 0);
    return t;
}

ts_chan_t *ts_timer_chan(ts_timer_t *t)
{
    return t ? t->t.chan : NULL;
}

bool ts_timer_stop(ts_timer_t *t)
{
    return t && ts__timer_disarm(&t->t);
}

bool ts_timer_reset(ts_timer_t *t, int64_t d)
{
    return t && ts__timer_arm(&t->t, when_after(d), 0);
}

void ts_timer_free(ts_timer_t *t)
{
    if (!t)
        return;
    ts__timer_disarm(&t->t);
    ts_chan_release(t->t.chan);
    free(t);
}

static void after_done(struct ts__timer *t)
{
    ts_chan_release(t->chan);
    free(t);
}

ts_chan_t *ts_after(int64_t d)
{
    struct ts_timer *t = timer_new(chan_fire, true);
    if (!t)
        return NULL;
    ts_chan_t *ch = ts_chan_retain(t->t.chan);
    t->t.done = after_done;
    ts__timer_arm(&t->t, when_after(d), 0);
    return ch;
}

/* ------------------------------------------------------------------------
 * Tickers. */

ts_ticker_t *ts_ticker_new(int64_t period)
{
    if (period <= 0)
        return NULL;
    struct ts_ticker *t = (struct ts_ticker *)timer_new(chan_fire, true);
    if (t)
        ts__timer_arm(&t->tm.t, when_after(period), period);
    return t;
}

ts_chan_t *ts_ticker_chan(ts_ticker_t *t)
{
    return t ? t->tm.t.chan : NULL;
}

void ts_ticker_stop(ts_ticker_t *t)
{
    if (t)
        ts__timer_disarm(&t->tm.t);
}

int ts_ticker_reset(ts_ticker_t *t, int64_t period)
{
    if (!t || period <= 0)
        return EINVAL;
    ts__timer_arm(&t->tm.t, when_after(period), period);
    return 0;
}

void ts_ticker_free(ts_ticker_t *t)
{
    ts_timer_free(t ? &t->tm : NULL);
}
