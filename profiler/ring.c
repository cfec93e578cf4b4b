/* taskscope — SPSC event rings and the per-thread ring registry (the
 * interface and the ring's memory layout are in ring.h).
 *
 * Invariants:
 *   - 0 <= tail - head <= cap at every instant; only the producer moves
 *     tail, only the (single) consumer moves head;
 *   - a slot in [head, tail) is written before tail is release-stored past
 *     it and read before head is release-stored past it, so the two sides
 *     never touch the same slot at once;
 *   - a ring in the registry stays mapped until the drainer has seen it
 *     dead (acquire) AND drained it; its producer never pushes after its
 *     key destructor ran (tls_state says so), so "dead and drained" means
 *     empty forever;
 *   - the producer takes no lock after ts__ring_for_thread's first call.
 * Locks and owners:
 *   - reg_lock guards reg_head and every ring's next field. Taken by a
 *     thread creating its ring, and by the drainer to read reg_head and to
 *     unlink;
 *   - drain_lock makes ts__ring_drain_all / ts__ring_foreach the one
 *     consumer of every ring and the only code that unlinks or frees.
 *   - order: drain_lock > reg_lock.
 *   Inserts happen at the list head, so a drainer that read reg_head under
 *   reg_lock can walk the rest of the list without it: nobody but the
 *   drainer (holding drain_lock) changes an existing ring's next.
 * Both locks are small spinlocks that yield, not pthread mutexes: the
 * LD_PRELOAD probe interposes pthread_mutex_* and records into these rings,
 * so a registry on pthread mutexes would re-enter the probe. Their atomics
 * are plain C11-model acquire/release, visible to TSan.
 * Rings are mmap'd rather than malloc'd for the same reason (the probe
 * interposes malloc), and because the block must be cache-line aligned.
 * Rejected: an MPSC ring shared by all threads (one contended cache line
 * for every event); freeing a ring in the key destructor (the drainer may
 * be reading it, and its last records would be lost).
 * Measured (bench/ringbench, gcc -O2, 2-core Debian 12 VM): 6.4-7.3 ns per
 * ts__ring_push including the amortised drain every 512 records, 6.6 ns
 * through ts__ring_record's thread-local lookup, 0.9 ns per dropped push.
 * Not handled yet: fork (a child inherits the locks and the rings of
 * threads that no longer exist; needs pthread_atfork handlers). */
#include "profiler/ring.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- one ring ------------------------------------------------------ */

int ts__ring_new(unsigned log2_cap, struct ts__ring **out)
{
    if (!out || log2_cap < 1 || log2_cap > 24)
        return EINVAL;
    uint64_t cap = (uint64_t)1 << log2_cap;
    size_t size = sizeof(struct ts__ring) + cap * sizeof(struct ts__event);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return ENOMEM;
    struct ts__ring *r = p; /* mmap zero-fills: head = tail = 0 */
    r->cap = cap;
    r->mask = cap - 1;
    r->map_size = size;
    *out = r;
    return 0;
}

void ts__ring_free(struct ts__ring *r)
{
    if (r)
        munmap(r, r->map_size);
}

bool ts__ring_pop(struct ts__ring *r, struct ts__event *out)
{
    uint64_t h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
    if (h == r->tail_cache) {
        /* Acquire: pairs with the producer's release of tail, so the
         * slot's contents are visible. */
        r->tail_cache = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        ts__race_acquire(&r->tail);
        if (h == r->tail_cache)
            return false;
    }
    *out = r->slots[h & r->mask];
    /* Release: our read of the slot happens before the producer reuses it. */
    ts__race_release(&r->head);
    __atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
    return true;
}

/* Records handed to fn between two releases of head: the producer sees
 * space freed in batches of this size while a long drain runs. */
#define DRAIN_BATCH 64

size_t ts__ring_drain(struct ts__ring *r, size_t max, ts__event_fn fn,
                      void *arg)
{
    uint64_t h = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
    r->tail_cache = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    ts__race_acquire(&r->tail);
    uint64_t avail = r->tail_cache - h;
    if (max != 0 && avail > max)
        avail = max;
    uint64_t end = h + avail;
    while (h != end) {
        uint64_t stop = end - h > DRAIN_BATCH ? h + DRAIN_BATCH : end;
        for (; h != stop; h++)
            fn(&r->slots[h & r->mask], arg);
        ts__race_release(&r->head);
        __atomic_store_n(&r->head, h, __ATOMIC_RELEASE);
    }
    return (size_t)avail;
}

uint64_t ts__ring_dropped(const struct ts__ring *r)
{
    return __atomic_load_n(&r->dropped, __ATOMIC_RELAXED);
}

/* ---- registry locks ------------------------------------------------ */

static void spin_lock(uint32_t *l)
{
    for (unsigned i = 0;; i++) {
        if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
            !__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
            return;
        if (i >= 64)
            sched_yield();
    }
}

