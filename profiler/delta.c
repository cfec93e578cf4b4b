/* taskscope — delta profiles and index counts on decoded pprof (delta.h).
 *
 * Model: Go's net/http/pprof serveDeltaProfile, p0.Scale(-1) merged with
 * p1 (google/pprof profile.Merge): values are summed per sample key and
 * all-zero samples dropped. The output is p1's decoded messages, pointed
 * at (p1's ids and string indices stay valid), plus what only p0 has (the
 * locations, functions, mappings and strings of samples gone since),
 * copied in with fresh ids.
 *
 * Invariants:
 *   - a sample's key is its locations' output ids, then its labels by
 *     content (key, str, num, unit), sorted: equal stacks with equal labels
 *     merge whatever each profile's ids and label order;
 *   - a p0 location is p1's location at the same address when p1 has one
 *     (one process: one address, one code), so a stack in both profiles
 *     has one key;
 *   - every allocation of a call but the keys lives in one arena freed at
 *     its end; the decoded profiles outlive the packing of the output. */
#include "profiler/delta.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "profiler/intern.h"

typedef Taskscope__Pprof__Profile PbProfile;
typedef Taskscope__Pprof__Sample PbSample;
typedef Taskscope__Pprof__Label PbLabel;
typedef Taskscope__Pprof__Mapping PbMapping;
typedef Taskscope__Pprof__Location PbLocation;
typedef Taskscope__Pprof__Line PbLine;
typedef Taskscope__Pprof__Function PbFunction;

/* ---- gzip ---------------------------------------------------------------- */

static int gunzip(const uint8_t *in, size_t n, uint8_t **out, size_t *len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (n > UINT_MAX)
        return EINVAL;
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return ENOMEM;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    size_t cap = 4 * n + 4096, used = 0;
    uint8_t *buf = ts__prof_malloc(cap);
    int r = buf ? 0 : ENOMEM, zr = Z_OK;
    while (!r && zr != Z_STREAM_END) {
        if (used == cap) {
            uint8_t *nb = cap < UINT_MAX ? ts__prof_realloc(buf, 2 * cap) : NULL;
            if (!nb) {
                r = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t room = cap - used < UINT_MAX ? cap - used : UINT_MAX;
        z.next_out = buf + used;
        z.avail_out = (uInt)room;
        zr = inflate(&z, Z_NO_FLUSH);
        used += room - z.avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END)
            r = zr == Z_MEM_ERROR ? ENOMEM : EINVAL;
    }
    inflateEnd(&z);
    if (r) {
        free(buf);
        return r;
    }
    *out = buf;
    *len = used;
    return 0;
}

static int gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (n > UINT_MAX)
        return ENOMEM;
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return ENOMEM;
    size_t cap = deflateBound(&z, (uLong)n);
    uint8_t *buf = ts__prof_malloc(cap);
    int zr = Z_MEM_ERROR;
    if (buf) {
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)n;
        z.next_out = buf;
        z.avail_out = (uInt)cap;
        zr = deflate(&z, Z_FINISH);
    }
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        free(buf);
        return ENOMEM;
    }
    *out = buf;
    *len = cap - z.avail_out;
    return 0;
}

/* decode: the gzipped profile, unpacked by protobuf-c (free_unpacked). */
static int decode(const uint8_t *gz, size_t n, PbProfile **out)
{
    uint8_t *plain;
    size_t len;
    int r = gunzip(gz, n, &plain, &len);
    if (r)
        return r;
    *out = taskscope__pprof__profile__unpack(NULL, len, plain);
    free(plain);
    return *out ? 0 : EINVAL;
}

/* ---- arena --------------------------------------------------------------- */

struct chunk {
    struct chunk *next;
    max_align_t data[];
};

struct arena {
    struct chunk *head;
    bool failed;
};

/* n zeroed elements of size bytes (at least one byte); NULL on failure,
 * remembered in a->failed. */
static void *arena_calloc(struct arena *a, size_t n, size_t size)
{
    size_t bytes = n * size;
    if (size && bytes / size != n)
        bytes = SIZE_MAX;
    struct chunk *c = bytes < SIZE_MAX - sizeof *c
                          ? ts__prof_calloc(1, sizeof *c + bytes + 1)
                          : NULL;
    if (!c) {
        a->failed = true;
        return NULL;
    }
    c->next = a->head;
    a->head = c;
    return c->data;
}

