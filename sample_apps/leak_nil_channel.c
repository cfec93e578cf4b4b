/* leak_nil_channel.c — a goroutine leak and its fix, and how taskscope
 * finds the one and proves the other clean.
 *
 * Ported from 002_4afb6b829636c6ad.txt, "Preventing Goroutine Leaks":
 *   1. "A simple example of a goroutine leak": doWork(strings) starts a
 *      goroutine that ranges over strings; main calls doWork(nil). A receive
 *      from a nil channel blocks forever, so the goroutine "will remain in
 *      memory for the lifetime of this process". main prints "Done.".
 *   2. The fix with a done channel: doWork(done, strings) selects on
 *      strings and done; a second goroutine closes done after 1 second
 *      (50 ms here), printing "canceling doWork goroutine..."; the worker
 *      prints "doWork exited" and closes terminated; main joins it with
 *      <-terminated and prints "Done". The C names are doWork (1) and
 *      doWorkWithDone (2).
 *
 * The diagnostics (stderr):
 *   - the fixed version runs between ts_leakcheck_snapshot() and
 *     ts_leakcheck(1 s), the goleak-style check: it counts the tasks created
 *     since the snapshot still alive after the timeout (printing their dump)
 *     and finds none; the program prints "leakcheck: 0 tasks left" on
 *     stdout and fails (exit 1) otherwise. The leaked worker of part 1
 *     started before the snapshot, so the check does not count it;
 *   - at the end main writes the goroutineleak profile with debug=2 (Go's
 *     dump format) to stderr. It lists exactly one task, the worker of part
 *     1, as
 *         goroutine 2 [chan receive (nil chan) (leaked)]:
 *         ...
 *         doWork_task(...)
 *                 .../sample_apps/leak_nil_channel.c:LINE +0x..
 *         created by doWork in goroutine 1
 *     A task blocked on a nil channel can never be woken, so it is always
 *     reported. The fixed worker has exited and is not in the profile.
 *
 * Like the Go program, main returns while the part-1 worker is still
 * blocked: ts_run does not wait for it, and the process exits with it (its
 * task argument and the completed channel are never freed). Everything else
 * is freed. Tasks are started with ts_go itself (not sample.h's sample_go)
 * so that the dump's "created by" lines name doWork and doWorkWithDone.
 *
 * Tests: sample.leak_nil_channel (tests/integration/expected/
 * leak_nil_channel.report) checks stdout, exit status 0 and the profile on
 * stderr, down to the source lines marked [line:NAME] below.
 *
 * Run: build/sample_apps/leak_nil_channel (~0.1 s). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/profile.h> /* ts_leakcheck, ts_profile_write */
#include <taskscope/taskscope.h>

#include "sample.h"

typedef const char *string; /* the channels carry static strings */

/* ---- 1. the leak: doWork(nil) ------------------------------------------- */

struct doWork_args {
    ts_chan_t *strings, *completed;
};

static void doWork_task(void *p)
{
    struct doWork_args *a = p;
    string s;
    bool ok;
    for (;;) { /* for s := range strings */
        ts_chan_recv(a->strings, &s, &ok); /* [line:leak_recv] */
        if (!ok)
            break;
        printf("%s\n", s); /* do something interesting */
    }
    /* never reached with strings == NULL */
    printf("doWork exited.\n");  /* defer fmt.Println("doWork exited.") */
    ts_chan_close(a->completed); /* defer close(completed) */
    ts_chan_release(a->completed);
    ts_chan_release(a->strings);
    free(a);
}

static ts_chan_t *doWork(ts_chan_t *strings)
{
    ts_chan_t *completed = xchan(0, 0);
    struct doWork_args *a = xmalloc(sizeof *a);
    a->strings = ts_chan_retain(strings); /* NULL stays NULL */
    a->completed = ts_chan_retain(completed);
    ts_go(doWork_task, a); /* [line:go_leak] */
    return completed;
}

/* ---- 2. the fix: doWork(done, strings) ---------------------------------- */

struct doWorkWithDone_args {
    ts_chan_t *done, *strings, *terminated;
};

static void doWorkWithDone_task(void *p)
{
    struct doWorkWithDone_args *a = p;
    for (;;) {
        string s;
        ts_select_case_t c[] = {
            TS_RECV_CASE(a->strings, &s), /* case s := <-strings: */
            TS_RECV_CASE(a->done, NULL),  /* case <-done: return */
        };
        if (ts_select(c, 2, 0) == 1)
            break;
        printf("%s\n", s); /* do something */
    }
    printf("doWork exited\n");    /* defer fmt.Println("doWork exited") */
    ts_chan_close(a->terminated); /* defer close(terminated) */
    ts_chan_release(a->terminated);
    ts_chan_release(a->strings);
    ts_chan_release(a->done);
    free(a);
}

static ts_chan_t *doWorkWithDone(ts_chan_t *done, ts_chan_t *strings)
{
    ts_chan_t *terminated = xchan(0, 0);
    struct doWorkWithDone_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->strings = ts_chan_retain(strings);
    a->terminated = ts_chan_retain(terminated);
    ts_go(doWorkWithDone_task, a);
    return terminated;
}

/* go func() { time.Sleep(1 * time.Second); ...; close(done) }() */
static void cancel_task(void *p)
{
    ts_chan_t *done = p;
    ts_sleep(50 * TS_MILLISECOND);
    printf("canceling doWork goroutine...\n");
    ts_chan_close(done);
    ts_chan_release(done);
}

static int main_task(void *arg)
{
    (void)arg;

    /* 1. the leak */
    printf("1. doWork(nil): a goroutine leak\n");
    ts_chan_t *completed = doWork(NULL);
    ts_chan_release(completed); /* main ignores it, as the seed does */
    printf("Done.\n");          /* perhaps more work is done here */

    /* 2. the fix, checked by the goleak-style leak check */
    printf("2. doWork(done, nil), canceled through done\n");
    ts_leakcheck_snapshot();
    ts_chan_t *done = xchan(0, 0);
    ts_chan_t *terminated = doWorkWithDone(done, NULL);
    ts_go(cancel_task, ts_chan_retain(done));
    ts_chan_recv(terminated, NULL, NULL); /* <-terminated: joined */
    printf("Done\n");
    ts_chan_release(terminated);
    ts_chan_release(done);
    fflush(stdout);
    int left = ts_leakcheck(TS_SECOND); /* dump on stderr if any are left */
    printf("leakcheck: %d tasks left\n", left);

    /* 3. what the leak profile finds: the worker of part 1 only */
    printf("goroutineleak profile (debug=2) on stderr\n");
    fflush(stdout);
    int err = ts_profile_write("goroutineleak", 2, 2);
    if (err != 0) {
        fprintf(stderr, "ts_profile_write(goroutineleak): error %d\n", err);
        return 1;
    }
    return left == 0 ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
