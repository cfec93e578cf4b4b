/* taskscope — stack capture with libunwind's CFI unwinder, for the cold
 * paths (thread creation, sampled heap allocations): microseconds instead
 * of nanoseconds, but it walks through code built without frame pointers
 * (glibc's own functions), where the frame-pointer walk stops. */
#ifndef TASKSCOPE_PROFILER_UNWIND_H
#define TASKSCOPE_PROFILER_UNWIND_H

#include <stddef.h>
#include <stdint.h>

/* ts__capture_unwind: as ts__capture_current (skip 0: pcs[0] is a PC in
 * the function that called it), by unwinding with libunwind; falls back
 * to the frame-pointer walk when libunwind finds fewer frames. Not for
 * signal handlers or hot paths. */
size_t ts__capture_unwind(uint64_t *pcs, size_t max, size_t skip);

#endif