static void arena_free(struct arena *a)
{
    while (a->head) {
        struct chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
}

/* ---- the merge ----------------------------------------------------------- */

struct addr_id {
    uint64_t address, id;
};

struct slot {
    char *key; /* malloc'd; NULL = free slot */
    PbSample *sample;
};

struct merge {
    struct arena a;
    const PbProfile *p1;
    PbSample **sample;
    size_t n_sample;
    PbLocation **location;
    size_t n_location;
    PbFunction **function;
    size_t n_function;
    PbMapping **mapping;
    size_t n_mapping;
    char **str;
    size_t n_str;
    uint64_t next_location_id, next_function_id, next_mapping_id;
    struct addr_id *by_addr; /* p1's locations with an address, sorted */
    size_t n_by_addr;
    struct slot *table; /* open addressing, size a power of two */
    size_t table_cap;
};

/* What of p0 is already in the output: output ids (0 = not yet) and
 * string indices (-1 = not yet), by p0's array index. */
struct from0 {
    const PbProfile *p;
    uint64_t *location, *function, *mapping;
    int64_t *str;
};

static uint64_t id_at(const void *msg, size_t off)
{
    uint64_t id;
    memcpy(&id, (const char *)msg + off, sizeof id);
    return id;
}

/* find_id: the index of the message with id in arr, or SIZE_MAX; ids are
 * positions + 1 in our profiles, checked first. */
static size_t find_id(void *const *arr, size_t n, size_t off, uint64_t id)
{
    if (id >= 1 && id - 1 < n && id_at(arr[id - 1], off) == id)
        return id - 1;
    for (size_t i = 0; i < n; i++)
        if (id_at(arr[i], off) == id)
            return i;
    return SIZE_MAX;
}

static int cmp_addr(const void *x, const void *y)
{
    const struct addr_id *a = x, *b = y;
    return a->address < b->address ? -1 : a->address > b->address;
}

static uint64_t max_id(void *const *arr, size_t n, size_t off)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (id_at(arr[i], off) > m)
            m = id_at(arr[i], off);
    return m;
}

/* copy_ptrs: a new array of cap pointers holding the n of src. */
static void *copy_ptrs(struct arena *a, void *const *src, size_t n, size_t cap)
{
    void **dst = arena_calloc(a, cap, sizeof *dst);
    if (dst && n)
        memcpy(dst, src, n * sizeof *dst);
    return dst;
}

static int merge_init(struct merge *m, const PbProfile *p1, const PbProfile *p0)
{
    struct arena *a = &m->a;
    m->p1 = p1;
    m->sample = arena_calloc(a, p1->n_sample + p0->n_sample, sizeof *m->sample);
    m->location = copy_ptrs(a, (void *const *)p1->location, p1->n_location,
                            p1->n_location + p0->n_location);
    m->function = copy_ptrs(a, (void *const *)p1->function, p1->n_function,
                            p1->n_function + p0->n_function);
    m->mapping = copy_ptrs(a, (void *const *)p1->mapping, p1->n_mapping,
                           p1->n_mapping + p0->n_mapping);
    m->str = copy_ptrs(a, (void *const *)p1->string_table, p1->n_string_table,
                       p1->n_string_table + p0->n_string_table);
    m->n_location = p1->n_location;
    m->n_function = p1->n_function;
    m->n_mapping = p1->n_mapping;
    m->n_str = p1->n_string_table;
    m->next_location_id = 1 + max_id((void *const *)p1->location, p1->n_location,
                                     offsetof(PbLocation, id));
    m->next_function_id = 1 + max_id((void *const *)p1->function, p1->n_function,
                                     offsetof(PbFunction, id));
    m->next_mapping_id = 1 + max_id((void *const *)p1->mapping, p1->n_mapping,
                                    offsetof(PbMapping, id));
    m->by_addr = arena_calloc(a, p1->n_location, sizeof *m->by_addr);
    for (size_t i = 0; m->by_addr && i < p1->n_location; i++)
        if (p1->location[i]->address)
            m->by_addr[m->n_by_addr++] = (struct addr_id){
                p1->location[i]->address, p1->location[i]->id};
    if (m->by_addr)
        qsort(m->by_addr, m->n_by_addr, sizeof *m->by_addr, cmp_addr);
    for (m->table_cap = 16; m->table_cap < 2 * (p1->n_sample + p0->n_sample);)
        m->table_cap *= 2;
    m->table = ts__prof_calloc(m->table_cap, sizeof *m->table);
    return a->failed || !m->table ? ENOMEM : 0;
}

static void merge_free(struct merge *m)
{
    for (size_t i = 0; m->table && i < m->table_cap; i++)
        free(m->table[i].key);
    free(m->table);
    arena_free(&m->a);
}