static void spin_unlock(uint32_t *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- registry ------------------------------------------------------ */

static uint32_t drain_lock;
static uint32_t reg_lock;
static struct ts__ring *reg_head; /* guarded by reg_lock */
static uint64_t lost;             /* atomic: records of ring-less threads,
                                     and drops of rings since freed */

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t ring_key;
static int key_err;

/* Thread state: owner-only, so plain thread-locals. The functions that
 * touch them are not instrumented by TSan: tasks run them on whichever
 * worker thread they are on, and TSan would take two tasks that ran one
 * after the other on a worker for two racing threads (as for the runtime:
 * runtime/race.h). */
#define PER_THREAD __attribute__((no_sanitize("thread")))
enum { TLS_NONE, TLS_RING, TLS_EXITED };
static _Thread_local struct ts__ring *tls_ring;
static _Thread_local int tls_state;

/* Key destructor, in the exiting thread: the ring stays registered for
 * the drainer, which frees it once it is dead and drained. Later records
 * from this thread (other TLS destructors) are lost, not written to a ring
 * the drainer may be freeing. */
PER_THREAD static void ring_thread_exit(void *p)
{
    struct ts__ring *r = p;
    tls_ring = NULL;
    tls_state = TLS_EXITED;
    /* Release: every push by this thread happens before the drainer's
     * acquire load of dead. */
    __atomic_store_n(&r->dead, 1, __ATOMIC_RELEASE);
}

static void key_init(void)
{
    key_err = pthread_key_create(&ring_key, ring_thread_exit);
}

/* Cold path of ts__ring_for_thread. */
PER_THREAD static struct ts__ring *ring_create_for_thread(void)
{
    if (tls_state == TLS_EXITED)
        return NULL;
    pthread_once(&key_once, key_init);
    if (key_err != 0)
        return NULL;
    struct ts__ring *r;
    if (ts__ring_new(TS__RING_THREAD_LOG2, &r) != 0)
        return NULL;
    r->tid = (pid_t)syscall(SYS_gettid);
    if (pthread_setspecific(ring_key, r) != 0) {
        ts__ring_free(r);
        return NULL;
    }
    spin_lock(&reg_lock);
    r->next = reg_head;
    reg_head = r;
    spin_unlock(&reg_lock);
    tls_ring = r;
    tls_state = TLS_RING;
    return r;
}

PER_THREAD struct ts__ring *ts__ring_for_thread(void)
{
    struct ts__ring *r = tls_ring;
    if (__builtin_expect(r != NULL, 1))
        return r;
    return ring_create_for_thread();
}

PER_THREAD bool ts__ring_record(const struct ts__event *ev)
{
    struct ts__ring *r = ts__ring_for_thread();
    if (!r) {
        __atomic_fetch_add(&lost, 1, __ATOMIC_RELAXED);
        return false;
    }
    return ts__ring_push(r, ev);
}

uint64_t ts__ring_lost(void)
{
    return __atomic_load_n(&lost, __ATOMIC_RELAXED);
}

static struct ts__ring *registry_first(void)
{
    spin_lock(&reg_lock);
    struct ts__ring *r = reg_head;
    spin_unlock(&reg_lock);
    return r;
}

/* Unlink r; called with drain_lock held. prev is r's predecessor as seen
 * by this walk, or NULL: an insert since then may have put rings before
 * r, so the head case re-searches under reg_lock. */
static void registry_unlink(struct ts__ring *prev, struct ts__ring *r)
{
    spin_lock(&reg_lock);
    if (prev) {
        prev->next = r->next;
    } else {
        struct ts__ring **pp = &reg_head;
        while (*pp != r)
            pp = &(*pp)->next;
        *pp = r->next;
    }
    spin_unlock(&reg_lock);
}

size_t ts__ring_drain_all(ts__event_fn fn, void *arg)
{
    size_t n = 0;
    spin_lock(&drain_lock);
    struct ts__ring *prev = NULL;
    struct ts__ring *r = registry_first();
    while (r) {
        struct ts__ring *next = r->next;
        bool dead = __atomic_load_n(&r->dead, __ATOMIC_ACQUIRE);
        n += ts__ring_drain(r, 0, fn, arg);
        if (dead) {
            /* Owner gone before the drain began: the drain saw its last
             * record, nothing can be pushed any more. */
            registry_unlink(prev, r);
            __atomic_fetch_add(&lost, ts__ring_dropped(r), __ATOMIC_RELAXED);
            ts__ring_free(r);
        } else {
            prev = r;
        }
        r = next;
    }
    spin_unlock(&drain_lock);
    return n;
}

static void add_dropped(struct ts__ring *r, void *arg)
{
    *(uint64_t *)arg += ts__ring_dropped(r);
}

uint64_t ts__ring_dropped_total(void)
{
    uint64_t n = 0;
    ts__ring_foreach(add_dropped, &n);
    return n + ts__ring_lost();
}

void ts__ring_foreach(void (*fn)(struct ts__ring *r, void *arg), void *arg)
{
    spin_lock(&drain_lock);
    for (struct ts__ring *r = registry_first(); r; r = r->next)
        fn(r, arg);
    spin_unlock(&drain_lock);
}
