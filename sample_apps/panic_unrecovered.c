/* panic_unrecovered.c — a panic that nobody recovers ends the whole
 * process, printed as Go prints it, with exit status 2.
 *
 * From 000_ba33576b914601bb.txt, "panic" (panic internals), its last step:
 * when the goroutine's deferred calls have all run and none recovered the
 * panic, "there is nothing left to do: the process exits and prints the
 * stack". A panic belongs to the task that raised it: only that task's
 * deferred calls can recover it. main_task starts the worker, then waits
 * inside ts_pcall with a recovering handler of its own, yet the worker's
 * panic kills the program while main waits, as a panicking goroutine kills
 * a Go program whatever main does.
 *
 * The worker, parse_config, starts no protected frame and panics on a bad
 * value. stderr then holds
 *
 *     panic: parse_config: bad value "-1" for workers
 *
 *     goroutine 2 [running]:
 *     parse_config(...)
 *             .../sample_apps/panic_unrecovered.c:LINE +0x..
 *     ...
 *     created by main_task in goroutine 1
 *             .../sample_apps/panic_unrecovered.c:LINE +0x..
 *
 * where the first LINE is the ts_panic call's. Nothing after the panic
 * runs: main's deferred handler does not, and its final line is never
 * printed. (The seed's Go equivalent: `go func() { panic(...) }()` while
 * main blocks on a channel.)
 *
 * The worker is started with ts_go itself so that the report's "created
 * by" line names main_task. Built with -g in every build type (the test
 * checks source lines).
 *
 * Test: sample.panic_unrecovered (expected/panic_unrecovered.report),
 * down to the source lines marked [line:NAME] below. panic_chain.c shows
 * the other shape of an unrecovered panic: a chain of them.
 *
 * Run: build/sample_apps/panic_unrecovered (exits 2 at once). */
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

struct config {
    const char *key;
    const char *value;
};

/* parse_config: the worker. A negative worker count is a programming
 * error, and it panics on it. */
static void parse_config(void *arg)
{
    const struct config *c = arg;
    long n = strtol(c->value, NULL, 10);
    if (n < 0)
        ts_panic("parse_config: bad value \"%s\" for %s", c->value, c->key); /* [line:panic] */
    printf("%s = %ld\n", c->key, n);
}

/* main's handler: it would recover a panic of main's own task, but the
 * worker's panic never reaches it. */
static void main_recover(void *arg)
{
    (void)arg;
    const ts_panic_value_t *r = ts_recover();
    if (r != NULL)
        printf("main recovered: %s (not reached)\n", r->message);
}

/* main_wait: main's protected body, waiting for a result that never
 * comes (Go: defer func() { recover() }() at the top of main, then
 * <-never). */
static void main_wait(void *arg)
{
    ts_chan_t *never = arg;
    ts_defer(main_recover, NULL);
    int v;
    ts_chan_recv(never, &v, NULL); /* the panic ends the process first */
}

static int main_task(void *arg)
{
    (void)arg;
    ts_chan_t *never = xchan(sizeof(int), 0);
    static const struct config bad = {"workers", "-1"};
    printf("starting the config worker\n");
    fflush(stdout); /* the process ends with _exit: flush before */
    ts_go(parse_config, (void *)&bad); /* [line:go_worker] */
    ts_pcall(main_wait, never, NULL);
    printf("main returned (not reached)\n");
    ts_chan_release(never);
    return 0;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
