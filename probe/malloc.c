/* taskscope probe — the malloc family: every allocation and free goes to
 * the real allocator (whatever follows this library: glibc, jemalloc, ...)
 * and through the heap profiler's hooks (profiler/heap.h), which sample
 * Poisson at 512 KiB on average (TASKSCOPE_MEMPROFILERATE).
 *
 * Invariants:
 *   - the program gets exactly what the real allocator returns, and every
 *     pointer it frees goes to the real free, except blocks of the
 *     bootstrap arena (served while dlsym resolves the real functions),
 *     which are never freed;
 *   - a free is accounted before the block goes back (the address cannot
 *     be handed out again meanwhile); realloc accounts the old block freed
 *     and the new one allocated, also when it stays in place;
 *   - the probe's own allocations (guard raised) are not accounted (they
 *     draw from the sampling countdown, which only moves a sample to the
 *     next allocation). */
#include "probe/probe.h"

#include <errno.h>
#include <string.h>

#include "profiler/heap.h"

/* skip 1: the sampled stack's leaf is the caller of malloc. errno is
 * kept: a sample may unwind or map memory, the program must not see it.
 * The countdown comes first (heap.h): most allocations end there, without
 * the guard. The probe's own allocations (guard raised) draw from it too
 * but are never sampled: the sample falls to the next allocation. */
#define ACCOUNT_ALLOC(p, n)                                                  \
    do {                                                                    \
        if ((p) && ts__heap_sample_due(n) && ts__probe_enter()) {           \
            int e_ = errno;                                                 \
            ts__heap_on_alloc((p), (n), 1);                                 \
            errno = e_;                                                     \
            ts__probe_leave();                                              \
        }                                                                   \
    } while (0)

static void account_free(void *p)
{
    if (ts__heap_maybe_sampled(p) && ts__probe_enter()) {
        int e = errno;
        ts__heap_on_free(p);
        errno = e;
        ts__probe_leave();
    }
}

void *malloc(size_t n)
{
    if (__builtin_expect(!__atomic_load_n(&ts__real.malloc, __ATOMIC_ACQUIRE), 0)) {
        ts__probe_resolve();
        if (!__atomic_load_n(&ts__real.malloc, __ATOMIC_ACQUIRE))
            return ts__probe_boot_alloc(n, 16);
    }
    void *p = ts__real.malloc(n);
    ACCOUNT_ALLOC(p, n);
    return p;
}

void *calloc(size_t k, size_t n)
{
    if (__builtin_expect(!__atomic_load_n(&ts__real.malloc, __ATOMIC_ACQUIRE), 0)) {
        ts__probe_resolve();
        if (!__atomic_load_n(&ts__real.malloc, __ATOMIC_ACQUIRE)) {
            size_t bytes;
            if (__builtin_mul_overflow(k, n, &bytes)) {
                errno = ENOMEM;
                return NULL;
            }
            return ts__probe_boot_alloc(bytes, 16);
        }
    }
    void *p = ts__real.calloc(k, n);
    ACCOUNT_ALLOC(p, k * n);
    return p;
}

void free(void *p)
{
    if (!p || ts__probe_boot_owns(p))
        return;
    if (!ts__real.free)
        ts__probe_resolve();
    account_free(p);
    ts__real.free(p);
}

void *realloc(void *p, size_t n)
{
    if (p && ts__probe_boot_owns(p)) {
        void *q = malloc(n);
        size_t old = ts__probe_boot_size(p);
        if (q)
            memcpy(q, p, old < n ? old : n);
        return q;
    }
    if (!ts__real.realloc)
        ts__probe_resolve();
    account_free(p);
    void *q = ts__real.realloc(p, n);
    ACCOUNT_ALLOC(q, n);
    return q;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (!ts__real.posix_memalign)
        ts__probe_resolve();
    int r = ts__real.posix_memalign(out, align, n);
    if (r == 0)
        ACCOUNT_ALLOC(*out, n);
    return r;
}

void *aligned_alloc(size_t align, size_t n)
{
    if (!ts__real.aligned_alloc)
        ts__probe_resolve();
    void *p = ts__real.aligned_alloc(align, n);
    ACCOUNT_ALLOC(p, n);
    return p;
}

void *memalign(size_t align, size_t n)
{
    if (!ts__real.memalign)
        ts__probe_resolve();
    void *p = ts__real.memalign(align, n);
    ACCOUNT_ALLOC(p, n);
    return p;
}

void *valloc(size_t n)
{
    if (!ts__real.valloc)
        ts__probe_resolve();
    void *p = ts__real.valloc(n);
    ACCOUNT_ALLOC(p, n);
    return p;
}

void *pvalloc(size_t n)
{
    if (!ts__real.pvalloc)
        ts__probe_resolve();
    void *p = ts__real.pvalloc(n);
    ACCOUNT_ALLOC(p, n);
    return p;
}

size_t malloc_usable_size(void *p)
{
    if (p && ts__probe_boot_owns(p))
        return ts__probe_boot_size(p);
    if (!ts__real.malloc_usable_size)
        ts__probe_resolve();
    return ts__real.malloc_usable_size(p);
}
