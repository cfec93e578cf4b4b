/* taskscope — Go's sync/atomic.Value for C pointers, with reclamation.
 *
 * A value holds one pointer that tasks and threads load and replace
 * atomically: the copy-on-write configuration of seed 001 ("build a new
 * object on every change, Store it; readers Load"). Go's collector frees
 * an old configuration once no reader holds it; C needs the value to know
 * when that is. So:
 *   - ts_atomic_value_store hands the pointer to the value: the value owns
 *     it from then on and gives it back, once, to the destructor;
 *   - ts_atomic_value_load returns a counted reference: the caller may use
 *     the object (across parks and from any thread) until it calls
 *     ts_atomic_value_release(v, ptr);
 *   - once a pointer has been replaced and every reference to it released,
 *     the destructor runs on it, exactly once, in the task or thread that
 *     released last (the replacing store, or a reader's release).
 * A pointer may be stored again only while it is the current one (then
 * nothing happens) or after its destructor ran (it is a new object then).
 *
 * Go panics when storing nil ("sync/atomic: store of nil value into
 * Value"); so do these calls, recoverably (ts_pcall / ts_recover, code
 * TS_PANIC_MISUSE). Go's other panic, a value of another type than the
 * first, has no C counterpart: every value is a void *, and which type it
 * points to is the program's contract.
 *
 * Memory model (announced to ThreadSanitizer in the tsan build): a store
 * (swap, successful compare-and-swap) happens before every load that
 * returns its pointer; every release of a pointer happens before its
 * destructor runs. All calls are sequentially consistent, as Go's are. */
#ifndef TASKSCOPE_ATOMIC_VALUE_H
#define TASKSCOPE_ATOMIC_VALUE_H

#include <stdbool.h>
#include <stdint.h>
#include <taskscope/export.h>
#include <taskscope/sync.h>

TS_BEGIN_DECLS

typedef struct ts_atomic_value {
    /* public, set before first use: */
    void (*destroy)(void *ptr, void *arg); /* NULL: pointers are forgotten */
    void *arg;                             /* passed to destroy */
    /* private: */
    void *current_;          /* the current node */
    void *nodes_;            /* current and retired nodes, newest first */
    uint32_t phase_;         /* reader counter in use */
    uint32_t active_[2];     /* readers between pointer and count */
    ts_mutex_t writer_;      /* serialises writers */
} ts_atomic_value_t;

/* Static initializer; zero-filled is an empty value without destructor. */
#define TS_ATOMIC_VALUE_INIT(destroy, arg) {(destroy), (arg), 0, 0, 0, {0, 0}, TS_SYNC_ZERO}

/* ts_atomic_value_init: an empty value; destroy (may be NULL) gets every
 * pointer the value no longer needs, with arg. */
TS_EXPORT void ts_atomic_value_init(ts_atomic_value_t *v,
                                    void (*destroy)(void *ptr, void *arg),
                                    void *arg);

/* ts_atomic_value_load: the current pointer, as a reference the caller
 * must give back with ts_atomic_value_release; NULL (nothing to release)
 * when nothing was stored. Never blocks. */
TS_EXPORT void *ts_atomic_value_load(ts_atomic_value_t *v);

/* ts_atomic_value_release: give back a reference from load or swap (ptr
 * NULL: nothing happens). May run the destructor on ptr. Panics (misuse)
 * with "sync/atomic: release of a pointer not loaded from Value" when the
 * caller holds no reference to ptr. */
TS_EXPORT void ts_atomic_value_release(ts_atomic_value_t *v, void *ptr);

/* ts_atomic_value_store: make ptr the current pointer. The old one gets
 * the destructor once its readers have released it (maybe here). Panics
 * (misuse) with "sync/atomic: store of nil value into Value" on NULL, or
 * with "sync/atomic: out of memory" (code ENOMEM). */
TS_EXPORT void ts_atomic_value_store(ts_atomic_value_t *v, void *ptr);

/* ts_atomic_value_swap: store ptr and return the old pointer (NULL when
 * empty) as a reference the caller must release, as from load. Panics as
 * store does ("sync/atomic: swap of nil value into Value"). */
TS_EXPORT void *ts_atomic_value_swap(ts_atomic_value_t *v, void *ptr);

/* ts_atomic_value_compare_and_swap: if the current pointer is old (NULL:
 * empty), store new and return true; else false and nothing changes.
 * Panics as store does ("sync/atomic: compare and swap of nil value into
 * Value"). */
TS_EXPORT bool ts_atomic_value_compare_and_swap(ts_atomic_value_t *v,
                                                void *old, void *new_ptr);

/* ts_atomic_value_destroy: drop the current pointer (destructor) and free
 * the value's bookkeeping; v is empty afterwards, its public fields kept.
 * Every reference must have been released and no call on v may run
 * concurrently. */
TS_EXPORT void ts_atomic_value_destroy(ts_atomic_value_t *v);

TS_END_DECLS

#endif
