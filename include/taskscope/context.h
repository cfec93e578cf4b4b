/* taskscope — contexts: Go's context package (cancellation, deadlines and
 * request-scoped values carried across task boundaries).
 *
 * A context is a node in a tree rooted at ts_ctx_background(). A child made
 * by ts_ctx_with_cancel / _with_timeout / _with_deadline can be cancelled;
 * cancelling it cancels every descendant too, and a child of an already
 * cancelled parent is born cancelled. ts_ctx_with_value adds a key/value
 * pair that ts_ctx_value finds from any descendant. All calls are safe from
 * any task or plain thread, concurrently.
 *
 * Go                                   taskscope
 *   context.Background(), TODO()        ts_ctx_background(), ts_ctx_todo()
 *   WithCancel, WithCancelCause         ts_ctx_with_cancel
 *   WithTimeout, WithDeadline           ts_ctx_with_timeout, _with_deadline
 *   WithValue, ctx.Value(key)           ts_ctx_with_value, ts_ctx_value
 *   <-ctx.Done()                        TS_RECV_CASE(ts_ctx_done(ctx), NULL)
 *   ctx.Err(), context.Cause(ctx)       ts_ctx_err, ts_ctx_cause
 *   ctx.Deadline()                      ts_ctx_deadline
 *   cancel(), cancel(cause)             ts_cancel, ts_cancel_cause
 *   context.Canceled                    ECANCELED
 *   context.DeadlineExceeded            ETIMEDOUT
 *
 * Memory (C has no GC): contexts are reference counted, and a child holds a
 * reference to its parent, so a context lives as long as any descendant.
 *   - ts_ctx_with_cancel/_timeout/_deadline hand the creator one reference
 *     held by *cancel: ts_cancel(*cancel) cancels the context AND drops that
 *     reference. So the Go pattern
 *         ts_ctx_t *ctx = ts_ctx_with_timeout(parent, d, &cancel);
 *         ... use ctx ...
 *         ts_cancel(cancel);      (Go: defer cancel())
 *     frees everything. After ts_cancel the creator must not touch ctx or
 *     cancel again unless it holds another reference. Always call ts_cancel
 *     (go vet's lostcancel): until then the context stays registered in its
 *     parent.
 *   - ts_ctx_with_value hands the caller one reference: ts_ctx_release it.
 *   - Anyone else who may use a context after its creator is done with it
 *     (a task it starts, a second caller of ts_cancel) holds its own
 *     reference: ts_ctx_retain before handing it over, ts_ctx_release when
 *     done. The done channel belongs to the context: never release it.
 *   - ts_ctx_background() and ts_ctx_todo() are static: retain and release
 *     ignore them.
 *
 * Memory model (as Go's, and announced to ThreadSanitizer in the tsan
 * build): a cancellation happens before every receive that returns because
 * ts_ctx_done(ctx) is closed, and before ts_ctx_err / ts_ctx_cause return its
 * non-zero error. */
#ifndef TASKSCOPE_CONTEXT_H
#define TASKSCOPE_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <taskscope/chan.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

/* A context (Go's context.Context). */
typedef struct ts_ctx ts_ctx_t;
/* The right to cancel one context (Go's CancelFunc); holds the creator's
 * reference to it. */
typedef struct ts_cancel ts_cancel_t;

/* ts_ctx_background: the root context: never cancelled, no deadline, no
 * values; never freed. ts_ctx_todo: the same, for code that has no context
 * to pass yet (Go's TODO). */
TS_EXPORT ts_ctx_t *ts_ctx_background(void);
TS_EXPORT ts_ctx_t *ts_ctx_todo(void);

/* ts_ctx_with_cancel: a child of parent, cancelled by ts_cancel(*cancel) or
 * when parent is. Returns it and sets *cancel (one reference, see Memory);
 * NULL and *cancel = NULL when out of memory. Panics (misuse) if parent or
 * cancel is NULL, as Go panics on a nil parent. */
