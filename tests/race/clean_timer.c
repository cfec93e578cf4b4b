/* clean_timer: timers next to channel handoffs.
 *
 * Only the edges the API promises carry data; the timers only decide when
 * things happen:
 *   - a worker publishes results through a channel while the main task
 *     waits in a select that also has a timer case, resetting and stopping
 *     that timer as it goes (the fire runs on the scheduler, possibly on the
 *     other worker thread, while the main task resets it);
 *   - a ts_after_func callback (a new task) writes a global and sends on a
 *     channel; the main task reads the global after receiving;
 *   - a ticker drives a task that hands a counter over a channel;
 *   - ts_after channels, each released after use.
 * Expected: no TSan report. */
#include "race_util.h"

enum { N = 200, TICKS = 5 };

static int timer_results[N];
static int after_func_value;
static int ticker_values[TICKS]; /* one slot per tick: see clean_unbuffered.c */

static ts_chan_t *results, *func_done, *tick_out, *done;
static atomic_int arrived;

static void worker(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    for (int i = 0; i < N; i++) {
        timer_results[i] = i * i;
        race_send_int(results, i);
        if (i % 50 == 0)
            ts_sleep(TS_MILLISECOND);
    }
    race_send_int(done, 0);
}

static void after_func_cb(void *arg)
{
    after_func_value = (int)(intptr_t)arg;
    race_send_int(func_done, 1);
}

static void ticking(void *arg)
{
    (void)arg;
    ts_ticker_t *tk = ts_ticker_new(TS_MILLISECOND);
    if (!tk)
        race_fail("ts_ticker_new");
    for (int i = 0; i < TICKS; i++) {
        int64_t when;
        bool ok;
        ts_chan_recv(ts_ticker_chan(tk), &when, &ok);
        ticker_values[i] = i + 1;
        race_send_int(tick_out, i);
    }
    ts_ticker_free(tk);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    results = race_chan(sizeof(int), 0);
    func_done = race_chan(sizeof(int), 0);
    tick_out = race_chan(sizeof(int), 0);
    done = race_chan(sizeof(int), 1);

    ts_timer_t *t = ts_timer_new(50 * TS_MICROSECOND);
    if (!t)
        race_fail("ts_timer_new");
    ts_go(worker, NULL);
    race_barrier(&arrived, 2);
    int got = 0, fired = 0;
    while (got < N) {
        int v = -1;
        int64_t when;
        ts_select_case_t c[] = {TS_RECV_CASE(results, &v),
                                TS_RECV_CASE(ts_timer_chan(t), &when)};
        int r = ts_select(c, 2, 0);
        if (r == 0) {
            if (v != got || timer_results[v] != v * v)
                race_fail("result %d: %d", got, v);
            got++;
            if (got % 2)
                ts_timer_reset(t, 20 * TS_MICROSECOND); /* may race the fire */
            else
                ts_timer_stop(t);
        } else if (r == 1) {
            fired++;
            ts_timer_reset(t, 50 * TS_MICROSECOND);
        } else {
            race_fail("select returned %d", r);
        }
    }
    ts_timer_free(t);
    race_recv_int(done);

    ts_timer_t *af = ts_after_func(100 * TS_MICROSECOND, after_func_cb,
                                   (void *)(intptr_t)77);
    if (!af)
        race_fail("ts_after_func");
    race_recv_int(func_done);
    if (after_func_value != 77)
        race_fail("after_func_value %d", after_func_value);
    ts_timer_free(af);

    ts_go(ticking, NULL);
    for (int i = 0; i < TICKS; i++) {
        if (race_recv_int(tick_out) != i || ticker_values[i] != i + 1)
            race_fail("tick %d: ticker_values[i] %d", i, ticker_values[i]);
    }

    for (int i = 0; i < 20; i++) {
        ts_chan_t *ch = ts_after(i % 2 ? 10 * TS_MICROSECOND : 0);
        if (!ch)
            race_fail("ts_after");
        int64_t when;
        bool ok;
        ts_chan_recv(ch, &when, &ok);
        if (!ok || when <= 0)
            race_fail("ts_after value %lld", (long long)when);
        ts_chan_release(ch);
    }
    printf("clean_timer: %d results, timers ok\n", got);
    (void)fired;
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
