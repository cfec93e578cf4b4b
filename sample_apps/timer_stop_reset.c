/* timer_stop_reset.c — timers: Stop and Reset, and the pitfalls the seed
 * describes, as they play out under taskscope's (Go 1.23+) semantics.
 *
 * Ported from 000_ba33576b914601bb.txt, "Go timer 是如何被调度的" (how Go
 * timers are scheduled), section "Timer 使用中的坑" (timer pitfalls):
 *   - creating a timer per loop iteration with time.After wastes timers; the
 *     fix reuses one timer with Reset inside the for-select loop (run 9);
 *   - `t := NewTimer(2s); <-t.C; println("done")` blocks until it fires
 *     (run 1);
 *   - Stop from another goroutine while main waits on `<-t.C` deadlocks:
 *     Stop does not close C (run 2);
 *   - the seed's "correct" Stop: `go func() { if !t.Stop() { <-t.C } }()`
 *     next to `select { case <-t.C: ... default: }` (run 3) — and its trap:
 *     when the value was already received, Stop returns false and the drain
 *     `<-t.C` blocks forever (run 4).
 * taskscope's timers follow Go 1.23+ (include/taskscope/time.h): the timer
 * channel is synchronous, and once Stop or Reset returns no value from before
 * the call can be received. Runs 5 to 8 show the cases where that differs
 * from Go before 1.23 (a fired-but-unreceived value used to stay buffered in
 * t.C: Stop returned false, and a Reset was followed by the stale value);
 * run 10 covers AfterFunc and run 11 a Ticker.
 *
 * Each run prints what happened; every line is deterministic (each timing
 * margin is tens of milliseconds or more), so the test compares the output
 * exactly. Waits that would block forever in Go are bounded here (200 ms)
 * and reported as "blocked".
 *
 * Run: build/sample_apps/timer_stop_reset (~1.5 s). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define MS TS_MILLISECOND
#define FOREVER (200 * MS) /* how long "blocks forever" is tested */

static const char *yes_no(bool b) { return b ? "yes" : "no"; }
static const char *true_false(bool b) { return b ? "true" : "false"; }

/* ---- 1. <-t.C waits ----------------------------------------------------- */

static void run1(void)
{
    printf("1. t := NewTimer(50ms); <-t.C; println(\"done\")\n");
    int64_t start = ts_now();
    ts_timer_t *t = ts_timer_new(50 * MS);
    int64_t fired_at = 0;
    ts_chan_recv(ts_timer_chan(t), &fired_at, NULL);
    printf("done\n");
    printf("   waited until the timer fired: %s\n",
           yes_no(ts_now() - start >= 50 * MS && fired_at - start >= 50 * MS));
    ts_timer_free(t);
}

/* ---- 2. Stop from another task while main waits on t.C ------------------ */

struct stop_args {
    ts_timer_t *t;
    ts_chan_t *result; /* bool: what Stop returned */
    int64_t delay;
};

static void stop_task(void *p) /* go func() { timer1.Stop() }() */
{
    struct stop_args *a = p;
    ts_sleep(a->delay);
    bool stopped = ts_timer_stop(a->t);
    ts_chan_send(a->result, &stopped);
    ts_chan_release(a->result);
    free(a);
}

static void run2(void)
{
    printf("2. t := NewTimer(2s); go t.Stop(); <-t.C   "
           "(the seed's deadlock)\n");
    ts_timer_t *t = ts_timer_new(2 * TS_SECOND);
    ts_chan_t *result = xchan(sizeof(bool), 1);
    struct stop_args *a = xmalloc(sizeof *a);
    a->t = t;
    a->result = ts_chan_retain(result);
    a->delay = 20 * MS; /* main is already waiting on t.C by then */
    sample_go(stop_task, a);

    bool got = recv_within(ts_timer_chan(t), NULL, NULL, FOREVER);
    bool stopped;
    ts_chan_recv(result, &stopped, NULL);
    printf("   Stop() in the other task: %s\n", true_false(stopped));
    printf("   <-t.C: %s (Stop does not close t.C: it blocks forever)\n",
           got ? "received a value" : "blocked");
    ts_chan_release(result);
    ts_timer_free(t);
}

/* ---- 3./4. `if !t.Stop() { <-t.C }` ------------------------------------- */

struct idiom_args {
    ts_timer_t *t;
    ts_chan_t *result; /* struct idiom_result */
};

struct idiom_result {
    bool stopped, drained, drain_blocked;
};

static void idiom_task(void *p) /* go func() { if !t.Stop() { <-t.C } }() */
{
    struct idiom_args *a = p;
    struct idiom_result r = {0};
    r.stopped = ts_timer_stop(a->t);
    if (!r.stopped) {
        r.drained = recv_within(ts_timer_chan(a->t), NULL, NULL, FOREVER);
        r.drain_blocked = !r.drained;
    }
    ts_chan_send(a->result, &r);
    ts_chan_release(a->result);
    free(a);
}

