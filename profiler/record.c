/* taskscope — recording hooks (see record.h).
 *
 * Invariants:
 *   - the bounds used for a walk are those of the stack the caller runs
 *     on: the current task's mapping, else the thread's stack, cached in
 *     thread-local storage on first use (the only call that may allocate);
 *   - nothing here blocks, allocates (after the first call per thread) or
 *     makes a syscall. */
#include "profiler/record.h"

#include "profiler/stackid.h"
#include "runtime/sched.h"

static __thread uintptr_t thread_lo, thread_hi;

__attribute__((noinline)) size_t ts__capture_current(uint64_t *pcs,
                                                     size_t max, size_t skip)
{
    uintptr_t lo, hi;
    struct ts_task *t = ts__current_task();
    if (t) {
        lo = (uintptr_t)t->stack.lo;
        hi = (uintptr_t)t->stack.hi;
    } else {
        if (thread_hi == 0 && ts__stack_bounds_self(&thread_lo, &thread_hi))
            return 0;
        lo = thread_lo;
        hi = thread_hi;
    }
    /* +1: skip ts__capture_current's own frame, which must therefore
     * exist: the barrier keeps the call from becoming a tail jump. */
    size_t n = ts__stack_capture(pcs, max, skip + 1, lo, hi);
    __asm__ __volatile__("" ::: "memory");
    return n;
}
