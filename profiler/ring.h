/* taskscope — per-thread single-producer single-consumer rings of
 * fixed-size profiler event records, and the registry that lets one drain
 * thread reach every thread's ring.
 *
 * Hot path (ts__ring_push): never blocks, never allocates, takes no lock,
 * makes no syscall. A full ring drops the record and counts it.
 *
 * Memory layout of a ring (one mmap'd block; every line 64 bytes):
 *
 *   +0    +--------------------------------------------+  producer line
 *         | tail        next slot to write (release)   |  written only by
 *         | head_cache  producer's last view of head   |  the producer
 *         | dropped     records lost to a full ring    |
 *   +64   +--------------------------------------------+  consumer line
 *         | head        next slot to read (release)    |  written only by
 *         | tail_cache  consumer's last view of tail   |  the consumer
 *   +128  +--------------------------------------------+  cold line
 *         | mask, cap, registry link, dead flag, tid   |  set at creation,
 *         |                                            |  registry lock
 *   +192  +--------------------------------------------+
 *         | slots[0]      struct ts__event (64 bytes)  |
 *         | slots[1]                                   |
 *         | ...                                        |
 *         | slots[cap-1]                               |
 *         +--------------------------------------------+
 *
 * head and tail are free-running 64-bit counters (never wrap in practice);
 * slot = counter & mask. Empty: head == tail. Full: tail - head == cap.
 * Keeping the two indices on separate lines, each with the side's private
 * cache of the other index, means the producer touches the consumer's line
 * only when its cached head says "full" (Vyukov / Rigtorp SPSC layout). */
#ifndef TASKSCOPE_PROFILER_RING_H
#define TASKSCOPE_PROFILER_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/race.h"

#define TS__CACHE_LINE 64

/* What a record describes. Appended, never repurposed: a record's kind
 * keeps its meaning across versions. */
enum ts__event_kind {
    TS__EV_NONE = 0,
    TS__EV_BLOCK,         /* a sampled blocking event: wait_reason, object;
                             duration = ticks blocked; stack_id = where it
                             blocked (profiler/contention.c) */
    TS__EV_MUTEX,         /* a sampled lock contention: duration = ticks the
                             waiters were delayed; stack_id = the unlocker */
    TS__EV_KIND_COUNT
};

/* One record: exactly one cache line, copied by value. */
struct ts__event {
    uint64_t time;        /* tick counter (record.h) when recorded */
    uint64_t task;        /* task id, 0 for a plain thread */
    uint64_t object;      /* address of the channel, lock, ... (or 0) */
    int64_t duration;     /* ticks, for kinds that measure a wait, else 0 */
    uint16_t kind;        /* enum ts__event_kind */
    uint8_t wait_reason;  /* enum ts_wait_reason (runtime/waitreason.h) */
    uint8_t pad;
    uint32_t stack_id;    /* profiler/stackid.h id, 0 = none */
    uint64_t rate;        /* sampling rate in effect when recorded: block
                             rate in ticks, or the mutex fraction */
    uint64_t spare[2];
};

_Static_assert(sizeof(struct ts__event) == TS__CACHE_LINE,
               "a ring record is one cache line");

struct ts__ring {
    /* ---- producer line: written only by the owning thread ---- */
    _Alignas(TS__CACHE_LINE) uint64_t tail; /* atomic; release-stored after
                                               the slot is written */
    uint64_t head_cache;  /* producer-private copy of head */
    uint64_t dropped;     /* atomic; producer stores (relaxed), any thread
                             reads (relaxed): a statistic, orders nothing */
    /* ---- consumer line: written only by the one drainer ---- */
    _Alignas(TS__CACHE_LINE) uint64_t head; /* atomic; release-stored after
                                               the slot is read */
    uint64_t tail_cache;  /* consumer-private copy of tail */
    /* ---- cold line: fixed at creation or guarded by the registry ---- */
    _Alignas(TS__CACHE_LINE) uint64_t mask; /* cap - 1 */
    uint64_t cap;         /* slots, a power of two */
    size_t map_size;      /* bytes mmap'd for this ring */
    struct ts__ring *next; /* registry list; guarded by the registry lock */
    uint32_t dead;        /* atomic; 1 once the owner thread exited
                             (release by the key destructor, acquire by the
                             drainer) */
    pid_t tid;            /* owner's kernel thread id, 0 if standalone */
    /* ---- records ---- */
    _Alignas(TS__CACHE_LINE) struct ts__event slots[];
};

/* ts__ring_new: a standalone ring of 1 << log2_cap records (1..24),
 * zero-initialised, mmap'd. 0, EINVAL (bad log2_cap or out NULL), ENOMEM.
 * Cold path: allocates. */
