/* taskscope — the goroutine-leak detector (Go 1.26's goroutineleak): a
 * task blocked on channels (or on a sync primitive in a malloc'd block of
 * its own) that nothing outside the blocked tasks can still reach is
 * leaked. */
#ifndef TASKSCOPE_PROFILER_LEAKS_H
#define TASKSCOPE_PROFILER_LEAKS_H

#include <stdbool.h>

struct ts__cycles;
struct ts__tasks;

/* ts__leaks_collect: a task snapshot (as ts__tasks_collect) with leaked set
 * on the leaked tasks; returns 0 or an errno (ENOMEM, or the scanner's).
 * Runs the scan on the profiler's scanner thread and waits for it. */
int ts__leaks_collect(struct ts__tasks *ts);

/* ts__leaks_take_cycles: the wait-for cycles (cycles.h) among the leaked
 * tasks of ts, found by the ts__leaks_collect call that filled ts, handed
 * over to the caller (free with ts__cycles_free); NULL when ts came from
 * elsewhere, when they were taken already or replaced by a later call's
 * (only the last call's are kept), or when the search ran out of memory. */
struct ts__cycles *ts__leaks_take_cycles(const struct ts__tasks *ts);

/* ts__leaks_cycles_now: run the detector and take its cycles (NULL when
 * it fails), for reports whose own snapshot did not come from it. */
struct ts__cycles *ts__leaks_cycles_now(void);

/* ts__leaks_deadlock_cycles: the same for the global deadlock report,
 * when no task can run again: tasks waiting on sync primitives count as
 * stuck wherever the primitive lives (leaks.c, detect). */
struct ts__cycles *ts__leaks_deadlock_cycles(void);

/* ts__leaks_scrub: forget the wait objects and channel addresses of a
 * snapshot (made by ts__tasks_collect_private with private memory), so
 * that a leak scan run while it is alive does not see them as references.
 * For reports that keep a snapshot of their own across a scan. */
void ts__leaks_scrub(struct ts__tasks *ts);

/* ts__leaks_scrub_stack: zero the 8 KiB of stack below the caller's
 * frame, where the walk of a snapshot just taken left copies of channel
 * addresses in dead frames; the frames of a later wait for a leak scan
 * (live, so scanned) could otherwise keep them. */
void ts__leaks_scrub_stack(void);

/* ts__leaks_count: tasks marked leaked in ts. */
int ts__leaks_count(const struct ts__tasks *ts);

#endif
