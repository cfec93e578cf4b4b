/* taskscope — errgroup: golang.org/x/sync/errgroup.
 *
 * A group runs tasks that each return 0 or an error code, waits for all of
 * them, and keeps the first error. A group made with
 * ts_errgroup_with_context also owns a context, cancelled (with the error
 * as its cause) by the first task that fails, and in any case when
 * ts_errgroup_wait returns; its tasks select on ts_ctx_done(ctx) to stop
 * early.
 *
 * Go                                        taskscope
 *   var g errgroup.Group                      g = ts_errgroup_new()
 *   g, ctx := errgroup.WithContext(parent)    g = ts_errgroup_with_context(parent, &ctx)
 *   g.Go(func() error {...})                  ts_errgroup_go(g, fn, arg)
 *   g.TryGo(f)                                ts_errgroup_try_go(g, fn, arg)
 *   g.SetLimit(n)                             ts_errgroup_set_limit(g, n)
 *   err := g.Wait()                           err = ts_errgroup_wait(g)
 *   (garbage collector)                       ts_errgroup_free(g)
 *
 * Panics: as in golang.org/x/sync today (the 2025 propagation of panics
 * through Wait was reverted, golang/go#53757), a panic in fn is not
 * recovered: it ends the program with Go's report. Recover inside fn
 * (ts_pcall) to turn a panic into an error.
 *
 * Memory: the group is the caller's from new/with_context until
 * ts_errgroup_free, which must come after the last ts_errgroup_wait
 * returned (or when no task was ever started). The context given by
 * with_context belongs to the group: valid until ts_errgroup_free;
 * ts_ctx_retain it to keep it longer (a task started outside the group,
 * say). fn's arg stays the caller's.
 *
 * Memory model (as Go's): a call to ts_errgroup_go happens before its fn
 * starts; every fn's return happens before ts_errgroup_wait returns. */
#ifndef TASKSCOPE_ERRGROUP_H
#define TASKSCOPE_ERRGROUP_H

#include <stdbool.h>
#include <taskscope/context.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

typedef struct ts_errgroup ts_errgroup_t;

/* ts_errgroup_new: an empty group, no context, no limit (Go's zero
 * Group). NULL when out of memory. */
TS_EXPORT ts_errgroup_t *ts_errgroup_new(void);

/* ts_errgroup_with_context: an empty group and, in *ctx, a new child of
 * parent cancelled by the first failing task (ts_ctx_err: ECANCELED,
 * ts_ctx_cause: the task's error) or when ts_errgroup_wait returns. NULL
 * and *ctx = NULL when out of memory. Panics (misuse) on a NULL parent,
 * as ts_ctx_with_cancel does. */
TS_EXPORT ts_errgroup_t *ts_errgroup_with_context(ts_ctx_t *parent,
                                                  ts_ctx_t **ctx);

/* ts_errgroup_go: run fn(arg) in a new task of the group. With a limit,
 * first blocks (wait reason "semacquire") until fewer than the limit of
 * the group's tasks are active. fn returns 0 or an error code; the first
 * non-zero one is kept and cancels the group's context. Returns 0, or
 * ENOMEM (nothing started). */
TS_EXPORT int ts_errgroup_go(ts_errgroup_t *g, int (*fn)(void *arg),
                             void *arg);

/* ts_errgroup_try_go: ts_errgroup_go if it would not block: false, with
 * nothing started, when the limit is reached (or out of memory). */
TS_EXPORT bool ts_errgroup_try_go(ts_errgroup_t *g, int (*fn)(void *arg),
                                  void *arg);

/* ts_errgroup_set_limit: at most n of the group's tasks active at once;
 * n < 0 removes the limit (always allowed), n == 0 makes ts_errgroup_go
 * block forever (as in Go). Setting a limit n >= 0 while tasks started
 * under a limit are still running panics (misuse) with Go's "errgroup:
 * modify limit while N goroutines in the group are still active" (Go
 * would not panic when that limit had been removed in between). Not safe
 * concurrently with go or try_go on the same group. */
TS_EXPORT void ts_errgroup_set_limit(ts_errgroup_t *g, int n);

/* ts_errgroup_wait: block until every task of the group has returned, then
 * cancel the group's context (if any) and return the first error, or 0.
 * May be called again (after more ts_errgroup_go calls, say). */
TS_EXPORT int ts_errgroup_wait(ts_errgroup_t *g);

/* ts_errgroup_free: cancel the group's context if wait did not, release
 * it, and free the group. No task of the group may still be running.
 * NULL is a no-op. */
TS_EXPORT void ts_errgroup_free(ts_errgroup_t *g);

TS_END_DECLS

#endif
