/* taskscope — reading back gzipped pprof profiles we wrote: the delta
 * profiles of /debug/pprof/NAME?seconds=N and the counts of the
 * /debug/pprof/ index (profiler/http.c, docs/http.md). */
#ifndef TASKSCOPE_PROFILER_DELTA_H
#define TASKSCOPE_PROFILER_DELTA_H

#include <stddef.h>
#include <stdint.h>

/* ts__delta_profile: p1 - p0 as Go's net/http/pprof computes it (p0
 * scaled by -1, merged with p1): every value of every sample is
 * subtracted, per (stack, labels); samples that become all zero are
 * dropped; a sample only in p0 appears negated. p0 and p1 are gzipped
 * profile.proto of one process with the same sample types. The result
 * has p1's header with time_nanos and duration_nanos as given, gzipped,
 * in a malloc'd *out of *len bytes. 0, EINVAL (undecodable input,
 * different sample types) or ENOMEM. */
int ts__delta_profile(const uint8_t *p0, size_t n0, const uint8_t *p1,
                      size_t n1, int64_t time_nanos, int64_t duration_nanos,
                      uint8_t **out, size_t *len);

/* ts__delta_count: what Go's index shows as a profile's count: the sum
 * of the first value of every sample (sum true: goroutines, threads) or
 * the number of samples (records). 0, EINVAL or ENOMEM. */
int ts__delta_count(const uint8_t *gz, size_t n, int sum, int64_t *count);

#endif
