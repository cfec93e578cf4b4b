/* taskscope — ts_sem_t: a weighted semaphore, as
 * golang.org/x/sync/semaphore.Weighted.
 *
 * Invariants (under s->lock):
 *   - 0 <= cur <= size: units held;
 *   - waiters are served strictly in arrival order: an acquire succeeds
 *     at once only when the queue is empty, and release serves the head
 *     while it fits, stopping at the first that does not (so a large
 *     request is never overtaken by smaller ones behind it);
 *   - a queued waiter is woken exactly once, by whoever wins the CAS on
 *     its task's select_done (the chan_internal.h protocol for select
 *     waiters): release, which then charged its units (task->param = the
 *     waiter), or the deadline timer (task->param = NULL), after which the
 *     waiter removes itself and holds nothing.
 *
 * Locks: s->lock guards size, cur and the queue; it is never held across
 * a park. The deadline timer is armed under s->lock from the park's
 * unlock function; its fire takes no semaphore lock (order: s->lock >
 * timer->lock, as select does with channel locks).
 *
 * A request larger than size can never be served; like Go's, it does not
 * queue (it would block everyone behind it) and just waits for its
 * deadline, or forever.
 *
 * ThreadSanitizer: release releases s; a successful acquire acquires it. */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <taskscope/panic.h>
#include <taskscope/sync.h>
#include <taskscope/time.h>

#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

struct sem {
    int64_t size;           /* immutable after init */
    int64_t cur;            /* lock: units held */
    ts__lock_t lock;        /* guards cur and queue */
    struct ts__waitq queue; /* lock: waiters, arrival order */
};

static_assert(sizeof(struct sem) == sizeof(ts_sem_t), "ts_sem_t size");
static_assert(alignof(struct sem) == alignof(ts_sem_t), "ts_sem_t align");

struct swaiter {
    struct ts__waiter w; /* first: the queue links; is_select is set */
    int64_t n;           /* units wanted */
};

/* A parked acquire, as its park's unlock function sees it. */
struct parked {
    struct sem *s;
    struct ts_task *task;
    int64_t deadline;    /* INT64_MAX: none */
};

static struct sem *impl(ts_sem_t *s)
{
    return (struct sem *)s;
}

void ts_sem_init(ts_sem_t *ps, int64_t size)
{
    *impl(ps) = (struct sem){.size = size};
}

/* serve: grant units to the waiters at the head while they fit; returns
 * them linked through w->next, to be readied once s->lock is released. */
static struct ts__waiter *serve(struct sem *s)
{
    struct ts__waiter *woken = NULL, *w;
    while ((w = s->queue.first)) {
        int64_t n = ((struct swaiter *)w)->n;
        if (s->size - s->cur < n)
            break;
        ts__waitq_remove(&s->queue, w);
        uint32_t zero = 0;
        if (!__atomic_compare_exchange_n(&w->task->select_done, &zero, 1,
                                         false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED))
            continue; /* its deadline won: it holds nothing */
        s->cur += n;
        w->task->param = w;
        w->next = woken;
        woken = w;
    }
    return woken;
}

static void ready_all(struct ts__waiter *w)
{
    while (w) {
        struct ts__waiter *next = w->next; /* w vanishes once readied */
        ts__ready(w->task);
        w = next;
    }
}

/* park_unlock: the caller is off its stack: arm its deadline, unlock. */
static void park_unlock(void *arg)
{
    struct parked *p = arg;
    if (p->deadline != INT64_MAX) {
        ts__timer_init(&p->task->sleep_timer, ts__deadline_fire, p->task);
        ts__timer_arm(&p->task->sleep_timer, p->deadline, 0);
    }
    ts__unlock(&p->s->lock);
}

/* give_up: woken by the deadline: leave the queue; if we were its head,
 * those behind may fit now. */
static void give_up(struct sem *s, struct swaiter *me)
{
    ts__lock(&s->lock);
    bool head = s->queue.first == &me->w;
    ts__waitq_remove(&s->queue, &me->w);
    struct ts__waiter *woken = head ? serve(s) : NULL;
    ts__unlock(&s->lock);
    ready_all(woken);
}

/* wait_turn: queue (s->lock held; released) and park until served or the
 * deadline; 0 or ETIMEDOUT. */
static int wait_turn(struct sem *s, ts_sem_t *ps, int64_t n,
                     int64_t deadline)
{
    struct ts_task *t = ts__current();
    __atomic_store_n(&t->select_done, 0, __ATOMIC_RELAXED);
    t->param = NULL;
    struct swaiter me = {.w = {.task = t, .is_select = true}, .n = n};
    ts__waitq_enqueue(&s->queue, &me.w);
    struct parked p = {s, t, deadline};
    ts__park(TS_WAIT_SEMACQUIRE, ps, park_unlock, &p);
    if (deadline != INT64_MAX)
        ts__timer_disarm(&t->sleep_timer);
    if (t->param == &me.w)
        return 0;
    give_up(s, &me);
    return ETIMEDOUT;
}

/* never_fits: n > size: wait for the deadline (or forever), holding
 * nothing and blocking nobody. */
static int never_fits(ts_sem_t *ps, int64_t deadline)
{
    if (deadline == INT64_MAX)
        for (;;)
            ts__park(TS_WAIT_SEMACQUIRE, ps, NULL, NULL);
    ts_sleep(deadline - ts_now());
    return ETIMEDOUT;
}

static int acquire(ts_sem_t *ps, int64_t n, int64_t deadline)
{
    struct sem *s = impl(ps);
    ts__sched_start(); /* a thread's wait record needs it (ts__current) */
    /* An expired deadline fails even when the units are free (Go). */
    if (deadline != INT64_MAX && deadline <= ts_now())
        return ETIMEDOUT;
    ts__lock(&s->lock);
    int r = 0;
    if (s->size - s->cur >= n && !s->queue.first) {
        s->cur += n;
        ts__unlock(&s->lock);
    } else if (n > s->size) {
        ts__unlock(&s->lock);
        r = never_fits(ps, deadline);
    } else {
        r = wait_turn(s, ps, n, deadline);
    }
    if (r == 0)
        ts__race_acquire(ps);
    return r;
}

int ts_sem_acquire(ts_sem_t *s, int64_t n)
{
    return acquire(s, n, INT64_MAX);
}

int ts_sem_acquire_deadline(ts_sem_t *s, int64_t n, int64_t deadline)
{
    return acquire(s, n, deadline == INT64_MAX ? INT64_MAX - 1 : deadline);
}

bool ts_sem_try_acquire(ts_sem_t *ps, int64_t n)
{
    struct sem *s = impl(ps);
    ts__lock(&s->lock);
    bool ok = s->size - s->cur >= n && !s->queue.first;
    if (ok)
        s->cur += n;
    ts__unlock(&s->lock);
    if (ok)
        ts__race_acquire(ps);
    return ok;
}

void ts_sem_release(ts_sem_t *ps, int64_t n)
{
    struct sem *s = impl(ps);
    ts__race_release(ps);
    ts__lock(&s->lock);
    if (s->cur - n < 0) {
        ts__unlock(&s->lock);
        ts_panic_code(TS_PANIC_MISUSE, "semaphore: released more than held");
    }
    s->cur -= n;
    struct ts__waiter *woken = serve(s);
    ts__unlock(&s->lock);
    ready_all(woken);
}
