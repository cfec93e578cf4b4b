/* context_cancel.c — contexts: a monitor stopped by cancel, and a pipeline
 * stopped by a timeout whose length travels in a context value.
 *
 * Ported from 004_981443292b25e44f.txt, "12. context / 12.1 cancel":
 *   - TestWithCancel ("外界取消", cancelled from outside): a goroutine loops
 *     on `select { case <-ctx.Done(): print "监控退出，停止了..." (monitor
 *     exited, stopped); return; default: print "goroutine监控中..."
 *     (goroutine monitoring); time.Sleep(2s) }`; main sleeps 5 s, prints
 *     "可以了，通知监控停止" (ok, telling the monitor to stop), calls
 *     cancel() and sleeps 5 s more for the goroutine to print its last line.
 *   - RPCTimeoutMW ("ms平台的基础实现", the platform's basic implementation):
 *     `rpcInfo := GetRPCInfo(ctx); ctx, cancel := context.WithTimeout(ctx,
 *     rpcInfo.RPCTimeout); defer cancel()`, then work that gives up on
 *     `<-ctx.Done()`. Here the work is a pipeline, generator -> square ->
 *     a slow consumer, every stage selecting on done as seed 002's
 *     pipelines do with their done channel.
 *
 * Differences from the seed:
 *   - times are scaled down: the monitor's 2 s becomes 20 ms, main's 5 s
 *     50 ms, the RPC timeout is 60 ms and the consumer takes 15 ms a value;
 *   - instead of sleeping 5 s after cancel, main waits for the monitor task
 *     (sample_wait_tasks), so its last line is always printed;
 *   - C has no GC: each task holds its own reference to the context
 *     (ts_ctx_retain / ts_ctx_release) and ts_cancel, Go's `defer cancel()`,
 *     drops the creator's (include/taskscope/context.h, "Memory");
 *   - output is English; how many lines the monitor prints and how many
 *     values pass the pipeline depend on timing: the program checks the
 *     invariants and prints them as "...: yes" lines.
 *
 * Run: build/sample_apps/context_cancel (~0.15 s). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define MS TS_MILLISECOND

/* Go's error strings for ts_ctx_err's codes. */
static const char *ctx_err_text(int err)
{
    return err == ETIMEDOUT ? "context deadline exceeded" : "context canceled";
}

/* ---- TestWithCancel: a monitor stopped by cancel --------------------------- */

static void monitor(void *arg)
{
    ts_ctx_t *ctx = arg; /* the task's own reference */
    for (;;) {
        ts_select_case_t done[] = {TS_RECV_CASE(ts_ctx_done(ctx), NULL)};
        if (ts_select(done, 1, TS_SELECT_NONBLOCK) == 0) {
            printf("monitor exited, stopped... (%s)\n",
                   ctx_err_text(ts_ctx_err(ctx)));
            break;
        }
        printf("goroutine monitoring...\n");
        ts_sleep(20 * MS);
    }
    ts_ctx_release(ctx);
}

static void test_with_cancel(void)
{
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = ts_ctx_with_cancel(ts_ctx_background(), &cancel);
    if (!ctx)
        exit(1);
    sample_go(monitor, ts_ctx_retain(ctx));
    ts_sleep(50 * MS);
    printf("ok, telling the monitor to stop\n");
    ts_cancel(cancel);
    if (sample_wait_tasks() != 0) /* instead of the seed's 5 s sleep */
        exit(1);
}

/* ---- RPCTimeoutMW: a pipeline cancelled by a timeout ----------------------- */

typedef struct rpc_info {
    const char *method;
    int64_t timeout; /* ns */
} rpc_info_t;

static const int rpc_info_key; /* its address is the context key */

/* A stage: a context reference of its own, its output (which it closes)
 * and, for square, its input. */
struct stage {
    ts_ctx_t *ctx;
    ts_chan_t *in;
    ts_chan_t *out;
};

/* send_or_done: send v on out unless ctx is done first. */
static bool send_or_done(ts_ctx_t *ctx, ts_chan_t *out, long v)
{
    ts_select_case_t cases[] = {TS_SEND_CASE(out, &v),
                                TS_RECV_CASE(ts_ctx_done(ctx), NULL)};
    return ts_select(cases, 2, 0) == 0;
}

static void stage_end(struct stage *s)
{
    ts_chan_close(s->out);
    ts_chan_release(s->out);
    ts_chan_release(s->in);
    ts_ctx_release(s->ctx);
    free(s);
}

static void generator(void *arg)
{
    struct stage *s = arg;
    for (long i = 1; send_or_done(s->ctx, s->out, i); i++)
        ;
    stage_end(s);
}

static void square(void *arg)
{
    struct stage *s = arg;
    long v;
    bool ok;
    while (ts_chan_recv(s->in, &v, &ok), ok && send_or_done(s->ctx, s->out, v * v))
        ;
    stage_end(s);
}

/* start: run fn as a stage reading in (may be NULL); returns its output,
 * one reference for the caller. */
static ts_chan_t *start(void (*fn)(void *), ts_ctx_t *ctx, ts_chan_t *in)
{
    struct stage *s = xmalloc(sizeof *s);
    s->ctx = ts_ctx_retain(ctx);
    s->in = ts_chan_retain(in);
    s->out = xchan(sizeof(long), 0);
    ts_chan_t *out = ts_chan_retain(s->out);
    sample_go(fn, s);
    return out;
}

/* handle: the middleware's body: a timeout from the request's rpc_info,
 * then the pipeline, consumed slowly until the timeout stops it. */
static void handle(ts_ctx_t *ctx)
{
    const rpc_info_t *info = ts_ctx_value(ctx, &rpc_info_key);
    ts_cancel_t *cancel;
    ctx = ts_ctx_with_timeout(ctx, info->timeout, &cancel);
    if (!ctx)
        exit(1);
    int64_t deadline = 0;
    ts_ctx_deadline(ctx, &deadline);
    printf("%s: timeout %lldms\n", info->method,
           (long long)(info->timeout / MS));

    ts_chan_t *gen = start(generator, ctx, NULL);
    ts_chan_t *squares = start(square, ctx, gen);
    long v, n = 0;
    bool ok, in_order = true;
    while (ts_chan_recv(squares, &v, &ok), ok) {
        n++;
        in_order = in_order && v == n * n;
        printf("square: %ld\n", v);
        ts_sleep(15 * MS); /* a slow consumer */
    }
    printf("pipeline stopped: %s\n", ctx_err_text(ts_ctx_err(ctx)));
    printf("values were 1, 4, 9, ... in order: %s\n",
           in_order && n > 0 ? "yes" : "no");
    printf("stopped at the deadline, not before: %s\n",
           ts_now() >= deadline ? "yes" : "no");
    ts_chan_release(squares);
    ts_chan_release(gen);
    ts_cancel(cancel); /* defer cancel() */
}

static void test_rpc_timeout(void)
{
    rpc_info_t info = {"Search", 60 * MS};
    ts_ctx_t *ctx = ts_ctx_with_value(ts_ctx_background(), &rpc_info_key,
                                      &info);
    if (!ctx)
        exit(1);
    handle(ctx);
    ts_ctx_release(ctx);
}

static int main_task(void *arg)
{
    (void)arg;
    test_with_cancel();
    test_rpc_timeout();
    int leaked = sample_wait_tasks();
    printf("every task exited: %s\n", leaked ? "no" : "yes");
    return leaked;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
