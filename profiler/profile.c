/* taskscope — the in-memory pprof profile builder (profile.h): header
 * fields, samples, the interning of strings, locations and functions, and
 * the glue that gives locations their mappings (maps.c) and their
 * functions and lines (symbolize.c).
 *
 * Invariants (the pprof rules of CONVENTIONS.md §1.1/§1.3, kept at every
 * call so the writer never has to check):
 *   - strings[0] == "" (ts__strtab);
 *   - every sample has exactly nsample_types values; sample types are fixed
 *     once the first sample is in;
 *   - location, function and mapping ids are their 1-based positions, so
 *     they are unique, non-zero, and every loc_ids entry resolves;
 *   - one location per distinct code address; one function per distinct
 *     (name, system_name, filename, start_line);
 *   - within a sample, label keys are distinct, none starts with "pprof::",
 *     a string label has no unit; labels are stored sorted by key string,
 *     so equal label sets compare equal whatever order they came in;
 *   - at most one sample per (stack, label set): adding an equal one sums
 *     the values, which is how Go's goroutine/block profiles are shaped.
 * Ownership: the profile owns everything; input arrays are copied.
 * Threads: none; one user at a time (profile.h).
 * Rejected: keeping samples as caller-owned pointers (the drain thread's
 * buffers are reused); a fixed-size string table (profiles from long runs
 * have unbounded function counts). */
#include "profiler/profile.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiler/maps.h"
#include "profiler/symbolize.h"

#define RESERVED_PREFIX "pprof::"

/* Small label sets are checked for duplicate keys on the stack. */
#define LABELS_ON_STACK 32

/* ---- lifecycle --------------------------------------------------------- */

int ts__profile_new(struct ts__profile **out)
{
    if (!out)
        return EINVAL;
    *out = NULL;
    struct ts__profile *p = ts__prof_calloc(1, sizeof *p);
    if (!p)
        return ENOMEM;
    int r = ts__strtab_init(&p->strings);
    if (r != 0) {
        free(p);
        return r;
    }
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        p->time_nanos = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    *out = p;
    return 0;
}

void ts__profile_free(struct ts__profile *p)
{
    if (!p)
        return;
    ts__strtab_free(&p->strings);
    ts__vec_free(&p->sample_types);
    ts__vec_free(&p->comments);
    ts__vec_free(&p->samples);
    ts__vec_free(&p->loc_ids);
    ts__vec_free(&p->values);
    ts__vec_free(&p->labels);
    ts__itab_free(&p->sample_index);
    ts__vec_free(&p->locations);
    ts__itab_free(&p->location_index);
    ts__vec_free(&p->lines);
    ts__vec_free(&p->functions);
    ts__itab_free(&p->function_index);
    ts__vec_free(&p->mappings);
    free(p);
}

/* ---- header ------------------------------------------------------------ */

static bool nonempty(const char *s) { return s && s[0] != '\0'; }

/* Intern s as a signed string index. */
static int intern(struct ts__profile *p, const char *s, int64_t *out)
{
    size_t i;
    int r = ts__strtab_intern(&p->strings, s, &i);
    if (r == 0)
        *out = (int64_t)i;
    return r;
}

static int intern_pair(struct ts__profile *p, const char *type,
                       const char *unit, struct ts__pvaluetype *vt)
{
    int r = intern(p, type, &vt->type);
    return r != 0 ? r : intern(p, unit, &vt->unit);
}

int ts__profile_add_sample_type(struct ts__profile *p, const char *type,
                                const char *unit)
{
    if (!p || !nonempty(type) || !nonempty(unit))
        return EINVAL;
    if (p->samples.n > 0)
        return EBUSY;
    int r = ts__vec_reserve(&p->sample_types, 1,
                            sizeof(struct ts__pvaluetype));
    struct ts__pvaluetype vt;
    if (r == 0)
        r = intern_pair(p, type, unit, &vt);
    if (r == 0)
        TS__VEC_AT(&p->sample_types, struct ts__pvaluetype,
                   p->sample_types.n++) = vt;
    return r;
}

