/* taskscope — ts_rwmutex_t: Go's sync.RWMutex (writer-preferring).
 *
 * State (Go's readerCount / readerWait):
 *   readers    atomic: readers holding or waiting for the lock; a writer
 *              that has claimed the lock subtracts MAX_READERS, so it is
 *              negative while a writer holds or waits: arriving readers
 *              then queue on reader_sema instead of entering;
 *   departing  atomic: readers the pending writer still waits for; the
 *              last one to leave wakes the writer.
 *   w          a ts_mutex_t held by the writer: writers queue there.
 *
 * Invariants:
 *   - at most one writer is between ts_mutex_lock(&w) and its unlock;
 *   - readers < 0 exactly while a writer holds w and has not unlocked;
 *   - when a writer subtracts MAX_READERS seeing r active readers, exactly
 *     r RUnlocks will find readers < 0 and decrement departing, and the one
 *     taking it to 0 grants the writer its wake-up;
 *   - Unlock grants one reader wake-up per reader that queued behind it.
 *
 * Locks: rw->lock guards the two wake-up counts and queues, never held
 * across a park. Waits park with Go's reasons ("sync.RWMutex.RLock",
 * "sync.RWMutex.Lock"; a writer queued behind a writer on w shows
 * "sync.Mutex.Lock", as in Go). Each wake-up after a wait is charged to
 * the releasing call in the mutex profile, as Go's semrelease does.
 *
 * Misuse panics restore the count first, so the lock is as it was.
 *
 * Holder (diagnostic only): w records the writer's task id like any
 * ts_mutex_t (runtime/mutex.c), so a reader waiting in RLock waits for
 * w's owner in the wait-for cycle report (profiler/cycles.c); readers
 * are not recorded (there may be many).
 *
 * ThreadSanitizer (Go's addresses): Unlock releases &reader_sema, which
 * RLock and Lock acquire; RUnlock releases &writer_sema, which Lock
 * acquires; writers order among themselves through w. */
#include <assert.h>
#include <stdalign.h>
#include <taskscope/panic.h>
#include <taskscope/sync.h>

#include "profiler/record.h"
#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

#define MAX_READERS (1 << 30)

struct rwmutex {
    ts_mutex_t w;             /* first: a waiting writer's object is rw */
    int32_t readers;          /* atomic */
    int32_t departing;        /* atomic */
    uint32_t reader_sema;     /* lock: reader wake-ups granted, untaken */
    uint32_t writer_sema;     /* lock: writer wake-ups granted, untaken */
    ts__lock_t lock;          /* guards both semas and queues */
    struct ts__waitq readers_q;
    struct ts__waitq writer_q;
};

static_assert(sizeof(struct rwmutex) == sizeof(ts_rwmutex_t),
              "ts_rwmutex_t size");
static_assert(alignof(struct rwmutex) == alignof(ts_rwmutex_t),
              "ts_rwmutex_t align");

struct rwaiter {
    struct ts__waiter w; /* first: the queue links */
    uint64_t since;      /* ticks when queued, 0: mutex profile off */
};

static struct rwmutex *impl(ts_rwmutex_t *rw)
{
    return (struct rwmutex *)rw;
}

static int32_t add(int32_t *p, int32_t d)
{
    return __atomic_add_fetch(p, d, __ATOMIC_ACQ_REL);
}

/* sema_acquire: take one wake-up from *count, parking until granted. */
static void sema_acquire(struct rwmutex *m, uint32_t *count,
                         struct ts__waitq *q, int reason)
{
    ts__sched_start(); /* a thread's wait record needs it (ts__current) */
    ts__lock(&m->lock);
    if (*count > 0) {
        (*count)--;
        ts__unlock(&m->lock);
        return;
    }
    struct rwaiter me = {.w = {.task = ts__current()}};
    if (__atomic_load_n(&ts__mutex_fraction, __ATOMIC_RELAXED))
        me.since = ts__ticks();
    ts__waitq_enqueue(q, &me.w);
    ts__park(reason, m, ts__unlock_cb, &m->lock);
}

