/* taskscope probe — actual deadlocks, reported live: threads blocked in
 * pthread_mutex_lock on each other in a cycle.
 *
 * A watchdog thread looks every 200 ms at the registry's waiting threads.
 * For a thread waiting in pthread_mutex_lock, the mutex's owner is the tid
 * glibc keeps in it (__data.__owner); if that thread waits for a mutex
 * too, follow it, and so on. Coming back to the start is a deadlock: no
 * thread of the cycle can ever run again. It is reported once, on stderr
 * and in deadlock.txt of the output directory, with every thread's wait
 * and the stack it blocked at; the program is left alone (it may be
 * killed, or be waited for by a supervisor that reads the report).
 *
 * Invariants:
 *   - only waits older than MIN_WAIT_NS are followed, and the chain is
 *     re-read at each step, so a cycle seen is one that lasted that long;
 *   - a mutex is read with ts__reach_peek, which cannot fault: the wait
 *     seen in the snapshot may have ended and the mutex been freed since;
 *   - each cycle is reported once (keyed by its smallest tid and length). */
#include "probe/probe.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiler/reach.h"
#include "profiler/text.h"
#include "profiler/threadcreate.h"
#include "profiler/write.h"
#include "runtime/introspect.h"
#include "runtime/sched.h"
#include "runtime/waitreason.h"

#define PERIOD_NS 200000000
#define MIN_WAIT_NS 500000000
#define MAX_CYCLE 16
#define MAX_REPORTED 64

struct cycle {
    size_t n;
    const struct ts_task_info *t[MAX_CYCLE];
};

static uint64_t reported[MAX_REPORTED];
static int nreported;

static const struct ts_task_info *find_tid(const struct ts_task_info *v, size_t n,
                                           pid_t tid)
{
    for (size_t i = 0; i < n; i++)
        if ((pid_t)v[i].id == tid)
            return &v[i];
    return NULL;
}

static bool stuck(const struct ts_task_info *t, int64_t now)
{
    return t && t->wait_reason == TS_WAIT_PTHREAD_MUTEX && t->wait_object &&
           now - t->wait_since >= MIN_WAIT_NS;
}

/* owner_of: the tid glibc keeps in the mutex t waits for, read without
 * faulting (the wait may have ended since the snapshot and the mutex been
 * freed); 0 if unreadable. */
static pid_t owner_of(const struct ts_task_info *t)
{
    const pthread_mutex_t *m = t->wait_object;
    int owner = 0;
    return ts__reach_peek(&owner, (uintptr_t)&m->__data.__owner, sizeof owner) ? owner : 0;
}

/* cycle_from: the cycle start closes, if any, into c. */
static bool cycle_from(const struct ts_task_info *v, size_t n,
                       const struct ts_task_info *start, int64_t now, struct cycle *c)
{
    c->n = 0;
    for (const struct ts_task_info *t = start; stuck(t, now) && c->n < MAX_CYCLE;) {
        c->t[c->n++] = t;
        t = find_tid(v, n, owner_of(t));
        if (t == start)
            return true;
    }
    return false;
}

static bool first_report(const struct cycle *c)
{
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < c->n; i++)
        if (c->t[i]->id < min)
            min = c->t[i]->id;
    uint64_t key = min << 8 | c->n;
    for (int i = 0; i < nreported; i++)
        if (reported[i] == key)
            return false;
    if (nreported < MAX_REPORTED)
        reported[nreported++] = key;
    return true;
}

static void print_cycle(FILE *f, struct ts__symbolizer *sym, void *arg)
{
    const struct cycle *c = arg;
    fprintf(f, "taskscope probe: deadlock: %zu threads wait for each other:\n", c->n);
    for (size_t i = 0; i < c->n; i++) {
        const struct ts_task_info *t = c->t[i];
        fprintf(f, "\nthread %llu [pthread_mutex_lock]: waits for mutex %p held by "
                   "thread %d\n", (unsigned long long)t->id, t->wait_object,
                (int)owner_of(t));
        ts__tb_stack(f, sym, t->pcs, t->npcs);
        if (t->create_pc)
            ts__tb_created_by(f, sym, t->create_pc, t->parent_id);
    }
    fputc('\n', f);
}

static void scan(struct ts_task_info *v, size_t max)
{
    size_t n = ts__probe_threads_read(v, max);
    int64_t now = ts__coarse_now();
    struct cycle c;
    for (size_t i = 0; i < n; i++) {
        if (!cycle_from(v, n, &v[i], now, &c) || !first_report(&c))
            continue;
        ts__write_with_symbolizer(stderr, print_cycle, &c);
        FILE *f = ts__probe_output_create("deadlock.txt");
        if (f) {
            ts__write_with_symbolizer(f, print_cycle, &c);
            fclose(f);
        }
    }
}

static void *watchdog(void *arg)
{
    (void)arg;
    size_t max = 4096;
    struct ts_task_info *v = malloc(max * sizeof *v);
    struct timespec ts = {0, PERIOD_NS};
    for (; v;) {
        nanosleep(&ts, NULL);
        if (__atomic_load_n(&ts__probe_on, __ATOMIC_RELAXED))
            scan(v, max);
    }
    return NULL;
}

void ts__probe_deadlock_start(void)
{
    if (ts__start_helper_thread(watchdog, NULL) != 0)
        fputs("taskscope probe: cannot start the deadlock watchdog\n", stderr);
}