static struct idiom_result run_idiom(ts_timer_t *t)
{
    ts_chan_t *result = xchan(sizeof(struct idiom_result), 1);
    struct idiom_args *a = xmalloc(sizeof *a);
    a->t = t;
    a->result = ts_chan_retain(result);
    sample_go(idiom_task, a);
    struct idiom_result r;
    ts_chan_recv(result, &r, NULL);
    ts_chan_release(result);
    return r;
}

static void print_idiom(struct idiom_result r)
{
    printf("   Stop(): %s, drain <-t.C: %s\n", true_false(r.stopped),
           r.stopped ? "skipped"
           : r.drained ? "received the value"
                       : "blocked (forever: a leaked task)");
}

static void run3(void)
{
    printf("3. t := NewTimer(2s); go func() { if !t.Stop() { <-t.C } }(); "
           "select { case <-t.C: expired; default: }\n");
    ts_timer_t *t = ts_timer_new(2 * TS_SECOND);
    ts_select_case_t c[] = {TS_RECV_CASE(ts_timer_chan(t), NULL)};
    if (ts_select(c, 1, TS_SELECT_NONBLOCK) == 0)
        printf("expired\n");
    printf("done\n");
    print_idiom(run_idiom(t));
    ts_timer_free(t);
}

static void run4(void)
{
    printf("4. the same idiom after the value was received: "
           "t := NewTimer(1ms); <-t.C; if !t.Stop() { <-t.C }\n");
    ts_timer_t *t = ts_timer_new(1 * MS);
    if (recv_within(ts_timer_chan(t), NULL, NULL, TS_SECOND))
        printf("expired\n");
    print_idiom(run_idiom(t));
    ts_timer_free(t);
}

/* ---- 5.-8. Stop / Reset after the timer fired, Go 1.23+ ----------------- */

static void run5(void)
{
    printf("5. t := NewTimer(1ms); it fires while nobody receives; "
           "30ms later t.Stop()\n");
    ts_timer_t *t = ts_timer_new(1 * MS);
    ts_sleep(30 * MS);
    bool stopped = ts_timer_stop(t);
    bool stale = recv_within(ts_timer_chan(t), NULL, NULL, FOREVER);
    printf("   stop after fire, before receive: stopped=%s, "
           "stale value received: %s\n", true_false(stopped), yes_no(stale));
    printf("   (Go before 1.23: stopped=false, the value waits in t.C and "
           "must be drained)\n");
    struct idiom_result r = {.stopped = stopped};
    print_idiom(r); /* so `if !t.Stop() { <-t.C }` skips the drain */
    ts_timer_free(t);
}

static void run6(void)
{
    printf("6. t := NewTimer(1ms); it fires while nobody receives; "
           "30ms later t.Reset(100ms); <-t.C\n");
    ts_timer_t *t = ts_timer_new(1 * MS);
    ts_sleep(30 * MS);
    int64_t reset_at = ts_now();
    bool was_active = ts_timer_reset(t, 100 * MS);
    int64_t value = 0;
    bool got = recv_within(ts_timer_chan(t), &value, NULL, TS_SECOND);
    int64_t waited = ts_now() - reset_at;
    bool stale = got && (value < reset_at || waited < 100 * MS);
    printf("   reset after fire, before receive: reset=%s, "
           "stale value received: %s\n", true_false(was_active), yes_no(stale));
    printf("   the receive got the new firing, 100ms after the Reset: %s\n",
           yes_no(got && !stale));
    printf("   (Go before 1.23: the receive returns at once with the stale "
           "time)\n");
    ts_timer_free(t);
}

static void run7(void)
{
    printf("7. t := NewTimer(50ms); t.Reset(150ms) before it fires\n");
    int64_t start = ts_now();
    ts_timer_t *t = ts_timer_new(50 * MS);
    bool was_active = ts_timer_reset(t, 150 * MS);
    bool got = recv_within(ts_timer_chan(t), NULL, NULL, TS_SECOND);
    bool late_enough = ts_now() - start >= 150 * MS;
    bool again = recv_within(ts_timer_chan(t), NULL, NULL, FOREVER);
    printf("   reset=%s, fired at the new time: %s, fired again: %s\n",
           true_false(was_active), yes_no(got && late_enough), yes_no(again));
    ts_timer_free(t);
}

static void run8(void)
{
    printf("8. Stop() twice, then Reset(50ms) the stopped timer\n");
    ts_timer_t *t = ts_timer_new(TS_SECOND);
    bool first = ts_timer_stop(t);
    bool second = ts_timer_stop(t);
    bool was_active = ts_timer_reset(t, 50 * MS);
    bool got = recv_within(ts_timer_chan(t), NULL, NULL, TS_SECOND);
    printf("   first Stop(): %s, second Stop(): %s, Reset(): %s, "
           "fired after the Reset: %s\n", true_false(first), true_false(second),
           true_false(was_active), yes_no(got));
    ts_timer_free(t);
}

