/* syncbench — the sync primitives and context against Go's, workload by
 * workload (bench/go_sync/main.go is the same program in Go; bench/sync.sh
 * runs both side by side).
 *
 *   syncbench rwmutex|waitgroup|once|cancel [n]
 *
 *   rwmutex    4 tasks, n/4 operations each, 1 in 100 a write: read-mostly
 *   waitgroup  n rounds of add(1) / done / wait on one task (uncontended)
 *   once       n calls of Once.Do after the first (the fast path)
 *   cancel     n/10000 rounds: 10,000 children of one cancellable context,
 *              then one cancel fans out to all (ns per child)
 * Prints "<name> <ns/op> ns/op". Everything runs inside ts_run. */
#include <taskscope/taskscope.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static long n_ops;
static volatile long sink;

/* ---- rwmutex ------------------------------------------------------------- */

static ts_rwmutex_t rw = TS_RWMUTEX_INIT;
static ts_waitgroup_t wg = TS_WAITGROUP_INIT;
static long shared_value;

static void rw_worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < n_ops / 4; i++) {
        if (i % 100 == 0) {
            ts_rwmutex_lock(&rw);
            shared_value++;
            ts_rwmutex_unlock(&rw);
        } else {
            ts_rwmutex_rlock(&rw);
            sink = shared_value;
            ts_rwmutex_runlock(&rw);
        }
    }
    ts_waitgroup_done(&wg);
}

static void bench_rwmutex(void)
{
    ts_waitgroup_add(&wg, 4);
    for (int w = 0; w < 4; w++)
        ts_go(rw_worker, NULL);
    ts_waitgroup_wait(&wg);
}

/* ---- waitgroup, once ------------------------------------------------------ */

static void bench_waitgroup(void)
{
    ts_waitgroup_t g = TS_WAITGROUP_INIT;
    for (long i = 0; i < n_ops; i++) {
        ts_waitgroup_add(&g, 1);
        ts_waitgroup_done(&g);
        ts_waitgroup_wait(&g);
    }
}

static void once_fn(void *arg) { sink += (long)arg; }

static void bench_once(void)
{
    ts_once_t o = TS_ONCE_INIT;
    for (long i = 0; i < n_ops; i++)
        ts_once_do(&o, once_fn, (void *)1);
}

/* ---- context cancel fan-out ------------------------------------------------ */

enum { CHILDREN = 10000 };

static void bench_cancel(void)
{
    static ts_cancel_t *cancels[CHILDREN];
    for (long r = 0; r < n_ops / CHILDREN; r++) {
        ts_cancel_t *root_cancel;
        ts_ctx_t *root = ts_ctx_with_cancel(ts_ctx_background(), &root_cancel);
        for (int i = 0; i < CHILDREN; i++)
            if (!ts_ctx_with_cancel(root, &cancels[i]))
                abort();
        ts_cancel(root_cancel);
        for (int i = 0; i < CHILDREN; i++)
            ts_cancel(cancels[i]);
    }
}

static const struct {
    const char *name;
    void (*fn)(void);
} workloads[] = {
    {"rwmutex", bench_rwmutex},
    {"waitgroup", bench_waitgroup},
    {"once", bench_once},
    {"cancel", bench_cancel},
};

static int run(void *arg)
{
    int i = *(int *)arg;
    int64_t t0 = now_ns();
    workloads[i].fn();
    printf("%s %.1f ns/op\n", workloads[i].name, (double)(now_ns() - t0) / (double)n_ops);
    return 0;
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    n_ops = argc > 2 ? atol(argv[2]) : 4000000;
    for (int i = 0; i < (int)(sizeof workloads / sizeof workloads[0]); i++)
        if (strcmp(w, workloads[i].name) == 0 && n_ops > 0)
            return ts_run(run, &i);
    fprintf(stderr, "usage: syncbench rwmutex|waitgroup|once|cancel [n > 0]\n");
    return 2;
}
