/* taskscope — the runtime's recording hooks: what the scheduler, channels
 * and locks call on their hot paths to feed the profiler's rings, and the
 * stack capture they share.
 *
 * Cost model: an unsampled event costs a few loads and two tick-counter
 * reads; a sampled one adds a frame-pointer walk, one lock-free intern and
 * one ring push. No malloc, no lock, no syscall on any of these paths. */
#ifndef TASKSCOPE_PROFILER_RECORD_H
#define TASKSCOPE_PROFILER_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* ts__capture_current: up to max return addresses of the calling stack,
 * innermost first, as ts__stack_capture: with skip 0, pcs[0] is a PC
 * inside the function that called ts__capture_current. Works on task
 * stacks and on plain threads (a thread's stack bounds are looked up once
 * and cached). */
size_t ts__capture_current(uint64_t *pcs, size_t max, size_t skip);

#endif
