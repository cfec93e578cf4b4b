/* taskscope — the CPU profiler (profiler/cpu.c, docs/http.md).
 *
 * Samples the CPU time of every thread of the process, as Go's
 * runtime/pprof CPU profile does, attributing each sample to the task that
 * was running on the thread; the profile has Go's sample types
 * (samples/count, cpu/nanoseconds) and period type cpu/nanoseconds. */
#ifndef TASKSCOPE_PROFILER_CPU_H
#define TASKSCOPE_PROFILER_CPU_H

#include <stdint.h>

/* ts__cpu_profile_run: sample for ns nanoseconds (the caller's thread
 * waits), then write the gzipped pprof profile to fd. Returns 0, EBUSY
 * when a CPU profile is already being taken (nothing is changed), EINVAL
 * for ns <= 0, or another errno. */
int ts__cpu_profile_run(int64_t ns, int fd);

/* ts__cpu_profile_env_init: TASKSCOPE_CPUPROFILE=path starts a CPU profile
 * (ts_cpu_profile_start) written to path at exit; a failure is said on
 * stderr. Called once, when the profiler starts. */
void ts__cpu_profile_env_init(void);

#endif
