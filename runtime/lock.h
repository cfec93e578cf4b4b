/* taskscope — internal futex lock and futex helpers.
 *
 * ts__lock_t is a three-state futex mutex (0 free, 1 held, 2 held with
 * sleepers) that spins briefly before sleeping. It guards short critical
 * sections inside the runtime (a channel, a timer heap, a run-queue list);
 * it is not the user-facing ts_mutex_t and never parks a task: a task that
 * waits for it blocks its M for the length of a critical section.
 *
 * Lock order (outermost first), checked by reading, not yet by a build:
 *   timer->lock  >  p->timers.lock  >  chan->lock (select: in address order)
 *   >  p->tasks_lock  >  sched.lock  >  stack pool lock */
#ifndef TASKSCOPE_RUNTIME_LOCK_H
#define TASKSCOPE_RUNTIME_LOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ts__lock {
    uint32_t state;      /* 0 free, 1 held, 2 held and a thread may sleep
                            on it */
    uint32_t wait_start; /* atomic: (ticks >> 10) | 1 when a thread began
                            sleeping on it, 0 when none is counted; the
                            unlocker reports the delay to the mutex
                            profile (profiler/record.h) */
} ts__lock_t;

#define TS__LOCK_INIT {0, 0}

void ts__lock_slow(ts__lock_t *l);
void ts__unlock_slow(ts__lock_t *l);

/* ts__unlock_cb: ts__unlock(lock) as a ts__park unlock callback, for a
 * primitive that parks holding one lock. */
void ts__unlock_cb(void *lock);

/* ts__locks_held: runtime locks the calling thread holds (Go's m.locks). A
 * fault while it is non-zero is never a recoverable panic (sigpanic.c):
 * a recovery would leave the lock held. Balanced per thread: no task parks
 * or moves while it holds one (a park's unlock callback runs on the same
 * thread). */
extern __thread unsigned ts__locks_held __attribute__((tls_model("initial-exec")));

static inline void ts__lock(ts__lock_t *l)
{
    uint32_t free = 0;
    if (!__atomic_compare_exchange_n(&l->state, &free, 1, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        ts__lock_slow(l);
    ts__locks_held++;
}

static inline bool ts__trylock(ts__lock_t *l)
{
    uint32_t free = 0;
    bool got = __atomic_compare_exchange_n(&l->state, &free, 1, false,
                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
    ts__locks_held += got;
    return got;
}

static inline void ts__unlock(ts__lock_t *l)
{
    ts__locks_held--;
    if (__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2)
        ts__unlock_slow(l);
}

/* ts__futex_wait: sleep while *addr == val, until woken or until the
 * absolute CLOCK_MONOTONIC deadline (ns; < 0 = no deadline). Spurious
 * returns happen: callers re-check their condition. */
void ts__futex_wait(uint32_t *addr, uint32_t val, int64_t deadline);
/* ts__futex_wait_thread: sleep while *addr == val, for a plain thread
 * waiting for a task (no deadline; may return early, as any futex wait). */
void ts__futex_wait_thread(uint32_t *addr, uint32_t val);

/* ts__futex_wake: wake up to n sleepers on addr. */
void ts__futex_wake(uint32_t *addr, int n);

static inline void ts__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
