/* taskscope — ThreadSanitizer hooks, no-ops outside the tsan build.
 *
 * As Go's runtime does under -race, the runtime itself is compiled without
 * instrumentation in the tsan build (runtime/CMakeLists.txt defines TS_RACE
 * and adds -fno-sanitize=thread): its own locks, atomics and run queues are
 * invisible to TSan, and fiber switches do not synchronise. The only
 * happens-before edges TSan sees are the ones Go's memory model promises,
 * published explicitly here: go statement -> task start, channel handoffs
 * (per waiter), buffered slots, close, timer arm -> fire, ts_run's return.
 * Anything more would hide real races in user code (tests/race/fn_*.c were
 * three such misses). TSan's interceptors (malloc, memcpy, mmap, pthread)
 * still see the runtime's calls. Elsewhere these inline to nothing. */
#ifndef TASKSCOPE_RUNTIME_RACE_H
#define TASKSCOPE_RUNTIME_RACE_H

#if !defined(TS_RACE) && defined(__SANITIZE_THREAD__)
#define TS_RACE 1
#elif !defined(TS_RACE) && defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TS_RACE 1
#endif
#endif

#ifdef TS_RACE
#define TS__RACE_ENABLED 1
#else
#define TS__RACE_ENABLED 0
#endif

#ifdef TS_RACE
#include <stdio.h>

void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_set_fiber_name(void *fiber, const char *name);
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

/* Macros, not functions: the fiber switch must happen in the frame that
 * also switches stacks. A wrapper function's instrumented exit would be
 * recorded on the new fiber's shadow stack and underflow it. */
#define ts__race_fiber_current() __tsan_get_current_fiber()
#define ts__race_fiber_create() __tsan_create_fiber(0)
#define ts__race_fiber_destroy(f) __tsan_destroy_fiber(f)
#define ts__race_fiber_switch(f) __tsan_switch_to_fiber((f), 1 /* no sync */)
#define ts__race_acquire(a) __tsan_acquire((void *)(a))
#define ts__race_release(a) __tsan_release((void *)(a))
/* Names task id's fiber "task <id>", so TSan's reports say which task
 * (`taskscope race` reads it back). TSan copies the name. */
#define ts__race_fiber_name(f, id)                                          \
    do {                                                                    \
        char ts__name_[32];                                                 \
        snprintf(ts__name_, sizeof ts__name_, "task %llu",                  \
                 (unsigned long long)(id));                                 \
        __tsan_set_fiber_name((f), ts__name_);                              \
    } while (0)
#else
static inline void *ts__race_fiber_current(void) { return 0; }
static inline void *ts__race_fiber_create(void) { return 0; }
static inline void ts__race_fiber_destroy(void *f) { (void)f; }
static inline void ts__race_fiber_switch(void *f) { (void)f; }
static inline void ts__race_acquire(const void *a) { (void)a; }
static inline void ts__race_release(const void *a) { (void)a; }
static inline void ts__race_fiber_name(void *f, unsigned long long id)
{
    (void)f;
    (void)id;
}
#endif

#endif
