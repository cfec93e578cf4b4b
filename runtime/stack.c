/* taskscope — task stack allocation: mmap with a guard page, pooled.
 *
 * Invariants:
 *   - every mapping handed out has the same size (stack_size + guard page),
 *     so any free mapping can serve any task;
 *   - a free mapping sits in exactly one place: a P's cache (touched only by
 *     that P's M) or the global pool (pool_lock);
 *   - the guard page is a guard region (madvise MADV_GUARD_INSTALL, Linux
 *     6.13+): a page-table marker that faults like PROT_NONE without
 *     splitting the VMA, so a million stacks cost a handful of VMAs. On
 *     older kernels it is an mprotect'd page, which costs a VMA each; once
 *     those near vm.max_map_count / 2, new stacks are mapped without
 *     a guard. Their lowest RED_ZONE bytes are a canary that costs nothing:
 *     fresh anonymous memory reads as zero and no legitimate frame reaches
 *     that low, so non-zero bytes there at a switch away from the task mean
 *     it overflowed (reported then, not prevented). Writing a canary instead
 *     would touch a second page per task: 1M parked tasks measured 6.9 KiB
 *     each instead of 4 KiB. Raise vm.max_map_count to keep guards on all.
 *   - the global pool is unbounded: freeing a stack never unmaps it (an
 *     munmap costs a TLB shootdown on every core, which made a burst of
 *     short tasks 20x slower); sysmon calls ts__stack_trim once a second,
 *     which unmaps half of the free stacks above POOL_KEEP when the pool
 *     served no allocation since the last call.
 * Rejected: one huge mapping carved into stacks (guard pages split it into
 * as many VMAs anyway), ucontext/malloc'd stacks (no guard at all). */
#include "runtime/stack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/failpoint.h"
#include "runtime/lock.h"
#include "runtime/race.h"

#define RED_ZONE 64 /* lowest bytes of an unguarded stack, kept zero */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 uapi; older headers lack it */
#endif
#define POOL_KEEP 256                /* free mappings trim never drops */

static size_t stack_size = 256 * 1024;
static size_t page_size = 4096;
static int64_t guard_budget = 30000; /* guarded stacks allowed */

/* Global pool: free mappings linked through a word at their top. The pool
 * and the counters each get their own cache line: every allocation reads
 * fail_nth, while the pool's line moves between the Ms that free and
 * refill. */
static _Alignas(64) ts__lock_t pool_lock = TS__LOCK_INIT;
static void *pool_head;      /* guarded by pool_lock */
static int64_t pool_n;       /* guarded by pool_lock */
static int64_t pool_takes;   /* guarded by pool_lock: allocations served */
static _Alignas(64) int64_t mapped_guarded; /* atomic */
static _Alignas(64) int fail_nth;           /* atomic, test hook */
static size_t header_size = 64; /* the caller's header at the top (config) */
static void (*unmap_hook)(void *header); /* set once at start-up */

void ts__stack_config(size_t size, size_t header)
{
    header_size = header;
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (size_t)ps;
    if (size < 16 * 1024)
        size = 16 * 1024;
    stack_size = (size + page_size - 1) & ~(page_size - 1);
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long max_maps = 65530;
    if (f) {
        if (fscanf(f, "%ld", &max_maps) != 1)
            max_maps = 65530;
        fclose(f);
    }
    guard_budget = max_maps / 2 - 2048;
    if (guard_budget < 0)
        guard_budget = 0;
}

size_t ts__stack_size(void) { return stack_size; }

void ts__stack_fail_nth(int n) { ts__failpoint_arm(&fail_nth, n); }

/* guard_region: Linux 6.13+ guard regions live in the page tables and do
 * not split the mapping's VMA, so every stack can have one. Cleared on the
 * first EINVAL (older kernel), after which guards fall back to mprotect. */
static bool guard_region_ok = true; /* atomic */

static bool guard_region(void *m)
{
    if (!__atomic_load_n(&guard_region_ok, __ATOMIC_RELAXED))
        return false;
    if (madvise(m, page_size, MADV_GUARD_INSTALL) == 0)
        return true;
    __atomic_store_n(&guard_region_ok, false, __ATOMIC_RELAXED);
    return false;
}

/* guard_mprotect: a PROT_NONE guard page, two VMAs per stack: only while
 * the budget allows (see the top comment). */
static bool guard_mprotect(void *m)
{
    if (__atomic_add_fetch(&mapped_guarded, 1, __ATOMIC_RELAXED) <= guard_budget &&
        mprotect(m, page_size, PROT_NONE) == 0)
        return true;
    __atomic_sub_fetch(&mapped_guarded, 1, __ATOMIC_RELAXED);
    return false;
}

/* map_new: a fresh mapping, guarded if at all possible. *counted tells
 * whether it holds one of the mprotect budget's VMAs. */
static void *map_new(bool *guarded, bool *counted)
{
    size_t size = stack_size + page_size;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    *counted = false;
    *guarded = guard_region(m) || (*counted = guard_mprotect(m));
    return m;
}

/* A free mapping remembers how it is guarded in its last word (inside the
 * task-struct area, rewritten when the mapping is reused). */
enum { GUARDED = 1, COUNTED = 2 };

static uint8_t *guard_flag(void *m)
{
    return (uint8_t *)((char *)m + stack_size + page_size - sizeof(uint64_t));
}

/* The pool's link word: the mapping's top word below the guard flag. */
static void **pool_link(void *m)
{
    return (void **)((char *)m + stack_size + page_size - 2 * sizeof(uint64_t));
}


void ts__stack_set_unmap_hook(void (*hook)(void *header)) { unmap_hook = hook; }

/* header_of: where the caller's header lives: the top of the mapping, below
 * the two bookkeeping words (pool link, guard flag) so they never overlap. */
