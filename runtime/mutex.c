/* taskscope — ts_mutex_t: Go's sync.Mutex (normal and starvation modes).
 *
 * The state word (atomic) holds four things, as Go's does:
 *   LOCKED    the mutex is held;
 *   WOKEN     a waiter is awake and competing (or a spinning locker claimed
 *             the wake-up): unlock must not wake another one;
 *   STARVING  starvation mode: unlock hands the mutex to the head waiter;
 *             arrivals neither take it nor spin, they queue at the tail;
 *   state >> WAITER_SHIFT: lockers that went to sleep or are about to.
 *
 * Invariants:
 *   - STARVING implies a waiter counted in the state (the one it will be
 *     handed to) and, once handed, LOCKED stays clear until that waiter
 *     sets it: nobody else may take the mutex in between;
 *   - each unlock that wakes someone first removes one waiter from the
 *     state count and grants exactly one wake-up: sema counts wake-ups
 *     granted while nobody was queued yet, so none is lost between a
 *     locker counting itself and queueing itself;
 *   - a waiter is queued at most once; one that already waited re-queues
 *     at the head (LIFO), keeping its place in line, as Go's does.
 *
 * Locks: the wait queue (queue, nwait, sema) is guarded by m->lock, a
 * runtime ts__lock_t held only for a few instructions and never across a
 * park (ts__park's unlock callback releases it once the caller is off its
 * stack). The state word is lock-free.
 *
 * Waiting is a park (reason "sync.Mutex.Lock", object the mutex), for tasks
 * and plain threads alike, so the block profile and the goroutine dump see
 * it. The mutex profile charges the unlocker that wakes a waiter with that
 * waiter's delay plus an estimate for those still queued (Go's semrelease1:
 * the mean of the head's and the tail's waits, times their number).
 *
 * Go's sync.Mutex makes unlock of an unlocked mutex fatal; here it is a
 * recoverable panic with Go's message, raised before the state changes.
 * Owner (diagnostic only, for the wait-for cycles of profiler/cycles.c):
 * whoever locks stores its task id (TS__MUTEX_THREAD for a plain thread)
 * after acquiring, and unlock clears it before releasing, both relaxed
 * atomic stores outside the state word, so the fast paths stay one CAS.
 * Readers (introspect.c, the leak detector) read it racily: it may be 0
 * or a previous holder's id for a moment around a lock or unlock; it is
 * exact only while the mutex stays locked by a holder that does not run,
 * which is all the cycle report needs. Invariant: a locked mutex whose
 * holder is parked has owner == that holder's id.
 * Rejected: Go's semaphore table hashed by address (sema.go) — the queue
 * lives in the mutex instead, which costs 32 bytes but no hashing. */
#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <taskscope/panic.h>
#include <taskscope/sync.h>
#include <taskscope/task.h>

#include "profiler/record.h"
#include "runtime/chan_internal.h"
#include "runtime/introspect.h"
#include "runtime/race.h"
#include "runtime/sched.h"

enum {
    LOCKED = 1,
    WOKEN = 2,
    STARVING = 4,
    WAITER_SHIFT = 3,
    SPIN_ITERS = 4,   /* Go's active_spin */
    SPIN_PAUSES = 30, /* Go's active_spin_cnt */
};

#define STARVATION_NS 1000000 /* 1 ms: Go's starvationThresholdNs */

struct mutex {
    int32_t state;       /* atomic, see above */
    uint32_t sema;       /* lock: wake-ups granted with nobody queued */
    ts__lock_t lock;     /* guards sema, nwait, queue */
    uint32_t nwait;      /* lock: waiters in queue */
    struct ts__waitq queue;
    uint64_t owner;      /* atomic relaxed, diagnostic only: see above */
};

static_assert(sizeof(struct mutex) == sizeof(ts_mutex_t), "ts_mutex_t size");
static_assert(alignof(struct mutex) == alignof(ts_mutex_t), "ts_mutex_t align");
static_assert(offsetof(struct mutex, owner) == offsetof(ts_mutex_t, owner_),
              "ts_mutex_t owner");

/* A queued locker: lives on its stack while it waits. */
struct mwaiter {
    struct ts__waiter w; /* first: the queue links */
    uint64_t since;      /* ticks when it queued, 0: mutex profile off */
};

static struct mutex *impl(ts_mutex_t *m)
{
    return (struct mutex *)m;
}

