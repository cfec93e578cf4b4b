/* taskscope — writes a ts__profile as gzipped profile.proto (pprof.h).
 *
 * Encoding: the profile's arrays are laid into protobuf-c's generated
 * message structs (profile.pb-c.h, generated at build time from
 * profiler/profile.proto) and packed in one go. Arrays whose layout already
 * matches (string_table, Sample.location_id, Sample.value, comment) are
 * pointed at, not copied; every other message lives in a scratch arena
 * freed before returning.
 * Compression: zlib deflate with a gzip wrapper at level 1 (Go's
 * gzip.BestSpeed), streamed to the fd in 64 KiB pieces.
 *
 * Invariants relied on (kept by profile.c): ids are 1-based positions,
 * strings[0] == "", one value per sample type; this file checks nothing of
 * the profile's content.
 * Ownership: the profile is only read. The encoded buffer of
 * ts__pprof_encode belongs to the caller.
 * Threads: no shared state; output goes through fdio.c (SIGPIPE held off
 * on the calling thread for each write).
 * Rejected: a hand-written protobuf encoder (smaller, but protobuf-c keeps
 * field numbers and wire types in one .proto checked against pprof's);
 * gzip via popen("gzip") (a child process in a profiled program). */
#include "profiler/pprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "profiler/fdio.h"
#include "profiler/intern.h"
#include "profiler/profile.h"

typedef Taskscope__Pprof__Profile PbProfile;
typedef Taskscope__Pprof__ValueType PbValueType;
typedef Taskscope__Pprof__Sample PbSample;
typedef Taskscope__Pprof__Label PbLabel;
typedef Taskscope__Pprof__Mapping PbMapping;
typedef Taskscope__Pprof__Location PbLocation;
typedef Taskscope__Pprof__Line PbLine;
typedef Taskscope__Pprof__Function PbFunction;

/* ---- scratch arena ----------------------------------------------------- */

/* Every allocation of one encode; freed together. */
#define ARENA_MAX 32
struct arena {
    void *blocks[ARENA_MAX];
    int n;
    bool failed; /* an allocation failed: the encode returns ENOMEM */
};

/* n zeroed elements of size bytes; NULL when n == 0 or on failure. */
static void *arena_alloc(struct arena *a, size_t n, size_t size)
{
    if (n == 0 || a->failed)
        return NULL;
    void *b = a->n < ARENA_MAX ? ts__prof_calloc(n, size) : NULL;
    if (!b) {
        a->failed = true;
        return NULL;
    }
    a->blocks[a->n++] = b;
    return b;
}

static void arena_free(struct arena *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->blocks[i]);
    a->n = 0;
}

/* ---- messages ---------------------------------------------------------- */

static void fill_sample_types(const struct ts__profile *p, struct arena *a,
                              PbProfile *pb)
{
    size_t n = p->sample_types.n;
    PbValueType *vt = arena_alloc(a, n, sizeof *vt);
    PbValueType **ptrs = arena_alloc(a, n, sizeof *ptrs);
    if (n == 0 || a->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct ts__pvaluetype *in =
            &TS__VEC_AT(&p->sample_types, struct ts__pvaluetype, i);
        taskscope__pprof__value_type__init(&vt[i]);
        vt[i].type = in->type;
        vt[i].unit = in->unit;
        ptrs[i] = &vt[i];
    }
    pb->sample_type = ptrs;
    pb->n_sample_type = n;
}

/* The labels of every sample, each sample taking its slice of ptrs. */
static void fill_labels(const struct ts__profile *p, struct arena *a,
                        PbSample *s)
{
    size_t n = p->labels.n;
    PbLabel *lab = arena_alloc(a, n, sizeof *lab);
    PbLabel **ptrs = arena_alloc(a, n, sizeof *ptrs);
    if (n == 0 || a->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct ts__plabel *in =
            &TS__VEC_AT(&p->labels, struct ts__plabel, i);
        taskscope__pprof__label__init(&lab[i]);
        lab[i].key = in->key;
        lab[i].str = in->str;
        lab[i].num = in->num;
        lab[i].num_unit = in->num_unit;
        ptrs[i] = &lab[i];
    }
    for (size_t i = 0; i < p->samples.n; i++) {
        const struct ts__psample *in =
            &TS__VEC_AT(&p->samples, struct ts__psample, i);
        s[i].label = in->nlabel ? &ptrs[in->label] : NULL;
        s[i].n_label = in->nlabel;
    }
}

