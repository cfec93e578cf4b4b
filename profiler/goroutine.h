/* taskscope — the goroutine and goroutineleak profiles: pprof, Go's legacy
 * text (debug=1) and Go's goroutine dump (debug=2), from a task snapshot. */
#ifndef TASKSCOPE_PROFILER_GOROUTINE_H
#define TASKSCOPE_PROFILER_GOROUTINE_H

#include <stdbool.h>
#include <stdio.h>

struct ts__cycles;
struct ts__profile;
struct ts__symbolizer;
struct ts__tasks;
struct ts__tsnap;

/* Which tasks of a snapshot a report shows. */
enum ts__gfilter {
    TS__G_ALL = 0,     /* goroutine */
    TS__G_LEAKED = 1,  /* goroutineleak: those marked leaked */
    TS__G_MARKED = 2,  /* those marked by the caller (ts_leakcheck) */
};

/* ts__goroutine_shown: whether a report filtered by which shows s. */
bool ts__goroutine_shown(const struct ts__tsnap *s, enum ts__gfilter which);

/* ts__goroutine_profile: one sample per distinct stack and label set,
 * value = how many tasks share it; sample and period type <name>/count
 * (name: "goroutine" or "goroutineleak"), period 1, as Go's
 * printCountProfile. Unsymbolized. 0 or an errno. */
int ts__goroutine_profile(struct ts__profile *p, const struct ts__tasks *ts,
                          enum ts__gfilter which, const char *name);

/* ts__goroutine_text: debug=1, Go's "goroutine profile: total N" form
 * (name is "goroutine" or "goroutineleak"). */
void ts__goroutine_text(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__tasks *ts, enum ts__gfilter which,
                        const char *name);

/* ts__goroutine_dump: debug=2, every task as Go prints it on a crash:
 * "goroutine N [reason, M minutes]:", its frames, "created by ...". Leaked
 * tasks say "(leaked)" after the reason. */
void ts__goroutine_dump(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__tasks *ts, enum ts__gfilter which);

/* ts__goroutine_dump_task: one task of ts as ts__goroutine_dump prints
 * it (header, frames, "created by"), without a blank line around it. */
void ts__goroutine_dump_task(FILE *f, struct ts__symbolizer *sym,
                             const struct ts__tasks *ts,
                             const struct ts__tsnap *s);

/* ts__goroutine_json: the same tasks as JSON (docs/json.md); with the
 * wait-for cycles of cy among them as "cycles" when cy is not NULL. */
void ts__goroutine_json(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__tasks *ts, enum ts__gfilter which,
                        const char *name, const struct ts__cycles *cy);

#endif
