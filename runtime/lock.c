/* taskscope — futex lock slow paths and the futex syscall wrappers.
 *
 * Invariants:
 *   - state is 2 whenever a thread may be sleeping in futex_wait on it, so an
 *     unlock that sees 1 can skip the wake syscall;
 *   - a locker that ever slept re-acquires with 2 (it cannot know whether
 *     others still sleep), costing at most one spurious wake later.
 * The spin before sleeping (100 pauses) covers the runtime's short critical
 * sections on 2 cores; measured by bench/tsbench pingpong and select. */
#include "runtime/lock.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { SPIN_TRIES = 100 };

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
    while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0)
        ts__futex_wait(&l->state, 2, -1);
}

void ts__unlock_slow(ts__lock_t *l)
{
    ts__futex_wake(&l->state, 1);
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
