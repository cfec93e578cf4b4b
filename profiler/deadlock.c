/* taskscope — global deadlock detection (see deadlock.h).
 *
 * Invariants (no false positive is the first rule):
 *   - a deadlock is declared only from a state seen twice, sysmon ticks
 *     apart, with the Ps' schedticks unchanged (no task ran between);
 *   - every thread in /proc/self/task must be accounted for: the threads
 *     the runtime and profiler started (threadcreate.c) plus plain threads
 *     asleep in the runtime (sched.c). Any other thread might still send on
 *     a channel, so its mere existence vetoes the report;
 *   - no task may be runnable or running, and no timer pending (sched.c's
 *     quiet test), and the task snapshot must show every task waiting;
 *   - the wait-for cycles printed after the dump are the leak detector's
 *     (cycles.c) in its deadlock mode: among tasks whose channels nothing
 *     else reaches, so a deadlock through a channel held in a global
 *     shows no cycle, and tasks waiting on sync primitives, which are all
 *     stuck here wherever the primitive lives (a lock's partner is its
 *     recorded holder).
 * What it cannot see: a task woken by something outside the runtime's
 * knowledge that is not a thread (a signal handler sending on a channel
 * from an existing known thread) — documented in docs/profiler.md. */
#include "profiler/deadlock.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/cycles.h"
#include "profiler/fdio.h"
#include "profiler/goroutine.h"
#include "profiler/leaks.h"
#include "profiler/tasks.h"
#include "profiler/threadcreate.h"
#include "profiler/write.h"
#include "runtime/introspect.h"
#include "runtime/sched.h"

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static bool all_waiting(const struct ts__tasks *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        if (ts->v[i].state != TS_TASK_WAITING)
            return false;
    return ts->n > 0;
}

FILE *ts__leaks_out(bool *json)
{
    const char *path = getenv("TASKSCOPE_LEAKS_OUT");
    const char *fmt = getenv("TASKSCOPE_LEAKS_FORMAT");
    *json = fmt && strcmp(fmt, "json") == 0;
    return path && *path ? fopen(path, "a") : NULL;
}

/* cycles: the wait-for cycles among the deadlocked tasks, from the leak
 * detector run now (nothing can run any more, so its two passes agree).
 * Only when two tasks or more wait on channels or sync primitives (a
 * cycle needs two); else, or when the scan fails, none. */
static struct ts__cycles *cycles(const struct ts__tasks *ts)
{
    int waiting_on_objects = 0;
    for (size_t i = 0; i < ts->n; i++)
        waiting_on_objects += ts->v[i].nchans > 0;
    struct ts__cycles *cy = NULL;
    if (waiting_on_objects >= 2)
        cy = ts__leaks_deadlock_cycles();
    struct ts__waitgraph none = {0};
    return cy ? cy : ts__cycles_find(&none, ts);
}

static void report(FILE *f, const struct ts__tasks *ts, bool json,
                   const struct ts__cycles *cy)
{
    if (!json)
        fputs("fatal error: all goroutines are asleep - deadlock!\n\n", f);
    ts__write_tasks_cycles(f, ts, TS__G_ALL, json, "deadlock", cy);
}

static __attribute__((noreturn)) void die(const struct ts__tasks *ts)
{
    ts__flush_stdout_if_free(); /* the program's own output goes out first */
    struct ts__cycles *cy = cycles(ts);
    struct ts__fd_stream s;
    FILE *err = ts__fd_stream_open(&s, 2);
    if (err) {
        report(err, ts, false, cy);
        ts__fd_stream_close(&s, err);
    }
    bool json;
    FILE *out = ts__leaks_out(&json);
    if (out) {
        report(out, ts, json, cy);
        fclose(out);
    }
    _exit(2);
}

/* Threads a sanitizer runtime adds: TSan runs one background thread. */
#if defined(__SANITIZE_THREAD__)
#define SANITIZER_THREADS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SANITIZER_THREADS 1
#endif
#endif
#ifndef SANITIZER_THREADS
#define SANITIZER_THREADS 0
#endif

void ts__deadlock_check(const struct ts__quiet *q)
{
    static uint64_t last_progress;
    static bool seen;
    const char *env = getenv("TASKSCOPE_DEADLOCK");
    if (env && strcmp(env, "0") == 0)
        return;
    int known = (int)ts__threads_created() + q->parked + SANITIZER_THREADS;
    if (count_threads() != known || !seen || q->progress != last_progress) {
        seen = count_threads() == known;
        last_progress = q->progress;
        return;
    }
    struct ts__tasks ts; /* private and scrubbed: the cycle search scans */
    if (ts__tasks_collect_private(&ts, true) == 0 && all_waiting(&ts)) {
        ts__leaks_scrub(&ts);
        ts__leaks_scrub_stack();
        die(&ts);
    }
    ts__tasks_free(&ts);
    seen = false;
}
