/* taskscope — AddressSanitizer fiber hooks, no-ops outside the asan build.
 *
 * ASan keeps one stack per thread in mind: its stack-use-after-return
 * frames, the poison of dead scopes, and what a noreturn call or a longjmp
 * unpoisons all refer to "the current stack". A task's stack is not the
 * thread's, so every switch is announced (Boost.Context and Folly do the
 * same): the side that leaves calls ts__asan_leave with the stack it goes
 * to (and where to keep its fake-stack state, or NULL when it never comes
 * back: an exiting task), and the side that arrives calls ts__asan_arrive
 * with the state it left behind (NULL for a task's first arrival). */
#ifndef TASKSCOPE_RUNTIME_ASAN_H
#define TASKSCOPE_RUNTIME_ASAN_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define TS__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TS__ASAN 1
#endif
#endif

#ifdef TS__ASAN
#include <sanitizer/common_interface_defs.h>

static inline void ts__asan_leave(void **save, const void *lo, size_t size)
{
    __sanitizer_start_switch_fiber(save, lo, size);
}

static inline void ts__asan_arrive(void *saved)
{
    __sanitizer_finish_switch_fiber(saved, NULL, NULL);
}
#else
static inline void ts__asan_leave(void **save, const void *lo, size_t size)
{
    (void)save;
    (void)lo;
    (void)size;
}

static inline void ts__asan_arrive(void *saved) { (void)saved; }
#endif

#endif
