/* taskscope — ts_cond_t: Go's sync.Cond, on a ticket list (Go's
 * notifyList).
 *
 * A waiter takes a ticket (wait++) while it still holds the user's mutex,
 * then unlocks it and sleeps until its ticket is notified. Signal notifies
 * the oldest unnotified ticket, broadcast all of them. Tickets make the
 * window between unlocking the mutex and queueing harmless: a signal that
 * comes first advances notify past the ticket, and the waiter, seeing
 * that under the lock, does not sleep.
 *
 * Invariants (tickets compared modulo 2^32):
 *   - notify <= wait: tickets are notified only once handed out;
 *   - a queued waiter's ticket is >= notify: whoever advances notify past
 *     a queued ticket dequeues and readies that waiter in the same
 *     critical section;
 *   - the queue is in ticket order only loosely (a waiter may queue after
 *     a later ticket): signal searches it for the exact ticket.
 *
 * Locks: c->lock guards notify's writes and the queue; wait is atomic
 * (taken without the lock, under the user's mutex). c->lock is never held
 * while taking the user's mutex, nor across a park.
 *
 * ThreadSanitizer: signal and broadcast release c; a woken Wait acquires
 * it before relocking the mutex. */
#include <assert.h>
#include <stdalign.h>
#include <taskscope/sync.h>

#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

struct cond {
    ts_mutex_t *l;          /* the user's mutex (immutable after init) */
    uint32_t wait;          /* atomic: next ticket to hand out */
    uint32_t notify;        /* atomic reads; written under lock: next
                               ticket to notify */
    ts__lock_t lock;        /* guards notify's writes and queue */
    struct ts__waitq queue; /* lock: sleeping waiters */
};

static_assert(sizeof(struct cond) == sizeof(ts_cond_t), "ts_cond_t size");
static_assert(alignof(struct cond) == alignof(ts_cond_t), "ts_cond_t align");

struct cwaiter {
    struct ts__waiter w; /* first: the queue links */
    uint32_t ticket;
};

static struct cond *impl(ts_cond_t *c)
{
    return (struct cond *)c;
}

static bool before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

void ts_cond_init(ts_cond_t *c, ts_mutex_t *m)
{
    *impl(c) = (struct cond){.l = m};
}

/* sleep_until_notified: park unless ticket was notified already. */
static void sleep_until_notified(struct cond *c, ts_cond_t *pc,
                                 uint32_t ticket)
{
    ts__sched_start(); /* a thread's wait record needs it (ts__current) */
    ts__lock(&c->lock);
    if (before(ticket, c->notify)) {
        ts__unlock(&c->lock);
        return;
    }
    struct cwaiter me = {.w = {.task = ts__current()}, .ticket = ticket};
    ts__waitq_enqueue(&c->queue, &me.w);
    ts__park(TS_WAIT_COND, pc, ts__unlock_cb, &c->lock);
}

void ts_cond_wait(ts_cond_t *pc)
{
    struct cond *c = impl(pc);
    uint32_t ticket = __atomic_fetch_add(&c->wait, 1, __ATOMIC_ACQ_REL);
    ts_mutex_unlock(c->l);
    sleep_until_notified(c, pc, ticket);
    ts__race_acquire(pc);
    ts_mutex_lock(c->l);
}

static bool nobody_waits(struct cond *c)
{
    return __atomic_load_n(&c->wait, __ATOMIC_ACQUIRE) ==
           __atomic_load_n(&c->notify, __ATOMIC_ACQUIRE);
}

void ts_cond_signal(ts_cond_t *pc)
{
    struct cond *c = impl(pc);
    ts__race_release(pc);
    if (nobody_waits(c))
        return;
    ts__lock(&c->lock);
    uint32_t t = c->notify;
    if (t == __atomic_load_n(&c->wait, __ATOMIC_ACQUIRE)) {
        ts__unlock(&c->lock);
        return;
    }
    __atomic_store_n(&c->notify, t + 1, __ATOMIC_RELEASE);
    struct ts__waiter *w = c->queue.first;
    while (w && ((struct cwaiter *)w)->ticket != t)
        w = w->next;
    struct ts_task *task = NULL;
    if (w) {
        ts__waitq_remove(&c->queue, w);
        task = w->task;
    }
    ts__unlock(&c->lock);
    if (task)
        ts__ready(task);
}

void ts_cond_broadcast(ts_cond_t *pc)
{
    struct cond *c = impl(pc);
    ts__race_release(pc);
    if (nobody_waits(c))
        return;
    ts__lock(&c->lock);
    __atomic_store_n(&c->notify, __atomic_load_n(&c->wait, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELEASE);
    struct ts__waiter *w = c->queue.first;
    c->queue.first = c->queue.last = NULL;
    ts__unlock(&c->lock);
    /* Still parked, so still there until readied: read next first. */
    while (w) {
        struct ts__waiter *next = w->next;
        ts__ready(w->task);
        w = next;
    }
}