static void fill_samples(const struct ts__profile *p, struct arena *a,
                         PbProfile *pb)
{
    size_t n = p->samples.n, nv = p->sample_types.n;
    PbSample *s = arena_alloc(a, n, sizeof *s);
    PbSample **ptrs = arena_alloc(a, n, sizeof *ptrs);
    if (n == 0 || a->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct ts__psample *in =
            &TS__VEC_AT(&p->samples, struct ts__psample, i);
        taskscope__pprof__sample__init(&s[i]);
        /* protobuf-c's pack only reads these arrays */
        s[i].location_id = in->nloc ? &TS__VEC_AT(&p->loc_ids, uint64_t,
                                                  in->loc)
                                    : NULL;
        s[i].n_location_id = in->nloc;
        s[i].value = &TS__VEC_AT(&p->values, int64_t, i * nv);
        s[i].n_value = nv;
        ptrs[i] = &s[i];
    }
    fill_labels(p, a, s);
    pb->sample = ptrs;
    pb->n_sample = n;
}

static void fill_mappings(const struct ts__profile *p, struct arena *a,
                          PbProfile *pb)
{
    size_t n = p->mappings.n;
    PbMapping *m = arena_alloc(a, n, sizeof *m);
    PbMapping **ptrs = arena_alloc(a, n, sizeof *ptrs);
    if (n == 0 || a->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct ts__pmapping *in =
            &TS__VEC_AT(&p->mappings, struct ts__pmapping, i);
        taskscope__pprof__mapping__init(&m[i]);
        m[i].id = i + 1;
        m[i].memory_start = in->start;
        m[i].memory_limit = in->limit;
        m[i].file_offset = in->file_offset;
        m[i].filename = in->filename;
        m[i].build_id = in->build_id;
        m[i].has_functions = in->has_functions;
        m[i].has_filenames = in->has_filenames;
        m[i].has_line_numbers = in->has_line_numbers;
        m[i].has_inline_frames = in->has_inline_frames;
        ptrs[i] = &m[i];
    }
    pb->mapping = ptrs;
    pb->n_mapping = n;
}

/* Every Line message, in the profile's line order. */
static PbLine **make_lines(const struct ts__profile *p, struct arena *a)
{
    size_t n = p->lines.n;
    PbLine *ln = arena_alloc(a, n, sizeof *ln);
    PbLine **ptrs = arena_alloc(a, n, sizeof *ptrs);
    if (n == 0 || a->failed)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct ts__pline *in =
            &TS__VEC_AT(&p->lines, struct ts__pline, i);
        taskscope__pprof__line__init(&ln[i]);
        ln[i].function_id = in->function_id;
        ln[i].line = in->line;
        ptrs[i] = &ln[i];
    }
    return ptrs;
}

static void fill_locations(const struct ts__profile *p, struct arena *a,
                           PbProfile *pb)
{
    size_t n = p->locations.n;
    PbLocation *l = arena_alloc(a, n, sizeof *l);
    PbLocation **ptrs = arena_alloc(a, n, sizeof *ptrs);
    PbLine **lines = make_lines(p, a);
    if (n == 0 || a->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct ts__plocation *in =
            &TS__VEC_AT(&p->locations, struct ts__plocation, i);
        taskscope__pprof__location__init(&l[i]);
        l[i].id = i + 1;
        l[i].mapping_id = in->mapping_id;
        l[i].address = in->address;
        l[i].line = in->nline ? &lines[in->line] : NULL;
        l[i].n_line = in->nline;
        ptrs[i] = &l[i];
    }
    pb->location = ptrs;
    pb->n_location = n;
}