int ts__profile_set_period(struct ts__profile *p, const char *type,
                           const char *unit, int64_t period)
{
    if (!p || !nonempty(type) || !nonempty(unit) || period < 0)
        return EINVAL;
    struct ts__pvaluetype vt;
    int r = intern_pair(p, type, unit, &vt);
    if (r == 0) {
        p->period_type = vt;
        p->period = period;
    }
    return r;
}

int ts__profile_set_time(struct ts__profile *p, int64_t time_nanos,
                         int64_t duration_nanos)
{
    if (!p || time_nanos < 0 || duration_nanos < 0)
        return EINVAL;
    p->time_nanos = time_nanos;
    p->duration_nanos = duration_nanos;
    return 0;
}

int ts__profile_add_comment(struct ts__profile *p, const char *text)
{
    if (!p || !text)
        return EINVAL;
    int64_t idx;
    int r = ts__vec_reserve(&p->comments, 1, sizeof(int64_t));
    if (r == 0)
        r = intern(p, text, &idx);
    if (r == 0)
        TS__VEC_AT(&p->comments, int64_t, p->comments.n++) = idx;
    return r;
}

int ts__profile_set_default_sample_type(struct ts__profile *p,
                                        const char *type)
{
    if (!p || !nonempty(type))
        return EINVAL;
    for (size_t i = 0; i < p->sample_types.n; i++) {
        int64_t t = TS__VEC_AT(&p->sample_types, struct ts__pvaluetype, i)
                        .type;
        if (strcmp(ts__strtab_get(&p->strings, (size_t)t), type) == 0) {
            p->default_sample_type = t;
            return 0;
        }
    }
    return EINVAL;
}

/* ---- input checks ------------------------------------------------------ */

static int cmp_key_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each label alone: key present and not reserved, no unit on a string. */
static bool label_ok(const struct ts__label *l)
{
    return nonempty(l->key) &&
           strncmp(l->key, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) != 0 &&
           !(l->str && l->num_unit);
}

/* The label set: every label ok and no key twice. 0, EINVAL or ENOMEM. */
static int check_labels(const struct ts__label *l, size_t n)
{
    if (n == 0)
        return 0;
    if (!l)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!label_ok(&l[i]))
            return EINVAL;
    const char *stackbuf[LABELS_ON_STACK];
    const char **keys = stackbuf;
    if (n > LABELS_ON_STACK)
        keys = ts__prof_malloc(n * sizeof *keys);
    if (!keys)
        return ENOMEM;
    for (size_t i = 0; i < n; i++)
        keys[i] = l[i].key;
    qsort(keys, n, sizeof *keys, cmp_key_ptr);
    int r = 0;
    for (size_t i = 1; i < n && r == 0; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            r = EINVAL;
    if (keys != stackbuf)
        free(keys);
    return r;
}

static int check_sample(const struct ts__profile *p,
                        const struct ts__sample *s)
{
    if (!s || p->sample_types.n == 0 || s->nvalues != p->sample_types.n ||
        !s->values || (s->depth > 0 && !s->stack))
        return EINVAL;
    for (size_t i = 0; i < s->depth; i++)
        if (s->stack[i] == 0)
            return EINVAL;
    return check_labels(s->labels, s->nlabels);
}

/* ---- locations --------------------------------------------------------- */

static bool location_eq(const void *ctx, size_t idx, const void *key)
{
    const struct ts__profile *p = ctx;
    return TS__VEC_AT(&p->locations, struct ts__plocation, idx).address ==
           *(const uint64_t *)key;
}

