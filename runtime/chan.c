/* taskscope — channels: Go's hchan in C.
 *
 * One lock per channel guards its buffer and both wait queues
 * (chan_internal.h lists the invariants). Every operation reads top to
 * bottom: fast checks, lock, hand off to a waiting partner, else use the
 * buffer, else park on a queue; the waker copies the element directly
 * between the two parties' memory (the parked side's stack stays valid
 * while it is parked), so a blocked handoff costs one copy.
 *
 * ThreadSanitizer edges (race.h), Go's memory model:
 *   - buffered: both sides acquire then release the slot's address, which
 *     gives send k -> receive k and receive k -> send k+cap;
 *   - direct handoff: the parked side releases its own waiter record before
 *     parking and acquires it after waking; the active side acquires then
 *     releases that record. Both directions, as Go's memory model gives an
 *     unbuffered channel, and per operation: a per-channel address would
 *     also hand the woken side whatever the partner did after the handoff;
 *   - close releases race_close; a receive that reports closed acquires it.
 */
#include <stdlib.h>
#include <string.h>
#include <taskscope/chan.h>
#include <taskscope/panic.h>

#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

/* ------------------------------------------------------------------------
 * Wait queues (ch->lock held). */

void ts__waitq_enqueue(struct ts__waitq *q, struct ts__waiter *w)
{
    w->next = NULL;
    w->prev = q->last;
    if (q->last)
        q->last->next = w;
    else
        q->first = w;
    q->last = w;
    w->queued = true;
}

