/* taskscope — futex lock slow paths and the futex syscall wrappers.
 *
 * Invariants:
 *   - state is 2 whenever a thread may be sleeping in futex_wait on it, so an
 *     unlock that sees 1 can skip the wake syscall;
 *   - a locker that ever slept re-acquires with 2 (it cannot know whether
 *     others still sleep), costing at most one spurious wake later.
 *   - wait_start is set by the first sleeper and taken by the unlocker that
 *     wakes: one mutex-profile event per contended hand-over (an
 *     approximation: the longest sleeper's delay, not the sum of all).
 * The spin before sleeping (100 pauses) covers the runtime's short critical
 * sections on 2 cores; measured by bench/tsbench pingpong and select. */
#include "runtime/lock.h"

#include "profiler/record.h"
#include "runtime/race.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { SPIN_TRIES = 100 };

__thread unsigned ts__locks_held __attribute__((tls_model("initial-exec")));

/* stamp: ticks / 1024, never 0 (0 means "no sleeper counted"); wraps
 * after 2^42 ticks, far beyond any one wait. */
static uint32_t stamp(void)
{
    return (uint32_t)(ts__ticks() >> 10) | 1;
}

void ts__lock_slow(ts__lock_t *l)
{
    for (int i = 0; i < SPIN_TRIES; i++) {
        uint32_t free = 0;
        if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&l->state, &free, 1, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        ts__cpu_relax();
    }
    while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0) {
        uint32_t none = 0;
        if (__atomic_load_n(&ts__mutex_fraction, __ATOMIC_RELAXED))
            __atomic_compare_exchange_n(&l->wait_start, &none, stamp(), false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        ts__futex_wait(&l->state, 2, -1);
    }
}

/* The unlocker of a lock slept on reports the delay of its longest
 * sleeper, with its own stack, as Go's mutex profile blames the holder. */
void ts__unlock_cb(void *lock)
{
    ts__unlock(lock);
}

void ts__unlock_slow(ts__lock_t *l)
{
    uint32_t since = __atomic_exchange_n(&l->wait_start, 0, __ATOMIC_RELAXED);
    ts__futex_wake(&l->state, 1);
    if (since)
        ts__record_mutex((uint64_t)(uint32_t)(stamp() - since) << 10);
}

void ts__futex_wait(uint32_t *addr, uint32_t val, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    if (deadline >= 0) {
        ts.tv_sec = deadline / 1000000000;
        ts.tv_nsec = deadline % 1000000000;
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
    syscall(SYS_futex, addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, tsp,
            NULL, FUTEX_BITSET_MATCH_ANY);
}

void ts__futex_wake(uint32_t *addr, int n)
{
    syscall(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

/* Under TSan, a signal sent to a thread is delivered only when the thread
 * next enters one of TSan's interceptors; a plain thread asleep in a raw
 * futex for good (ts_run's caller) would never take its SIGQUIT. So there
 * the sleep wakes every 100 ms and passes through an interceptor. */
void ts__futex_wait_thread(uint32_t *addr, uint32_t val)
{
#if TS__RACE_ENABLED
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ts__futex_wait(addr, val,
                   (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + 100000000);
    usleep(0);
#else
    ts__futex_wait(addr, val, -1);
#endif
}
