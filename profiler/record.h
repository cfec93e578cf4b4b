/* taskscope — the runtime's recording hooks: what the scheduler and locks
 * call on their hot paths to feed the profiler's rings, the tick counter
 * they time with, and the stack capture they share.
 *
 * Cost model: with recording on, an unsampled event costs two tick-counter
 * reads and a random number; a sampled one adds a frame-pointer walk, one
 * lock-free intern and one ring push. No malloc, no lock, no syscall on any
 * of these paths (bench/README.md has the figures). */
#ifndef TASKSCOPE_PROFILER_RECORD_H
#define TASKSCOPE_PROFILER_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ts__ticks: a cheap monotonic counter (x86-64 TSC, aarch64 virtual
 * counter, else CLOCK_MONOTONIC ns); ts__ticks_per_ns converts. */
static inline uint64_t ts__ticks(void)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
#endif
}

/* ts__ticks_per_ns: calibrated against CLOCK_MONOTONIC (cold; the first
 * call may take a couple of milliseconds). */
double ts__ticks_per_ns(void);

/* Block profile rate in ticks (0 = off), read on every park. */
extern uint64_t ts__block_rate_ticks;
/* Mutex profile fraction (0 = off). */
extern int ts__mutex_fraction;

/* ts__record_block: a park of d ticks, sampled at rate (ts__park made Go's
 * blocksampled decision), is recorded with the stack of the parker's
 * caller. Called only by ts__park (runtime/sched.c), whose frame it
 * skips. */
void ts__record_block(int reason, const void *object, uint64_t d,
                      uint64_t rate);

/* ts__record_mutex: the caller, releasing a lock, delayed waiters by
 * delay ticks; sampled 1/fraction, recorded with the caller's caller's
 * stack (the unlock site). */
void ts__record_mutex(uint64_t delay);

/* ts__capture_current: up to max return addresses of the calling stack,
 * innermost first, as ts__stack_capture: with skip 0, pcs[0] is a PC
 * inside the function that called ts__capture_current. Works on task
 * stacks and on plain threads (a thread's stack bounds are looked up once
 * and cached). */
size_t ts__capture_current(uint64_t *pcs, size_t max, size_t skip);

#endif
