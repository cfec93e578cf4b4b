/* taskscope — the global deadlock detector: when every task is parked and
 * nothing that could wake one is left, print Go's fatal error with the
 * goroutine dump and exit 2. */
#ifndef TASKSCOPE_PROFILER_DEADLOCK_H
#define TASKSCOPE_PROFILER_DEADLOCK_H

#include <stdbool.h>
#include <stdio.h>

struct ts__quiet;

/* ts__deadlock_check: called by sysmon each time it finds the scheduler
 * quiet (runtime/sched.h). Reports, and ends the process, only when the
 * quiet state held on two consecutive calls with no task run in between,
 * every live task is waiting, and every thread of the process is one the
 * runtime knows cannot wake a task. TASKSCOPE_DEADLOCK=0 turns it off. */
void ts__deadlock_check(const struct ts__quiet *q);

/* ts__leaks_out: where `taskscope leaks` wants problem reports
 * (TASKSCOPE_LEAKS_OUT), opened for appending, or NULL; *json tells the
 * format it asked for (TASKSCOPE_LEAKS_FORMAT=json). */
FILE *ts__leaks_out(bool *json);

#endif
