/* taskscope — select: one operation among several channels (Go's selectgo).
 *
 * Protocol:
 *   1. shuffle the cases with a channel into poll order (uniform choice
 *      among ready cases) and sort them by channel address into lock order;
 *   2. lock every channel in address order (a channel listed twice is
 *      locked once), so two selects over the same channels cannot deadlock;
 *   3. pass 1: in poll order, complete the first case that can proceed;
 *   4. otherwise (blocking) enqueue one waiter per case, park with reason
 *      "select"; the unlock function arms the deadline timer, if any, then
 *      unlocks the channels in reverse order;
 *   5. the one waker that wins the CAS on the task's select_done completes
 *      its case and records its waiter in task->param (NULL: the deadline);
 *   6. woken: disarm the timer, relock, dequeue the other waiters, unlock.
 *
 * Invariants: while a task is parked in select, select_done == 0 until
 * exactly one waker claims it; waiters that lost stay queued until step 6
 * or until a dequeue skips them. The deadline timer is armed with the
 * channel locks held; its fire function takes no channel lock, so this does
 * not invert the lock order.
 *
 * Memory: poll and lock orders and the waiters live on the caller's stack
 * for up to STACK_CASES cases, else in one malloc'd block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/panic.h>
#include <taskscope/select.h>
#include <taskscope/time.h>

#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

#define STACK_CASES 16

struct sel {
    ts_select_case_t *cases;
    uint32_t *poll;          /* case indices, random order */
    uint32_t *lock;          /* case indices, by channel address */
    uint32_t n;              /* cases with a channel */
    struct ts__waiter *waiters;
    struct ts_task *task;
    int64_t deadline;        /* < INT64_MAX: arm task->sleep_timer */
};

static struct ts_chan *chan_of(const struct sel *s, uint32_t i)
{
    return s->cases[i].chan;
}

static void lock_all(struct sel *s)
{
    struct ts_chan *prev = NULL;
    for (uint32_t k = 0; k < s->n; k++) {
        struct ts_chan *ch = chan_of(s, s->lock[k]);
        if (ch != prev)
            ts__lock(&ch->lock);
        prev = ch;
    }
}

static void unlock_all(struct sel *s)
{
    for (uint32_t k = s->n; k-- > 0;) {
        struct ts_chan *ch = chan_of(s, s->lock[k]);
        if (k == 0 || chan_of(s, s->lock[k - 1]) != ch)
            ts__unlock(&ch->lock);
    }
}

/* sort_lock_order: insertion sort for the common small case, else a heap
 * sort (no recursion, no allocation). */
static void sift(struct sel *s, uint32_t *a, uint32_t i, uint32_t n)
{
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && (uintptr_t)chan_of(s, a[c + 1]) > (uintptr_t)chan_of(s, a[c]))
            c++;
        if ((uintptr_t)chan_of(s, a[c]) <= (uintptr_t)chan_of(s, a[i]))
            return;
        uint32_t tmp = a[i];
        a[i] = a[c];
        a[c] = tmp;
        i = c;
    }
}

