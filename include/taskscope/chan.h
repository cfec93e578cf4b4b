/* taskscope — channels: Go's typed, optionally buffered FIFO pipes.
 *
 * A channel carries fixed-size elements (elem_size bytes, 0 allowed for pure
 * signalling) and holds up to cap of them (0: unbuffered, a send waits for a
 * receiver). Semantics are Go's:
 *   - a NULL channel is Go's nil channel: send and receive block forever,
 *     try_* report EAGAIN-like TS_EWOULDBLOCK, close panics;
 *   - receive on a closed channel drains the buffer first, then returns at
 *     once with ok == false and a zeroed element;
 *   - send on a closed channel, close of a closed channel and close of a NULL
 *     channel panic (ts_panic) with Go's messages.
 * All calls work from tasks (the task parks) and from plain threads (the
 * thread sleeps on a futex).
 *
 * Memory: ts_chan_make returns one reference; ts_chan_retain adds one,
 * ts_chan_release drops one and frees the channel at zero. Release only when
 * no task is blocked on the channel.
 *
 * Memory model (as Go's, and announced to ThreadSanitizer in the tsan build):
 * a send happens before the matching receive completes; a close happens
 * before a receive that returns because the channel is closed; the k-th
 * receive on a channel of capacity C happens before the (k+C)-th send
 * completes. */
#ifndef TASKSCOPE_CHAN_H
#define TASKSCOPE_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <taskscope/error.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

typedef struct ts_chan ts_chan_t;

/* Largest element a channel carries by value. */
#define TS_CHAN_MAX_ELEM 65536

/* ts_chan_make: a channel of cap elements of elem_size bytes. NULL when
 * elem_size > TS_CHAN_MAX_ELEM, elem_size * cap overflows, or out of memory.
 * With elem_size 0 any cap is fine (no buffer memory) and element pointers
 * given to send/recv may be NULL. */
TS_EXPORT ts_chan_t *ts_chan_make(size_t elem_size, size_t cap);

/* ts_chan_send: copy elem_size bytes from elem into the channel, blocking
 * until a receiver takes it or buffer space frees up. Returns 0. Panics if
 * the channel is closed (also when it closes while the sender waits). */
TS_EXPORT int ts_chan_send(ts_chan_t *ch, const void *elem);

/* ts_chan_recv: receive one element into out (may be NULL to discard),
 * blocking until one is available or the channel is closed and drained.
 * *ok (may be NULL) is true for a real value, false when closed (then out is
 * zero-filled). Returns 0. */
TS_EXPORT int ts_chan_recv(ts_chan_t *ch, void *out, bool *ok);

/* ts_chan_try_send: send without blocking. 0 if sent, TS_EWOULDBLOCK if no
 * receiver waits and the buffer is full. Panics if closed. */
TS_EXPORT int ts_chan_try_send(ts_chan_t *ch, const void *elem);

/* ts_chan_try_recv: receive without blocking. 0 with *ok as for recv (a
 * closed, drained channel gives 0 and *ok == false), TS_EWOULDBLOCK if
 * nothing is available. */
TS_EXPORT int ts_chan_try_recv(ts_chan_t *ch, void *out, bool *ok);

/* ts_chan_close: close the channel; blocked receivers get ok == false,
 * blocked senders panic. Panics on a closed or NULL channel. */
TS_EXPORT void ts_chan_close(ts_chan_t *ch);

/* ts_chan_len / ts_chan_cap: buffered elements and capacity (0 for NULL). */
TS_EXPORT size_t ts_chan_len(ts_chan_t *ch);
TS_EXPORT size_t ts_chan_cap(ts_chan_t *ch);

/* ts_chan_elem_size: the element size given to ts_chan_make (0 for NULL). */
TS_EXPORT size_t ts_chan_elem_size(ts_chan_t *ch);

/* ts_chan_retain: add a reference; returns ch. ts_chan_release: drop one and
 * free at zero. Both accept NULL. */
TS_EXPORT ts_chan_t *ts_chan_retain(ts_chan_t *ch);
TS_EXPORT void ts_chan_release(ts_chan_t *ch);

TS_END_DECLS

#endif