/* Id of the location at addr, added when new. */
static int intern_location(struct ts__profile *p, uint64_t addr,
                           uint64_t *id)
{
    uint64_t h = ts__hash_u64(TS__HASH_SEED, addr);
    size_t i = ts__itab_find(&p->location_index, h, location_eq, p, &addr);
    if (i == SIZE_MAX) {
        int r = ts__vec_reserve(&p->locations, 1,
                                sizeof(struct ts__plocation));
        if (r == 0)
            r = ts__itab_add(&p->location_index, h, p->locations.n);
        if (r != 0)
            return r;
        i = p->locations.n++;
        TS__VEC_AT(&p->locations, struct ts__plocation, i) =
            (struct ts__plocation){.address = addr};
    }
    *id = (uint64_t)i + 1;
    return 0;
}

/* Return addresses point after the call; step back into it so the address
 * (and its line) is the call's. The leaf of a signal context is exact. */
static uint64_t code_address(const struct ts__sample *s, size_t i)
{
    uint64_t pc = s->stack[i];
    if (i == 0 && (s->flags & TS__SAMPLE_LEAF_PC))
        return pc;
    return pc - 1;
}

/* ---- functions --------------------------------------------------------- */

static bool function_eq(const void *ctx, size_t idx, const void *key)
{
    const struct ts__profile *p = ctx;
    return memcmp(&TS__VEC_AT(&p->functions, struct ts__pfunction, idx), key,
                  sizeof(struct ts__pfunction)) == 0;
}

static int intern_function(struct ts__profile *p, const char *name,
                           const char *system_name, const char *filename,
                           int64_t start_line, uint64_t *id)
{
    struct ts__pfunction f;
    memset(&f, 0, sizeof f); /* compared with memcmp */
    f.start_line = start_line;
    int r = intern(p, name, &f.name);
    if (r == 0)
        r = intern(p, system_name, &f.system_name);
    if (r == 0)
        r = intern(p, filename, &f.filename);
    if (r != 0)
        return r;
    uint64_t h = ts__hash_bytes(TS__HASH_SEED, &f, sizeof f);
    size_t i = ts__itab_find(&p->function_index, h, function_eq, p, &f);
    if (i == SIZE_MAX) {
        r = ts__vec_reserve(&p->functions, 1, sizeof f);
        if (r == 0)
            r = ts__itab_add(&p->function_index, h, p->functions.n);
        if (r != 0)
            return r;
        i = p->functions.n++;
        TS__VEC_AT(&p->functions, struct ts__pfunction, i) = f;
    }
    *id = (uint64_t)i + 1;
    return 0;
}

/* ---- samples ----------------------------------------------------------- */

/* A candidate sample: its interned stack and sorted labels. */
struct sample_key {
    const uint64_t *locs;
    size_t nloc;
    const struct ts__plabel *labels;
    size_t nlabel;
};

static bool sample_eq(const void *ctx, size_t idx, const void *key)
{
    const struct ts__profile *p = ctx;
    const struct sample_key *k = key;
    const struct ts__psample *s =
        &TS__VEC_AT(&p->samples, struct ts__psample, idx);
    if (s->nloc != k->nloc || s->nlabel != k->nlabel)
        return false;
    if (k->nloc > 0 &&
        memcmp(&TS__VEC_AT(&p->loc_ids, uint64_t, s->loc), k->locs,
               k->nloc * sizeof *k->locs) != 0)
        return false;
    return k->nlabel == 0 ||
           memcmp(&TS__VEC_AT(&p->labels, struct ts__plabel, s->label),
                  k->labels, k->nlabel * sizeof *k->labels) == 0;
}

static uint64_t sample_hash(const struct sample_key *k)
{
    uint64_t h = TS__HASH_SEED;
    for (size_t i = 0; i < k->nloc; i++)
        h = ts__hash_u64(h, k->locs[i]);
    return ts__hash_bytes(h, k->labels, k->nlabel * sizeof *k->labels);
}

