/* taskscope — the profile writers behind ts_profile_write: one table of
 * profile names, each with its pprof builder and its text and JSON forms;
 * one lock serializing every writer; one symbolizer shared by them. */
#ifndef TASKSCOPE_PROFILER_WRITE_H
#define TASKSCOPE_PROFILER_WRITE_H

#include <stdbool.h>
#include <stdio.h>

/* ts__write_report: name's report on f: debug 0 is not allowed here (pprof
 * goes to an fd); debug 1/2 text; json true for JSON. 0, EINVAL (unknown
 * name) or ENOMEM. Takes the writer lock. */
int ts__write_report(FILE *f, const char *name, int debug, bool json);

/* ts__profile_known: whether name is a profile ts_profile_write knows. */
bool ts__profile_known(const char *name);

#include "profiler/goroutine.h"

struct ts__tasks;

/* ts__write_tasks: the tasks of a snapshot that filter which selects, as
 * Go's dump (debug=2) or, with json, as the JSON report named name; with
 * the writers' symbolizer, under the writer lock. For the reports that
 * choose their tasks themselves (leaks, ts_leakcheck, blocked warnings, the
 * deadlock): they print their own header first. */
void ts__write_tasks(FILE *f, const struct ts__tasks *ts,
                     enum ts__gfilter which, bool json, const char *name);

#endif
