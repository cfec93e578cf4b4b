/* taskscope — tasks: lightweight threads on an M:N work-stealing scheduler.
 *
 * A task is Go's goroutine: a function with its own small stack, scheduled
 * cooperatively on TASKSCOPE_PROCS worker threads (default: the number of
 * CPUs). A task runs until it blocks (channel, select, sleep, sync), yields or
 * returns. The runtime starts by itself on the first call from any thread.
 *
 * Environment:
 *   TASKSCOPE_PROCS=N   number of Ps (worker threads), 1..256
 *   TASKSCOPE_STACK=N   task stack size in bytes (suffix k/m allowed),
 *                       default 256k virtual; only touched pages cost memory
 */
#ifndef TASKSCOPE_TASK_H
#define TASKSCOPE_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

/* ts_run: run main_fn(arg) as the main task and return its result.
 *
 * The calling thread waits (it does not become a worker) until main_fn
 * returns. Like Go's main, ts_run does not wait for the other tasks: those
 * still running or blocked stay where they are. May be called more than once
 * and from several threads; each call runs its own main task. */
TS_EXPORT int ts_run(int (*main_fn)(void *arg), void *arg);

/* ts_go: start fn(arg) in a new task; returns its id (ids start at 1 and are
 * never reused), or 0 when no stack could be allocated (out of memory).
 * Callable from tasks and from plain threads. */
TS_EXPORT uint64_t ts_go(void (*fn)(void *arg), void *arg);

/* ts_yield: let other runnable tasks run; the caller stays runnable. From a
 * plain thread it is sched_yield(). */
TS_EXPORT void ts_yield(void);

/* ts_self: id of the calling task, 0 when called from a plain thread. */
TS_EXPORT uint64_t ts_self(void);

/* ts_procs: number of Ps (worker threads) the runtime runs. */
TS_EXPORT int ts_procs(void);

/* ts_num_tasks: tasks that exist now (created and not yet returned), like
 * runtime.NumGoroutine. */
TS_EXPORT int64_t ts_num_tasks(void);

TS_END_DECLS

#endif
