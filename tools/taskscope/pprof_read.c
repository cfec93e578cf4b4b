/*
 * pprof_read.c — reads a pprof profile file the way `go tool pprof` does:
 * gzip'd (sniffed by the magic 1f 8b, as pprof's ParseData does) or raw
 * protobuf, decoded with the protobuf-c code generated from
 * profiler/profile.proto, then validated like pprof's decoder and
 * Profile.CheckValid (CONVENTIONS.md §1.1).
 *
 * Invariants of a struct pprof that pprof_load returned PPROF_OK for:
 *   - string_table is non-empty and string_table[0] == "";
 *   - every string index in the profile is in [0, n_string_table);
 *   - there is at least one sample type, and every sample has exactly
 *     n_sample_type values;
 *   - mapping, location and function ids are non-zero and unique within
 *     their kind; every sample location id, every non-zero location
 *     mapping id and every non-zero line function id resolves;
 *   - the three id tables are sorted by id, so lookups are binary searches.
 * Users may therefore follow any reference without checking it again.
 *
 * Limits: the decompressed profile may be at most TS_PPROF_MAX_SIZE bytes
 * (a guard against gzip bombs, far above any real profile).
 * Rejected: mmap'ing the file — profiles are small and gzip'd ones must be
 * copied into a buffer anyway.
 */
#include "pprof_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define TS_PPROF_MAX_SIZE ((size_t)1 << 30)

/* A growable byte buffer. */
struct buf {
    unsigned char *data;
    size_t len;
    size_t cap;
};

static void set_reason(char *reason, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, cap, fmt, ap);
    va_end(ap);
}

/* Makes room for at least `more` further bytes; 0 or ENOMEM/EFBIG. */
static int buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more > TS_PPROF_MAX_SIZE)
        return EFBIG;
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *d = realloc(b->data, cap);
    if (!d)
        return ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

/* Reads the whole file into b; 0 or an errno value. */
static int read_file(const char *path, struct buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = 0;
    for (;;) {
        if ((err = buf_reserve(b, 64 * 1024)) != 0)
            break;
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
    }
    close(fd);
    return err;
}

/* Inflates the gzip stream in `in` into out; PPROF_OK or PPROF_EFORMAT. */
static enum pprof_status gunzip(const struct buf *in, struct buf *out,
                                char *reason, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        set_reason(reason, cap, "zlib: inflateInit2 failed");
        return PPROF_EFORMAT;
    }
    z.next_in = in->data;
    z.avail_in = (uInt)in->len;
    int rc = Z_OK;
    while (rc == Z_OK) {
        int err = buf_reserve(out, 256 * 1024);
        if (err) {
            set_reason(reason, cap, "decompressing: %s", strerror(err));
            break;
        }
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        rc = inflate(&z, Z_NO_FLUSH);
        out->len = out->cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            set_reason(reason, cap, "truncated gzip data");
        else if (rc != Z_OK && rc != Z_STREAM_END)
            set_reason(reason, cap, "gzip: %s", z.msg ? z.msg : "corrupt data");
    }
    inflateEnd(&z);
    return rc == Z_STREAM_END ? PPROF_OK : PPROF_EFORMAT;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = ((const struct pprof_id *)a)->id;
    uint64_t y = ((const struct pprof_id *)b)->id;
    return (x > y) - (x < y);
}

/* Builds the sorted id table of one kind; ids[i] = object i's id.
 * Returns NULL with a reason on a zero or duplicate id (or ENOMEM). */
static struct pprof_id *index_ids(const uint64_t *ids, size_t n,
                                  const char *kind, char *reason, size_t cap)
{
    struct pprof_id *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) {
        set_reason(reason, cap, "%s", strerror(ENOMEM));
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = (struct pprof_id){ids[i], i};
    qsort(t, n, sizeof *t, cmp_id);
    for (size_t i = 0; i < n; i++) {
        if (t[i].id == 0 || (i > 0 && t[i].id == t[i - 1].id)) {
            set_reason(reason, cap, t[i].id ? "duplicate %s id %llu"
                                            : "%s with reserved id 0",
                       kind, (unsigned long long)t[i].id);
            free(t);
            return NULL;
        }
    }
    return t;
}

static const struct pprof_id *find_id(const struct pprof_id *t, size_t n,
                                      uint64_t id)
{
    struct pprof_id key = {id, 0};
    return id ? bsearch(&key, t, n, sizeof *t, cmp_id) : NULL;
}