static int from0_init(struct from0 *f, struct arena *a, const PbProfile *p0)
{
    f->p = p0;
    f->location = arena_calloc(a, p0->n_location, sizeof *f->location);
    f->function = arena_calloc(a, p0->n_function, sizeof *f->function);
    f->mapping = arena_calloc(a, p0->n_mapping, sizeof *f->mapping);
    f->str = arena_calloc(a, p0->n_string_table, sizeof *f->str);
    for (size_t i = 0; f->str && i < p0->n_string_table; i++)
        f->str[i] = i == 0 ? 0 : -1;
    return a->failed ? ENOMEM : 0;
}

/* ---- importing what only p0 has ------------------------------------------ */

static int64_t str0(struct merge *m, struct from0 *f, int64_t i)
{
    if (i <= 0 || (uint64_t)i >= f->p->n_string_table)
        return 0;
    if (f->str[i] < 0) {
        m->str[m->n_str] = f->p->string_table[i];
        f->str[i] = (int64_t)m->n_str++;
    }
    return f->str[i];
}

static uint64_t mapping0(struct merge *m, struct from0 *f, uint64_t id)
{
    size_t i = find_id((void *const *)f->p->mapping, f->p->n_mapping,
                       offsetof(PbMapping, id), id);
    if (i == SIZE_MAX)
        return 0;
    if (f->mapping[i])
        return f->mapping[i];
    const PbMapping *src = f->p->mapping[i];
    for (size_t j = 0; j < m->p1->n_mapping; j++) {
        const PbMapping *q = m->p1->mapping[j];
        if (q->memory_start == src->memory_start &&
            q->memory_limit == src->memory_limit &&
            q->file_offset == src->file_offset)
            return f->mapping[i] = q->id;
    }
    PbMapping *dst = arena_calloc(&m->a, 1, sizeof *dst);
    if (!dst)
        return 0;
    *dst = *src;
    dst->id = m->next_mapping_id++;
    dst->filename = str0(m, f, src->filename);
    dst->build_id = str0(m, f, src->build_id);
    m->mapping[m->n_mapping++] = dst;
    return f->mapping[i] = dst->id;
}

static uint64_t function0(struct merge *m, struct from0 *f, uint64_t id)
{
    size_t i = find_id((void *const *)f->p->function, f->p->n_function,
                       offsetof(PbFunction, id), id);
    if (i == SIZE_MAX)
        return 0;
    if (f->function[i])
        return f->function[i];
    const PbFunction *src = f->p->function[i];
    PbFunction *dst = arena_calloc(&m->a, 1, sizeof *dst);
    if (!dst)
        return 0;
    *dst = *src;
    dst->id = m->next_function_id++;
    dst->name = str0(m, f, src->name);
    dst->system_name = str0(m, f, src->system_name);
    dst->filename = str0(m, f, src->filename);
    m->function[m->n_function++] = dst;
    return f->function[i] = dst->id;
}

static PbLocation *copy_location0(struct merge *m, struct from0 *f,
                                  const PbLocation *src)
{
    PbLocation *dst = arena_calloc(&m->a, 1, sizeof *dst);
    PbLine **lines = arena_calloc(&m->a, src->n_line, sizeof *lines);
    if (!dst || !lines)
        return NULL;
    *dst = *src;
    dst->id = m->next_location_id++;
    dst->mapping_id = mapping0(m, f, src->mapping_id);
    dst->line = lines;
    for (size_t k = 0; k < src->n_line; k++) {
        if (!(lines[k] = arena_calloc(&m->a, 1, sizeof *lines[k])))
            return NULL;
        *lines[k] = *src->line[k];
        lines[k]->function_id = function0(m, f, src->line[k]->function_id);
    }
    m->location[m->n_location++] = dst;
    return dst;
}

/* location0: the output id of p0's location id; 0 on a bad id or ENOMEM
 * (m->a.failed tells them apart). */
static uint64_t location0(struct merge *m, struct from0 *f, uint64_t id)
{
    size_t i = find_id((void *const *)f->p->location, f->p->n_location,
                       offsetof(PbLocation, id), id);
    if (i == SIZE_MAX)
        return 0;
    if (f->location[i])
        return f->location[i];
    const PbLocation *src = f->p->location[i];
    struct addr_id k = {src->address, 0}, *hit = NULL;
    if (src->address && m->n_by_addr)
        hit = bsearch(&k, m->by_addr, m->n_by_addr, sizeof k, cmp_addr);
    if (hit)
        return f->location[i] = hit->id;
    const PbLocation *dst = copy_location0(m, f, src);
    return dst ? (f->location[i] = dst->id) : 0;
}

/* ---- sample keys ----------------------------------------------------------- */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static const char *str_of(const PbProfile *p, int64_t i)
{
    return i > 0 && (uint64_t)i < p->n_string_table ? p->string_table[i] : "";
}