/* sema_release: grant one wake-up, to the head of q if any. Called only
 * by the public functions (not as a tail call), so the mutex profile's
 * stack starts at ts_rwmutex_(r)unlock. */
static __attribute__((noinline)) void
sema_release(struct rwmutex *m, uint32_t *count, struct ts__waitq *q)
{
    ts__lock(&m->lock);
    struct ts__waiter *w = ts__waitq_dequeue(q);
    struct ts_task *t = w ? w->task : NULL;
    uint64_t since = w ? ((struct rwaiter *)w)->since : 0;
    if (!w)
        (*count)++;
    ts__unlock(&m->lock);
    if (since)
        ts__record_mutex(ts__ticks() - since);
    if (t)
        ts__ready(t);
}

/* ------------------------------------------------------------------------
 * Readers. */

void ts_rwmutex_rlock(ts_rwmutex_t *rw)
{
    struct rwmutex *m = impl(rw);
    if (add(&m->readers, 1) < 0)
        sema_acquire(m, &m->reader_sema, &m->readers_q,
                     TS_WAIT_RWMUTEX_RLOCK);
    ts__race_acquire(&m->reader_sema);
}

bool ts_rwmutex_tryrlock(ts_rwmutex_t *rw)
{
    struct rwmutex *m = impl(rw);
    int32_t c = __atomic_load_n(&m->readers, __ATOMIC_RELAXED);
    do {
        if (c < 0)
            return false;
    } while (!__atomic_compare_exchange_n(&m->readers, &c, c + 1, false,
                                          __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    ts__race_acquire(&m->reader_sema);
    return true;
}

void ts_rwmutex_runlock(ts_rwmutex_t *rw)
{
    struct rwmutex *m = impl(rw);
    ts__race_release(&m->writer_sema);
    int32_t r = add(&m->readers, -1);
    if (r >= 0)
        return;
    if (r + 1 == 0 || r + 1 == -MAX_READERS) {
        add(&m->readers, 1);
        ts_panic_code(TS_PANIC_MISUSE, "sync: RUnlock of unlocked RWMutex");
    }
    /* A writer is pending: the last reader it waits for wakes it. */
    if (add(&m->departing, -1) == 0)
        sema_release(m, &m->writer_sema, &m->writer_q);
    __asm__ __volatile__(""); /* keeps this frame: see sema_release */
}

/* ------------------------------------------------------------------------
 * Writers. */

void ts_rwmutex_lock(ts_rwmutex_t *rw)
{
    struct rwmutex *m = impl(rw);
    ts_mutex_lock(&m->w);
    /* Announce the writer, then wait for the readers already inside. */
    int32_t r = add(&m->readers, -MAX_READERS) + MAX_READERS;
    if (r != 0 && add(&m->departing, r) != 0)
        sema_acquire(m, &m->writer_sema, &m->writer_q, TS_WAIT_RWMUTEX_LOCK);
    ts__race_acquire(&m->reader_sema);
    ts__race_acquire(&m->writer_sema);
}

bool ts_rwmutex_trylock(ts_rwmutex_t *rw)
{
    struct rwmutex *m = impl(rw);
    if (!ts_mutex_trylock(&m->w))
        return false;
    int32_t zero = 0;
    if (!__atomic_compare_exchange_n(&m->readers, &zero, -MAX_READERS, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        ts_mutex_unlock(&m->w);
        return false;
    }
    ts__race_acquire(&m->reader_sema);
    ts__race_acquire(&m->writer_sema);
    return true;
}

void ts_rwmutex_unlock(ts_rwmutex_t *rw)
{
    struct rwmutex *m = impl(rw);
    ts__race_release(&m->reader_sema);
    /* Let readers in again, then wake those that queued meanwhile. */
    int32_t r = add(&m->readers, MAX_READERS);
    if (r >= MAX_READERS) {
        add(&m->readers, -MAX_READERS);
        ts_panic_code(TS_PANIC_MISUSE, "sync: Unlock of unlocked RWMutex");
    }
    for (int32_t i = 0; i < r; i++)
        sema_release(m, &m->reader_sema, &m->readers_q);
    ts_mutex_unlock(&m->w);
}
