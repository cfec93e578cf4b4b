/* taskscope — channel internals shared by chan.c, select.c and timer.c.
 *
 * Invariants of a channel (Go's hchan), all under ch->lock:
 *   - at least one of sendq and recvq is empty, except when a single task
 *     blocks in a select both sending to and receiving from this channel;
 *   - buffered (cap > 0): count > 0 implies recvq is empty (a waiting
 *     receiver would have taken the element); count < cap implies sendq is
 *     empty;
 *   - unbuffered: count == 0 always; senders and receivers meet directly;
 *   - closed implies sendq is empty (close woke every sender to panic);
 *   - a waiter with is_select is live only while its task's select_done is
 *     0: whoever CASes it to 1 owns the wakeup, and dequeue skips the rest.
 */
#ifndef TASKSCOPE_RUNTIME_CHAN_INTERNAL_H
#define TASKSCOPE_RUNTIME_CHAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <taskscope/chan.h>

#include "runtime/lock.h"

struct ts_task;

/* A task or thread waiting on one channel (Go's sudog). Lives on the
 * waiter's stack for the length of the operation. */
struct ts__waiter {
    struct ts_task *task;     /* the parked task or thread stand-in */
    struct ts__waiter *next;  /* queue links, guarded by chan->lock */
    struct ts__waiter *prev;
    struct ts_chan *chan;
    void *elem;               /* send: the value; recv: destination/NULL */
    bool is_select;
    bool queued;              /* on chan's queue (chan->lock) */
    bool success;             /* set by the waker: true = value moved,
                                 false = woken by close */
    int case_index;           /* select: index of this case */
};

struct ts__waitq {
    struct ts__waiter *first;
    struct ts__waiter *last;
};

enum { TS__CHAN_TIMER = 1 }; /* len/cap report 0 (Go 1.23 timer chan) */

struct ts_chan {
    ts__lock_t lock;
    uint32_t flags;           /* immutable */
    size_t elem_size;         /* immutable */
    size_t cap;               /* immutable */
    long refs;                /* atomic */
    /* --- guarded by lock */
    size_t count;             /* buffered elements (also read atomically) */
    size_t sendx;
    size_t recvx;
    bool closed;
    struct ts__waitq recvq;
    struct ts__waitq sendq;
    /* --- address used only as a ThreadSanitizer sync object */
    char race_close;
    _Alignas(16) unsigned char buf[];
};

size_t ts__chan_bytes(const struct ts_chan *ch);

/* ts__deadline_fire (select.c): the timer function of a waiter's deadline,
 * armed on its task's sleep_timer with the task as argument. Claims the
 * task's select_done: when the deadline wins, the task is readied with
 * param NULL (no waker); when a waker won first, it does nothing. */
struct ts__timer;
void ts__deadline_fire(struct ts__timer *t, int64_t now);

void ts__waitq_enqueue(struct ts__waitq *q, struct ts__waiter *w);
void ts__waitq_remove(struct ts__waitq *q, struct ts__waiter *w);
struct ts__waiter *ts__waitq_dequeue(struct ts__waitq *q);

/* Operations with ch->lock held; each moves one element. The caller
 * unlocks, then readies the returned task, if any. */
struct ts_task *ts__chan_send_to(struct ts_chan *ch, struct ts__waiter *w,
                                 const void *elem);
struct ts_task *ts__chan_recv_from(struct ts_chan *ch, struct ts__waiter *w,
                                   void *out);
void ts__chan_buf_put(struct ts_chan *ch, const void *elem);
void ts__chan_buf_take(struct ts_chan *ch, void *out);
void ts__chan_zero(struct ts_chan *ch, void *out);
void ts__chan_unlock_cb(void *ch); /* park unlock function */

/* Timer channels (timer.c). */
struct ts_chan *ts__chan_make_timer(void);
bool ts__chan_drain(struct ts_chan *ch); /* true if a value was dropped */

#endif