/* label_texts: the labels of s as sorted strings (malloc'd, one each). */
static char **label_texts(const PbProfile *p, const PbSample *s)
{
    char **t = ts__prof_calloc(s->n_label + 1, sizeof *t);
    for (size_t i = 0; t && i < s->n_label; i++) {
        const PbLabel *l = s->label[i];
        if (asprintf(&t[i], "%s\x1f%s\x1f%lld\x1f%s", str_of(p, l->key),
                     str_of(p, l->str), (long long)l->num,
                     str_of(p, l->num_unit)) < 0) {
            t[i] = NULL;
            for (size_t j = 0; j < i; j++)
                free(t[j]);
            free(t);
            return NULL;
        }
    }
    if (t)
        qsort(t, s->n_label, sizeof *t, cmp_str);
    return t;
}

/* sample_key: the key of a sample of p whose output location ids are ids. */
static char *sample_key(const PbProfile *p, const PbSample *s,
                        const uint64_t *ids)
{
    char **labels = label_texts(p, s);
    char *key = NULL;
    size_t len;
    FILE *f = labels ? open_memstream(&key, &len) : NULL;
    if (f) {
        for (size_t i = 0; i < s->n_location_id; i++)
            fprintf(f, "%llx,", (unsigned long long)ids[i]);
        for (size_t i = 0; i < s->n_label; i++)
            fprintf(f, "\x1e%s", labels[i]);
        if (fclose(f) != 0) {
            free(key);
            key = NULL;
        }
    }
    for (size_t i = 0; labels && i < s->n_label; i++)
        free(labels[i]);
    free(labels);
    return key;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* slot_of: key's slot: the one holding it, or the free one to take. */
static struct slot *slot_of(struct merge *m, const char *key)
{
    size_t mask = m->table_cap - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask)
        if (!m->table[i].key || strcmp(m->table[i].key, key) == 0)
            return &m->table[i];
}

/* ---- adding samples ------------------------------------------------------ */

/* add_values: sign * s's values into the sample at key, made by make() if
 * the key is new. Takes key. */
static int add_values(struct merge *m, char *key, const PbSample *s, int sign,
                      PbSample *(*make)(struct merge *, const PbSample *, void *),
                      void *arg)
{
    struct slot *sl = slot_of(m, key);
    if (sl->key) {
        free(key);
    } else {
        if (!(sl->sample = make(m, s, arg))) {
            free(key);
            return ENOMEM;
        }
        sl->key = key;
        m->sample[m->n_sample++] = sl->sample;
    }
    for (size_t i = 0; i < s->n_value; i++)
        sl->sample->value[i] += sign * s->value[i];
    return 0;
}

/* new_sample: an output sample of s's stack and labels, values zero. */
static PbSample *new_sample(struct merge *m, const PbSample *s)
{
    PbSample *d = arena_calloc(&m->a, 1, sizeof *d);
    int64_t *v = arena_calloc(&m->a, s->n_value, sizeof *v);
    if (!d || !v)
        return NULL;
    *d = *s;
    d->value = v;
    return d;
}

static PbSample *make1(struct merge *m, const PbSample *s, void *arg)
{
    (void)arg;
    return new_sample(m, s);
}

/* A sample of p0 with its locations' output ids. */
struct sample0 {
    struct from0 *f;
    uint64_t *ids;
};

/* make0: a sample only p0 has, its labels imported. */
static PbSample *make0(struct merge *m, const PbSample *s, void *arg)
{
    const struct sample0 *s0 = arg;
    struct from0 *f = s0->f;
    PbSample *d = new_sample(m, s);
    PbLabel **labels = arena_calloc(&m->a, s->n_label, sizeof *labels);
    if (!d || !labels)
        return NULL;
    d->location_id = s0->ids;
    d->label = labels;
    for (size_t i = 0; i < s->n_label; i++) {
        if (!(labels[i] = arena_calloc(&m->a, 1, sizeof *labels[i])))
            return NULL;
        *labels[i] = *s->label[i];
        labels[i]->key = str0(m, f, s->label[i]->key);
        labels[i]->str = str0(m, f, s->label[i]->str);
        labels[i]->num_unit = str0(m, f, s->label[i]->num_unit);
    }
    return d;
}

static int add_p1(struct merge *m)
{
    for (size_t i = 0; i < m->p1->n_sample; i++) {
        const PbSample *s = m->p1->sample[i];
        char *key = sample_key(m->p1, s, s->location_id);
        if (!key || add_values(m, key, s, 1, make1, NULL))
            return ENOMEM;
    }
    return 0;
}