void ts__waitq_remove(struct ts__waitq *q, struct ts__waiter *w)
{
    if (!w->queued)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->first = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->last = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

/* ts__waitq_dequeue: first waiter that can still be woken; select waiters
 * whose select already completed elsewhere are dropped on the way. */
struct ts__waiter *ts__waitq_dequeue(struct ts__waitq *q)
{
    for (;;) {
        struct ts__waiter *w = q->first;
        if (!w)
            return NULL;
        ts__waitq_remove(q, w);
        if (!w->is_select)
            return w;
        uint32_t zero = 0;
        if (__atomic_compare_exchange_n(&w->task->select_done, &zero, 1, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return w;
    }
}

/* ------------------------------------------------------------------------
 * Element moves (ch->lock held). */

static void *slot(struct ts_chan *ch, size_t i)
{
    return ch->buf + i * ch->elem_size;
}

static void copy_elem(struct ts_chan *ch, void *dst, const void *src)
{
    if (dst && ch->elem_size)
        memcpy(dst, src, ch->elem_size);
}

void ts__chan_zero(struct ts_chan *ch, void *out)
{
    if (out && ch->elem_size)
        memset(out, 0, ch->elem_size);
}

static void set_count(struct ts_chan *ch, size_t n)
{
    __atomic_store_n(&ch->count, n, __ATOMIC_RELAXED);
}

void ts__chan_buf_put(struct ts_chan *ch, const void *elem)
{
    void *s = slot(ch, ch->sendx);
    ts__race_acquire(s);
    copy_elem(ch, s, elem);
    ts__race_release(s);
    if (++ch->sendx == ch->cap)
        ch->sendx = 0;
    set_count(ch, ch->count + 1);
}

void ts__chan_buf_take(struct ts_chan *ch, void *out)
{
    void *s = slot(ch, ch->recvx);
    ts__race_acquire(s);
    copy_elem(ch, out, s);
    ts__race_release(s);
    if (++ch->recvx == ch->cap)
        ch->recvx = 0;
    set_count(ch, ch->count - 1);
}

/* ts__chan_send_to: give elem to the parked receiver w. */
struct ts_task *ts__chan_send_to(struct ts_chan *ch, struct ts__waiter *w,
                                 const void *elem)
{
    ts__race_acquire(w);
    copy_elem(ch, w->elem, elem);
    ts__race_release(w);
    w->success = true;
    w->task->param = w;
    return w->task;
}

/* ts__chan_recv_from: take a value from the parked sender w. Unbuffered:
 * straight from w. Buffered (then full): take the head of the buffer and
 * put w's value at its tail, keeping FIFO order. */
struct ts_task *ts__chan_recv_from(struct ts_chan *ch, struct ts__waiter *w,
                                   void *out)
{
    ts__race_acquire(w);
    if (ch->cap == 0) {
        copy_elem(ch, out, w->elem);
    } else {
        void *s = slot(ch, ch->recvx);
        ts__race_acquire(s);
        copy_elem(ch, out, s);
        copy_elem(ch, s, w->elem);
        ts__race_release(s);
        if (++ch->recvx == ch->cap)
            ch->recvx = 0;
        ch->sendx = ch->recvx;
    }
    ts__race_release(w);
    w->success = true;
    w->task->param = w;
    return w->task;
}

void ts__chan_unlock_cb(void *ch)
{
    ts__unlock(&((struct ts_chan *)ch)->lock);
}

/* ------------------------------------------------------------------------
 * Public operations. */

ts_chan_t *ts_chan_make(size_t elem_size, size_t cap)
{
    if (elem_size > TS_CHAN_MAX_ELEM)
        return NULL;
    if (elem_size && cap > (SIZE_MAX - sizeof(struct ts_chan)) / elem_size)
        return NULL;
    struct ts_chan *ch = calloc(1, sizeof *ch + elem_size * cap);
    if (!ch)
        return NULL;
    ch->elem_size = elem_size;
    ch->cap = cap;
    ch->refs = 1;
    return ch;
}

/* block_forever: Go's operations on a nil channel. */
static TS_NORETURN void block_forever(int reason)
{
    ts__park(reason, NULL, NULL, NULL);
    ts__fatal("taskscope: a task blocked on a nil channel was woken");
}

static int chan_send(struct ts_chan *ch, const void *elem, bool block)
{
    if (!ch) {
        if (!block)
            return TS_EWOULDBLOCK;
        block_forever(TS_WAIT_CHAN_SEND_NIL);
    }
    ts__lock(&ch->lock);
    if (ch->closed) {
        ts__unlock(&ch->lock);
        ts_panic_code(TS_PANIC_MISUSE, "send on closed channel");
    }
    struct ts__waiter *w = ts__waitq_dequeue(&ch->recvq);
    if (w) {
        struct ts_task *t = ts__chan_send_to(ch, w, elem);
        ts__unlock(&ch->lock);
        ts__ready(t);
        return 0;
    }
    if (ch->count < ch->cap) {
        ts__chan_buf_put(ch, elem);
        ts__unlock(&ch->lock);
        return 0;
    }
    if (!block) {
        ts__unlock(&ch->lock);
        return TS_EWOULDBLOCK;
    }
    struct ts__waiter me = {.task = ts__current(), .chan = ch,
                            .elem = (void *)elem};
    ts__waitq_enqueue(&ch->sendq, &me);
    ts__race_release(&me);
    ts__park(TS_WAIT_CHAN_SEND, ch, ts__chan_unlock_cb, ch);
    ts__race_acquire(&me);
    if (!me.success)
        ts_panic_code(TS_PANIC_MISUSE, "send on closed channel");
    return 0;
}

static int chan_recv(struct ts_chan *ch, void *out, bool *ok, bool block)
{
    bool got = false;
    if (!ch) {
        if (!block)
            return TS_EWOULDBLOCK;
        block_forever(TS_WAIT_CHAN_RECV_NIL);
    }
    ts__lock(&ch->lock);
    struct ts__waiter *w;
    if (ch->closed && ch->count == 0) {
        ts__unlock(&ch->lock);
        ts__race_acquire(&ch->race_close);
        ts__chan_zero(ch, out);
    } else if ((w = ts__waitq_dequeue(&ch->sendq))) {
        struct ts_task *t = ts__chan_recv_from(ch, w, out);
        ts__unlock(&ch->lock);
        ts__ready(t);
        got = true;
    } else if (ch->count > 0) {
        ts__chan_buf_take(ch, out);
        ts__unlock(&ch->lock);
        got = true;
    } else if (!block) {
        ts__unlock(&ch->lock);
        return TS_EWOULDBLOCK;
    } else {
        struct ts__waiter me = {.task = ts__current(), .chan = ch, .elem = out};
        ts__waitq_enqueue(&ch->recvq, &me);
        ts__race_release(&me);
        ts__park(TS_WAIT_CHAN_RECV, ch, ts__chan_unlock_cb, ch);
        ts__race_acquire(&me);
        got = me.success;
        if (!got) {
            ts__race_acquire(&ch->race_close);
            ts__chan_zero(ch, out);
        }
    }
    if (ok)
        *ok = got;
    return 0;
}

int ts_chan_send(ts_chan_t *ch, const void *elem) { return chan_send(ch, elem, true); }
int ts_chan_try_send(ts_chan_t *ch, const void *elem) { return chan_send(ch, elem, false); }
int ts_chan_recv(ts_chan_t *ch, void *out, bool *ok) { return chan_recv(ch, out, ok, true); }
int ts_chan_try_recv(ts_chan_t *ch, void *out, bool *ok) { return chan_recv(ch, out, ok, false); }

void ts_chan_close(ts_chan_t *ch)
{
    if (!ch)
        ts_panic_code(TS_PANIC_MISUSE, "close of nil channel");
    ts__lock(&ch->lock);
    if (ch->closed) {
        ts__unlock(&ch->lock);
        ts_panic_code(TS_PANIC_MISUSE, "close of closed channel");
    }
    ch->closed = true;
    ts__race_release(&ch->race_close);
    /* Collect every waiter (the list reuses their links), then wake them
     * after unlocking. A woken task may return at once and its waiter
     * vanish: read the link before readying. */
    struct ts__waiter *list = NULL, *w;
    while ((w = ts__waitq_dequeue(&ch->recvq)) || (w = ts__waitq_dequeue(&ch->sendq))) {
        w->success = false;
        w->task->param = w;
        w->next = list;
        list = w;
    }
    ts__unlock(&ch->lock);
    while (list) {
        w = list;
        list = w->next;
        ts__ready(w->task);
    }
}

size_t ts_chan_len(ts_chan_t *ch)
{
    if (!ch || ch->flags & TS__CHAN_TIMER)
        return 0;
    return __atomic_load_n(&ch->count, __ATOMIC_RELAXED);
}

size_t ts_chan_cap(ts_chan_t *ch)
{
    if (!ch || ch->flags & TS__CHAN_TIMER)
        return 0;
    return ch->cap;
}

size_t ts_chan_elem_size(ts_chan_t *ch)
{
    return ch ? ch->elem_size : 0;
}

ts_chan_t *ts_chan_retain(ts_chan_t *ch)
{
    if (ch)
        __atomic_add_fetch(&ch->refs, 1, __ATOMIC_RELAXED);
    return ch;
}

void ts_chan_release(ts_chan_t *ch)
{
    if (!ch)
        return;
    ts__race_release(&ch->refs); /* every owner's use happens before free */
    if (__atomic_sub_fetch(&ch->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        ts__race_acquire(&ch->refs);
        free(ch);
    }
}

/* ------------------------------------------------------------------------
 * Timer channels: one int64 slot; len and cap read 0. */

struct ts_chan *ts__chan_make_timer(void)
{
    struct ts_chan *ch = ts_chan_make(sizeof(int64_t), 1);
    if (ch)
        ch->flags = TS__CHAN_TIMER;
    return ch;
}

bool ts__chan_drain(struct ts_chan *ch)
{
    /* Only the timer's fire fills its channel, under the timer lock our
     * caller holds: an empty channel stays empty, no need to lock it. */
    if (__atomic_load_n(&ch->count, __ATOMIC_RELAXED) == 0)
        return false;
    bool dropped = false;
    ts__lock(&ch->lock);
    if (ch->count > 0) {
        ts__chan_buf_take(ch, NULL);
        dropped = true;
    }
    ts__unlock(&ch->lock);
    return dropped;
}

/* ts__chan_bytes: the size of ch's allocation (struct and buffer), for the
 * leak detector's reachability targets. */
size_t ts__chan_bytes(const struct ts_chan *ch)
{
    return sizeof *ch + ch->elem_size * ch->cap;
}