static void *header_of(void *m, size_t top)
{
    return (char *)m + stack_size + page_size -
           ((top + 2 * sizeof(uint64_t) + 63) & ~(size_t)63);
}

static void fill(void *m, size_t top, bool guarded, struct ts__stack *s)
{
    s->map = m;
    s->map_size = stack_size + page_size;
    s->hi = header_of(m, top);
    s->lo = (char *)m + page_size;
    s->guarded = guarded;
}

/* pool_pop_locked: unlink the head of the global pool (pool_lock held). */
static void *pool_pop_locked(void)
{
    void *m = pool_head;
    pool_head = *pool_link(m);
    pool_n--;
    pool_takes++;
    return m;
}

/* refill: move up to half a cache's worth from the global pool under one
 * lock, mirroring the half-cache batches that ts__stack_free pushes. */
static void refill(struct ts__stack_cache *cache)
{
    ts__lock(&pool_lock);
    while (pool_head && cache->n < TS__STACK_CACHE / 2)
        cache->maps[cache->n++] = pool_pop_locked();
    ts__unlock(&pool_lock);
}

int ts__stack_alloc(struct ts__stack_cache *cache, struct ts__stack *s)
{
    if (ts__failpoint(&fail_nth))
        return ENOMEM;
    void *m = NULL;
    bool guarded;
    if (cache && cache->n == 0)
        refill(cache);
    if (cache && cache->n > 0) {
        m = cache->maps[--cache->n];
    } else if (!cache) {
        ts__lock(&pool_lock);
        if ((m = pool_head))
            pool_pop_locked();
        ts__unlock(&pool_lock);
    }
    bool counted, fresh = !m;
    if (m) {
        guarded = *guard_flag(m) & GUARDED;
        counted = *guard_flag(m) & COUNTED;
    } else {
        m = map_new(&guarded, &counted);
        if (!m)
            return ENOMEM;
    }
    fill(m, header_size, guarded, s);
    s->counted = counted;
    s->fresh = fresh;
    return 0;
}

/* unmap_now: the tsan build's free. Pooling would hand TSan a stack whose
 * shadow still holds the last task's accesses, and only an artificial edge
 * between unrelated tasks would silence the false reports; a fresh mapping
 * gets fresh shadow from TSan's mmap/munmap interceptors instead. */
static void unmap_now(struct ts__stack *s)
{
    void *m = s->map;
    size_t size = s->map_size;
    bool counted = s->counted; /* s lives inside the mapping */
    if (unmap_hook)
        unmap_hook(header_of(m, header_size));
    if (counted)
        __atomic_sub_fetch(&mapped_guarded, 1, __ATOMIC_RELAXED);
    munmap(m, size);
}

void ts__stack_free(struct ts__stack_cache *cache, struct ts__stack *s)
{
    if (TS__RACE_ENABLED) {
        unmap_now(s);
        return;
    }
    void *m = s->map;
    *guard_flag(m) = (s->guarded ? GUARDED : 0) | (s->counted ? COUNTED : 0);
    if (cache && cache->n < TS__STACK_CACHE) {
        cache->maps[cache->n++] = m;
        return;
    }
    /* Move half the cache along with m, so the next frees stay local. */
    void *batch[TS__STACK_CACHE / 2 + 1];
    int n = 0;
    batch[n++] = m;
    if (cache)
        while (n <= TS__STACK_CACHE / 2)
            batch[n++] = cache->maps[--cache->n];
    ts__lock(&pool_lock);
    for (int i = 0; i < n; i++) {
        *pool_link(batch[i]) = pool_head;
        pool_head = batch[i];
    }
    pool_n += n;
    ts__unlock(&pool_lock);
}

/* trim_batch: unlink up to max pooled mappings under the lock; the walk
 * touches each mapping's top page, cold after a burst, so it is done a
 * batch at a time: a ts_go needing the pool never waits for more. */
static void *trim_batch(int64_t max, int64_t *taken)
{
    void *victims = NULL;
    *taken = 0;
    ts__lock(&pool_lock);
    while (*taken < max && pool_n > POOL_KEEP) {
        void *m = pool_pop_locked();
        pool_takes--; /* not an allocation */
        *pool_link(m) = victims;
        victims = m;
        (*taken)++;
    }
    ts__unlock(&pool_lock);
    return victims;
}

void ts__stack_trim(void)
{
    enum { BATCH = 64 };
    static int64_t last_takes = -1;
    ts__lock(&pool_lock);
    int64_t drop = pool_takes == last_takes ? (pool_n - POOL_KEEP) / 2 : 0;
    last_takes = pool_takes;
    ts__unlock(&pool_lock);
    while (drop > 0) {
        int64_t n;
        void *victims = trim_batch(drop < BATCH ? drop : BATCH, &n);
        if (n == 0)
            break;
        drop -= n;
        while (victims) {
            void *m = victims;
            victims = *pool_link(m);
            if (unmap_hook)
                unmap_hook(header_of(m, header_size));
            if (*guard_flag(m) & COUNTED)
                __atomic_sub_fetch(&mapped_guarded, 1, __ATOMIC_RELAXED);
            munmap(m, stack_size + page_size);
        }
    }
}

bool ts__stack_check(const struct ts__stack *s)
{
    if (s->guarded)
        return true;
    const uint64_t *w = s->lo;
    uint64_t any = 0;
    for (size_t i = 0; i < RED_ZONE / sizeof *w; i++)
        any |= w[i];
    return any == 0;
}

bool ts__stack_in_guard(const struct ts__stack *s, const void *addr)
{
    const char *a = addr;
    /* A fault just below lo counts too: the guard page is exactly there. */
    return s->guarded && a >= (const char *)s->map && a < (const char *)s->lo;
}