static int32_t load(const struct mutex *m)
{
    return __atomic_load_n(&m->state, __ATOMIC_RELAXED);
}

static bool cas(struct mutex *m, int32_t *old, int32_t new)
{
    return __atomic_compare_exchange_n(&m->state, old, new, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * The wait queue (Go's semacquire/semrelease, specialised). */

static void push_front(struct ts__waitq *q, struct ts__waiter *w)
{
    w->prev = NULL;
    w->next = q->first;
    if (q->first)
        q->first->prev = w;
    else
        q->last = w;
    q->first = w;
    w->queued = true;
}

/* wait_wakeup: wait for a wake-up; returns once one was granted to the
 * caller (an unlock hands it directly to the waiter it dequeues). */
static void wait_wakeup(struct mutex *m, ts_mutex_t *mu, bool lifo)
{
    ts__sched_start(); /* a thread's wait record needs it (ts__current) */
    ts__lock(&m->lock);
    if (m->sema > 0) {
        m->sema--;
        ts__unlock(&m->lock);
        return;
    }
    struct mwaiter me = {.w = {.task = ts__current()}};
    if (__atomic_load_n(&ts__mutex_fraction, __ATOMIC_RELAXED))
        me.since = ts__ticks();
    if (lifo)
        push_front(&m->queue, &me.w);
    else
        ts__waitq_enqueue(&m->queue, &me.w);
    m->nwait++;
    ts__park(TS_WAIT_MUTEX, mu, ts__unlock_cb, &m->lock);
}

/* charge: the delay the wake-up of head ends, for the mutex profile: its
 * own wait plus, for the waiters still queued, the mean of the head's and
 * the tail's waits times their number (m->lock held). */
static uint64_t charge(const struct mutex *m, const struct mwaiter *head)
{
    if (!head->since)
        return 0;
    uint64_t now = ts__ticks(), d = now - head->since;
    const struct mwaiter *tail = (const struct mwaiter *)m->queue.last;
    if (tail && tail->since)
        d += (now - tail->since + (now - head->since)) / 2 * m->nwait;
    return d;
}

/* wake: grant one wake-up: to the head waiter (returned, to be readied
 * after the caller records *delay), or to the next to queue. */
static struct ts_task *wake(struct mutex *m, uint64_t *delay)
{
    ts__lock(&m->lock);
    struct ts__waiter *w = ts__waitq_dequeue(&m->queue);
    struct ts_task *t = NULL;
    if (w) {
        m->nwait--;
        *delay = charge(m, (struct mwaiter *)w);
        t = w->task; /* w may vanish once the lock is released */
    } else {
        m->sema++;
    }
    ts__unlock(&m->lock);
    return t;
}

/* ------------------------------------------------------------------------
 * Lock. */

static bool can_spin(int iter)
{
    return iter < SPIN_ITERS && ts__nprocs_if_started() > 1;
}

static void spin(void)
{
    for (int i = 0; i < SPIN_PAUSES; i++)
        ts__cpu_relax();
}

/* next_state: what a locker that saw old moves the state to: take the
 * lock unless starving, else count itself a waiter; a starving waiter
 * (only once it has waited) turns starvation mode on; an awoken waiter
 * gives the WOKEN flag back. */
static int32_t next_state(int32_t old, bool starving, bool awoke)
{
    int32_t new = old;
    if (!(old & STARVING))
        new |= LOCKED;
    if (old & (LOCKED | STARVING))
        new += 1 << WAITER_SHIFT;
    if (starving && (old & LOCKED))
        new |= STARVING;
    if (awoke) {
        if (!(new & WOKEN))
            ts__fatal("sync: inconsistent mutex state");
        new &= ~WOKEN;
    }
    return new;
}

/* take_handoff: in starvation mode the mutex was handed to us: set LOCKED,
 * drop our waiter count, leave starvation mode if we are the last waiter
 * or did not wait long. */
static void take_handoff(struct mutex *m, int32_t old, bool starving)
{
    if ((old & (LOCKED | WOKEN)) || (old >> WAITER_SHIFT) == 0)
        ts__fatal("sync: inconsistent mutex state");
    int32_t delta = LOCKED - (1 << WAITER_SHIFT);
    if (!starving || (old >> WAITER_SHIFT) == 1)
        delta -= STARVING;
    __atomic_add_fetch(&m->state, delta, __ATOMIC_ACQ_REL);
}

static __attribute__((noinline)) void lock_slow(struct mutex *m,
                                                ts_mutex_t *mu)
{
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = load(m);
    for (;;) {
        /* Spin while locked in normal mode: the holder may be about to
         * unlock; claim WOKEN so the unlock does not wake a sleeper. */
        if ((old & (LOCKED | STARVING)) == LOCKED && can_spin(iter)) {
            if (!awoke && !(old & WOKEN) && (old >> WAITER_SHIFT) != 0 &&
                cas(m, &old, old | WOKEN))
                awoke = true;
            spin();
            iter++;
            old = load(m);
            continue;
        }
        int32_t new = next_state(old, starving, awoke);
        if (!cas(m, &old, new))
            continue;
        if (!(old & (LOCKED | STARVING)))
            return; /* locked it */
        bool lifo = wait_start != 0;
        if (!wait_start)
            wait_start = ts__nanotime();
        wait_wakeup(m, mu, lifo);
        starving = starving || ts__nanotime() - wait_start > STARVATION_NS;
        old = load(m);
        if (old & STARVING) {
            take_handoff(m, old, starving);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

/* set_owner: record the caller as the holder (see the owner above). */
static void set_owner(struct mutex *m, uint64_t id)
{
    __atomic_store_n(&m->owner, id, __ATOMIC_RELAXED);
}

static uint64_t caller_id(void)
{
    struct ts_task *t = ts__current_task();
    return t ? t->id : TS__MUTEX_THREAD;
}

void ts_mutex_lock(ts_mutex_t *mu)
{
    struct mutex *m = impl(mu);
    int32_t old = 0;
    if (!cas(m, &old, LOCKED))
        lock_slow(m, mu);
    set_owner(m, caller_id());
    ts__race_acquire(mu);
}

bool ts_mutex_trylock(ts_mutex_t *mu)
{
    struct mutex *m = impl(mu);
    int32_t old = load(m);
    if (old & (LOCKED | STARVING))
        return false;
    if (!cas(m, &old, old | LOCKED))
        return false;
    set_owner(m, caller_id());
    ts__race_acquire(mu);
    return true;
}

/* ------------------------------------------------------------------------
 * Unlock. */

/* release: clear LOCKED, or panic if it was clear; returns the new state. */
static int32_t release(struct mutex *m, int32_t old)
{
    for (;;) {
        if (!(old & LOCKED))
            ts_panic_code(TS_PANIC_MISUSE, "sync: unlock of unlocked mutex");
        if (cas(m, &old, old - LOCKED))
            return old - LOCKED;
    }
}

/* claim_wakeup: normal mode: take one waiter off the count and set WOKEN,
 * unless nobody waits or someone (a locker, an awake waiter) already took
 * over: then nobody is woken. */
static bool claim_wakeup(struct mutex *m, int32_t old)
{
    for (;;) {
        if ((old >> WAITER_SHIFT) == 0 || (old & (LOCKED | WOKEN | STARVING)))
            return false;
        if (cas(m, &old, (old - (1 << WAITER_SHIFT)) | WOKEN))
            return true;
    }
}

/* unlock_slow: called by ts_mutex_unlock alone (not as a tail call) and
 * itself the caller of ts__record_mutex, so the mutex profile's stack
 * starts at ts_mutex_unlock, then the code that unlocked, as Go's starts
 * at sync.(*Mutex).Unlock. */
static __attribute__((noinline)) void unlock_slow(struct mutex *m,
                                                  int32_t old)
{
    int32_t new = release(m, old);
    bool handoff = new & STARVING;
    if (!handoff && !claim_wakeup(m, new))
        return;
    uint64_t delay = 0;
    struct ts_task *t = wake(m, &delay);
    if (delay)
        ts__record_mutex(delay);
    if (!t)
        return;
    ts__ready(t);
    /* Starvation mode: let the waiter run now, as Go's handoff does. */
    if (handoff)
        ts_yield();
}

void ts_mutex_unlock(ts_mutex_t *mu)
{
    struct mutex *m = impl(mu);
    ts__race_release(mu);
    set_owner(m, 0);
    int32_t old = LOCKED;
    if (cas(m, &old, 0))
        return;
    unlock_slow(m, old);
    __asm__ __volatile__(""); /* keeps this frame: see unlock_slow */
}
