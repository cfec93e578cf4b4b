/* taskscope — test-only fault injection counters (SQLite's "fail the Nth
 * allocation" loop, STYLE.md).
 *
 * A counter holds how many more calls may succeed before the one that must
 * fail: 0 disarms it. Tests arm it through runtime/testing-style hooks
 * (ts__stack_fail_nth, ts__prof_fail_nth) and loop over N so every cleanup
 * path runs. Relaxed atomics: arming and counting need no ordering with the
 * memory they guard. */
#ifndef TASKSCOPE_RUNTIME_FAILPOINT_H
#define TASKSCOPE_RUNTIME_FAILPOINT_H

#include <stdbool.h>

/* ts__failpoint_arm: the nth call of ts__failpoint from now fails (n <= 0
 * disarms). */
static inline void ts__failpoint_arm(int *counter, int n)
{
    __atomic_store_n(counter, n > 0 ? n : 0, __ATOMIC_RELAXED);
}

/* ts__failpoint: count one call down; true exactly for the call that must
 * fail. */
static inline bool ts__failpoint(int *counter)
{
    int n = __atomic_load_n(counter, __ATOMIC_RELAXED);
    while (n > 0) {
        if (__atomic_compare_exchange_n(counter, &n, n - 1, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return n == 1;
    }
    return false;
}

#endif
