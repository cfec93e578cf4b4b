/* taskscope — timers: per-P 4-ary heaps and the fire/stop/reset protocol.
 *
 * Each P has a 4-ary min-heap of timers ordered by `when` (shallower than a
 * binary heap: fewer cache lines touched per sift, as in Go). Timers are
 * added to the heap of the P that arms them and run by that P's M in its
 * scheduler loop, or by any idle or stealing M once they are due.
 *
 * Locks and ownership:
 *   - t->lock guards t's state (when, period, seq, pending, heap_p) and is
 *     held while t fires, so a stop/reset that returns has seen any fire in
 *     progress finish: after ts__timer_disarm returns, t is never touched by
 *     the runtime again and may be freed.
 *   - heap->lock guards the heap array and each member's heap_index.
 *   - order: t->lock before heap->lock. The run loop holds heap->lock and
 *     only *tries* t->lock (backing off on failure), so it never waits in the
 *     wrong order.
 *   - a timer's fire function runs with t->lock held and may take a channel
 *     lock (chan timers) or ready a task; it must not block.
 *
 * Go 1.23 semantics: a channel timer's value counts as pending until it is
 * received. Stop/reset drain the channel's one-slot buffer under t->lock,
 * and the fire that filled it also ran under t->lock, so no value from before
 * a stop/reset can be received after it returns.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

/* ------------------------------------------------------------------------
 * 4-ary heap on when (heap->lock held). */

static void heap_set(struct ts__timer_heap *h, int32_t i, struct ts__timer *t)
{
    h->heap[i] = t;
    t->heap_index = i;
}

static void sift_up(struct ts__timer_heap *h, int32_t i)
{
    struct ts__timer *t = h->heap[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (h->heap[parent]->when <= t->when)
            break;
        heap_set(h, i, h->heap[parent]);
        i = parent;
    }
    heap_set(h, i, t);
}

static void sift_down(struct ts__timer_heap *h, int32_t i)
{
    struct ts__timer *t = h->heap[i];
    for (;;) {
        int32_t first = 4 * i + 1, best = -1;
        int64_t best_when = t->when;
        for (int32_t c = first; c < first + 4 && c < h->len; c++) {
            if (h->heap[c]->when < best_when) {
                best = c;
                best_when = h->heap[c]->when;
            }
        }
        if (best < 0)
            break;
        heap_set(h, i, h->heap[best]);
        i = best;
    }
    heap_set(h, i, t);
}

static void publish_next(struct ts__timer_heap *h)
{
    __atomic_store_n(&h->next_when, h->len ? h->heap[0]->when : INT64_MAX,
                     __ATOMIC_RELEASE);
}

static void heap_remove(struct ts__timer_heap *h, int32_t i)
{
    struct ts__timer *t = h->heap[i];
    int32_t last = --h->len;
    t->heap_index = -1;
    if (i != last) {
        heap_set(h, i, h->heap[last]);
        sift_down(h, i);
        sift_up(h, i);
    }
    publish_next(h);
}

static void heap_add(struct ts__timer_heap *h, struct ts__timer *t)
{
    if (h->len == h->cap) {
        int32_t cap = h->cap ? h->cap * 2 : 64;
        /* TSan sees realloc (an interceptor) but not the heap lock around
         * it: tell it that growths of one heap are ordered (race.h). */
        ts__race_acquire(h);
        struct ts__timer **heap = realloc(h->heap, (size_t)cap * sizeof *heap);
        ts__race_release(h);
        if (!heap)
            ts__fatal("taskscope: out of memory growing a timer heap to %d", cap);
        h->heap = heap;
        h->cap = cap;
    }
    h->heap[h->len] = t;
    t->heap_index = h->len++;
    sift_up(h, t->heap_index);
    publish_next(h);
}

void ts__timers_heap_init(struct ts__timer_heap *h)
{
    memset(h, 0, sizeof *h);
    h->next_when = INT64_MAX;
}

/* ------------------------------------------------------------------------
 * Timer protocol. */

/* Field by field, not memset: in the tsan build a memset call goes through
 * TSan's interceptor and would report the runtime's own reuse of a task's
 * embedded timer (race.h). */
void ts__timer_init(struct ts__timer *t,
                    void (*fire)(struct ts__timer *, int64_t), void *arg)
{
    t->lock.state = 0;
    t->when = 0;
    t->period = 0;
    t->pending = false;
    t->heap_index = -1;
    t->heap_p = NULL;
    t->fire = fire;
    t->arg = arg;
    t->chan = NULL;
    t->done = NULL;
}

/* unlink_locked: take t out of its heap and drain its channel; returns
 * whether it was pending. Called with t->lock held. */
static bool unlink_locked(struct ts__timer *t)
{
    bool was = t->pending;
    t->pending = false;
    struct ts_p *p = t->heap_p;
    if (p) {
        ts__lock(&p->timers.lock);
        if (t->heap_index >= 0)
            heap_remove(&p->timers, t->heap_index);
        ts__unlock(&p->timers.lock);
        t->heap_p = NULL;
    }
    if (t->chan && ts__chan_drain(t->chan))
        was = true;
    return was;
}

static void add_locked(struct ts__timer *t, struct ts_p *p)
{
    ts__lock(&p->timers.lock);
    heap_add(&p->timers, t);
    t->heap_p = p;
    ts__unlock(&p->timers.lock);
}

bool ts__timer_arm(struct ts__timer *t, int64_t when, int64_t period)
{
    struct ts_p *p = ts__timer_p();
    ts__race_release(t); /* arming happens before the fire */
    ts__lock(&t->lock);
    bool was = unlink_locked(t);
    t->when = when;
    t->period = period;
    t->pending = true;
    add_locked(t, p);
    ts__unlock(&t->lock);
    ts__wake_for_timer(when);
    return was;
}

bool ts__timer_disarm(struct ts__timer *t)
{
    ts__lock(&t->lock);
    ts__race_acquire(t);
    bool was = unlink_locked(t);
    ts__unlock(&t->lock);
    return was;
}

/* next_period: the first when + k*period after now (a slow ticker skips the
 * ticks it missed rather than firing them back to back). */
static int64_t next_period(int64_t when, int64_t period, int64_t now)
{
    when += period;
    if (when <= now)
        when += ((now - when) / period + 1) * period;
    return when;
}

/* fire_one: t has been popped from p's heap; t->lock is held. */
static void fire_one(struct ts_p *p, struct ts__timer *t, int64_t now)
{
    void (*done)(struct ts__timer *) = NULL;
    if (t->pending) {
        if (t->period > 0) {
            t->when = next_period(t->when, t->period, now);
            add_locked(t, p);
        } else {
            t->pending = false;
            done = t->done;
        }
        ts__race_acquire(t);
        t->fire(t, now);
        ts__race_release(t); /* the fire happens before a later stop */
    }
    ts__unlock(&t->lock);
    if (done)
        done(t);
}

void ts__timers_run(struct ts_p *p, int64_t now)
{
    struct ts__timer_heap *h = &p->timers;
    for (;;) {
        ts__lock(&h->lock);
        if (h->len == 0 || h->heap[0]->when > now) {
            ts__unlock(&h->lock);
            return;
        }
        struct ts__timer *t = h->heap[0];
        if (!ts__trylock(&t->lock)) {
            /* A stop/reset holds t and wants our heap lock: let it. */
            ts__unlock(&h->lock);
            ts__cpu_relax();
            continue;
        }
        heap_remove(h, 0);
        t->heap_p = NULL;
        ts__unlock(&h->lock);
        fire_one(p, t, now);
    }
}
