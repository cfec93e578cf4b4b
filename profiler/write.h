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

struct ts__cycles;

/* ts__write_tasks_cycles: the tasks of a snapshot that filter which
 * selects, as Go's dump (debug=2) followed by the wait-for cycles of cy
 * among them (cycles.h), or, with json, as the JSON report named name with
 * a "cycles" array when cy is not NULL; with the writers' symbolizer,
 * under the writer lock. For the reports that choose their tasks
 * themselves (leaks, ts_leakcheck, blocked warnings, the deadlock): they
 * print their own header first. */
void ts__write_tasks_cycles(FILE *f, const struct ts__tasks *ts,
                            enum ts__gfilter which, bool json,
                            const char *name, const struct ts__cycles *cy);

/* ts__write_tasks: ts__write_tasks_cycles with the cycles that
 * ts__leaks_collect found for ts, if it made ts (ts__leaks_take_cycles):
 * once per snapshot; NULL otherwise. */
void ts__write_tasks(FILE *f, const struct ts__tasks *ts,
                     enum ts__gfilter which, bool json, const char *name);

struct ts__symbolizer;

/* ts__write_with_symbolizer: fn(f, sym, arg) with the writers' symbolizer,
 * under the writer lock: for reports built elsewhere (the probe's
 * lock-order and deadlock reports) that print frames with text.h. */
typedef void (*ts__symbolized_fn)(FILE *f, struct ts__symbolizer *sym, void *arg);
void ts__write_with_symbolizer(FILE *f, ts__symbolized_fn fn, void *arg);

#endif
