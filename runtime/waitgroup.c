/* taskscope — ts_waitgroup_t: Go's sync.WaitGroup.
 *
 * The state word (atomic, 64 bits) holds the counter in its high half and
 * the number of waiters in its low half, so one atomic operation sees
 * both, as Go's does.
 *
 * Invariants:
 *   - waiters > 0 only while counter > 0: Wait counts itself in with a CAS
 *     that also checks counter != 0;
 *   - the Add that takes the counter to zero with waiters resets the whole
 *     word to 0 and grants exactly `waiters` wake-ups; each waiter takes
 *     one. So a woken waiter that finds the word non-zero saw an Add start
 *     the next round before it left: Go's reuse misuse panic;
 *   - sema counts wake-ups granted before their waiter queued (it counted
 *     itself in the state, then lost the race to the lock).
 *
 * Locks: wg->lock guards sema and the queue, never held across a park
 * (ts__park's unlock callback releases it). The state word is lock-free.
 *
 * Misuse: a negative counter panics after undoing the Add (the group is
 * left as it was); the concurrent Add/Wait checks are Go's, best effort.
 *
 * ThreadSanitizer: every negative Add (Done) releases wg; Wait acquires it
 * before returning, so every Done happens before the Wait it releases. */
#include <assert.h>
#include <stdalign.h>
#include <taskscope/panic.h>
#include <taskscope/sync.h>

#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

struct waitgroup {
    uint64_t state;         /* atomic: counter << 32 | waiters */
    uint32_t sema;          /* lock: wake-ups granted, not yet taken */
    ts__lock_t lock;        /* guards sema and queue */
    struct ts__waitq queue; /* lock: parked waiters, FIFO */
};

static_assert(sizeof(struct waitgroup) == sizeof(ts_waitgroup_t),
              "ts_waitgroup_t size");
static_assert(alignof(struct waitgroup) == alignof(ts_waitgroup_t),
              "ts_waitgroup_t align");

static struct waitgroup *impl(ts_waitgroup_t *wg)
{
    return (struct waitgroup *)wg;
}

/* wait_wakeup: take one wake-up, parking until one is granted. */
static void wait_wakeup(struct waitgroup *g, ts_waitgroup_t *wg)
{
    ts__sched_start(); /* a thread's wait record needs it (ts__current) */
    ts__lock(&g->lock);
    if (g->sema > 0) {
        g->sema--;
        ts__unlock(&g->lock);
        return;
    }
    struct ts__waiter me = {.task = ts__current()};
    ts__waitq_enqueue(&g->queue, &me);
    ts__park(TS_WAIT_WAITGROUP, wg, ts__unlock_cb, &g->lock);
}

/* grant: n wake-ups, to parked waiters first. */
static void grant(struct waitgroup *g, uint32_t n)
{
    while (n--) {
        ts__lock(&g->lock);
        struct ts__waiter *w = ts__waitq_dequeue(&g->queue);
        struct ts_task *t = w ? w->task : NULL;
        if (!w)
            g->sema++;
        ts__unlock(&g->lock);
        if (t)
            ts__ready(t);
    }
}

static void misuse_concurrent_add(void)
{
    ts_panic_code(TS_PANIC_MISUSE,
                  "sync: WaitGroup misuse: Add called concurrently with Wait");
}

void ts_waitgroup_add(ts_waitgroup_t *wg, int delta)
{
    struct waitgroup *g = impl(wg);
    if (delta < 0)
        ts__race_release(wg);
    uint64_t add = (uint64_t)(int64_t)delta << 32;
    uint64_t state = __atomic_add_fetch(&g->state, add, __ATOMIC_ACQ_REL);
    int32_t v = (int32_t)(state >> 32);
    uint32_t waiters = (uint32_t)state;
    if (v < 0) {
        __atomic_sub_fetch(&g->state, add, __ATOMIC_ACQ_REL);
        ts_panic_code(TS_PANIC_MISUSE, "sync: negative WaitGroup counter");
    }
    if (waiters != 0 && delta > 0 && v == delta)
        misuse_concurrent_add();
    if (v > 0 || waiters == 0)
        return;
    /* Counter at zero with waiters: nobody may change the word now but
     * us (Adds must not run concurrently with this last Done). */
    if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != state)
        misuse_concurrent_add();
    __atomic_store_n(&g->state, 0, __ATOMIC_RELEASE);
    grant(g, waiters);
}

void ts_waitgroup_done(ts_waitgroup_t *wg)
{
    ts_waitgroup_add(wg, -1);
}

void ts_waitgroup_wait(ts_waitgroup_t *wg)
{
    struct waitgroup *g = impl(wg);
    uint64_t state = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((state >> 32) == 0)
            break;
        if (__atomic_compare_exchange_n(&g->state, &state, state + 1, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            wait_wakeup(g, wg);
            if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != 0)
                ts_panic_code(TS_PANIC_MISUSE, "sync: WaitGroup is reused "
                                               "before previous Wait has "
                                               "returned");
            break;
        }
    }
    ts__race_acquire(wg);
}
