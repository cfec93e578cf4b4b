/* taskscope — sampled heap profiling: the hooks ts_malloc/ts_free (and,
 * later, the probe's interposed malloc) call, the sampled-allocation
 * buckets, and the heap and allocs profiles built from them as Go's
 * runtime/pprof writes them (../shared/design/CONVENTIONS.md §1.2).
 *
 * Cost model: an unsampled allocation costs one relaxed load of the rate
 * and a thread-local compare and subtraction; a free costs one or two
 * loads while no sampled allocation is live, else a lock-free probe of 16
 * slots. Only a sampled allocation, or the free of one, takes the heap
 * lock. Nothing here calls malloc on those paths (safe under an interposed
 * malloc). */
#ifndef TASKSCOPE_PROFILER_HEAP_H
#define TASKSCOPE_PROFILER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ts__profile;
struct ts__symbolizer;

/* Go's default runtime.MemProfileRate. */
#define TS__HEAP_DEFAULT_RATE 524288

/* ts__heap_rate: the sampling rate, mean bytes between samples (0 = off,
 * 1 = every allocation). Read once from TASKSCOPE_MEMPROFILERATE (a
 * non-negative decimal; anything else means the default). */
int64_t ts__heap_rate(void);

/* ts__heap_set_rate: set the rate (rate >= 0; negative only reads) and
 * return the previous one. Thread-safe (an atomic store), but meant for
 * tests and setup: each thread picks the new rate up at its next
 * allocation and draws a fresh countdown then; allocations racing with the
 * call may be sampled at either rate. Samples already taken stay. */
int64_t ts__heap_set_rate(int64_t rate);

/* ts__heap_on_alloc: account the allocation p of size bytes (p non-NULL,
 * just returned by the allocator). When it is sampled the stack is
 * captured: with skip 0 the leaf is a PC in the function that called
 * ts__heap_on_alloc; skip drops that many further frames (ts_malloc passes
 * 1, so the leaf is its caller). Any thread or task; never fails: when the
 * sample cannot be recorded (tables full, no memory) it is dropped and
 * counted. */
void ts__heap_on_alloc(void *p, size_t size, size_t skip);

/* The allocation path's fast checks, inlined into the probe's malloc and
 * free so the common case needs no call, no guard and no errno save:
 * ts__heap_sample_due: size bytes drawn from the calling thread's
 * countdown; true when ts__heap_on_alloc must run (a sample is due, or the
 * rate changed), leaving the countdown as it was. ts__heap_maybe_sampled:
 * false when p is certainly not a live sample (ts__heap_on_free has
 * nothing to do). heap.c owns the state behind both. */
struct ts__heap_sampler {
    uint64_t left; /* bytes until the next sample */
    int64_t rate;  /* the rate left was drawn for */
    uint64_t rng;  /* xorshift64* state, 0 until seeded */
};
extern __thread struct ts__heap_sampler ts__heap_sampler
    __attribute__((tls_model("initial-exec")));
extern int64_t ts__heap_rate_now;                  /* atomic */
extern const uint64_t *ts__heap_group_bits;        /* atomic; NULL: none */
#define TS__HEAP_GROUPS_LOG2 14

__attribute__((no_sanitize("thread"))) static inline bool
ts__heap_sample_due(size_t size)
{
    struct ts__heap_sampler *s = &ts__heap_sampler;
    if (s->rate == __atomic_load_n(&ts__heap_rate_now, __ATOMIC_RELAXED) &&
        size < s->left) {
        s->left -= size;
        return false;
    }
    return true;
}

static inline size_t ts__heap_group_of(uintptr_t p)
{
    uint64_t k = ((uint64_t)p >> 4) * 0x9e3779b97f4a7c15u;
    return (size_t)(k >> (64 - TS__HEAP_GROUPS_LOG2));
}

static inline bool ts__heap_maybe_sampled(const void *p)
{
    const uint64_t *bits = __atomic_load_n(&ts__heap_group_bits, __ATOMIC_ACQUIRE);
    if (!bits || !p)
        return false;
    size_t g = ts__heap_group_of((uintptr_t)p);
    return (__atomic_load_n(&bits[g / 64], __ATOMIC_RELAXED) >> (g % 64)) & 1;
}

/* ts__heap_on_free: account the free of p, before it goes back to the
 * allocator (so the address cannot be handed out again meanwhile). p may
 * be NULL or an unsampled allocation (then nothing happens). */
void ts__heap_on_free(void *p);

/* One bucket: every sampled allocation with one stack and one size. The
 * values are raw sample counts (unscaled). */
struct ts__heap_record {
    uint32_t stack;      /* stack id (profiler/stackid.h), leaf first */
    uint64_t size;       /* object size of every allocation in it */
    int64_t allocs;      /* sampled allocations */
    int64_t alloc_bytes; /* allocs * size */
    int64_t frees;       /* of those, freed */
    int64_t free_bytes;  /* frees * size */
};

/* ts__heap_records: copy up to max buckets, in creation order, into out
 * (out may be NULL when max is 0). Returns the number of buckets, which
 * may exceed max. Each bucket is read consistently; the set is not a
 * single snapshot (allocations go on). */
size_t ts__heap_records(struct ts__heap_record *out, size_t max);

struct ts__heap_stats {
    uint64_t live;    /* sampled allocations not freed yet */
    uint64_t dropped; /* samples lost: stack table, bucket table or live
                         table full, or their memory could not be mapped */
};
void ts__heap_stats(struct ts__heap_stats *out);

/* ts__heap_profile: add Go's heap profile to the empty profile p: sample
 * types alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes; period_type space/bytes, period = the current rate;
 * one sample per bucket (every bucket, also those with nothing in use, as
 * Go's MemProfile(p, inuseZero=true)), values scaled by Go's
 * scaleHeapSample, numeric label "bytes" = the object size when non-zero.
 * allocs: the allocs profile, the same with default_sample_type
 * "alloc_space". Samples carry return addresses, unsymbolized.
 * 0, EINVAL (p NULL), or an error of the builder (ENOMEM, EOVERFLOW). */
int ts__heap_profile(struct ts__profile *p, bool allocs);

/* ts__heap_write_text: Go's legacy heap text (debug=1) to f: the header
 * "heap profile: ... @ heap/<2*rate>", then per bucket, largest in-use
 * bytes first, "inuse_objects: inuse_bytes [allocs: alloc_bytes] @ pcs"
 * and its frame lines (ts__text_frames), all raw counts. Go's MemStats
 * trailer is left out: taskscope does not know those numbers.
 * 0, EINVAL, ENOMEM, or EIO when writing to f failed. */
int ts__heap_write_text(FILE *f, struct ts__symbolizer *sym);

#endif