static int add_p0(struct merge *m, struct from0 *f)
{
    for (size_t i = 0; i < f->p->n_sample; i++) {
        const PbSample *s = f->p->sample[i];
        uint64_t *ids = arena_calloc(&m->a, s->n_location_id, sizeof *ids);
        for (size_t k = 0; ids && k < s->n_location_id; k++)
            if (!(ids[k] = location0(m, f, s->location_id[k])))
                return m->a.failed ? ENOMEM : EINVAL;
        char *key = ids ? sample_key(f->p, s, ids) : NULL;
        struct sample0 s0 = {f, ids};
        if (!key || add_values(m, key, s, -1, make0, &s0))
            return ENOMEM;
    }
    return 0;
}

/* ---- output -------------------------------------------------------------- */

static bool all_zero(const PbSample *s)
{
    for (size_t i = 0; i < s->n_value; i++)
        if (s->value[i])
            return false;
    return true;
}

static int pack(struct merge *m, int64_t time_nanos, int64_t duration_nanos,
                uint8_t **out, size_t *len)
{
    PbProfile pb = *m->p1;
    size_t n = 0;
    for (size_t i = 0; i < m->n_sample; i++)
        if (!all_zero(m->sample[i]))
            m->sample[n++] = m->sample[i];
    pb.sample = m->sample;
    pb.n_sample = n;
    pb.location = m->location;
    pb.n_location = m->n_location;
    pb.function = m->function;
    pb.n_function = m->n_function;
    pb.mapping = m->mapping;
    pb.n_mapping = m->n_mapping;
    pb.string_table = m->str;
    pb.n_string_table = m->n_str;
    pb.time_nanos = time_nanos;
    pb.duration_nanos = duration_nanos;
    size_t size = taskscope__pprof__profile__get_packed_size(&pb);
    uint8_t *buf = ts__prof_malloc(size ? size : 1);
    if (!buf)
        return ENOMEM;
    taskscope__pprof__profile__pack(&pb, buf);
    int r = gzip(buf, size, out, len);
    free(buf);
    return r;
}

/* same_shape: the two profiles have as many sample types, and every
 * sample one value per type. */
static bool same_shape(const PbProfile *p0, const PbProfile *p1)
{
    if (p0->n_sample_type != p1->n_sample_type)
        return false;
    for (size_t i = 0; i < p0->n_sample; i++)
        if (p0->sample[i]->n_value != p0->n_sample_type)
            return false;
    for (size_t i = 0; i < p1->n_sample; i++)
        if (p1->sample[i]->n_value != p1->n_sample_type)
            return false;
    return p1->n_string_table > 0;
}

static int merge_delta(const PbProfile *p0, const PbProfile *p1,
                       int64_t time_nanos, int64_t duration_nanos,
                       uint8_t **out, size_t *len)
{
    if (!same_shape(p0, p1))
        return EINVAL;
    struct merge m;
    struct from0 f;
    memset(&m, 0, sizeof m);
    int r = merge_init(&m, p1, p0);
    if (!r)
        r = from0_init(&f, &m.a, p0);
    if (!r)
        r = add_p1(&m);
    if (!r)
        r = add_p0(&m, &f);
    if (!r && m.a.failed) /* an import that found no memory */
        r = ENOMEM;
    if (!r)
        r = pack(&m, time_nanos, duration_nanos, out, len);
    merge_free(&m);
    return r;
}

int ts__delta_profile(const uint8_t *p0, size_t n0, const uint8_t *p1,
                      size_t n1, int64_t time_nanos, int64_t duration_nanos,
                      uint8_t **out, size_t *len)
{
    PbProfile *d0 = NULL, *d1 = NULL;
    int r = decode(p0, n0, &d0);
    if (!r)
        r = decode(p1, n1, &d1);
    if (!r)
        r = merge_delta(d0, d1, time_nanos, duration_nanos, out, len);
    if (d0)
        taskscope__pprof__profile__free_unpacked(d0, NULL);
    if (d1)
        taskscope__pprof__profile__free_unpacked(d1, NULL);
    return r;
}

int ts__delta_count(const uint8_t *gz, size_t n, int sum, int64_t *count)
{
    PbProfile *p;
    int r = decode(gz, n, &p);
    if (r)
        return r;
    int64_t c = sum ? 0 : (int64_t)p->n_sample;
    for (size_t i = 0; sum && i < p->n_sample; i++)
        c += p->sample[i]->n_value ? p->sample[i]->value[0] : 0;
    taskscope__pprof__profile__free_unpacked(p, NULL);
    *count = c;
    return 0;
}
