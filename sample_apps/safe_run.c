/* safe_run.c — a WaitGroup wrapper whose tasks cannot crash the program:
 * each runs under safeRun, which recovers a panic and logs it with the
 * stack.
 *
 * Ported from 004_981443292b25e44f.txt, "最佳实践：waitGroup+err处理的封装"
 * (best practice: wrapping WaitGroup and error handling):
 *
 *     func (wg *WaitGroupWrapper) Wrap(f func()) {
 *         wg.Add(1)
 *         go func() { defer wg.Done(); safeRun(f, wg.ctx) }()
 *     }
 *     func safeRun(fun func(), ctx context.Context) {
 *         defer func() {
 *             if err := recover(); err != nil {
 *                 stack := string(debug.Stack())
 *                 GetLogger(ctx).Errorf("[safeRun] Goroutine Recover: %+v, stack is %v", err, stack)
 *             }
 *         }()
 *         fun()
 *     }
 *
 * In C each `defer` is a ts_defer inside a ts_pcall: the wrapped task's
 * frame defers wg_done, safe_run's own frame defers the recovering
 * logger. A panic in f is recovered by the inner frame; the outer frame
 * then ends normally and wg_done runs as on any other return.
 *
 * The wrapper embeds a ts_waitgroup_t as the Go type embeds sync.WaitGroup.
 * The context is only a request id that the logger prints.
 *
 * Four workers each compute the average of a batch of readings; the "east"
 * batch is empty and its worker divides by zero (SIGFPE, a runtime panic).
 * safeRun logs it — the log is written to a memory stream and printed in
 * one piece, so that it cannot interleave with other output — and the
 * other workers finish normally; main's Wait returns once all four are
 * done and main prints their results. The stack in the log comes from
 * ts_panic_print (Go's format, symbolized); the test (expected/safe_run.re)
 * checks its first line, the function the panic started in and the
 * "created by" line, not the addresses and lines in between.
 *
 * Tasks are started with ts_go itself, so that the logged stack says
 * "created by wg_wrap". Built with -g in every build type.
 *
 * Run: build/sample_apps/safe_run (~0.01 s). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

/* ---- safeRun --------------------------------------------------------------- */

/* safe_run_recover: safeRun's deferred func; ctx is the request id. */
static void safe_run_recover(void *ctx)
{
    const ts_panic_value_t *err = ts_recover();
    if (err == NULL)
        return;
    /* stack := string(debug.Stack()); GetLogger(ctx).Errorf(...) */
    char *log = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&log, &len);
    if (m == NULL) {
        fprintf(stderr, "open_memstream failed\n");
        exit(1);
    }
    fprintf(m, "[%s] ERROR [safeRun] Goroutine Recover: %s, stack is\n",
            (const char *)ctx, err->message);
    ts_panic_print(err, m);
    fclose(m);
    fwrite(log, 1, len, stdout); /* one piece */
    fflush(stdout);
    free(log);
}

struct safe_call {
    void (*fun)(void *);
    void *arg;
    const char *ctx;
};

static void safe_run_body(void *p)
{
    struct safe_call *c = p;
    ts_defer(safe_run_recover, (void *)c->ctx);
    c->fun(c->arg);
}

/* safe_run: safeRun(fun, ctx): run fun(arg); a panic in it is logged and
 * stops there. */
static void safe_run(void (*fun)(void *), void *arg, const char *ctx)
{
    struct safe_call c = {fun, arg, ctx};
    ts_pcall(safe_run_body, &c, NULL);
}

/* ---- WaitGroupWrapper --------------------------------------------------------- */

typedef struct wg_wrapper {
    ts_waitgroup_t wg;
    int added;       /* tasks started by wg_wrap, for the report */
    const char *ctx; /* the context: a request id for the logs */
} wg_wrapper_t;

struct wrapped {
    wg_wrapper_t *wg;
    void (*f)(void *);
    void *arg;
};

/* wg_done: wg.Done() */
static void wg_done(void *p)
{
    wg_wrapper_t *wg = p;
    ts_waitgroup_done(&wg->wg);
}

static void wrapped_body(void *p)
{
    struct wrapped *w = p;
    ts_defer(wg_done, w->wg); /* defer wg.Done() */
    safe_run(w->f, w->arg, w->wg->ctx);
}

static void wrapped_task(void *p)
{
    struct wrapped w = *(struct wrapped *)p;
    free(p);
    ts_pcall(wrapped_body, &w, NULL);
}

/* wg_wrap: Wrap(f) — Add(1), then go func() { defer wg.Done(); safeRun(f) }() */
static void wg_wrap(wg_wrapper_t *wg, void (*f)(void *), void *arg)
{
    struct wrapped *w = xmalloc(sizeof *w);
    *w = (struct wrapped){wg, f, arg};
    ts_waitgroup_add(&wg->wg, 1);
    wg->added++;
    if (ts_go(wrapped_task, w) == 0) {
        fprintf(stderr, "ts_go failed\n");
        exit(1);
    }
}

/* wg_wait: Wait(); returns how many tasks it waited for. */
static int wg_wait(wg_wrapper_t *wg)
{
    ts_waitgroup_wait(&wg->wg);
    return wg->added;
}

/* ---- the workers -------------------------------------------------------------- */

struct batch {
    const char *region;
    const int *readings;
    int count;
    /* The worker's result, and whether it got to the end. volatile: the
     * compiler may otherwise move the store of done above the division (C
     * assumes a division does not trap), and a recovered panic would find
     * done set with no result. Go's compiler knows a division may panic. */
    volatile int average;
    volatile bool done;
};

/* batch_average: the wrapped function. An empty batch divides by zero. */
static void batch_average(void *p)
{
    struct batch *b = p;
    int sum = 0;
    for (int i = 0; i < b->count; i++)
        sum += b->readings[i];
    /* volatile keeps the division as written: with the loop not run, sum
     * is 0, and a compiler may fold 0 / count to 0 (dividing by zero is
     * undefined behaviour in C, so it may assume count != 0) */
    volatile int total = sum, n = b->count;
    b->average = total / n; /* SIGFPE when the batch is empty */
    b->done = true;
}

static int main_task(void *arg)
{
    (void)arg;
    static const int north[] = {12, 14, 10}, south[] = {21, 19, 23, 25},
                     west[] = {7, 9};
    struct batch batches[] = {
        {"north", north, 3, 0, false},
        {"south", south, 4, 0, false},
        {"east", NULL, 0, 0, false}, /* nothing was read */
        {"west", west, 2, 0, false},
    };
    enum { N = sizeof batches / sizeof batches[0] };

    wg_wrapper_t wg = {.wg = TS_WAITGROUP_INIT, .added = 0, .ctx = "req-42"};
    printf("Wrap: %d workers, one per region\n", N);
    fflush(stdout);
    for (int i = 0; i < N; i++)
        wg_wrap(&wg, batch_average, &batches[i]);
    int waited = wg_wait(&wg);
    printf("Wait: %d of %d wrapped tasks done\n", waited, N);

    int finished = 0;
    for (int i = 0; i < N; i++) {
        if (batches[i].done) {
            printf("%s: average %d\n", batches[i].region, batches[i].average);
            finished++;
        } else {
            printf("%s: no result (its task panicked; safeRun recovered)\n",
                   batches[i].region);
        }
    }
    bool survived = waited == N && finished == N - 1;
    printf("the program survived the panic: %s\n", survived ? "yes" : "no");
    return survived ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
