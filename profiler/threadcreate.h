/* taskscope — the threadcreate profile: where the runtime created its
 * threads (workers, sysmon, the profiler's own) and, under the probe,
 * where the program created its own. */
#ifndef TASKSCOPE_PROFILER_THREADCREATE_H
#define TASKSCOPE_PROFILER_THREADCREATE_H

#include <stdint.h>
#include <stdio.h>

struct ts__profile;
struct ts__symbolizer;

/* ts__record_thread_create: note the caller's stack as a thread creation
 * site; call right after a pthread_create that succeeded. No allocation,
 * no lock. */
void ts__record_thread_create(void);

/* ts__record_user_thread_create: the same for a thread of the program
 * (the probe's pthread_create), not counted in ts__threads_created. */
void ts__record_user_thread_create(void);

/* ts__threads_created: threads the runtime and profiler started (each of
 * them lives as long as the process). */
uint32_t ts__threads_created(void);

/* ts__start_helper_thread: a detached profiler thread running fn(arg),
 * started with every signal blocked (signals stay the program's) and
 * recorded here. 0 or pthread_create's error. */
int ts__start_helper_thread(void *(*fn)(void *), void *arg);

/* ts__threadcreate_profile: threadcreate/count samples, period 1. */
int ts__threadcreate_profile(struct ts__profile *p);

/* ts__threadcreate_text: Go's "threadcreate profile: total N" form. */
void ts__threadcreate_text(FILE *f, struct ts__symbolizer *sym);

#endif
