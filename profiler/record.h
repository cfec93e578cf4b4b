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

#include <stdbool.h>
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

/* ts__block_keep: Go's blocksampled: whether a wait of d ticks that ended
 * at tick now is recorded; it is with probability min(1, d / rate). The
 * random draw is the end time's bits, mixed (a multiply-xorshift): the
 * wait's length is what decides, its end time is noise to it. */
static inline bool ts__block_keep(uint64_t now, uint64_t d, uint64_t rate)
{
    uint64_t x = now * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return d >= rate || (uint64_t)(((unsigned __int128)x * rate) >> 64) < d;
}

/* ts__record_block: a wait of d ticks that ts__block_keep kept at rate is
 * recorded with the stack of ts__record_block's caller, minus skip more
 * frames (ts__park passes 1, so the leaf is the primitive that parked, as
 * Go's block profile starts at chanrecv1 and friends; the probe passes 0,
 * so the leaf is the interposed pthread function). */
void ts__record_block(int reason, const void *object, uint64_t d,
                      uint64_t rate, size_t skip);

/* ts__record_mutex: the caller, releasing a lock, delayed waiters by
 * delay ticks; sampled 1/fraction, recorded with the caller's caller's
 * stack (the unlock site). */
void ts__record_mutex(uint64_t delay);

/* ts__record_mutex_at: the same for a delay measured by the waiter, with
 * the stack the holder interned when it unlocked (stack, a stack id of
 * profiler/stackid.h; the probe's pthread mutexes). */
void ts__record_mutex_at(uint32_t stack, uint64_t delay);

/* ts__capture_current: up to max return addresses of the calling stack,
 * innermost first, as ts__stack_capture: with skip 0, pcs[0] is a PC
 * inside the function that called ts__capture_current. Works on task
 * stacks and on plain threads (a thread's stack bounds are looked up once
 * and cached). */
size_t ts__capture_current(uint64_t *pcs, size_t max, size_t skip);

#endif
