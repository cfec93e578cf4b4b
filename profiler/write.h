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

struct ts__tasks;

/* ts__leaks_report: the leaked tasks of ts (leaks.h) as a text dump with a
 * one-line header, or as JSON. Takes the writer lock. */
void ts__leaks_report(FILE *f, const struct ts__tasks *ts, bool json);

#endif
