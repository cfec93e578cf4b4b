/* taskscope — the goroutine-leak detector (Go 1.26's goroutineleak): a
 * task blocked on channels that nothing outside the blocked tasks can
 * still reach is leaked. */
#ifndef TASKSCOPE_PROFILER_LEAKS_H
#define TASKSCOPE_PROFILER_LEAKS_H

#include <stdbool.h>

struct ts__tasks;

/* ts__leaks_collect: a task snapshot (as ts__tasks_collect) with leaked set
 * on the leaked tasks; returns 0 or an errno (ENOMEM, or the scanner's).
 * Runs the scan on the profiler's scanner thread and waits for it. */
int ts__leaks_collect(struct ts__tasks *ts);

/* ts__leaks_count: tasks marked leaked in ts. */
int ts__leaks_count(const struct ts__tasks *ts);

#endif
