/* tests/race — helpers shared by the ThreadSanitizer programs.
 *
 * Each program in this directory is a tiny main() built only in the tsan
 * build and run by check_race.sh: the clean_* programs must draw no TSan
 * report at all, the racy_* programs exactly one data race, on the global
 * they name.
 *
 * Why a rendezvous: in the tsan build the runtime itself is instrumented, so
 * TSan also sees the scheduler's own synchronization (the fiber switch
 * through g0, run-queue atomics, the channel lock). Two tasks that happen to
 * run one after the other on the same worker thread are therefore ordered
 * for TSan even when Go's memory model does not order them. The racy
 * programs make both sides of their race run at the same time on the two
 * worker threads (TASKSCOPE_PROCS=2) by meeting at a barrier built from
 * RELAXED atomics, which TSan does not treat as synchronization; the race
 * TSan sees is then exactly the program's own. The clean programs use the
 * same barrier so that their channel edges, not a lucky schedule, are what
 * orders their accesses.
 *
 * Why a relaxed flag between the two racy accesses: TSan checks and updates
 * an address's shadow cells without making the two atomic, so two accesses
 * on two threads at the very same moment can each miss the other (seen in
 * about 1 run of 100 with two stores 0.4 us apart right after the barrier).
 * The racy programs therefore make the second access wait, on a relaxed
 * flag (again no happens-before), until the first one is done.
 *
 * A task spinning at the barrier occupies its worker thread (tasks are not
 * preempted), so a barrier is only ever joined by at most ts_procs() tasks.
 */
#ifndef TASKSCOPE_TESTS_RACE_UTIL_H
#define TASKSCOPE_TESTS_RACE_UTIL_H

#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <taskscope/taskscope.h>

/* Seconds a barrier waits before the program gives up (exit status 3). */
#define RACE_BARRIER_TIMEOUT_S 60

/* race_fail: report a functional failure and stop at once. _exit skips
 * TSan's exit-code override, so the failure is not mistaken for a race
 * (66) or for success (0). */
static inline void race_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("race test FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(3);
}

/* race_barrier: wait until n participants arrived. Relaxed only: this
 * creates no happens-before edge, for TSan or for the C11 memory model. */
static inline void race_barrier(atomic_int *arrived, int n)
{
    atomic_fetch_add_explicit(arrived, 1, memory_order_relaxed);
    time_t start = time(NULL);
    while (atomic_load_explicit(arrived, memory_order_relaxed) < n) {
        sched_yield(); /* the OS thread, not the task: stays on this M */
        if (time(NULL) - start > RACE_BARRIER_TIMEOUT_S)
            race_fail("barrier: %d of %d arrived after %d s",
                      atomic_load_explicit(arrived, memory_order_relaxed), n,
                      RACE_BARRIER_TIMEOUT_S);
    }
}

/* race_flag_set / race_flag_wait: a one-shot signal in real time only
 * (relaxed: no happens-before), used to put the two accesses of a race one
 * after the other. */
static inline void race_flag_set(atomic_int *flag)
{
    atomic_store_explicit(flag, 1, memory_order_relaxed);
}

static inline void race_flag_wait(atomic_int *flag)
{
    time_t start = time(NULL);
    while (atomic_load_explicit(flag, memory_order_relaxed) == 0) {
        sched_yield();
        if (time(NULL) - start > RACE_BARRIER_TIMEOUT_S)
            race_fail("flag not set after %d s", RACE_BARRIER_TIMEOUT_S);
    }
}

/* race_require_procs: the programs need two worker threads. */
static inline void race_require_procs(int n)
{
    if (ts_procs() < n)
        race_fail("needs TASKSCOPE_PROCS >= %d, have %d", n, ts_procs());
}

/* Checked channel helpers. */
static inline ts_chan_t *race_chan(size_t elem, size_t cap)
{
    ts_chan_t *ch = ts_chan_make(elem, cap);
    if (!ch)
        race_fail("ts_chan_make(%zu, %zu)", elem, cap);
    return ch;
}

static inline void race_send_int(ts_chan_t *ch, int v)
{
    ts_chan_send(ch, &v);
}

static inline int race_recv_int(ts_chan_t *ch)
{
    int v = -1;
    bool ok = false;
    ts_chan_recv(ch, &v, &ok);
    if (!ok)
        race_fail("receive on a closed channel");
    return v;
}

#endif
