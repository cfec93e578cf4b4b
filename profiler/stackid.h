/* taskscope — frame-pointer stack capture and the lock-free intern table
 * that turns a PC array into a stable 32-bit stack id.
 *
 * Capture walks the frame-pointer chain (taskscope builds everything with
 * -fno-omit-frame-pointer). On x86-64 and aarch64 a frame record is two
 * words, at the address the frame pointer (rbp / x29) holds:
 *
 *   fp -> +-----------------------+
 *         | caller's fp           |  fp[0]  (higher address, or NULL
 *         +-----------------------+          at the outermost frame)
 *         | return address        |  fp[1]  (a PC in the caller)
 *         +-----------------------+
 *
 * The walk never faults provided [lo, hi) lies inside mapped memory (the
 * calling thread's stack): every frame record read lies inside it.
 *
 * Ids: 1..capacity; TS__STACKID_NONE (0) means "no id" (table or arena
 * full: counted, see ts__stacktab_stats). An id stays valid, with the same
 * PCs, until the table is freed. */
#ifndef TASKSCOPE_PROFILER_STACKID_H
#define TASKSCOPE_PROFILER_STACKID_H

#include <stddef.h>
#include <stdint.h>

#define TS__STACKID_NONE 0u

/* Deepest stack the profiler records. */
#define TS__STACK_MAX_DEPTH 64

/* Largest frame the walk accepts between two frame records: a bigger step
 * means a corrupt chain (or a frame pointer used as a general register). */
#define TS__STACK_MAX_FRAME ((uintptr_t)8 << 20)

/* ts__stack_capture: up to max return addresses of the calling thread's
 * stack into pcs, innermost first; pcs[0] is the return address in the
 * caller of ts__stack_capture, after skip further frames are skipped.
 * Stops at a NULL, misaligned, non-increasing or too large frame-pointer
 * step, at a NULL return address, or at a frame record not entirely inside
 * [lo, hi). Returns the number stored. Async-signal-safe; no allocation,
 * no lock, no syscall. */
size_t ts__stack_capture(uint64_t *pcs, size_t max, size_t skip,
                         uintptr_t lo, uintptr_t hi);

/* ts__stack_walk: the same walk from the frame record at fp (the first
 * return address stored is fp[1]): for another stack, such as a parked
 * task's, whose frames do not change while it is walked. */
size_t ts__stack_walk(uintptr_t fp, uint64_t *pcs, size_t max, size_t skip,
                      uintptr_t lo, uintptr_t hi);

/* ts__stack_bounds_self: the calling thread's stack as [*lo, *hi), from
 * pthread_getattr_np. Cold path (may allocate and read /proc for the main
 * thread): call once per thread and cache. 0 or the pthread error. */
int ts__stack_bounds_self(uintptr_t *lo, uintptr_t *hi);

/* ---- intern table -------------------------------------------------- */

struct ts__stacktab;

/* ts__stacktab_new: a table of 1 << log2_slots slots (2..24), holding at
 * most 3/4 of that many stacks, with arena_words 64-bit words of PC
 * storage (a stack of n PCs takes n + 1; at most UINT32_MAX - 1). Memory
 * is mmap'd up front (untouched pages cost nothing). 0, EINVAL, ENOMEM. */
int ts__stacktab_new(unsigned log2_slots, size_t arena_words,
                     struct ts__stacktab **out);

/* ts__stacktab_free: unmap the table. No other thread may be using it.
 * NULL is fine. */
void ts__stacktab_free(struct ts__stacktab *t);

/* ts__stacktab_intern: the id of pcs[0..n), adding it if new. Any number
 * of threads at once; lock-free (a CAS per insert, bounded probing),
 * no allocation, no syscall. The same PC sequence always gets the same id.
 * TS__STACKID_NONE when the table or its arena is full (counted). */
uint32_t ts__stacktab_intern(struct ts__stacktab *t, const uint64_t *pcs,
                             size_t n);

/* ts__stacktab_lookup: the PCs of an id returned by ts__stacktab_intern
 * on t (whose return happens before this call, e.g. through a ring).
 * *pcs points into the arena, valid until the table is freed.
 * 0, or EINVAL for TS__STACKID_NONE or an id not in use. */
int ts__stacktab_lookup(const struct ts__stacktab *t, uint32_t id,
                        const uint64_t **pcs, size_t *n);

/* Counters, read with relaxed loads (a snapshot, not a consistent one). */
struct ts__stacktab_stats {
    uint64_t stacks;      /* ids in use */
    uint64_t full;        /* interns that returned TS__STACKID_NONE */
    uint64_t arena_used;  /* words of the arena reserved */
    uint64_t arena_lost;  /* words reserved by an insert that lost a race
                             to an identical stack (never reused) */
};
void ts__stacktab_stats(const struct ts__stacktab *t,
                        struct ts__stacktab_stats *out);

/* ---- the process-wide table ----------------------------------------- */

/* Size of the process-wide table: 64 Ki slots, 2 Mi words (16 MiB,
 * reserved, touched on use). */
#define TS__STACKID_LOG2_SLOTS 16
#define TS__STACKID_ARENA_WORDS ((size_t)2 << 20)

/* ts__stackid_table: the process-wide table, created on the first call
 * (cold: mmap under pthread_once). NULL if it could not be created. */
struct ts__stacktab *ts__stackid_table(void);

/* ts__stackid_intern / ts__stackid_lookup: ts__stacktab_* on the
 * process-wide table (intern returns TS__STACKID_NONE, lookup EINVAL, if
 * it could not be created). */
uint32_t ts__stackid_intern(const uint64_t *pcs, size_t n);
int ts__stackid_lookup(uint32_t id, const uint64_t **pcs, size_t *n);

#endif
