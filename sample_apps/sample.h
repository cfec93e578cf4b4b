/* sample.h — tiny helpers shared by the sample apps (not part of the library).
 *
 * The samples port Go programs. Two things Go gives for free must be spelled
 * out in C, and these helpers keep that bookkeeping out of the way:
 *
 *   - No garbage collector. Channels are reference counted (ts_chan_retain /
 *     ts_chan_release) and task arguments are heap blocks the task frees. The
 *     samples follow one rule: "retain what you keep, release what you own".
 *     A function that returns a channel hands the caller one reference; a
 *     task holds its own reference to every channel it uses and releases it
 *     when it returns. Whoever creates a channel closes it (Go's rule).
 *
 *   - Go's main exits without waiting for goroutines; so does ts_run. To be
 *     sure every task has released what it holds before the program ends,
 *     samples start their tasks with sample_go() (ts_go plus a live-task
 *     count) and call sample_wait_tasks() before main_task returns. A task
 *     that is still running 10 seconds later is reported as leaked and the
 *     program fails: a sample must not leave tasks blocked forever.
 *
 * Allocation failures end the program with a message (xmalloc, xchan): the
 * samples are about concurrency, not about recovering from ENOMEM. */
#ifndef TASKSCOPE_SAMPLE_H
#define TASKSCOPE_SAMPLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

/* sample_flag: whether the program was run with its one optional flag;
 * any other argument ends it with its usage line and status 2. */
static inline bool sample_flag(int argc, char **argv, const char *flag)
{
    bool on = argc == 2 && strcmp(argv[1], flag) == 0;
    if (argc > 2 || (argc == 2 && !on)) {
        fprintf(stderr, "usage: %s [%s]\n", argv[0], flag);
        exit(2);
    }
    return on;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* xchan: ts_chan_make that cannot return NULL. */
static inline ts_chan_t *xchan(size_t elem_size, size_t cap)
{
    ts_chan_t *ch = ts_chan_make(elem_size, cap);
    if (ch == NULL) {
        fprintf(stderr, "ts_chan_make(%zu, %zu) failed\n", elem_size, cap);
        exit(1);
    }
    return ch;
}

static atomic_int sample_live_tasks;

struct sample_go_call {
    void (*fn)(void *arg);
    void *arg;
};

static inline void sample_go_trampoline(void *p)
{
    struct sample_go_call call = *(struct sample_go_call *)p;
    free(p);
    call.fn(call.arg);
    atomic_fetch_sub(&sample_live_tasks, 1);
}

/* sample_go: Go's `go fn(arg)` — ts_go, counted for sample_wait_tasks. */
static inline void sample_go(void (*fn)(void *arg), void *arg)
{
    struct sample_go_call *call = xmalloc(sizeof *call);
    call->fn = fn;
    call->arg = arg;
    atomic_fetch_add(&sample_live_tasks, 1);
    if (ts_go(sample_go_trampoline, call) == 0) {
        fprintf(stderr, "ts_go failed\n");
        exit(1);
    }
}

/* sample_wait_tasks: wait until every task started with sample_go has
 * returned. Returns 0, or 1 after printing how many are still running when
 * they do not finish within 10 seconds (a leak: the sample is wrong). */
static inline int sample_wait_tasks(void)
{
    int64_t deadline = ts_now() + 10 * TS_SECOND;
    int live;
    while ((live = atomic_load(&sample_live_tasks)) > 0) {
        if (ts_now() > deadline) {
            fprintf(stderr, "leak: %d task(s) still running at exit\n", live);
            return 1;
        }
        ts_sleep(TS_MILLISECOND);
    }
    return 0;
}

/* since_ms: whole milliseconds elapsed since a ts_now() instant. */
static inline long long since_ms(int64_t start)
{
    return (long long)((ts_now() - start) / TS_MILLISECOND);
}

/* recv_within: receive from ch, giving up after d nanoseconds. True if a
 * value (or a close, see *ok) arrived in time. */
static inline bool recv_within(ts_chan_t *ch, void *out, bool *ok, int64_t d)
{
    ts_select_case_t c[] = {TS_RECV_CASE(ch, out)};
    int r = ts_select_deadline(c, 1, 0, ts_now() + d);
    if (r == 0 && ok != NULL)
        *ok = c[0].ok;
    return r == 0;
}

#endif
