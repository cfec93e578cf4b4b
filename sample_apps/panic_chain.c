/* panic_chain.c — a deferred call recovers a panic, then panics itself
 * before returning: the process dies printing both, Go's panic chain.
 *
 * From 000_ba33576b914601bb.txt, "panic" (panic internals): the panic
 * record hangs on the goroutine, and a deferred call that recovers only
 * marks it recovered; the recovery takes effect when that deferred call
 * returns. A deferred call that panics in between starts a second panic on
 * top of the first, and the runtime prints the whole list when the second
 * one is not recovered, oldest first:
 *
 *     panic: first [recovered]
 *             panic: second
 *
 *     goroutine 2 [running]:
 *     ...
 *
 * (the second line starts with a tab). This is the output Go's testing
 * package gives when a test panics: its deferred handler recovers to report
 * the failure, then panics again with the value. Here a request handler's
 * deferred report_and_rethrow recovers the "first" panic, logs it, and
 * re-raises a new panic, "second", with context: nothing is left to
 * recover it.
 *
 * The handler runs in a task started by main_task (ts_go, so "created by"
 * names main_task); main waits for it and never gets to go on. Built with
 * -g in every build type.
 *
 * Test: sample.panic_chain (expected/panic_chain.report): exit status 2,
 * the chain, the goroutine header and the function that raised "second"
 * at its source line (marker [line:second]).
 *
 * Run: build/sample_apps/panic_chain (exits 2 at once). */
#include <stdio.h>

#include <taskscope/taskscope.h>

#include "sample.h"

/* report_and_rethrow: deferred by the handler. Recovers, logs, and panics
 * again while the recovered panic is still on the task. */
static void report_and_rethrow(void *arg)
{
    const char *request = arg;
    const ts_panic_value_t *r = ts_recover();
    if (r == NULL)
        return;
    printf("handler for %s recovered: %s\n", request, r->message);
    printf("raising it again with context\n");
    fflush(stdout); /* the process ends with _exit: flush before */
    ts_panic("second"); /* [line:second] */
}

static void handle(void *arg)
{
    ts_defer(report_and_rethrow, arg);
    ts_panic("first"); /* [line:first] */
}

static void handler_task(void *arg)
{
    ts_pcall(handle, arg, NULL);
    printf("handler returned (not reached)\n");
}

static int main_task(void *arg)
{
    (void)arg;
    ts_chan_t *never = xchan(sizeof(int), 0);
    ts_go(handler_task, "GET /orders/17"); /* [line:go_handler] */
    int v;
    ts_chan_recv(never, &v, NULL); /* the panic ends the process first */
    ts_chan_release(never);
    return 0;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