/* Indexes mappings, locations and functions by id; 0 or -1 with reason. */
static int index_profile(struct pprof *p, char *reason, size_t cap)
{
    const PbProfile *pb = p->pb;
    size_t most = pb->n_mapping;
    if (pb->n_location > most)
        most = pb->n_location;
    if (pb->n_function > most)
        most = pb->n_function;
    uint64_t *ids = malloc((most ? most : 1) * sizeof *ids);
    if (!ids) {
        set_reason(reason, cap, "%s", strerror(ENOMEM));
        return -1;
    }
    for (size_t i = 0; i < pb->n_mapping; i++)
        ids[i] = pb->mapping[i]->id;
    p->mappings = index_ids(ids, pb->n_mapping, "mapping", reason, cap);
    for (size_t i = 0; p->mappings && i < pb->n_location; i++)
        ids[i] = pb->location[i]->id;
    if (p->mappings)
        p->locations = index_ids(ids, pb->n_location, "location", reason, cap);
    for (size_t i = 0; p->locations && i < pb->n_function; i++)
        ids[i] = pb->function[i]->id;
    if (p->locations)
        p->functions = index_ids(ids, pb->n_function, "function", reason, cap);
    free(ids);
    return p->functions ? 0 : -1;
}

/* Range check of one string index; 0 or -1 with reason. */
static int check_str(const PbProfile *pb, int64_t idx, const char *what,
                     char *reason, size_t cap)
{
    if (idx >= 0 && (uint64_t)idx < pb->n_string_table)
        return 0;
    set_reason(reason, cap, "%s: string index %lld out of range (%zu strings)",
               what, (long long)idx, pb->n_string_table);
    return -1;
}

/* String indices of the profile-level fields, value types and comments. */
static int check_header_strings(const PbProfile *pb, char *reason, size_t cap)
{
    int bad = check_str(pb, pb->drop_frames, "drop_frames", reason, cap) ||
              check_str(pb, pb->keep_frames, "keep_frames", reason, cap) ||
              check_str(pb, pb->default_sample_type, "default_sample_type",
                        reason, cap) ||
              check_str(pb, pb->doc_url, "doc_url", reason, cap);
    if (!bad && pb->period_type)
        bad = check_str(pb, pb->period_type->type, "period_type", reason, cap) ||
              check_str(pb, pb->period_type->unit, "period_type", reason, cap);
    for (size_t i = 0; !bad && i < pb->n_sample_type; i++)
        bad = check_str(pb, pb->sample_type[i]->type, "sample_type", reason, cap) ||
              check_str(pb, pb->sample_type[i]->unit, "sample_type", reason, cap);
    for (size_t i = 0; !bad && i < pb->n_comment; i++)
        bad = check_str(pb, pb->comment[i], "comment", reason, cap);
    return bad ? -1 : 0;
}

/* Value count, location ids and label strings of every sample. */
static int check_samples(const struct pprof *p, char *reason, size_t cap)
{
    const PbProfile *pb = p->pb;
    for (size_t i = 0; i < pb->n_sample; i++) {
        const Taskscope__Pprof__Sample *s = pb->sample[i];
        if (s->n_value != pb->n_sample_type) {
            set_reason(reason, cap, "mismatch: sample %zu has %zu values vs. %zu types",
                       i, s->n_value, pb->n_sample_type);
            return -1;
        }
        for (size_t j = 0; j < s->n_location_id; j++) {
            if (!pprof_location(p, s->location_id[j])) {
                set_reason(reason, cap, "sample %zu: unknown location id %llu",
                           i, (unsigned long long)s->location_id[j]);
                return -1;
            }
        }
        for (size_t j = 0; j < s->n_label; j++) {
            const Taskscope__Pprof__Label *l = s->label[j];
            if (check_str(pb, l->key, "label", reason, cap) ||
                check_str(pb, l->str, "label", reason, cap) ||
                check_str(pb, l->num_unit, "label", reason, cap))
                return -1;
        }
    }
    return 0;
}

/* Mapping ids and line function ids of every location. */
static int check_locations(const struct pprof *p, char *reason, size_t cap)
{
    const PbProfile *pb = p->pb;
    for (size_t i = 0; i < pb->n_location; i++) {
        const PbLocation *l = pb->location[i];
        if (l->mapping_id && !pprof_mapping(p, l->mapping_id)) {
            set_reason(reason, cap, "location %llu: unknown mapping id %llu",
                       (unsigned long long)l->id,
                       (unsigned long long)l->mapping_id);
            return -1;
        }
        for (size_t j = 0; j < l->n_line; j++) {
            uint64_t f = l->line[j]->function_id;
            if (f && !pprof_function(p, f)) {
                set_reason(reason, cap, "location %llu: unknown function id %llu",
                           (unsigned long long)l->id, (unsigned long long)f);
                return -1;
            }
        }
    }
    return 0;
}

