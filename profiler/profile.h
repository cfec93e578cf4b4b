/* taskscope — an in-memory pprof profile: what profile.proto holds, built
 * sample by sample, interned, and checked against pprof's rules as it is
 * built (../shared/design/CONVENTIONS.md §1.1, §1.3).
 *
 * Life of a profile:
 *   ts__profile_new                 empty, time_nanos = now
 *   ts__profile_add_sample_type     once per value column, before samples
 *   ts__profile_set_period ...      header fields, any time
 *   ts__profile_add_sample          many times; equal stack+labels merge
 *   ts__profile_symbolize           mappings, functions, lines (or only
 *                                   ts__profile_map: addresses + mappings)
 *   ts__pprof_write (pprof.h)       serialize, gzip, write to an fd
 *   ts__profile_free
 *
 * Every call returns 0 or a positive errno-style code and never crashes on
 * bad input: EINVAL for arguments that break a pprof rule (the profile is
 * left unchanged), ENOMEM when memory runs out (the profile stays valid but
 * may hold unused strings or locations, which pprof accepts).
 *
 * Threads: a profile is not thread-safe; one thread at a time builds it
 * (the profiler's drain/writer thread).
 *
 * The struct is visible so that pprof.c can serialize it; everyone else
 * uses the functions. All ids are 1-based positions: the location with id
 * k is locations[k - 1], likewise functions and mappings. */
#ifndef TASKSCOPE_PROFILER_PROFILE_H
#define TASKSCOPE_PROFILER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profiler/intern.h"

struct ts__symbolizer;

/* ---- input ------------------------------------------------------------- */

/* A label on a sample: string (str != NULL) or numeric (str == NULL). */
struct ts__label {
    const char *key;      /* non-empty; "pprof::..." is reserved */
    const char *str;      /* string value, or NULL for a numeric label */
    int64_t num;          /* numeric value (when str == NULL) */
    const char *num_unit; /* unit of num ("bytes", ...) or NULL; must be
                             NULL on a string label */
};

/* stack[0] is an exact PC (a signal context's), not a return address. */
#define TS__SAMPLE_LEAF_PC 0x1u

/* One sample to add. Nothing is kept: the builder copies what it needs. */
struct ts__sample {
    const uintptr_t *stack;          /* depth code addresses, leaf first:
                                        return addresses as a stack walk
                                        gives them; none may be 0 */
    size_t depth;
    const int64_t *values;           /* exactly one per sample type */
    size_t nvalues;
    const struct ts__label *labels;  /* at most one per key */
    size_t nlabels;
    unsigned flags;                  /* TS__SAMPLE_* */
};

/* ---- stored form (read by pprof.c) ------------------------------------- */

/* String fields below are indices into `strings`. */
struct ts__pvaluetype {
    int64_t type;
    int64_t unit;
};

struct ts__plabel {
    int64_t key;
    int64_t str;      /* 0 for a numeric label */
    int64_t num;
    int64_t num_unit; /* 0 when none */
};

struct ts__psample {
    size_t loc;   /* first location id in loc_ids */
    size_t nloc;
    size_t label; /* first label in labels */
    size_t nlabel;
    /* values: values[index * nsample_types ...] */
};

struct ts__pline {
    uint64_t function_id;
    int64_t line;
};

struct ts__plocation {
    uint64_t address;    /* code address: a return address minus one */
    uint64_t mapping_id; /* 0 until mapped, or when no mapping holds it */
    size_t line;         /* first entry in lines */
    size_t nline;        /* innermost inlined frame first; 0 = unsymbolized */
};

struct ts__pfunction {
    int64_t name;
    int64_t system_name;
    int64_t filename;
    int64_t start_line;
};

struct ts__pmapping {
    uint64_t start;
    uint64_t limit;
    uint64_t file_offset;
    int64_t filename;
    int64_t build_id;
    bool has_functions;
    bool has_filenames;
    bool has_line_numbers;
    bool has_inline_frames;
};

struct ts__profile {
    struct ts__strtab strings;     /* the string_table; [0] == "" */
    struct ts__vec sample_types;   /* struct ts__pvaluetype */
    struct ts__pvaluetype period_type;
    int64_t period;
    int64_t time_nanos;
    int64_t duration_nanos;
    int64_t default_sample_type;   /* string index, 0 = unset */
    struct ts__vec comments;       /* int64_t string indices */

