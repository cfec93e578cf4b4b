/* taskscope — profiles, goroutine dumps, labels, sampled heap allocation
 * and the leak check: Go's runtime/pprof for taskscope programs.
 *
 * Profiles (names as Go's):
 *   goroutine      every live task's current stack (debug=2: Go's dump)
 *   goroutineleak  tasks blocked on something nothing else can reach
 *   block          where tasks blocked, and for how long
 *   mutex          who held contended locks, and the waiters' total delay
 *   heap, allocs   sampled ts_malloc allocations (in use / all)
 *   threadcreate   where the runtime's threads were created
 *   CPU            where the threads spend CPU time (ts_cpu_profile_start,
 *                  /debug/pprof/profile), sampled at 100 Hz
 *
 * Environment:
 *   TASKSCOPE_PROFILE=goroutine,block,...  write these at exit, as
 *   TASKSCOPE_PROFILE_DIR=dir              <dir>/<name>.pb.gz (default ".")
 *   TASKSCOPE_CPUPROFILE=path              CPU profile from start to exit,
 *                                          written to path at exit
 *   TASKSCOPE_MEMPROFILERATE=bytes         mean bytes between heap samples
 *                                          (default 524288; 0 = off,
 *                                          1 = every allocation)
 *   TASKSCOPE_BLOCKPROFILERATE=ns          initial ts_set_block_profile_rate
 *   TASKSCOPE_MUTEXPROFILEFRACTION=n       initial ts_set_mutex_profile_fraction
 *   TASKSCOPE_SIGQUIT=dump                 SIGQUIT prints the dump and the
 *                                          program continues (default: print
 *                                          and exit 2, as Go)
 *   TASKSCOPE_BLOCKED_WARN=10s             report tasks blocked longer
 *   TASKSCOPE_AGENT=1                      open the agent socket for
 *                                          `taskscope dump PID`
 *   TASKSCOPE_DEADLOCK=0                   do not end the program on a global
 *                                          deadlock (default: fatal error)
 */
#ifndef TASKSCOPE_PROFILE_H
#define TASKSCOPE_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

/* ts_profile_write: write the named profile to fd. debug 0: gzip'd pprof
 * protobuf; 1: Go's legacy text; 2: for goroutine (and goroutineleak), the
 * full dump in Go's panic format, for the others as 1. 0, or EINVAL for an
 * unknown name or debug < 0, or the errno of a failed write. */
TS_EXPORT int ts_profile_write(const char *name, int fd, int debug);

/* ts_profile_write_json: the same report as JSON (docs/json.md). */
TS_EXPORT int ts_profile_write_json(const char *name, int fd);

/* ts_cpu_profile_start: as Go's pprof.StartCPUProfile: sample the CPU
 * time of every thread at 100 Hz until ts_cpu_profile_stop, which writes
 * the gzipped pprof profile (samples/count, cpu/nanoseconds; task labels
 * on the samples) to fd. SIGPROF belongs to the profiler meanwhile (the
 * program's disposition is restored at stop). 0, EBUSY when a CPU profile
 * is already being taken, EBADF when fd is not open for writing, or
 * another errno. */
TS_EXPORT int ts_cpu_profile_start(int fd);

/* ts_cpu_profile_stop: as Go's pprof.StopCPUProfile: stop the profile
 * ts_cpu_profile_start began and write it (fd stays open); blocks until it
 * is written. 0 (also when no profile was started) or the errno of
 * building or writing it. */
TS_EXPORT int ts_cpu_profile_stop(void);

/* ts_set_block_profile_rate: as Go's runtime.SetBlockProfileRate: record on
 * average one blocking event per rate nanoseconds spent blocked (events at
 * least that long always); 1 records every event, 0 turns recording off,
 * negative leaves it. Returns the previous rate. */
TS_EXPORT int64_t ts_set_block_profile_rate(int64_t rate);

/* ts_set_mutex_profile_fraction: as Go's runtime.SetMutexProfileFraction:
 * record on average 1/rate contention events; 0 turns it off, negative only
 * reads. Returns the previous rate. */
TS_EXPORT int ts_set_mutex_profile_fraction(int rate);

/* ts_set_label: set (value non-NULL) or remove (value NULL) a label of the
 * calling task; tasks it creates afterwards inherit its labels. Labels show
 * in goroutine profiles and dumps. 0, EINVAL (NULL/empty key, key starting
 * with "pprof::", not called from a task) or ENOMEM. */
TS_EXPORT int ts_set_label(const char *key, const char *value);

/* Heap profiling: allocation functions with the semantics of malloc,
 * calloc, realloc and free, sampled for the heap and allocs profiles.
 * Memory from ts_malloc must be released with ts_free (and vice versa). */
TS_EXPORT void *ts_malloc(size_t size);
TS_EXPORT void *ts_calloc(size_t n, size_t size);
TS_EXPORT void *ts_realloc(void *ptr, size_t size);
TS_EXPORT void ts_free(void *ptr);

/* Leak check for tests (goleak's model): ts_leakcheck_snapshot records the
 * live tasks; ts_leakcheck waits up to timeout_ns for every task created
 * since to end, then prints the dump of those still alive to stderr and
 * returns how many there are (0 = clean). */
TS_EXPORT void ts_leakcheck_snapshot(void);
TS_EXPORT int ts_leakcheck(int64_t timeout_ns);

TS_END_DECLS

#endif
