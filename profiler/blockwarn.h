/* taskscope — TASKSCOPE_BLOCKED_WARN=<duration>: report, once per wait, each
 * task blocked longer than that, with its stack, on stderr. */
#ifndef TASKSCOPE_PROFILER_BLOCKWARN_H
#define TASKSCOPE_PROFILER_BLOCKWARN_H

#include <stdint.h>

/* ts__parse_duration: Go's duration syntax for one term ("10s", "250ms",
 * "1.5m", "2h", "800us", "5ns"); -1 when s is not one. */
int64_t ts__parse_duration(const char *s);

/* ts__blockwarn_init: read TASKSCOPE_BLOCKED_WARN (a bad value is
 * reported on stderr and ignored). Once, at profiler start. */
void ts__blockwarn_init(void);

/* ts__blockwarn_poll: called by the drain thread on each pass; checks at
 * most every quarter of the threshold (and at least every second). */
void ts__blockwarn_poll(void);

#endif
