/* race_counter — a data race between tasks, and its fix; the worked example
 * of `taskscope race` (docs/race.md, README "Race checks in CI").
 *
 * Four worker tasks each add 1000 to a total. With --racy they all do
 * `counter++` on one plain global: no happens-before edge orders the
 * workers' increments, so this is a data race in Go's memory model and in
 * C11's, and increments can be lost when the workers run in parallel. A
 * build with -fsanitize=thread (the tsan preset) reports it:
 *
 *   taskscope race -- build/tsan/sample_apps/race_counter --racy
 *
 * names the race, both stacks (racy_worker at the counter++ line), and the
 * tasks involved (workers are tasks 2-5; main_task is task 1).
 *
 * Without --racy (the default, also the program's CTest test) each worker
 * counts on its own and sends its count over a channel, Go's "share memory
 * by communicating": the receive orders each worker's writes before main's
 * read, the total is always 4000 and TSan has nothing to report.
 *
 * Output: "counter = 4000" and exit 0; with --racy the total printed may
 * be lower (lost updates) and the program still exits 0 without TSan. */
#include <stdio.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define WORKERS 4
#define INCREMENTS 1000

static long counter; /* written by every racy worker: the race */

/* racy_worker: increments the shared counter, then says it is done. */
static void racy_worker(void *arg)
{
    ts_chan_t *done = arg;
    for (int i = 0; i < INCREMENTS; i++)
        counter++; /* [line:racy_increment] */
    long zero = 0;
    ts_chan_send(done, &zero);
}

/* fixed_worker: counts on its own stack and sends the count. */
static void fixed_worker(void *arg)
{
    ts_chan_t *done = arg;
    long mine = 0;
    for (int i = 0; i < INCREMENTS; i++)
        mine++;
    ts_chan_send(done, &mine);
}

static int main_task(void *arg)
{
    bool racy = *(bool *)arg;
    ts_chan_t *done = ts_chan_make(sizeof(long), 0);
    if (!done) {
        fputs("race_counter: ts_chan_make failed\n", stderr);
        return 1;
    }
    for (int w = 0; w < WORKERS; w++)
        if (ts_go(racy ? racy_worker : fixed_worker, done) == 0) { /* [line:go] */
            fputs("race_counter: ts_go failed\n", stderr);
            return 1;
        }
    long total = 0;
    for (int w = 0; w < WORKERS; w++) {
        long part;
        ts_chan_recv(done, &part, NULL);
        total += part;
    }
    if (racy)
        total = counter; /* ordered after every worker by the receives */
    ts_chan_release(done);
    printf("counter = %ld\n", total);
    return 0;
}

int main(int argc, char **argv)
{
    bool racy = sample_flag(argc, argv, "--racy");
    return ts_run(main_task, &racy);
}