int ts__ring_new(unsigned log2_cap, struct ts__ring **out);

/* ts__ring_free: unmap a ring that is in no registry. NULL is fine. */
void ts__ring_free(struct ts__ring *r);

/* ts__ring_push: producer side; only the ring's one producer may call it.
 * Copies *ev into the next slot. true if stored; false if the ring was full
 * (the record is dropped and r->dropped incremented). Wait-free: no lock,
 * no allocation, no syscall. */
static inline bool ts__ring_push(struct ts__ring *r, const struct ts__event *ev)
{
    uint64_t t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
    if (__builtin_expect(t - r->head_cache >= r->cap, 0)) {
        /* Acquire: the consumer's reads of the slot we are about to reuse
         * happened before its release store of head. */
        r->head_cache = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        ts__race_acquire(&r->head);
        if (t - r->head_cache >= r->cap) {
            uint64_t d = __atomic_load_n(&r->dropped, __ATOMIC_RELAXED);
            __atomic_store_n(&r->dropped, d + 1, __ATOMIC_RELAXED);
            return false;
        }
    }
    /* Word by word, never a memcpy call: in the tsan build this runs
     * uninstrumented on task stacks, where TSan's memcpy interceptor would
     * still see (and misjudge) the copy. */
    const uint64_t *src = (const uint64_t *)ev;
    uint64_t *dst = (uint64_t *)&r->slots[t & r->mask];
    for (size_t i = 0; i < sizeof *ev / sizeof *src; i++)
        __atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
    /* Release: publishes the slot's contents with the new tail (and tells
     * TSan so when this code is not instrumented). */
    ts__race_release(&r->tail);
    __atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
    return true;
}

/* ts__ring_pop: consumer side; one consumer at a time per ring. Copies the
 * oldest record into *out. true, or false when the ring is empty. */
bool ts__ring_pop(struct ts__ring *r, struct ts__event *out);

/* Called by the drain functions once per record, in push order. ev points
 * into the ring and is valid only during the call. */
typedef void (*ts__event_fn)(const struct ts__event *ev, void *arg);

/* ts__ring_drain: consumer side; one consumer at a time per ring. Passes
 * up to max records (0 = every record present) to fn, oldest first, and
 * returns how many. */
size_t ts__ring_drain(struct ts__ring *r, size_t max, ts__event_fn fn,
                      void *arg);

/* ts__ring_dropped: records dropped so far because r was full. Any
 * thread. */
uint64_t ts__ring_dropped(const struct ts__ring *r);

/* ---- per-thread registry ------------------------------------------- */

/* log2 of the capacity of the rings the registry creates (1024 records,
 * 64 KiB per thread). */
#define TS__RING_THREAD_LOG2 10

/* ts__ring_for_thread: the calling thread's ring, created and registered
 * on first use. The FIRST call in a thread is the cold path: it mmaps the
 * ring, takes the registry lock and sets a pthread key (whose destructor
 * marks the ring dead when the thread exits). Every later call is one
 * thread-local load. NULL if the ring could not be created or the thread
 * is already exiting (its key destructor ran): callers drop the record,
 * see ts__ring_record. */
struct ts__ring *ts__ring_for_thread(void);

/* ts__ring_record: push *ev to the calling thread's ring. false if it was
 * dropped (ring full, or no ring: then ts__ring_lost() counts it). */
bool ts__ring_record(const struct ts__event *ev);

/* ts__ring_lost: records dropped because their thread had no ring, plus
 * the drops of rings freed since (their threads exited). */
uint64_t ts__ring_lost(void);

/* ts__ring_dropped_total: every record dropped so far, by any ring or
 * ring-less thread. Takes the drain lock. */
uint64_t ts__ring_dropped_total(void);

/* ts__ring_drain_all: consumer side for every registered ring. Drains each
 * ring into fn (as ts__ring_drain with max 0), then unlinks and frees the
 * rings of exited threads, which are empty by then. Returns the records
 * passed to fn. Serialised with other ts__ring_drain_all and
 * ts__ring_foreach calls by the drain lock; takes the registry lock only to
 * read the list head and to unlink, so threads creating their ring are not
 * held up for a whole pass. fn may record events itself (its thread's own
 * ring is drained on the next pass). */
size_t ts__ring_drain_all(ts__event_fn fn, void *arg);

/* ts__ring_foreach: calls fn(ring, arg) for every registered ring, live or
 * dead, under the drain lock (the rings cannot be freed meanwhile). fn must
 * not call ts__ring_drain_all or ts__ring_foreach. */
void ts__ring_foreach(void (*fn)(struct ts__ring *r, void *arg), void *arg);

#endif