/* ---- 9. reuse one timer in a for-select loop ---------------------------- */

struct events_args {
    ts_chan_t *someDone, *quit;
    int count;
};

static void events_task(void *p) /* sends count events, 10 ms apart */
{
    struct events_args *a = p;
    for (int i = 0; i < a->count; i++) {
        ts_sleep(10 * MS);
        ts_select_case_t c[] = {TS_SEND_CASE(a->someDone, &i),
                                TS_RECV_CASE(a->quit, NULL)};
        if (ts_select(c, 2, 0) == 1)
            break; /* the loop returned early: stop, do not block forever */
    }
    ts_chan_release(a->someDone);
    ts_chan_release(a->quit);
    free(a);
}

static void run9(void)
{
    printf("9. for { t.Reset(300ms); select { case <-someDone: ...; "
           "case <-t.C: return } }  (one timer instead of a time.After per "
           "iteration)\n");
    ts_chan_t *someDone = xchan(sizeof(int), 0);
    ts_chan_t *quit = xchan(0, 0);
    struct events_args *a = xmalloc(sizeof *a);
    a->someDone = ts_chan_retain(someDone);
    a->quit = ts_chan_retain(quit);
    a->count = 5;
    sample_go(events_task, a);

    ts_timer_t *timer = ts_timer_new(300 * MS);
    int handled = 0;
    for (;;) {
        ts_timer_reset(timer, 300 * MS);
        ts_select_case_t c[] = {TS_RECV_CASE(someDone, NULL),
                                TS_RECV_CASE(ts_timer_chan(timer), NULL)};
        if (ts_select(c, 2, 0) == 0) {
            handled++; /* do something */
            continue;
        }
        break; /* case <-timer.C: return */
    }
    printf("   events handled: %d, then the timer fired and the loop "
           "returned\n", handled);
    ts_chan_close(quit);
    ts_chan_release(quit);
    ts_timer_free(timer);
    ts_chan_release(someDone);
}

/* ---- 10. AfterFunc ------------------------------------------------------ */

static void mark_ran(void *p)
{
    ts_chan_t *ran = p;
    ts_chan_send(ran, NULL); /* buffered: never blocks */
    ts_chan_release(ran);
}

static void run10(void)
{
    printf("10. AfterFunc: Stop() before and after the function ran\n");
    ts_chan_t *ran = xchan(0, 2);

    ts_timer_t *t1 = ts_after_func(TS_SECOND, mark_ran, ts_chan_retain(ran));
    bool stopped1 = ts_timer_stop(t1);
    if (stopped1)
        ts_chan_release(ran); /* mark_ran will not run: drop its reference */
    bool ran1 = recv_within(ran, NULL, NULL, 100 * MS);
    printf("   AfterFunc(1s, f); Stop() at once: %s, f ran: %s\n",
           true_false(stopped1), yes_no(ran1));

    ts_timer_t *t2 = ts_after_func(1 * MS, mark_ran, ts_chan_retain(ran));
    bool ran2 = recv_within(ran, NULL, NULL, TS_SECOND);
    bool stopped2 = ts_timer_stop(t2);
    printf("   AfterFunc(1ms, f); Stop() after f ran: %s, f ran: %s\n",
           true_false(stopped2), yes_no(ran2));

    ts_timer_free(t1);
    ts_timer_free(t2);
    ts_chan_release(ran);
}

/* ---- 11. Ticker --------------------------------------------------------- */

static void run11(void)
{
    printf("11. t := NewTicker(20ms); 3 ticks; t.Stop(); t.Reset(50ms)\n");
    ts_ticker_t *t = ts_ticker_new(20 * MS);
    int ticks = 0;
    for (int i = 0; i < 3; i++)
        ticks += recv_within(ts_ticker_chan(t), NULL, NULL, TS_SECOND);
    ts_ticker_stop(t);
    bool after_stop = recv_within(ts_ticker_chan(t), NULL, NULL, 100 * MS);
    int64_t reset_at = ts_now();
    ts_ticker_reset(t, 50 * MS);
    bool resumed = recv_within(ts_ticker_chan(t), NULL, NULL, TS_SECOND);
    bool period_ok = ts_now() - reset_at >= 50 * MS;
    printf("   ticks received: %d, tick after Stop(): %s, ticks again "
           "after Reset(50ms): %s\n", ticks, yes_no(after_stop),
           yes_no(resumed && period_ok));
    ts_ticker_free(t);
}

static int main_task(void *arg)
{
    (void)arg;
    run1();
    run2();
    run3();
    run4();
    run5();
    run6();
    run7();
    run8();
    run9();
    run10();
    run11();
    return sample_wait_tasks();
}

int main(void)
{
    return ts_run(main_task, NULL);
}