/* Intern the stack into the free tail of loc_ids (not committed). */
static int stage_stack(struct ts__profile *p, const struct ts__sample *s,
                       uint64_t *locs)
{
    for (size_t i = 0; i < s->depth; i++) {
        int r = intern_location(p, code_address(s, i), &locs[i]);
        if (r != 0)
            return r;
    }
    return 0;
}

static int stage_label(struct ts__profile *p, const struct ts__label *in,
                       struct ts__plabel *out)
{
    memset(out, 0, sizeof *out); /* compared and hashed as bytes */
    int r = intern(p, in->key, &out->key);
    if (r != 0)
        return r;
    if (in->str)
        return intern(p, in->str, &out->str);
    out->num = in->num;
    return in->num_unit ? intern(p, in->num_unit, &out->num_unit) : 0;
}

static int cmp_plabel(const void *a, const void *b, void *ctx)
{
    const struct ts__profile *p = ctx;
    const struct ts__plabel *x = a, *y = b;
    return strcmp(ts__strtab_get(&p->strings, (size_t)x->key),
                  ts__strtab_get(&p->strings, (size_t)y->key));
}

/* Intern the labels into the free tail of labels, sorted by key. */
static int stage_labels(struct ts__profile *p, const struct ts__sample *s,
                        struct ts__plabel *out)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        int r = stage_label(p, &s->labels[i], &out[i]);
        if (r != 0)
            return r;
    }
    if (s->nlabels > 1)
        qsort_r(out, s->nlabels, sizeof *out, cmp_plabel, p);
    return 0;
}

/* Sum values into sample idx; EOVERFLOW changes nothing. */
static int merge_values(struct ts__profile *p, size_t idx, const int64_t *v)
{
    size_t n = p->sample_types.n;
    int64_t *dst = &TS__VEC_AT(&p->values, int64_t, idx * n);
    int64_t sum;
    for (size_t i = 0; i < n; i++)
        if (__builtin_add_overflow(dst[i], v[i], &sum))
            return EOVERFLOW;
    for (size_t i = 0; i < n; i++)
        dst[i] += v[i];
    return 0;
}

/* Make the staged stack and labels a new sample with values v. */
static int commit_sample(struct ts__profile *p, const struct sample_key *k,
                         uint64_t h, const int64_t *v)
{
    size_t n = p->sample_types.n;
    int r = ts__vec_reserve(&p->samples, 1, sizeof(struct ts__psample));
    if (r == 0)
        r = ts__vec_reserve(&p->values, n, sizeof(int64_t));
    if (r == 0)
        r = ts__itab_add(&p->sample_index, h, p->samples.n);
    if (r != 0)
        return r;
    TS__VEC_AT(&p->samples, struct ts__psample, p->samples.n++) =
        (struct ts__psample){.loc = p->loc_ids.n, .nloc = k->nloc,
                             .label = p->labels.n, .nlabel = k->nlabel};
    memcpy(&TS__VEC_AT(&p->values, int64_t, p->values.n), v, n * sizeof *v);
    p->values.n += n;
    p->loc_ids.n += k->nloc;
    p->labels.n += k->nlabel;
    return 0;
}

int ts__profile_add_sample(struct ts__profile *p, const struct ts__sample *s)
{
    if (!p)
        return EINVAL;
    int r = check_sample(p, s);
    if (r != 0)
        return r;
    /* stage stack and labels in the vectors' free tails; commit_sample
     * takes them, a merge leaves them behind as free space again (one
     * spare element keeps the data pointers non-NULL when a part is empty) */
    r = ts__vec_reserve(&p->loc_ids, s->depth + 1, sizeof(uint64_t));
    if (r == 0)
        r = ts__vec_reserve(&p->labels, s->nlabels + 1,
                            sizeof(struct ts__plabel));
    struct sample_key k = {
        .locs = &TS__VEC_AT(&p->loc_ids, uint64_t, p->loc_ids.n),
        .nloc = s->depth,
        .labels = &TS__VEC_AT(&p->labels, struct ts__plabel, p->labels.n),
        .nlabel = s->nlabels,
    };
    if (r == 0)
        r = stage_stack(p, s, (uint64_t *)k.locs);
    if (r == 0)
        r = stage_labels(p, s, (struct ts__plabel *)k.labels);
    if (r != 0)
        return r;
    uint64_t h = sample_hash(&k);
    size_t i = ts__itab_find(&p->sample_index, h, sample_eq, p, &k);
    if (i != SIZE_MAX)
        return merge_values(p, i, s->values);
    return commit_sample(p, &k, h, s->values);
}