    struct ts__vec samples;        /* struct ts__psample */
    struct ts__vec loc_ids;        /* uint64_t, slices owned by samples */
    struct ts__vec values;         /* int64_t, nsample_types per sample */
    struct ts__vec labels;         /* struct ts__plabel, sorted by key
                                      string within each sample */
    struct ts__itab sample_index;  /* stack+labels -> samples position */

    struct ts__vec locations;      /* struct ts__plocation */
    struct ts__itab location_index;/* address -> locations position */
    struct ts__vec lines;          /* struct ts__pline */
    struct ts__vec functions;      /* struct ts__pfunction */
    struct ts__itab function_index;/* name/file/line -> position */
    struct ts__vec mappings;       /* struct ts__pmapping; [0] = main exe
                                      once mapped */
    size_t nmapped;                /* locations[0, nmapped) have been
                                      given their mapping */
    size_t nsymbolized;            /* locations[0, nsymbolized) were
                                      symbolized */
};

/* ---- building ---------------------------------------------------------- */

/* ts__profile_new: an empty profile; time_nanos is the current wall clock.
 * 0, EINVAL (out NULL) or ENOMEM. */
int ts__profile_new(struct ts__profile **out);

/* ts__profile_free: release the profile and everything in it. NULL ok. */
void ts__profile_free(struct ts__profile *p);

/* ts__profile_add_sample_type: append a value column, e.g. ("delay",
 * "nanoseconds"). Only before the first sample: EBUSY after. EINVAL for
 * NULL or empty strings. */
int ts__profile_add_sample_type(struct ts__profile *p, const char *type,
                                const char *unit);

/* ts__profile_set_period: period_type and period (Go: e.g. "contentions",
 * "count", 1). EINVAL for NULL or empty strings or a negative period. */
int ts__profile_set_period(struct ts__profile *p, const char *type,
                           const char *unit, int64_t period);

/* ts__profile_set_time: time_nanos (wall clock, ns since the epoch) and
 * duration_nanos. EINVAL when either is negative. */
int ts__profile_set_time(struct ts__profile *p, int64_t time_nanos,
                         int64_t duration_nanos);

/* ts__profile_add_comment: a free-text comment line. EINVAL for NULL. */
int ts__profile_add_comment(struct ts__profile *p, const char *text);

/* ts__profile_set_default_sample_type: the type readers show first; must
 * name a sample type already added (EINVAL otherwise). */
int ts__profile_set_default_sample_type(struct ts__profile *p,
                                        const char *type);

/* ts__profile_add_sample: add s; when a sample with the same stack and the
 * same labels (in any order) exists, add s's values to it instead.
 * EINVAL: no sample types yet, nvalues != number of sample types, a NULL
 * array with a non-zero length, a 0 address in the stack, a NULL/empty
 * label key, a "pprof::" key, two labels with one key, a unit on a string
 * label. EOVERFLOW: merging would overflow a value (nothing changes).
 * ENOMEM. */
int ts__profile_add_sample(struct ts__profile *p, const struct ts__sample *s);

/* ts__profile_map: read /proc/self/maps and give every location added so
 * far its mapping (mapping[0] = the main executable, always present); with
 * a symbolizer, fill in build ids. Mapping flags stay false: pprof will
 * symbolize the addresses itself from the binaries. sym may be NULL.
 * 0, EINVAL (p NULL), ENOMEM or an errno of reading the maps. */
int ts__profile_map(struct ts__profile *p, struct ts__symbolizer *sym);

/* ts__profile_symbolize: ts__profile_map, then functions and lines for
 * every location not symbolized yet, then the mapping flags
 * has_functions/has_filenames/has_line_numbers/has_inline_frames, each set
 * when every location of the mapping has it. Call again after adding more
 * samples. 0, EINVAL (NULL argument), ENOMEM or an errno of the maps. */
int ts__profile_symbolize(struct ts__profile *p, struct ts__symbolizer *sym);

/* Number of samples, locations, functions, mappings (for tests/reports). */
size_t ts__profile_nsamples(const struct ts__profile *p);
size_t ts__profile_nlocations(const struct ts__profile *p);
size_t ts__profile_nfunctions(const struct ts__profile *p);
size_t ts__profile_nmappings(const struct ts__profile *p);

#endif