TS_EXPORT ts_ctx_t *ts_ctx_with_cancel(ts_ctx_t *parent, ts_cancel_t **cancel);

/* ts_ctx_with_deadline: as ts_ctx_with_cancel, and also cancelled with
 * ETIMEDOUT at deadline (a ts_now() instant; already past: born cancelled
 * with ETIMEDOUT). A parent's earlier deadline wins (Go's rule): then no
 * timer is made and ts_ctx_deadline reports the parent's. The timer is
 * stopped and freed with the context. */
TS_EXPORT ts_ctx_t *ts_ctx_with_deadline(ts_ctx_t *parent, int64_t deadline,
                                         ts_cancel_t **cancel);

/* ts_ctx_with_timeout: ts_ctx_with_deadline(parent, ts_now() + d, cancel). */
TS_EXPORT ts_ctx_t *ts_ctx_with_timeout(ts_ctx_t *parent, int64_t d,
                                        ts_cancel_t **cancel);

/* ts_ctx_with_value: a child of parent carrying val under key (compared by
 * address; use the address of a static object of your own, as Go advises
 * an unexported key type). Done, err and deadline are the parent's. One
 * reference for the caller (ts_ctx_release); NULL when out of memory. Panics
 * (misuse) if parent or key is NULL. */
TS_EXPORT ts_ctx_t *ts_ctx_with_value(ts_ctx_t *parent, const void *key,
                                      void *val);

/* ts_ctx_value: the value of the nearest context from ctx up to the root
 * that carries key; NULL if none. */
TS_EXPORT void *ts_ctx_value(ts_ctx_t *ctx, const void *key);

/* ts_ctx_done: a channel (element size 0) closed when ctx is cancelled, for
 * TS_RECV_CASE in ts_select; NULL for a context that can never be cancelled
 * (background and its value children): a NULL case is never ready, like
 * Go's nil Done channel. Owned by the context. */
TS_EXPORT ts_chan_t *ts_ctx_done(ts_ctx_t *ctx);

/* ts_ctx_err: 0 while ctx is not cancelled, then ECANCELED (ts_cancel, or
 * an ancestor's ts_cancel) or ETIMEDOUT (a deadline passed). */
TS_EXPORT int ts_ctx_err(ts_ctx_t *ctx);

/* ts_ctx_cause: 0 while not cancelled, then the cause given to
 * ts_cancel_cause (by ctx's own cancel or the ancestor's that cancelled
 * it), or else the same code as ts_ctx_err (Go's context.Cause). */
TS_EXPORT int ts_ctx_cause(ts_ctx_t *ctx);

/* ts_ctx_deadline: true and *out (may be NULL) = the instant ctx will be
 * cancelled with ETIMEDOUT, if it has a deadline; false otherwise. */
TS_EXPORT bool ts_ctx_deadline(ts_ctx_t *ctx, int64_t *out);

/* ts_cancel: cancel the context (ECANCELED) and all its descendants, stop
 * its timer, take it out of its parent, and drop the creator's reference
 * (which may free it). Only the first call cancels and drops; calling again
 * is a no-op as long as the context is still alive (a second caller keeps
 * it alive with its own reference). NULL is a no-op. */
TS_EXPORT void ts_cancel(ts_cancel_t *cancel);

/* ts_cancel_cause: ts_cancel, recording cause (a positive code) for
 * ts_ctx_cause; 0 means "no cause": the error itself (Go's
 * WithCancelCause). */
TS_EXPORT void ts_cancel_cause(ts_cancel_t *cancel, int cause);

/* ts_ctx_retain: add a reference; returns ctx. ts_ctx_release: drop one;
 * the last one frees the context, its done channel and its timer, and drops
 * its reference to the parent. Both accept NULL. */
TS_EXPORT ts_ctx_t *ts_ctx_retain(ts_ctx_t *ctx);
TS_EXPORT void ts_ctx_release(ts_ctx_t *ctx);

TS_END_DECLS

#endif
