/* taskscope — task stacks: mmap'd, guard page below, pooled.
 *
 *   map                                                     map + map_size
 *   +-------------+------------------------------------+--------------+
 *   | guard page  | stack, grows down  <-------------- | struct       |
 *   | PROT_NONE   | lo                                 | ts_task (hi) |
 *   +-------------+------------------------------------+--------------+
 *
 * The task struct lives at the top of its own mapping, so creating a task
 * costs no malloc and a parked task's resident memory is the pages its stack
 * touched (usually one). */
#ifndef TASKSCOPE_RUNTIME_STACK_H
#define TASKSCOPE_RUNTIME_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts__stack {
    void *map;        /* start of the mapping (guard page if guarded) */
    size_t map_size;  /* whole mapping */
    void *lo;         /* lowest usable stack byte */
    void *hi;         /* top of usable stack (start of the task struct) */
    bool guarded;     /* guard page present; else lo's red zone is checked */
    bool counted;     /* the guard is an mprotect'd page (costs 2 VMAs) */
    bool fresh;       /* newly mapped by this allocation (not pooled) */
};

#define TS__STACK_CACHE 32

/* Per-P cache of free mappings, used only by the P's own M. */
struct ts__stack_cache {
    void *maps[TS__STACK_CACHE];
    int n;
};

/* ts__stack_config: before the first alloc; header bytes at the top of
 * every mapping are the caller's (the task struct). */
void ts__stack_config(size_t stack_size, size_t header);
size_t ts__stack_size(void);
/* ts__stack_alloc: a mapping with the configured header at its top (s->hi);
 * fills s. Returns 0 or ENOMEM. cache may be NULL (plain threads). */
int ts__stack_alloc(struct ts__stack_cache *cache, struct ts__stack *s);
void ts__stack_free(struct ts__stack_cache *cache, struct ts__stack *s);
/* ts__stack_trim: give back unused pooled stacks (sysmon, once a second).
 * Calls the unmap hook for each mapping first. */
void ts__stack_trim(void);
/* ts__stack_set_unmap_hook: hook(header) runs before a pooled mapping is
 * unmapped; header is the address ts__stack_alloc returned in s->hi. */
void ts__stack_set_unmap_hook(void (*hook)(void *header));
/* ts__stack_check: false if an unguarded stack's red zone was written. */
bool ts__stack_check(const struct ts__stack *s);
/* ts__stack_prepare: lay out the first frame below hi so that ts__switch to
 * the returned sp enters ts__trampoline with arg in a callee-saved register.
 * The layout is the architecture's: defined next to the ts__switch that pops
 * it, in switch_<arch>.S (x86-64: arg in %r12; aarch64: arg in x19). */
void *ts__stack_prepare(void *hi, void *arg);
/* ts__stack_in_guard: whether addr lies in a guard page of [map, lo). */
bool ts__stack_in_guard(const struct ts__stack *s, const void *addr);

/* Test hook (runtime/testing.h): fail the Nth allocation from now (1 = the
 * next one); 0 disables. */
void ts__stack_fail_nth(int n);

#endif