/* ---- mappings ---------------------------------------------------------- */

/* Append a mapping for [start, limit) of path; build id from sym when it
 * has one for start. */
static int add_mapping(struct ts__profile *p, const struct ts__maps_entry *e,
                       struct ts__symbolizer *sym, uint64_t *id)
{
    struct ts__pmapping m = {.start = e->start, .limit = e->limit,
                             .file_offset = e->file_offset};
    struct ts__module mod;
    const char *build_id = "";
    if (sym && e->limit > e->start &&
        ts__symbolizer_module(sym, e->start, &mod) == 0)
        build_id = mod.build_id;
    int r = ts__vec_reserve(&p->mappings, 1, sizeof m);
    if (r == 0)
        r = intern(p, e->path, &m.filename);
    if (r == 0)
        r = intern(p, build_id, &m.build_id);
    if (r != 0)
        return r;
    TS__VEC_AT(&p->mappings, struct ts__pmapping, p->mappings.n++) = m;
    *id = p->mappings.n;
    return 0;
}

/* Id of the mapping for e, added when new (a profile has few mappings:
 * a linear search is enough). */
static int mapping_for(struct ts__profile *p, const struct ts__maps_entry *e,
                       struct ts__symbolizer *sym, uint64_t *id)
{
    for (size_t i = 0; i < p->mappings.n; i++) {
        const struct ts__pmapping *m =
            &TS__VEC_AT(&p->mappings, struct ts__pmapping, i);
        if (m->start == e->start && m->limit == e->limit &&
            m->file_offset == e->file_offset &&
            strcmp(ts__strtab_get(&p->strings, (size_t)m->filename),
                   e->path) == 0) {
            *id = i + 1;
            return 0;
        }
    }
    return add_mapping(p, e, sym, id);
}

/* mapping[0]: the main executable's text, even when no sample is in it;
 * without it pprof warns "Main binary filename not available". */
static int add_main_mapping(struct ts__profile *p, const struct ts__maps *m,
                            struct ts__symbolizer *sym)
{
    uint64_t id;
    if (m->main_index != SIZE_MAX)
        return add_mapping(p, &m->entries[m->main_index], sym, &id);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    struct ts__maps_entry e = {.path = exe};
    return add_mapping(p, &e, sym, &id);
}

int ts__profile_map(struct ts__profile *p, struct ts__symbolizer *sym)
{
    if (!p)
        return EINVAL;
    struct ts__maps m;
    int r = ts__maps_read(&m);
    if (r != 0)
        return r;
    if (p->mappings.n == 0)
        r = add_main_mapping(p, &m, sym);
    for (size_t i = p->nmapped; r == 0 && i < p->locations.n; i++) {
        struct ts__plocation *l =
            &TS__VEC_AT(&p->locations, struct ts__plocation, i);
        const struct ts__maps_entry *e = ts__maps_find(&m, l->address);
        uint64_t id = 0;
        if (e)
            r = mapping_for(p, e, sym, &id);
        if (r == 0) {
            l->mapping_id = id;
            p->nmapped = i + 1;
        }
    }
    ts__maps_free(&m);
    return r;
}

/* ---- symbolization ----------------------------------------------------- */

