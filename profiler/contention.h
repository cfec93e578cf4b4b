/* taskscope — the block and mutex profiles: the drain thread's aggregation
 * of the rings' TS__EV_BLOCK and TS__EV_MUTEX records by stack, and the
 * profiles and legacy text built from it. */
#ifndef TASKSCOPE_PROFILER_CONTENTION_H
#define TASKSCOPE_PROFILER_CONTENTION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ts__profile;
struct ts__symbolizer;

/* ts__profiler_start (start.c): start the profiler: rates and settings
 * from the environment, the drain thread, the agent. Once; called at
 * scheduler start and by the rate setters. */
void ts__profiler_start(void);

/* ts__profiler_start_probe: the same for the LD_PRELOAD probe, which
 * writes its output itself: no TASKSCOPE_PROFILE exit handler. Called by
 * the probe's constructor before the program runs. */
void ts__profiler_start_probe(void);

/* ts__profiler_drain_hold (start.c): while held, the drain thread leaves
 * the rings alone (tests of the rings drain them themselves). */
void ts__profiler_drain_hold(bool hold);

/* ts__contention_init: the tick calibration origin and the rates from
 * TASKSCOPE_BLOCKPROFILERATE / TASKSCOPE_MUTEXPROFILEFRACTION. Once, by
 * ts__profiler_start, before any other thread reads them. */
void ts__contention_init(void);

/* ts__contention_drain: move every ring's records into the tables now
 * (writers call it first, so a profile includes events up to the call). */
void ts__contention_drain(void);

/* ts__contention_profile: block (mutex false) or mutex profile as Go
 * writes it: contentions/count, delay/nanoseconds; period contentions/count
 * 1. Unsymbolized. 0 or an errno. */
int ts__contention_profile(struct ts__profile *p, bool mutex);

/* ts__contention_text: Go's legacy text ("--- contention:" / "--- mutex:").
 * 0, or ENOMEM when only the header could be written. */
int ts__contention_text(FILE *f, struct ts__symbolizer *sym, bool mutex);

/* ts__events_dropped: records lost to full rings or threads without one. */
uint64_t ts__events_dropped(void);

#endif
