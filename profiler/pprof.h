/* taskscope — serializing a ts__profile as pprof's profile.proto, gzipped
 * the way Go's runtime/pprof writes it.
 *
 * Both calls read the profile and never change it; like the builder they
 * must not run concurrently with a thread that modifies the profile. */
#ifndef TASKSCOPE_PROFILER_PPROF_H
#define TASKSCOPE_PROFILER_PPROF_H

#include <stddef.h>
#include <stdint.h>

struct ts__profile;

/* ts__pprof_encode: the profile as uncompressed profile.proto bytes in a
 * malloc'd buffer; the caller frees *out. 0, EINVAL (NULL argument) or
 * ENOMEM. */
int ts__pprof_encode(const struct ts__profile *p, uint8_t **out, size_t *len);

/* ts__pprof_write: encode, gzip (level 1, Go's BestSpeed) and write all of
 * it to fd, starting at fd's current offset; fd stays open. A profile that
 * was never mapped or symbolized is written as it is (addresses only, no
 * mappings: readers then guess the binary).
 * 0; EINVAL (p NULL); EBADF (fd < 0 or not open for writing); EPIPE when the
 * reader of a pipe or socket has gone (SIGPIPE is held off for the
 * call and not delivered); ENOMEM; any other errno of write(2), in which
 * case part of the profile may have been written. */
int ts__pprof_write(const struct ts__profile *p, int fd);

#endif
