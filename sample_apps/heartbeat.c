/* heartbeat.c — heartbeats: a worker signals that it is alive on a ticker
 * while it works, and its consumer notices when the pulses stop.
 *
 * Ported from 002_4afb6b829636c6ad.txt, "Heartbeats": doWork(done,
 * pulseInterval) returns a heartbeat and a results channel. Its task pulses
 * on a ticker (time.Tick(pulseInterval)), takes work from a second ticker
 * (time.Tick(2*pulseInterval)), and keeps pulsing while it waits to hand a
 * result over (sendResult). A pulse is sent with select/default, since
 * nobody may be listening. main stops the worker with
 * time.AfterFunc(10s, close(done)) and reads heartbeat and results with
 * time.After(timeout) as a watchdog, timeout = 2 * pulseInterval.
 *
 * Runs (times scaled down: pulseInterval 200 ms, timeout 400 ms, done after
 * 1.2 s instead of 1 s / 2 s / 10 s):
 *   1. The seed's healthy worker: prints "pulse" and "results +<ms>" lines
 *      until done closes, the worker closes its channels and main returns.
 *   2. The unhealthy worker of "Concurrency in Go" (the book's next
 *      listing): it stops after two loop iterations without closing its
 *      channels, as if it had hung; main's watchdog fires and prints
 *      "worker goroutine is not healthy!".
 * How many pulses and results arrive depends on timing; the program checks
 * the outcome of each run and prints it as a yes/NO line.
 *
 * C notes: the tickers are freed when the worker returns (time.Tick leaks
 * them in Go); every loop iteration's time.After channel is released; the
 * AfterFunc callback holds its own reference to done, and main stops the
 * timer (and drops that reference) when the callback has not run.
 *
 * Run: build/sample_apps/heartbeat (~2 s). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define PULSE_INTERVAL (200 * TS_MILLISECOND)
#define TIMEOUT (2 * PULSE_INTERVAL)
#define STOP_AFTER (1200 * TS_MILLISECOND)

struct work_args {
    ts_chan_t *done, *heartbeat, *results;
    int64_t pulseInterval;
    int iterations;   /* < 0: until done; else the unhealthy worker */
};

static void sendPulse(ts_chan_t *heartbeat)
{
    /* heartbeat <- struct{}{} */
    ts_select_case_t c[] = {TS_SEND_CASE(heartbeat, NULL)};
    ts_select(c, 1, TS_SELECT_NONBLOCK); /* default: no one may be listening */
}

static void sendResult(struct work_args *a, ts_chan_t *pulse, int64_t r)
{
    for (;;) {
        ts_select_case_t c[] = {
            TS_RECV_CASE(a->done, NULL),  /* case <-done: return */
            TS_RECV_CASE(pulse, NULL),    /* case <-pulse: sendPulse() */
            TS_SEND_CASE(a->results, &r), /* case results <- r: return */
        };
        int i = ts_select(c, 3, 0);
        if (i == 1)
            sendPulse(a->heartbeat);
        else
            return;
    }
}

static void do_work_task(void *p)
{
    struct work_args *a = p;
    ts_ticker_t *pulse = ts_ticker_new(a->pulseInterval);
    ts_ticker_t *workGen = ts_ticker_new(2 * a->pulseInterval);

    for (int i = 0; a->iterations < 0 || i < a->iterations; i++) {
        int64_t r;
        ts_select_case_t c[] = {
            TS_RECV_CASE(a->done, NULL),               /* case <-done: */
            TS_RECV_CASE(ts_ticker_chan(pulse), NULL), /* case <-pulse: */
            TS_RECV_CASE(ts_ticker_chan(workGen), &r), /* r := <-workGen */
        };
        int k = ts_select(c, 3, 0);
        if (k == 0)
            break;
        if (k == 1)
            sendPulse(a->heartbeat);
        else
            sendResult(a, ts_ticker_chan(pulse), r);
    }

    ts_ticker_free(pulse);
    ts_ticker_free(workGen);
    if (a->iterations < 0) {
        ts_chan_close(a->results);   /* defer close(results) */
        ts_chan_close(a->heartbeat); /* defer close(heartbeat) */
    } /* the unhealthy worker returns without closing: it looks hung */
    ts_chan_release(a->heartbeat);
    ts_chan_release(a->results);
    ts_chan_release(a->done);
    free(a);
}

