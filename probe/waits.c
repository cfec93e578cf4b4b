/* taskscope probe — blocking calls that are not locks: condition
 * variables, semaphores and barriers, and the timing every blocking
 * interposer shares (ts__probe_wait_begin / _end).
 *
 * A wait goes to the block profile exactly as a task's park does: Go's
 * blocksampled at the block profile rate (ts__block_keep), with the stack
 * of the interposed call (its leaf is pthread_cond_wait, sem_wait, ...).
 * While it lasts, the thread's registry slot shows the reason, the object
 * and the stack, for the blocked-thread dump.
 *
 * Invariants: the real call is made exactly once, with the program's
 * arguments, and its result returned unchanged; a call that does not
 * block (sem_trywait succeeds) records nothing. */
#include "probe/probe.h"

#include <errno.h>

#include "profiler/record.h"
#include "runtime/waitreason.h"

__attribute__((noinline)) uint64_t ts__probe_wait_begin(int reason, const void *object)
{
    ts__probe_thread_wait(reason, object, 1);
    uint64_t t0 = ts__ticks();
    __asm__ __volatile__("" ::: "memory"); /* keep this frame: skip counts it */
    return t0;
}

__attribute__((noinline)) uint64_t ts__probe_wait_end(int reason, const void *object,
                                                      uint64_t t0)
{
    uint64_t now = ts__ticks(), d = now - t0;
    ts__probe_thread_done();
    uint64_t rate = __atomic_load_n(&ts__block_rate_ticks, __ATOMIC_RELAXED);
    if (rate && ts__block_keep(now, d, rate))
        ts__record_block(reason, object, d, rate, 1); /* 1: this function */
    __asm__ __volatile__("" ::: "memory");
    return d;
}

/* A call that may block: timed around the real call. PARAMS are the
 * interposer's parameters (the object is always o), ARGS the real call's. */
#define DEFINE_WAIT(NAME, REAL, REASON, PARAMS, ARGS)                       \
    int NAME PARAMS                                                         \
    {                                                                       \
        TS__PROBE_ENTER_OR_FORWARD(REAL, ARGS);                             \
        uint64_t t0 = ts__probe_wait_begin(REASON, o);                      \
        int r = ts__real.REAL ARGS;                                         \
        int e = errno;                                                      \
        ts__probe_wait_end(REASON, o, t0);                                  \
        ts__probe_leave();                                                  \
        errno = e;                                                          \
        return r;                                                           \
    }

/* A semaphore wait: timed only when sem_trywait says it would block. */
#define DEFINE_SEM_WAIT(NAME, REAL, PARAMS, ARGS)                           \
    int NAME PARAMS                                                         \
    {                                                                       \
        TS__PROBE_ENTER_OR_FORWARD(REAL, ARGS);                             \
        int e0 = errno;                                                     \
        int r = ts__real.sem_trywait(o);                                    \
        if (r != 0 && errno == EAGAIN) {                                    \
            errno = e0; /* a wait that succeeds leaves errno alone */       \
            uint64_t t0 = ts__probe_wait_begin(TS_WAIT_SEM, o);             \
            r = ts__real.REAL ARGS;                                         \
            int e = errno;                                                  \
            ts__probe_wait_end(TS_WAIT_SEM, o, t0);                         \
            errno = e;                                                      \
        }                                                                   \
        ts__probe_leave();                                                  \
        return r;                                                           \
    }

DEFINE_WAIT(pthread_cond_wait, cond_wait, TS_WAIT_PTHREAD_COND,
            (pthread_cond_t *o, pthread_mutex_t *m), (o, m))
DEFINE_WAIT(pthread_cond_timedwait, cond_timedwait, TS_WAIT_PTHREAD_COND,
            (pthread_cond_t *o, pthread_mutex_t *m, const struct timespec *deadline),
            (o, m, deadline))
DEFINE_WAIT(pthread_barrier_wait, barrier_wait, TS_WAIT_PTHREAD_BARRIER,
            (pthread_barrier_t *o), (o))
DEFINE_SEM_WAIT(sem_wait, sem_wait, (sem_t *o), (o))
DEFINE_SEM_WAIT(sem_timedwait, sem_timedwait, (sem_t *o, const struct timespec *deadline),
                (o, deadline))
