/* pprof_read.h — loading and validating a pprof profile file (pprof_read.c). */
#ifndef TASKSCOPE_TOOLS_PPROF_READ_H
#define TASKSCOPE_TOOLS_PPROF_READ_H

#include <stddef.h>
#include <stdint.h>

#include "profile.pb-c.h"

typedef Taskscope__Pprof__Profile PbProfile;
typedef Taskscope__Pprof__Location PbLocation;
typedef Taskscope__Pprof__Function PbFunction;
typedef Taskscope__Pprof__Mapping PbMapping;

/* An id -> array index pair; the three tables below are sorted by id. */
struct pprof_id {
    uint64_t id;
    size_t index;
};

/* A decoded profile that passed pprof_load's checks. Read-only for users;
 * free with pprof_free. */
struct pprof {
    PbProfile *pb;               /* the decoded message (protobuf-c owned) */
    struct pprof_id *locations;  /* pb->n_location entries, by id */
    struct pprof_id *functions;  /* pb->n_function entries, by id */
    struct pprof_id *mappings;   /* pb->n_mapping entries, by id */
};

/* pprof_load's results. */
enum pprof_status {
    PPROF_OK = 0,
    PPROF_EIO,     /* the file could not be read: reason is strerror text */
    PPROF_EFORMAT, /* not a valid profile: reason says why */
};

/* Reads PATH (gzip'd or raw protobuf), decodes and validates it as pprof
 * does (string_table[0] == "", ids unique, non-zero and resolvable, string
 * indices in range, len(sample_type) values per sample). On PPROF_OK fills
 * *out; otherwise writes a one-line reason (no trailing newline) into
 * reason[0..cap) and leaves *out untouched. */
enum pprof_status pprof_load(const char *path, struct pprof *out,
                             char *reason, size_t cap);

/* Frees what pprof_load filled in. */
void pprof_free(struct pprof *p);

/* The index in p->pb->location of the location with that id, or -1. */
long pprof_location_index(const struct pprof *p, uint64_t id);

/* The object with that id, or NULL (id 0 or unknown). */
const PbLocation *pprof_location(const struct pprof *p, uint64_t id);
const PbFunction *pprof_function(const struct pprof *p, uint64_t id);
const PbMapping *pprof_mapping(const struct pprof *p, uint64_t id);

/* string_table[index]; index was range-checked by pprof_load. */
const char *pprof_string(const struct pprof *p, int64_t index);

/* The index of the sample type named want, or with want NULL the
 * profile's default (pprof's rule: default_sample_type, else the last);
 * -1 after saying on stderr, for subcommand sub, which types file has. */
long pprof_sample_type(const struct pprof *p, const char *want, const char *sub,
                       const char *file);

#endif
