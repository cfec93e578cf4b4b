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
