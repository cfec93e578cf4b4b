/* taskscope — ts_leakcheck_snapshot / ts_leakcheck: goleak's check for
 * tests.
 *
 * Invariants:
 *   - the snapshot is the set of task ids alive at ts_leakcheck_snapshot
 *     (ids are never reused, so a new task can never pass for an old one);
 *   - ts_leakcheck never counts its caller; it polls until every task
 *     created since the snapshot has ended or the timeout passes, then
 *     prints the dump of those still alive and returns their number;
 *   - no snapshot taken: every task but the caller counts as new;
 *   - the dump is followed by the wait-for cycles (cycles.c) whose members
 *     are all among the tasks shown: the leak detector runs only then, on
 *     the failure path. Snapshots are taken in private memory and
 *     scrubbed of channel addresses, and so is the stack below the
 *     walk (ts__leaks_scrub, ts__leaks_scrub_stack), so that no copy of
 *     theirs hides a leak from that scan or later ones. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <taskscope/profile.h>
#include <taskscope/task.h>
#include <taskscope/time.h>
#include <time.h>

#include "profiler/cycles.h"
#include "profiler/goroutine.h"
#include "profiler/leaks.h"
#include "profiler/tasks.h"
#include "profiler/write.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *known; /* sorted ids */
static size_t nknown;

/* collect: a snapshot that leaves no channel address behind, in it, in
 * freed heap blocks or in dead frames of our stack, to hide a leak from
 * the scans that follow. */
static void collect(struct ts__tasks *ts)
{
    ts__tasks_collect_private(ts, true);
    ts__leaks_scrub(ts);
    ts__leaks_scrub_stack();
}

void ts_leakcheck_snapshot(void)
{
    struct ts__tasks ts;
    collect(&ts);
    uint64_t *ids = malloc((ts.n + 1) * sizeof *ids);
    for (size_t i = 0; ids && i < ts.n; i++)
        ids[i] = ts.v[i].id; /* sorted: the snapshot is by id */
    pthread_mutex_lock(&lock);
    free(known);
    known = ids;
    nknown = ids ? ts.n : 0;
    pthread_mutex_unlock(&lock);
    if (!ids)
        fputs("taskscope: ts_leakcheck_snapshot: out of memory; every task "
              "will count as new\n", stderr);
    ts__tasks_free(&ts);
}

static bool was_known(uint64_t id)
{
    size_t lo = 0, hi = nknown;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (known[mid] == id)
            return true;
        if (known[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* mark_new: mark the tasks that are neither known nor the caller. */
static int mark_new(struct ts__tasks *ts)
{
    int n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ts->n; i++) {
        struct ts__tsnap *s = &ts->v[i];
        s->marked = !s->self && !was_known(s->id);
        n += s->marked;
    }
    pthread_mutex_unlock(&lock);
    return n;
}

/* report: the n new tasks still alive, then the wait-for cycles among
 * them that the leak detector finds. */
static void report(const struct ts__tasks *ts, int n)
{
    fprintf(stderr, "taskscope: ts_leakcheck: %d unexpected task%s still "
                    "alive:\n\n", n, n == 1 ? "" : "s");
    struct ts__cycles *cy = ts__leaks_cycles_now();
    ts__write_tasks_cycles(stderr, ts, TS__G_MARKED, false, NULL, cy);
    ts__cycles_free(cy);
}

int ts_leakcheck(int64_t timeout_ns)
{
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int64_t waited = 0;; waited += pause.tv_nsec) {
        struct ts__tasks ts;
        collect(&ts);
        int n = mark_new(&ts);
        if (n == 0 || waited >= timeout_ns) {
            if (n > 0)
                report(&ts, n);
            ts__tasks_free(&ts);
            return n;
        }
        ts__tasks_free(&ts);
        if (ts_self())
            ts_sleep(pause.tv_nsec);
        else
            nanosleep(&pause, NULL);
    }
}