static void fill_functions(const struct ts__profile *p, struct arena *a,
                           PbProfile *pb)
{
    size_t n = p->functions.n;
    PbFunction *f = arena_alloc(a, n, sizeof *f);
    PbFunction **ptrs = arena_alloc(a, n, sizeof *ptrs);
    if (n == 0 || a->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct ts__pfunction *in =
            &TS__VEC_AT(&p->functions, struct ts__pfunction, i);
        taskscope__pprof__function__init(&f[i]);
        f[i].id = i + 1;
        f[i].name = in->name;
        f[i].system_name = in->system_name;
        f[i].filename = in->filename;
        f[i].start_line = in->start_line;
        ptrs[i] = &f[i];
    }
    pb->function = ptrs;
    pb->n_function = n;
}

/* Header fields: strings, period, times, comments, default type. */
static void fill_header(const struct ts__profile *p, PbProfile *pb,
                        PbValueType *period_type)
{
    pb->string_table = (char **)p->strings.strs.data;
    pb->n_string_table = p->strings.strs.n;
    if (p->period_type.type != 0) {
        period_type->type = p->period_type.type;
        period_type->unit = p->period_type.unit;
        pb->period_type = period_type;
    }
    pb->period = p->period;
    pb->time_nanos = p->time_nanos;
    pb->duration_nanos = p->duration_nanos;
    pb->comment = p->comments.n ? (int64_t *)p->comments.data : NULL;
    pb->n_comment = p->comments.n;
    pb->default_sample_type = p->default_sample_type;
}

int ts__pprof_encode(const struct ts__profile *p, uint8_t **out, size_t *len)
{
    if (!p || !out || !len)
        return EINVAL;
    *out = NULL;
    *len = 0;
    struct arena a = {.n = 0};
    PbProfile pb = TASKSCOPE__PPROF__PROFILE__INIT;
    PbValueType period_type = TASKSCOPE__PPROF__VALUE_TYPE__INIT;
    fill_header(p, &pb, &period_type);
    fill_sample_types(p, &a, &pb);
    fill_samples(p, &a, &pb);
    fill_mappings(p, &a, &pb);
    fill_locations(p, &a, &pb);
    fill_functions(p, &a, &pb);
    int r = a.failed ? ENOMEM : 0;
    if (r == 0) {
        size_t n = taskscope__pprof__profile__get_packed_size(&pb);
        uint8_t *buf = ts__prof_malloc(n ? n : 1);
        if (buf) {
            *len = taskscope__pprof__profile__pack(&pb, buf);
            *out = buf;
        } else {
            r = ENOMEM;
        }
    }
    arena_free(&a);
    return r;
}

/* ---- output ------------------------------------------------------------ */


/* Compress data as one gzip member (level 1) and write it to fd. */
static int gzip_write(const uint8_t *data, size_t len, int fd)
{
    enum { CHUNK = 64 * 1024 };
    uint8_t *out = ts__prof_malloc(CHUNK);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (!out || deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
                             Z_DEFAULT_STRATEGY) != Z_OK) {
        free(out);
        return ENOMEM;
    }
    int r = 0, z = Z_OK;
    while (r == 0 && z != Z_STREAM_END) {
        if (zs.avail_in == 0 && len > 0) { /* avail_in is 32-bit: feed */
            zs.next_in = (Bytef *)data;
            zs.avail_in = len > (1u << 30) ? (1u << 30) : (uInt)len;
            data += zs.avail_in;
            len -= zs.avail_in;
        }
        zs.next_out = out;
        zs.avail_out = CHUNK;
        z = deflate(&zs, len == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (z == Z_STREAM_ERROR)
            r = EIO;
        else
            r = ts__write_all(fd, out, CHUNK - zs.avail_out);
    }
    deflateEnd(&zs);
    free(out);
    return r;
}

int ts__pprof_write(const struct ts__profile *p, int fd)
{
    if (!p)
        return EINVAL;
    if (fd < 0)
        return EBADF;
    uint8_t *buf;
    size_t len;
    int r = ts__pprof_encode(p, &buf, &len);
    if (r != 0)
        return r;
    r = gzip_write(buf, len, fd);
    free(buf);
    return r;
}