/* String indices of mappings and functions. */
static int check_object_strings(const PbProfile *pb, char *reason, size_t cap)
{
    for (size_t i = 0; i < pb->n_mapping; i++)
        if (check_str(pb, pb->mapping[i]->filename, "mapping", reason, cap) ||
            check_str(pb, pb->mapping[i]->build_id, "mapping", reason, cap))
            return -1;
    for (size_t i = 0; i < pb->n_function; i++)
        if (check_str(pb, pb->function[i]->name, "function", reason, cap) ||
            check_str(pb, pb->function[i]->system_name, "function", reason, cap) ||
            check_str(pb, pb->function[i]->filename, "function", reason, cap))
            return -1;
    return 0;
}

/* All of the invariants in the head comment; 0 or -1 with reason. */
static int validate(struct pprof *p, char *reason, size_t cap)
{
    const PbProfile *pb = p->pb;
    if (pb->n_string_table == 0 || pb->string_table[0][0] != '\0') {
        set_reason(reason, cap, pb->n_string_table
                                    ? "string_table[0] is not the empty string"
                                    : "no string table");
        return -1;
    }
    if (pb->n_sample_type == 0) {
        set_reason(reason, cap, "no sample types");
        return -1;
    }
    if (check_header_strings(pb, reason, cap) ||
        check_object_strings(pb, reason, cap) ||
        index_profile(p, reason, cap))
        return -1;
    return check_samples(p, reason, cap) || check_locations(p, reason, cap) ? -1 : 0;
}

/* Decodes and validates the protobuf bytes in b into *out. */
static enum pprof_status decode(const struct buf *b, struct pprof *out,
                                char *reason, size_t cap)
{
    struct pprof p = {0};
    p.pb = taskscope__pprof__profile__unpack(NULL, b->len, b->data);
    if (!p.pb) {
        set_reason(reason, cap, "protobuf decoding failed (truncated or corrupt data)");
        return PPROF_EFORMAT;
    }
    if (validate(&p, reason, cap)) {
        pprof_free(&p);
        return PPROF_EFORMAT;
    }
    *out = p;
    return PPROF_OK;
}

enum pprof_status pprof_load(const char *path, struct pprof *out,
                             char *reason, size_t cap)
{
    struct buf raw = {0}, plain = {0};
    enum pprof_status st = PPROF_EFORMAT;
    int err = read_file(path, &raw);
    if (err) {
        set_reason(reason, cap, "%s", strerror(err));
        st = PPROF_EIO;
    } else if (raw.len == 0) {
        set_reason(reason, cap, "empty file");
    } else if (raw.len >= 2 && raw.data[0] == 0x1f && raw.data[1] == 0x8b) {
        if ((st = gunzip(&raw, &plain, reason, cap)) == PPROF_OK)
            st = decode(&plain, out, reason, cap);
    } else {
        st = decode(&raw, out, reason, cap);
    }
    free(raw.data);
    free(plain.data);
    return st;
}

void pprof_free(struct pprof *p)
{
    if (p->pb)
        taskscope__pprof__profile__free_unpacked(p->pb, NULL);
    free(p->locations);
    free(p->functions);
    free(p->mappings);
    *p = (struct pprof){0};
}

long pprof_location_index(const struct pprof *p, uint64_t id)
{
    const struct pprof_id *e = find_id(p->locations, p->pb->n_location, id);
    return e ? (long)e->index : -1;
}

const PbLocation *pprof_location(const struct pprof *p, uint64_t id)
{
    long i = pprof_location_index(p, id);
    return i >= 0 ? p->pb->location[i] : NULL;
}

const PbFunction *pprof_function(const struct pprof *p, uint64_t id)
{
    const struct pprof_id *e = find_id(p->functions, p->pb->n_function, id);
    return e ? p->pb->function[e->index] : NULL;
}

const PbMapping *pprof_mapping(const struct pprof *p, uint64_t id)
{
    const struct pprof_id *e = find_id(p->mappings, p->pb->n_mapping, id);
    return e ? p->pb->mapping[e->index] : NULL;
}

const char *pprof_string(const struct pprof *p, int64_t index)
{
    return p->pb->string_table[index];
}

long pprof_sample_type(const struct pprof *p, const char *want, const char *sub,
                       const char *file)
{
    const PbProfile *pb = p->pb;
    bool asked = want != NULL;
    if (!want && pb->default_sample_type)
        want = pprof_string(p, pb->default_sample_type);
    for (size_t i = 0; want && i < pb->n_sample_type; i++)
        if (strcmp(pprof_string(p, pb->sample_type[i]->type), want) == 0)
            return (long)i;
    if (!asked)
        return (long)pb->n_sample_type - 1; /* pprof: default to the last */
    fprintf(stderr, "taskscope %s: %s: no sample type \"%s\"; it has:", sub, file, want);
    for (size_t i = 0; i < pb->n_sample_type; i++)
        fprintf(stderr, " %s", pprof_string(p, pb->sample_type[i]->type));
    fputc('\n', stderr);
    return -1;
}
