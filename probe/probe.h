/* taskscope probe — what the probe's files share: the real functions the
 * interposers forward to, the switch that turns recording on and off, and
 * the per-thread guard that keeps the probe from observing itself.
 *
 * The protocol every interposer follows:
 *
 *     if (!ts__probe_enter())          // off, or the probe itself calling
 *         return ts__real.fn(args);    // straight through, nothing recorded
 *     ... record ...
 *     ts__probe_leave();
 *
 * While a thread is inside the probe (depth > 0), every allocation and
 * pthread call it makes goes straight to the real function: the profiler's
 * own locks, mallocs and threads are never recorded, and never recurse.
 * Threads the probe or the profiler start run with the guard raised for
 * their whole life (ts__probe_internal_thread). */
#ifndef TASKSCOPE_PROBE_PROBE_H
#define TASKSCOPE_PROBE_PROBE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct ts__probe_real {
    /* malloc family */
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
    /* threads */
    int (*create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int (*join)(pthread_t, void **);
    /* mutexes */
    int (*mutex_lock)(pthread_mutex_t *);
    int (*mutex_trylock)(pthread_mutex_t *);
    int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
    int (*mutex_unlock)(pthread_mutex_t *);
    /* read-write locks */
    int (*rdlock)(pthread_rwlock_t *);
    int (*tryrdlock)(pthread_rwlock_t *);
    int (*timedrdlock)(pthread_rwlock_t *, const struct timespec *);
    int (*wrlock)(pthread_rwlock_t *);
    int (*trywrlock)(pthread_rwlock_t *);
    int (*timedwrlock)(pthread_rwlock_t *, const struct timespec *);
    int (*rwlock_unlock)(pthread_rwlock_t *);
    /* condition variables (the GLIBC_2.3.2 versions) */
    int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
    int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    /* semaphores, barriers */
    int (*sem_wait)(sem_t *);
    int (*sem_trywait)(sem_t *);
    int (*sem_timedwait)(sem_t *, const struct timespec *);
    int (*barrier_wait)(pthread_barrier_t *);
    /* processes */
    pid_t (*fork)(void);
    void (*exit_now)(int); /* _exit */
};

extern struct ts__probe_real ts__real;

/* Recording is on: set by the constructor once everything is resolved and
 * started; cleared in a forked child and when the probe stands aside. */
extern int ts__probe_on;

/* How deep the calling thread is inside the probe; initial-exec, so
 * reading it never allocates (the malloc interposer reads it). */
extern __thread int ts__probe_depth __attribute__((tls_model("initial-exec")));

static inline bool ts__probe_enter(void)
{
    if (__builtin_expect(!__atomic_load_n(&ts__probe_on, __ATOMIC_RELAXED) ||
                         ts__probe_depth != 0, 0))
        return false;
    ts__probe_depth = 1;
    return true;
}

static inline void ts__probe_leave(void)
{
    ts__probe_depth = 0;
}

/* TS__PROBE_ENTER_OR_FORWARD: the head of a recording interposer: the real
 * function resolved, and the call forwarded to it (ARGS, parenthesized)
 * when the probe is off or is itself the caller; otherwise the caller is
 * inside the probe and must ts__probe_leave. */
#define TS__PROBE_ENTER_OR_FORWARD(REAL, ARGS)                               \
    do {                                                                    \
        if (!ts__real.REAL)                                                 \
            ts__probe_resolve();                                            \
        if (!ts__probe_enter())                                             \
            return ts__real.REAL ARGS;                                      \
    } while (0)

/* ts__probe_resolve: look up every real function (interpose.c). Called by
 * the constructor, and by an interposer that runs before it. Allocations
 * made meanwhile by dlsym come from a static arena. */
void ts__probe_resolve(void);

/* Bootstrap arena (interpose.c): allocations served before the real malloc
 * is known. ts__probe_boot_owns: whether p came from it (free ignores
 * those; realloc copies out). */
void *ts__probe_boot_alloc(size_t size, size_t align);
bool ts__probe_boot_owns(const void *p);
size_t ts__probe_boot_size(const void *p);

/* ts__probe_internal_thread: raise the calling thread's guard for good
 * (threads of the probe and the profiler). */
void ts__probe_internal_thread(void);

/* ---- threads.c: the registry behind the blocked-thread dump ----------- */

/* ts__probe_thread_wait / _done: the calling thread starts / stops waiting
 * for reason (runtime/waitreason.h) on object; wait records the stack
 * (leaf: the interposer skip frames up from the caller of this call). */
void ts__probe_thread_wait(int reason, const void *object, size_t skip);
void ts__probe_thread_done(void);

/* ts__probe_thread_start: register the calling thread (the interposed
 * pthread_create's trampoline; other threads register on first use). */
void ts__probe_thread_start(void);

/* ts__probe_threads_read: a consistent copy of up to max registered
 * threads into v (as the snapshot sees them: id = tid); how many. */
struct ts_task_info;
size_t ts__probe_threads_read(struct ts_task_info *v, size_t max);

/* ts__probe_threads_init: hand the registry to the profiler's snapshot
 * (goroutine profile and dumps show the threads). */
void ts__probe_threads_init(void);

/* ---- waits.c ----------------------------------------------------------- */

/* ts__probe_wait_begin / _end: time a blocking call (block profile and
 * thread state); the stacks start at their caller, an interposer; end
 * returns the ticks waited. */
uint64_t ts__probe_wait_begin(int reason, const void *object);
uint64_t ts__probe_wait_end(int reason, const void *object, uint64_t t0);

/* ---- locks.c ----------------------------------------------------------- */

/* ts__probe_locks_init: the table of contended locks. */
void ts__probe_locks_init(void);

/* ---- lockgraph.c: lock-order inversions ---------------------------------- */

void ts__probe_lockgraph_init(void);

/* The calling thread takes lock (pc: where, in the program): acquired
 * just before a blocking lock call (the order is learned from the attempt;
 * a call that fails is undone with released), tried after a successful
 * trylock; released when it lets go. */
void ts__probe_lock_acquired(const void *lock, uintptr_t pc);
void ts__probe_lock_tried(const void *lock, uintptr_t pc);
void ts__probe_lock_released(const void *lock);

/* ts__probe_lockgraph_report: every inversion found so far, to f. */
void ts__probe_lockgraph_report(FILE *f);
int ts__probe_lockgraph_cycles(void);

/* ---- deadlock.c ---------------------------------------------------------- */

/* ts__probe_deadlock_start: the watchdog that reports mutex deadlocks. */
void ts__probe_deadlock_start(void);

/* ---- signals.c ----------------------------------------------------------- */

/* ts__probe_signals_init: output before a deadly signal's default action. */
void ts__probe_signals_init(void);

/* ts__probe_output_before_exit: the output, from _exit (which signal
 * handlers call): handed to the writer thread, with a bounded wait. */
void ts__probe_output_before_exit(void);

/* ---- output.c ---------------------------------------------------------- */

/* ts__probe_output_init: where and what to write at exit (environment set
 * by `taskscope run`); registers the exit handler. */
void ts__probe_output_init(void);

/* ts__probe_output_create: <dir>/<file> opened for appending (the
 * directory made first), for reports written while the program runs;
 * NULL after saying why on stderr. */
FILE *ts__probe_output_create(const char *file);

/* ts__probe_output_write: write everything now, once (exit paths). */
void ts__probe_output_write(void);

#endif
