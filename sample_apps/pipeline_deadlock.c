/* pipeline_deadlock.c — a pipeline whose first stage forgets to close its
 * output channel: every task ends up waiting, and the runtime says so.
 *
 * Ported from 000_ba33576b914601bb.txt, "Applying Modern Go Concurrency
 * Patterns to Data Pipelines":
 *   - "A Simple Pipeline": producer -> sink over a list of strings. The
 *     seed's fix runs the producer in its own goroutine and states the rule
 *     "whoever creates the channel is also in charge of closing it". This
 *     port applies the first half of the fix and forgets the second: the
 *     producer sends every string and returns without close(outChannel).
 *   - "Adding Parallelism with Fan-Out and Fan-In": one transformToLower
 *     stage (without ctx, without the 3 s sleep) between producer and sink,
 *     itself correct: it closes its output when its input is closed.
 *     Source {"FOO", "BAR", "BAX"} as in that section.
 * main ranges over the last channel (the seed's sink(), written out in main
 * so that the receive that never returns is main's own).
 *
 * What happens: main prints foo, bar, bax; the producer returns; the lower
 * stage waits for a fourth string or a close on the producer's channel and
 * main waits on the lower stage's channel. No task can run and no timer is
 * pending, so, as Go's runtime does, taskscope prints
 *
 *     fatal error: all goroutines are asleep - deadlock!
 *
 *     goroutine 1 [chan receive]:
 *     ...
 *     main_task(...)
 *             .../sample_apps/pipeline_deadlock.c:LINE +0x..   (the range)
 *     ...
 *     goroutine 3 [chan receive]:
 *     ...
 *     transformToLower_task(...)
 *     ...
 *
 * on stderr (after flushing stdout) and exits with status 2, as soon as the
 * detector has seen the same quiet state twice (up to about a second). The
 * producer (goroutine 2) is not in the report: it has exited.
 * The fix is one line, ts_chan_close(a->out) in producer_task.
 *
 * Unlike the other samples this program does not free what it creates and
 * does not join its tasks: it never gets there. Tasks are started with
 * ts_go itself (not sample.h's sample_go) so that the report's "created by"
 * lines name the stage functions of this file.
 *
 * Test: sample.pipeline_deadlock (tests/integration/expected/
 * pipeline_deadlock.report) checks the status, the stdout and the report,
 * down to the source lines marked [line:NAME] below.
 *
 * Run: build/sample_apps/pipeline_deadlock — exits 2 by design. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define MAXLEN 16 /* the strings travel by value: char[MAXLEN] elements */

/* ---- producer: the stage with the bug ------------------------------------ */

struct producer_args {
    ts_chan_t *out;
    const char *const *strings;
    size_t n;
};

static void producer_task(void *p)
{
    struct producer_args *a = p;
    for (size_t i = 0; i < a->n; i++) { /* for _, s := range strings */
        char s[MAXLEN] = {0};
        snprintf(s, sizeof s, "%s", a->strings[i]);
        ts_chan_send(a->out, s); /* outChannel <- s */
    }
    /* BUG: missing `defer close(outChannel)`, i.e. ts_chan_close(a->out).
     * The task returns; its channel stays open and nobody will send again. */
    free(a);
}

static ts_chan_t *producer(const char *const *strings, size_t n)
{
    ts_chan_t *outChannel = xchan(MAXLEN, 0);
    struct producer_args *a = xmalloc(sizeof *a);
    a->out = outChannel; /* never released: the program dies first */
    a->strings = strings;
    a->n = n;
    ts_go(producer_task, a); /* [line:go_producer] */
    return outChannel;
}

/* ---- transformToLower: a correct stage ----------------------------------- */

struct lower_args {
    ts_chan_t *in, *out;
};

static void transformToLower_task(void *p)
{
    struct lower_args *a = p;
    char s[MAXLEN];
    bool ok;
    for (;;) { /* for s := range values */
        ts_chan_recv(a->in, s, &ok); /* [line:lower_recv] */
        if (!ok)
            break;
        for (char *c = s; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        ts_chan_send(a->out, s); /* outChannel <- strings.ToLower(s) */
    }
    ts_chan_close(a->out); /* defer close(outChannel): never reached */
    free(a);
}

static ts_chan_t *transformToLower(ts_chan_t *values)
{
    ts_chan_t *outChannel = xchan(MAXLEN, 0);
    struct lower_args *a = xmalloc(sizeof *a);
    a->in = values;
    a->out = outChannel;
    ts_go(transformToLower_task, a); /* [line:go_lower] */
    return outChannel;
}

/* ---- main ---------------------------------------------------------------- */

static int main_task(void *arg)
{
    (void)arg;
    static const char *const source[] = {"FOO", "BAR", "BAX"};

    ts_chan_t *outputChannel = producer(source, 3);
    ts_chan_t *lower = transformToLower(outputChannel);

    char value[MAXLEN];
    bool ok;
    for (;;) { /* sink: for value := range values */
        ts_chan_recv(lower, value, &ok); /* [line:main_recv] */
        if (!ok)
            break;
        printf("%s\n", value); /* log.Println(value) */
    }
    printf("sink: done\n"); /* never printed */
    return 0;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