static void sort_lock_order(struct sel *s)
{
    uint32_t *a = s->lock, n = s->n;
    if (n <= 32) {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t v = a[i], j = i;
            for (; j > 0 && (uintptr_t)chan_of(s, a[j - 1]) > (uintptr_t)chan_of(s, v); j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    for (uint32_t i = n / 2; i-- > 0;)
        sift(s, a, i, n);
    for (uint32_t end = n; end-- > 1;) {
        uint32_t tmp = a[0];
        a[0] = a[end];
        a[end] = tmp;
        sift(s, a, 0, end);
    }
}

/* try_case: pass 1 for one case, all channels locked. Returns 1 if done
 * (channels then unlocked and the partner readied), 0 if not ready. */
static int try_case(struct sel *s, uint32_t i)
{
    ts_select_case_t *c = &s->cases[i];
    struct ts_chan *ch = c->chan;
    struct ts__waiter *w;
    struct ts_task *partner = NULL;
    if (c->dir == TS_SELECT_RECV) {
        if ((w = ts__waitq_dequeue(&ch->sendq))) {
            partner = ts__chan_recv_from(ch, w, c->elem);
            c->ok = true;
        } else if (ch->count > 0) {
            ts__chan_buf_take(ch, c->elem);
            c->ok = true;
        } else if (ch->closed) {
            unlock_all(s);
            ts__race_acquire(&ch->race_close);
            ts__chan_zero(ch, c->elem);
            c->ok = false;
            return 1;
        } else {
            return 0;
        }
    } else {
        if (ch->closed) {
            unlock_all(s);
            ts_panic_code(TS_PANIC_MISUSE, "send on closed channel");
        }
        if ((w = ts__waitq_dequeue(&ch->recvq)))
            partner = ts__chan_send_to(ch, w, c->elem);
        else if (ch->count < ch->cap)
            ts__chan_buf_put(ch, c->elem);
        else
            return 0;
    }
    unlock_all(s);
    if (partner)
        ts__ready(partner);
    return 1;
}

void ts__deadline_fire(struct ts__timer *t, int64_t now)
{
    struct ts_task *task = t->arg;
    uint32_t zero = 0;
    (void)now;
    if (__atomic_compare_exchange_n(&task->select_done, &zero, 1, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        task->param = NULL;
        ts__ready(task);
    }
}

/* park_unlock: runs once the task is off its stack (see protocol step 4). */
static void park_unlock(void *arg)
{
    struct sel *s = arg;
    if (s->deadline != INT64_MAX) {
        ts__timer_init(&s->task->sleep_timer, ts__deadline_fire, s->task);
        ts__timer_arm(&s->task->sleep_timer, s->deadline, 0);
    }
    unlock_all(s);
}

static int block(struct sel *s)
{
    struct ts_task *t = s->task;
    __atomic_store_n(&t->select_done, 0, __ATOMIC_RELAXED);
    t->param = NULL;
    for (uint32_t k = 0; k < s->n; k++) {
        uint32_t i = s->lock[k];
        ts_select_case_t *c = &s->cases[i];
        struct ts__waiter *w = &s->waiters[k];
        *w = (struct ts__waiter){.task = t, .chan = c->chan, .elem = c->elem,
                                 .is_select = true, .case_index = (int)i};
        ts__waitq_enqueue(c->dir == TS_SELECT_RECV ? &c->chan->recvq
                                                    : &c->chan->sendq, w);
        ts__race_release(w);
    }
    ts__park(TS_WAIT_SELECT, s, park_unlock, s);

    if (s->deadline != INT64_MAX)
        ts__timer_disarm(&t->sleep_timer);
    struct ts__waiter *win = t->param;
    lock_all(s);
    for (uint32_t k = 0; k < s->n; k++) {
        struct ts__waiter *w = &s->waiters[k];
        ts__waitq_remove(s->cases[w->case_index].dir == TS_SELECT_RECV
                             ? &w->chan->recvq : &w->chan->sendq, w);
    }
    unlock_all(s);
    if (!win)
        return TS_SELECT_TIMEOUT;
    ts_select_case_t *c = &s->cases[win->case_index];
    ts__race_acquire(win);
    if (c->dir == TS_SELECT_SEND && !win->success)
        ts_panic_code(TS_PANIC_MISUSE, "send on closed channel");
    if (c->dir == TS_SELECT_RECV) {
        c->ok = win->success;
        if (!win->success) {
            ts__race_acquire(&c->chan->race_close);
            ts__chan_zero(c->chan, c->elem);
        }
    }
    return win->case_index;
}

/* wait_no_cases: nothing can ever be ready. */
static int wait_no_cases(int flags, int64_t deadline)
{
    if (flags & TS_SELECT_NONBLOCK)
        return TS_SELECT_DEFAULT;
    if (deadline == INT64_MAX) {
        ts__park(TS_WAIT_SELECT_NO_CASES, NULL, NULL, NULL);
        ts__fatal("taskscope: a task blocked in select with no cases was woken");
    }
    ts_sleep(deadline - ts_now());
    return TS_SELECT_TIMEOUT;
}

static bool valid(const ts_select_case_t *cases, size_t n)
{
    if (n > TS_SELECT_MAX_CASES || (n > 0 && !cases))
        return false;
    for (size_t i = 0; i < n; i++)
        if (cases[i].dir != TS_SELECT_SEND && cases[i].dir != TS_SELECT_RECV)
            return false;
    return true;
}

static int select_run(struct sel *s, int flags)
{
    /* Poll order: Fisher-Yates over the cases that have a channel. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->cases[i].chan)
            continue;
        uint32_t j = (uint32_t)(ts__rand() % (n + 1));
        s->poll[n] = s->poll[j];
        s->poll[j] = i;
        s->lock[n] = i;
        n++;
    }
    s->n = n;
    if (n == 0)
        return wait_no_cases(flags, s->deadline);
    sort_lock_order(s);
    lock_all(s);
    for (uint32_t k = 0; k < n; k++)
        if (try_case(s, s->poll[k]))
            return (int)s->poll[k];
    if (flags & TS_SELECT_NONBLOCK) {
        unlock_all(s);
        return TS_SELECT_DEFAULT;
    }
    if (s->deadline != INT64_MAX && s->deadline <= ts_now()) {
        unlock_all(s);
        return TS_SELECT_TIMEOUT;
    }
    return block(s);
}

/* select_one: a one-case select without a deadline is a plain channel
 * operation, as Go compiles it (blocking: with the channel's wait reason,
 * "chan receive"/"chan send", as in Go). */
static int select_one(ts_select_case_t *c, int flags)
{
    int rc;
    bool nb = flags & TS_SELECT_NONBLOCK;
    if (c->dir == TS_SELECT_SEND)
        rc = nb ? ts_chan_try_send(c->chan, c->elem) : ts_chan_send(c->chan, c->elem);
    else
        rc = nb ? ts_chan_try_recv(c->chan, c->elem, &c->ok)
                : ts_chan_recv(c->chan, c->elem, &c->ok);
    return rc == 0 ? 0 : TS_SELECT_DEFAULT;
}

static int select_impl(ts_select_case_t *cases, size_t n, int flags,
                       int64_t deadline)
{
    if (!valid(cases, n))
        return TS_SELECT_EINVAL;
    if (n == 1 && deadline == INT64_MAX &&
        (cases[0].chan || (flags & TS_SELECT_NONBLOCK))) {
        cases[0].ok = false;
        return select_one(&cases[0], flags);
    }
    for (size_t i = 0; i < n; i++)
        cases[i].ok = false;
    uint32_t poll_s[STACK_CASES], lock_s[STACK_CASES];
    struct ts__waiter waiters_s[STACK_CASES];
    struct sel s = {.cases = cases, .n = (uint32_t)n, .poll = poll_s,
                    .lock = lock_s, .waiters = waiters_s,
                    .task = ts__current(), .deadline = deadline};
    void *heap = NULL;
    if (n > STACK_CASES) {
        heap = malloc(n * (2 * sizeof(uint32_t) + sizeof(struct ts__waiter)));
        if (!heap)
            ts__fatal("taskscope: out of memory for a %zu-case select", n);
        s.waiters = heap;
        s.poll = (uint32_t *)(s.waiters + n);
        s.lock = s.poll + n;
    }
    int r = select_run(&s, flags);
    free(heap);
    return r;
}

int ts_select(ts_select_case_t *cases, size_t n, int flags)
{
    return select_impl(cases, n, flags, INT64_MAX);
}

int ts_select_deadline(ts_select_case_t *cases, size_t n, int flags,
                       int64_t deadline)
{
    if (deadline == INT64_MAX)
        deadline = INT64_MAX - 1;
    return select_impl(cases, n, flags, deadline);
}

/* ts__select_chans: for the leak detector, the channels of the select that
 * task t is parked in (object: its wait object). Reads the parked task's
 * stack: the caller holds t's list lock and validates with t->run_seq.
 * -1 (unknown, so never leaked) when the select has a deadline (its timer
 * will wake it) or its waiters are not on t's stack (a large select keeps
 * them on the heap). */
int ts__select_chans(const struct ts_task *t, const void *object,
                     uintptr_t *out, int max)
{
    const struct sel *s = object;
    uintptr_t lo = (uintptr_t)t->stack.lo, hi = (uintptr_t)t->stack.hi;
    if ((uintptr_t)s < lo || (uintptr_t)(s + 1) > hi)
        return -1;
    if (s->deadline != INT64_MAX)
        return -1;
    uint32_t n = s->n;
    const struct ts__waiter *w = s->waiters;
    if ((int)n > max || (uintptr_t)w < lo || (uintptr_t)(w + n) > hi)
        return -1;
    for (uint32_t k = 0; k < n; k++)
        out[k] = (uintptr_t)w[k].chan;
    return (int)n;
}