/* Functions and lines of location i; an unknown address keeps no lines. */
static int symbolize_location(struct ts__profile *p,
                              struct ts__symbolizer *sym, size_t i)
{
    uint64_t addr = TS__VEC_AT(&p->locations, struct ts__plocation, i)
                        .address;
    const struct ts__frame *f;
    size_t n;
    int r = ts__symbolize(sym, addr, &f, &n);
    if (r == ENOENT)
        return 0;
    if (r == 0)
        r = ts__vec_reserve(&p->lines, n, sizeof(struct ts__pline));
    for (size_t j = 0; j < n && r == 0; j++) {
        uint64_t fid = 0;
        r = intern_function(p, f[j].function, f[j].system_name, f[j].file,
                            f[j].start_line, &fid);
        TS__VEC_AT(&p->lines, struct ts__pline, p->lines.n + j) =
            (struct ts__pline){.function_id = fid, .line = f[j].line};
    }
    if (r != 0)
        return r;
    struct ts__plocation *l =
        &TS__VEC_AT(&p->locations, struct ts__plocation, i);
    l->line = p->lines.n;
    l->nline = n;
    p->lines.n += n;
    return 0;
}

/* Clear m's flags that location l does not satisfy. */
static void narrow_flags(const struct ts__profile *p,
                         const struct ts__plocation *l, struct ts__pmapping *m)
{
    if (l->nline == 0)
        m->has_functions = m->has_filenames = m->has_line_numbers = false;
    for (size_t j = 0; j < l->nline; j++) {
        const struct ts__pline *ln =
            &TS__VEC_AT(&p->lines, struct ts__pline, l->line + j);
        const struct ts__pfunction *f = &TS__VEC_AT(
            &p->functions, struct ts__pfunction, ln->function_id - 1);
        m->has_functions &= f->name != 0;
        m->has_filenames &= f->filename != 0;
        m->has_line_numbers &= ln->line != 0;
    }
}

/* Each flag of a mapping holds when every location in it has the item.
 * Inline frames come with line numbers: both need DWARF, and with DWARF
 * the symbolizer always expands inlined scopes. */
static void set_mapping_flags(struct ts__profile *p)
{
    for (size_t i = 0; i < p->mappings.n; i++) {
        struct ts__pmapping *m =
            &TS__VEC_AT(&p->mappings, struct ts__pmapping, i);
        m->has_functions = m->has_filenames = m->has_line_numbers = true;
    }
    for (size_t i = 0; i < p->locations.n; i++) {
        const struct ts__plocation *l =
            &TS__VEC_AT(&p->locations, struct ts__plocation, i);
        if (l->mapping_id != 0)
            narrow_flags(p, l, &TS__VEC_AT(&p->mappings, struct ts__pmapping,
                                           l->mapping_id - 1));
    }
    for (size_t i = 0; i < p->mappings.n; i++) {
        struct ts__pmapping *m =
            &TS__VEC_AT(&p->mappings, struct ts__pmapping, i);
        m->has_inline_frames = m->has_line_numbers;
    }
}

int ts__profile_symbolize(struct ts__profile *p, struct ts__symbolizer *sym)
{
    if (!p || !sym)
        return EINVAL;
    int r = ts__profile_map(p, sym);
    for (size_t i = p->nsymbolized; r == 0 && i < p->locations.n; i++) {
        r = symbolize_location(p, sym, i);
        if (r == 0)
            p->nsymbolized = i + 1;
    }
    if (r == 0)
        set_mapping_flags(p);
    return r;
}

/* ---- counts ------------------------------------------------------------ */

size_t ts__profile_nsamples(const struct ts__profile *p)
{
    return p ? p->samples.n : 0;
}

size_t ts__profile_nlocations(const struct ts__profile *p)
{
    return p ? p->locations.n : 0;
}

size_t ts__profile_nfunctions(const struct ts__profile *p)
{
    return p ? p->functions.n : 0;
}

size_t ts__profile_nmappings(const struct ts__profile *p)
{
    return p ? p->mappings.n : 0;
}