static void doWork(ts_chan_t *done, int64_t pulseInterval, int iterations,
                   ts_chan_t **heartbeat, ts_chan_t **results)
{
    *heartbeat = xchan(0, 0);
    *results = xchan(sizeof(int64_t), 0);
    struct work_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->heartbeat = ts_chan_retain(*heartbeat);
    a->results = ts_chan_retain(*results);
    a->pulseInterval = pulseInterval;
    a->iterations = iterations;
    sample_go(do_work_task, a);
}

/* the function of time.AfterFunc(10*time.Second, func() { close(done) }) */
static void close_done(void *p)
{
    ts_chan_t *done = p;
    ts_chan_close(done);
    ts_chan_release(done);
}

enum outcome { CHANNELS_CLOSED, NOT_HEALTHY };

/* run: one doWork and main's loop; returns how it ended. */
static enum outcome run(int iterations, int *pulses, int *nresults)
{
    ts_chan_t *done = xchan(0, 0);
    ts_timer_t *stopper =
        ts_after_func(STOP_AFTER, close_done, ts_chan_retain(done));
    int64_t start = ts_now();
    ts_chan_t *heartbeat, *results;
    doWork(done, TIMEOUT / 2, iterations, &heartbeat, &results);

    enum outcome how;
    *pulses = *nresults = 0;
    for (;;) {
        int64_t r;
        ts_chan_t *watchdog = ts_after(TIMEOUT); /* <-time.After(timeout) */
        ts_select_case_t c[] = {TS_RECV_CASE(heartbeat, NULL),
                                TS_RECV_CASE(results, &r),
                                TS_RECV_CASE(watchdog, NULL)};
        int k = ts_select(c, 3, 0);
        ts_chan_release(watchdog);
        if (k == 2) {
            printf("worker goroutine is not healthy!\n");
            how = NOT_HEALTHY;
            break;
        }
        if (!c[k].ok) { /* if ok == false { return } */
            how = CHANNELS_CLOSED;
            break;
        }
        if (k == 0) {
            printf("pulse\n");
            (*pulses)++;
        } else {
            printf("results +%lldms\n",
                   (long long)((r - start) / TS_MILLISECOND));
            (*nresults)++;
        }
    }

    if (ts_timer_stop(stopper)) { /* close_done will not run: do its job */
        ts_chan_close(done);
        ts_chan_release(done);
    }
    ts_timer_free(stopper);
    ts_chan_release(heartbeat);
    ts_chan_release(results);
    ts_chan_release(done);
    return how;
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = 0, pulses, nresults;

    printf("1. healthy worker: pulse every 200ms, work every 400ms, "
           "done after 1.2s, watchdog 400ms\n");
    enum outcome how = run(-1, &pulses, &nresults);
    printf("pulses: %d, results: %d\n", pulses, nresults);
    bool ok = how == CHANNELS_CLOSED && pulses > 0 && nresults > 0;
    printf("pulses and results, then the worker closed its channels after "
           "done: %s\n", ok ? "yes" : "NO");
    failed |= !ok;

    printf("2. unhealthy worker: stops after 2 iterations without closing "
           "its channels\n");
    how = run(2, &pulses, &nresults);
    ok = how == NOT_HEALTHY;
    printf("missing heartbeat detected by the watchdog: %s\n",
           ok ? "yes" : "NO");
    failed |= !ok;

    if (sample_wait_tasks() != 0)
        failed = 1;
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
