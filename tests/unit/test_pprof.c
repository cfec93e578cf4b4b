/* test_pprof.c — profiler/profile.c (the pprof profile builder) and
 * profiler/pprof.c (profile.proto encoding, gzip, writing to an fd).
 *
 * Encoded profiles are read back with the small protobuf decoder below,
 * written for this test from the field numbers of CONVENTIONS.md §1.1 and
 * independent of the protobuf-c code the writer uses, so a wrong field
 * number or wire type in profile.proto fails here (and go tool pprof checks
 * the same bytes in tests/pprof). Builder tests use made-up addresses; the
 * symbolization tests use a real stack of this file's functions. */
#include "tt_prof.h"

#include <zlib.h>

#include "profiler/intern.h"
#include "profiler/pprof.h"
#include "profiler/profile.h"
#include "profiler/symbolize.h"

/* ---- a minimal profile.proto reader ------------------------------------ */

#define D_MAX 64 /* of each repeated thing a test profile may hold */

struct d_valuetype {
    int64_t type, unit;
};
struct d_label {
    int64_t key, str, num, unit;
};
struct d_sample {
    uint64_t loc[D_MAX];
    size_t nloc;
    int64_t val[D_MAX];
    size_t nval;
    struct d_label lab[D_MAX];
    size_t nlab;
};
struct d_line {
    uint64_t fid;
    int64_t line;
};
struct d_location {
    uint64_t id, mapping_id, address;
    struct d_line line[8];
    size_t nline;
};
struct d_function {
    uint64_t id;
    int64_t name, system_name, filename, start_line;
};
struct d_mapping {
    uint64_t id, start, limit, offset;
    int64_t filename, build_id;
    bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct dprof {
    char *str[4 * D_MAX];
    size_t nstr;
    struct d_valuetype st[D_MAX];
    size_t nst;
    struct d_sample sample[D_MAX];
    size_t nsample;
    struct d_mapping map[D_MAX];
    size_t nmap;
    struct d_location loc[D_MAX];
    size_t nloc;
    struct d_function fn[D_MAX];
    size_t nfn;
    int64_t time_nanos, duration_nanos, period, default_sample_type;
    struct d_valuetype period_type;
    int64_t comment[D_MAX];
    size_t ncomment;
};

/* A repeated integer field, packed (wire 2) or not (wire 0). */
static void rd_repeated(uint32_t wire, uint64_t v, struct rd *sub,
                        uint64_t *out, size_t *n)
{
    if (wire == 0) {
        assert_true(*n < D_MAX);
        out[(*n)++] = v;
        return;
    }
    while (sub->p < sub->end) {
        assert_true(*n < D_MAX);
        out[(*n)++] = rd_varint(sub);
    }
}

static struct d_valuetype rd_valuetype(struct rd r)
{
    struct d_valuetype vt = {0};
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            vt.type = (int64_t)v;
        if (f == 2)
            vt.unit = (int64_t)v;
    }
    return vt;
}

static struct d_label rd_label(struct rd r)
{
    struct d_label l = {0};
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            l.key = (int64_t)v;
        if (f == 2)
            l.str = (int64_t)v;
        if (f == 3)
            l.num = (int64_t)v;
        if (f == 4)
            l.unit = (int64_t)v;
    }
    return l;
}

static void rd_sample(struct rd r, struct d_sample *s)
{
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            rd_repeated(w, v, &sub, s->loc, &s->nloc);
        else if (f == 2)
            rd_repeated(w, v, &sub, (uint64_t *)s->val, &s->nval);
        else if (f == 3 && s->nlab < D_MAX)
            s->lab[s->nlab++] = rd_label(sub);
    }
}

static void rd_mapping(struct rd r, struct d_mapping *m)
{
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        switch (f) {
        case 1:
            m->id = v;
            break;
        case 2:
            m->start = v;
            break;
        case 3:
            m->limit = v;
            break;
        case 4:
            m->offset = v;
            break;
        case 5:
            m->filename = (int64_t)v;
            break;
        case 6:
            m->build_id = (int64_t)v;
            break;
        case 7:
            m->has_functions = v;
            break;
        case 8:
            m->has_filenames = v;
            break;
        case 9:
            m->has_line_numbers = v;
            break;
        case 10:
            m->has_inline_frames = v;
            break;
        }
    }
}

static void rd_location(struct rd r, struct d_location *l)
{
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            l->id = v;
        if (f == 2)
            l->mapping_id = v;
        if (f == 3)
            l->address = v;
        if (f == 4) {
            assert_true(l->nline < 8);
            struct d_line *ln = &l->line[l->nline++];
            uint32_t f2, w2;
            uint64_t v2;
            struct rd sub2;
            while (rd_field(&sub, &f2, &w2, &v2, &sub2)) {
                if (f2 == 1)
                    ln->fid = v2;
                if (f2 == 2)
                    ln->line = (int64_t)v2;
            }
        }
    }
}

static void rd_function(struct rd r, struct d_function *fn)
{
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            fn->id = v;
        if (f == 2)
            fn->name = (int64_t)v;
        if (f == 3)
            fn->system_name = (int64_t)v;
        if (f == 4)
            fn->filename = (int64_t)v;
        if (f == 5)
            fn->start_line = (int64_t)v;
    }
}

/* One top-level Profile field. */
static void rd_profile_field(struct dprof *d, uint32_t f, uint32_t w,
                             uint64_t v, struct rd sub)
{
    switch (f) {
    case 1:
        assert_true(d->nst < D_MAX);
        d->st[d->nst++] = rd_valuetype(sub);
        break;
    case 2:
        assert_true(d->nsample < D_MAX);
        rd_sample(sub, &d->sample[d->nsample++]);
        break;
    case 3:
        assert_true(d->nmap < D_MAX);
        rd_mapping(sub, &d->map[d->nmap++]);
        break;
    case 4:
        assert_true(d->nloc < D_MAX);
        rd_location(sub, &d->loc[d->nloc++]);
        break;
    case 5:
        assert_true(d->nfn < D_MAX);
        rd_function(sub, &d->fn[d->nfn++]);
        break;
    case 6:
        assert_true(d->nstr < 4 * D_MAX);
        d->str[d->nstr] =
            strndup((const char *)sub.p, (size_t)(sub.end - sub.p));
        d->nstr++;
        break;
    case 9:
        d->time_nanos = (int64_t)v;
        break;
    case 10:
        d->duration_nanos = (int64_t)v;
        break;
    case 11:
        d->period_type = rd_valuetype(sub);
        break;
    case 12:
        d->period = (int64_t)v;
        break;
    case 13:
        rd_repeated(w, v, &sub, (uint64_t *)d->comment, &d->ncomment);
        break;
    case 14:
        d->default_sample_type = (int64_t)v;
        break;
    default:
        fail_msg("unexpected Profile field %u", f);
    }
}

static void dprof_free(struct dprof *d)
{
    for (size_t i = 0; i < d->nstr; i++)
        free(d->str[i]);
    free(d);
}

/* Decode raw profile.proto bytes. */
static struct dprof *decode_bytes(const uint8_t *buf, size_t len)
{
    struct dprof *d = calloc(1, sizeof *d);
    assert_non_null(d);
    struct rd r = {buf, buf + len}, sub = {0};
    uint32_t f, w;
    uint64_t v;
    while (rd_field(&r, &f, &w, &v, &sub))
        rd_profile_field(d, f, w, v, sub);
    return d;
}

/* Encode p with ts__pprof_encode and decode the result. */
static struct dprof *decode(const struct ts__profile *p)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(ts__pprof_encode(p, &buf, &len), 0);
    struct dprof *d = decode_bytes(buf, len);
    free(buf);
    return d;
}

/* String i of the decoded table ("<out of range>" if it is not there). */
static const char *S(const struct dprof *d, int64_t i)
{
    return i >= 0 && (size_t)i < d->nstr ? d->str[i] : "<out of range>";
}

/* ---- fixtures ---------------------------------------------------------- */

static struct ts__profile *prof; /* made by prof_setup, freed by prof_end */

static int prof_setup(void **state)
{
    int r = tp_setup(state);
    return r != 0 ? r : (ts__profile_new(&prof) == 0 ? 0 : -1);
}

static int prof_teardown(void **state)
{
    ts__profile_free(prof); /* after a failed assert */
    prof = NULL;
    return tt_teardown(state);
}

static void prof_end(void)
{
    ts__profile_free(prof);
    prof = NULL;
    tp_end();
}

#define PROF_TEST(f)                                                           \
    cmocka_unit_test_setup_teardown(f, prof_setup, prof_teardown)

/* The block profile's two sample types. */
static void block_types(void)
{
    assert_int_equal(ts__profile_add_sample_type(prof, "contentions", "count"),
                     0);
    assert_int_equal(ts__profile_add_sample_type(prof, "delay", "nanoseconds"),
                     0);
}

static int add(const uintptr_t *stack, size_t depth, const int64_t *v,
               size_t nv, const struct ts__label *l, size_t nl)
{
    struct ts__sample s = {.stack = stack,
                           .depth = depth,
                           .values = v,
                           .nvalues = nv,
                           .labels = l,
                           .nlabels = nl};
    return ts__profile_add_sample(prof, &s);
}

static const uintptr_t stack_a[] = {0x1001, 0x2001, 0x3001};
static const uintptr_t stack_b[] = {0x4001, 0x2001, 0x3001};
static const int64_t v12[] = {1, 2};

/* ---- building: header -------------------------------------------------- */

static void test_profile_new_rejects_null(void **state)
{
    (void)state;
    assert_int_equal(ts__profile_new(NULL), EINVAL);
    ts__profile_free(NULL);
    prof_end();
}

static void test_profile_string_table_starts_with_empty_string(void **state)
{
    (void)state;
    struct dprof *d = decode(prof);
    assert_true(d->nstr >= 1);
    assert_string_equal(d->str[0], "");
    dprof_free(d);
    prof_end();
}

static void test_profile_sample_type_needs_type_and_unit(void **state)
{
    (void)state;
    assert_int_equal(ts__profile_add_sample_type(NULL, "a", "b"), EINVAL);
    assert_int_equal(ts__profile_add_sample_type(prof, NULL, "count"), EINVAL);
    assert_int_equal(ts__profile_add_sample_type(prof, "goroutine", ""),
                     EINVAL);
    assert_int_equal(ts__profile_add_sample_type(prof, "", "count"), EINVAL);
    assert_int_equal(ts__profile_add_sample_type(prof, "goroutine", "count"),
                     0);
    prof_end();
}

static void test_profile_sample_type_after_first_sample_is_busy(void **state)
{
    (void)state;
    block_types();
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 0), 0);
    assert_int_equal(ts__profile_add_sample_type(prof, "extra", "count"),
                     EBUSY);
    struct dprof *d = decode(prof);
    assert_int_equal(d->nst, 2);
    dprof_free(d);
    prof_end();
}

static void test_profile_header_rejects_bad_values(void **state)
{
    (void)state;
    assert_int_equal(ts__profile_set_period(prof, "cpu", "nanoseconds", -1),
                     EINVAL);
    assert_int_equal(ts__profile_set_period(prof, NULL, "count", 1), EINVAL);
    assert_int_equal(ts__profile_set_time(prof, -1, 0), EINVAL);
    assert_int_equal(ts__profile_set_time(prof, 0, -1), EINVAL);
    assert_int_equal(ts__profile_add_comment(prof, NULL), EINVAL);
    assert_int_equal(ts__profile_set_period(NULL, "a", "b", 1), EINVAL);
    assert_int_equal(ts__profile_set_time(NULL, 1, 1), EINVAL);
    prof_end();
}

/* default_sample_type must name a sample type; it is encoded as the string
 * index of that type's name. */
static void test_profile_default_sample_type_must_exist(void **state)
{
    (void)state;
    assert_int_equal(ts__profile_set_default_sample_type(prof, "delay"),
                     EINVAL);
    block_types();
    assert_int_equal(ts__profile_set_default_sample_type(prof, "nosuch"),
                     EINVAL);
    assert_int_equal(ts__profile_set_default_sample_type(prof, NULL), EINVAL);
    assert_int_equal(ts__profile_set_default_sample_type(prof, "contentions"),
                     0);
    struct dprof *d = decode(prof);
    assert_string_equal(S(d, d->default_sample_type), "contentions");
    dprof_free(d);
    prof_end();
}

/* ---- building: samples ------------------------------------------------- */

static void test_profile_sample_without_sample_types_rejected(void **state)
{
    (void)state;
    assert_int_equal(add(stack_a, 3, v12, 0, NULL, 0), EINVAL);
    assert_int_equal(add(stack_a, 3, v12, 1, NULL, 0), EINVAL);
    assert_int_equal(ts__profile_nsamples(prof), 0);
    prof_end();
}

/* pprof's CheckValid: every sample has len(sample_type) values. */
static void test_profile_sample_value_count_mismatch_rejected(void **state)
{
    (void)state;
    block_types();
    static const int64_t v3[] = {1, 2, 3};
    assert_int_equal(add(stack_a, 3, v3, 1, NULL, 0), EINVAL);
    assert_int_equal(add(stack_a, 3, v3, 3, NULL, 0), EINVAL);
    assert_int_equal(ts__profile_nsamples(prof), 0);
    assert_int_equal(ts__profile_nlocations(prof), 0);
    prof_end();
}

static void test_profile_sample_null_arrays_rejected(void **state)
{
    (void)state;
    block_types();
    static const struct ts__label l = {.key = "k", .str = "v"};
    assert_int_equal(ts__profile_add_sample(prof, NULL), EINVAL);
    assert_int_equal(ts__profile_add_sample(NULL, &(struct ts__sample){0}),
                     EINVAL);
    assert_int_equal(add(NULL, 3, v12, 2, NULL, 0), EINVAL);
    assert_int_equal(add(stack_a, 3, NULL, 2, NULL, 0), EINVAL);
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 1), EINVAL);
    assert_int_equal(add(stack_a, 3, v12, 2, &l, 1), 0);
    assert_int_equal(ts__profile_nsamples(prof), 1);
    prof_end();
}

static void test_profile_sample_zero_address_rejected(void **state)
{
    (void)state;
    block_types();
    static const uintptr_t bad[] = {0x1001, 0, 0x3001};
    assert_int_equal(add(bad, 3, v12, 2, NULL, 0), EINVAL);
    assert_int_equal(ts__profile_nsamples(prof), 0);
    assert_int_equal(ts__profile_nlocations(prof), 0);
    prof_end();
}

static void test_profile_empty_stack_is_a_sample(void **state)
{
    (void)state;
    block_types();
    assert_int_equal(add(NULL, 0, v12, 2, NULL, 0), 0);
    assert_int_equal(add(NULL, 0, v12, 2, NULL, 0), 0);
    struct dprof *d = decode(prof);
    assert_int_equal(d->nsample, 1);
    assert_int_equal(d->sample[0].nloc, 0);
    assert_int_equal(d->sample[0].val[0], 2);
    dprof_free(d);
    prof_end();
}

/* Go's goroutine and block profiles hold one sample per distinct stack and
 * label set; adding an equal one sums the values. */
static void test_profile_equal_samples_merge(void **state)
{
    (void)state;
    block_types();
    const struct ts__label ab[] = {{.key = "a", .str = "1"},
                                   {.key = "b", .num = 7}};
    const struct ts__label ba[] = {{.key = "b", .num = 7},
                                   {.key = "a", .str = "1"}};
    static const int64_t v35[] = {3, 5};
    assert_int_equal(add(stack_a, 3, v12, 2, ab, 2), 0);
    assert_int_equal(add(stack_a, 3, v35, 2, ba, 2), 0);
    assert_int_equal(ts__profile_nsamples(prof), 1);
    struct dprof *d = decode(prof);
    assert_int_equal(d->sample[0].nval, 2);
    assert_int_equal(d->sample[0].val[0], 4);
    assert_int_equal(d->sample[0].val[1], 7);
    dprof_free(d);
    prof_end();
}

static void test_profile_labels_distinguish_samples(void **state)
{
    (void)state;
    block_types();
    const struct ts__label x = {.key = "worker", .str = "x"};
    const struct ts__label y = {.key = "worker", .str = "y"};
    const struct ts__label n = {.key = "worker", .num = 1};
    assert_int_equal(add(stack_a, 3, v12, 2, &x, 1), 0);
    assert_int_equal(add(stack_a, 3, v12, 2, &y, 1), 0);
    assert_int_equal(add(stack_a, 3, v12, 2, &n, 1), 0);
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 0), 0);
    assert_int_equal(add(stack_a, 2, v12, 2, NULL, 0), 0);
    assert_int_equal(ts__profile_nsamples(prof), 5);
    assert_int_equal(ts__profile_nlocations(prof), 3);
    prof_end();
}

static void test_profile_merge_overflow_rejected(void **state)
{
    (void)state;
    block_types();
    const int64_t big[] = {INT64_MAX, 1};
    assert_int_equal(add(stack_a, 3, big, 2, NULL, 0), 0);
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 0), EOVERFLOW);
    struct dprof *d = decode(prof);
    assert_int_equal(d->sample[0].val[0], INT64_MAX);
    assert_int_equal(d->sample[0].val[1], 1); /* unchanged, both columns */
    dprof_free(d);
    prof_end();
}

/* One location per distinct address, shared by the samples using it, with
 * unique non-zero ids that every sample's location_id resolves to. */
static void test_profile_one_location_per_address(void **state)
{
    (void)state;
    block_types();
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 0), 0);
    assert_int_equal(add(stack_b, 3, v12, 2, NULL, 0), 0);
    struct dprof *d = decode(prof);
    assert_int_equal(d->nloc, 4);
    for (size_t i = 0; i < d->nloc; i++) {
        assert_true(d->loc[i].id != 0);
        for (size_t j = 0; j < i; j++)
            assert_true(d->loc[i].id != d->loc[j].id);
    }
    assert_int_equal(d->sample[0].loc[1], d->sample[1].loc[1]);
    assert_int_equal(d->sample[0].loc[2], d->sample[1].loc[2]);
    assert_true(d->sample[0].loc[0] != d->sample[1].loc[0]);
    for (size_t s = 0; s < d->nsample; s++)
        for (size_t k = 0; k < d->sample[s].nloc; k++)
            assert_in_range(d->sample[s].loc[k], 1, d->nloc);
    dprof_free(d);
    prof_end();
}

/* Return addresses point after the call: the location is the call (pc-1),
 * leaf first; a signal context's exact leaf PC is kept as it is. */
static void test_profile_return_addresses_step_into_the_call(void **state)
{
    (void)state;
    block_types();
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 0), 0);
    struct ts__sample s = {.stack = stack_b,
                           .depth = 3,
                           .values = v12,
                           .nvalues = 2,
                           .flags = TS__SAMPLE_LEAF_PC};
    assert_int_equal(ts__profile_add_sample(prof, &s), 0);
    struct dprof *d = decode(prof);
    const struct d_sample *a = &d->sample[0], *b = &d->sample[1];
    assert_int_equal(d->loc[a->loc[0] - 1].address, 0x1000);
    assert_int_equal(d->loc[a->loc[1] - 1].address, 0x2000);
    assert_int_equal(d->loc[a->loc[2] - 1].address, 0x3000);
    assert_int_equal(d->loc[b->loc[0] - 1].address, 0x4001);
    assert_int_equal(d->loc[b->loc[1] - 1].address, 0x2000);
    dprof_free(d);
    prof_end();
}

/* ---- building: labels -------------------------------------------------- */

static void test_profile_label_reserved_prefix_rejected(void **state)
{
    (void)state;
    block_types();
    const struct ts__label l[] = {{.key = "ok", .str = "1"},
                                  {.key = "pprof::internal", .str = "x"}};
    assert_int_equal(add(stack_a, 3, v12, 2, l, 2), EINVAL);
    const struct ts__label n = {.key = "pprof::n", .num = 3};
    assert_int_equal(add(stack_a, 3, v12, 2, &n, 1), EINVAL);
    assert_int_equal(ts__profile_nsamples(prof), 0);
    prof_end();
}

/* No multi-valued keys, and never a string and a numeric label with the
 * same key on one sample (profile.proto, Sample.label). */
static void test_profile_label_duplicate_key_rejected(void **state)
{
    (void)state;
    block_types();
    const struct ts__label twice[] = {{.key = "k", .str = "1"},
                                      {.key = "k", .str = "2"}};
    const struct ts__label mixed[] = {{.key = "k", .str = "1"},
                                      {.key = "k", .num = 2}};
    assert_int_equal(add(stack_a, 3, v12, 2, twice, 2), EINVAL);
    assert_int_equal(add(stack_a, 3, v12, 2, mixed, 2), EINVAL);
    assert_int_equal(ts__profile_nsamples(prof), 0);
    prof_end();
}

/* Large label sets take the heap path of the duplicate check. */
static void test_profile_label_duplicate_among_many_rejected(void **state)
{
    (void)state;
    block_types();
    enum { N = 50 };
    struct ts__label l[N];
    char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        l[i] = (struct ts__label){.key = keys[i], .num = i};
    }
    assert_int_equal(add(stack_a, 3, v12, 2, l, N), 0);
    l[N - 1].key = "k7";
    assert_int_equal(add(stack_a, 3, v12, 2, l, N), EINVAL);
    assert_int_equal(ts__profile_nsamples(prof), 1);
    prof_end();
}

static void test_profile_label_empty_key_rejected(void **state)
{
    (void)state;
    block_types();
    const struct ts__label empty = {.key = "", .str = "v"};
    const struct ts__label null = {.key = NULL, .str = "v"};
    assert_int_equal(add(stack_a, 3, v12, 2, &empty, 1), EINVAL);
    assert_int_equal(add(stack_a, 3, v12, 2, &null, 1), EINVAL);
    prof_end();
}

static void test_profile_label_unit_on_string_rejected(void **state)
{
    (void)state;
    block_types();
    const struct ts__label l = {
        .key = "size", .str = "big", .num_unit = "bytes"};
    assert_int_equal(add(stack_a, 3, v12, 2, &l, 1), EINVAL);
    prof_end();
}

/* ---- encoding ---------------------------------------------------------- */

static void test_pprof_encode_header_fields(void **state)
{
    (void)state;
    assert_int_equal(ts__profile_add_sample_type(prof, "samples", "count"), 0);
    assert_int_equal(ts__profile_add_sample_type(prof, "cpu", "nanoseconds"),
                     0);
    assert_int_equal(
        ts__profile_set_period(prof, "cpu", "nanoseconds", 10000000), 0);
    assert_int_equal(
        ts__profile_set_time(prof, 1700000000123456789, 2000000000), 0);
    assert_int_equal(ts__profile_add_comment(prof, "first"), 0);
    assert_int_equal(ts__profile_add_comment(prof, "second"), 0);
    struct dprof *d = decode(prof);
    assert_int_equal(d->nst, 2);
    assert_string_equal(S(d, d->st[0].type), "samples");
    assert_string_equal(S(d, d->st[0].unit), "count");
    assert_string_equal(S(d, d->st[1].type), "cpu");
    assert_string_equal(S(d, d->st[1].unit), "nanoseconds");
    assert_string_equal(S(d, d->period_type.type), "cpu");
    assert_string_equal(S(d, d->period_type.unit), "nanoseconds");
    assert_int_equal(d->period, 10000000);
    assert_int_equal(d->time_nanos, 1700000000123456789);
    assert_int_equal(d->duration_nanos, 2000000000);
    assert_int_equal(d->ncomment, 2);
    assert_string_equal(S(d, d->comment[0]), "first");
    assert_string_equal(S(d, d->comment[1]), "second");
    assert_int_equal(d->default_sample_type,
                     0); /* unset: readers take the last */
    dprof_free(d);
    prof_end();
}

/* A new profile carries the wall clock (Go always sets time_nanos). */
static void test_pprof_encode_time_defaults_to_now(void **state)
{
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct dprof *d = decode(prof);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    assert_true(d->time_nanos > 0 && d->time_nanos <= now);
    assert_true(now - d->time_nanos < 3600 * (int64_t)1000000000);
    dprof_free(d);
    prof_end();
}

static void test_pprof_encode_labels_string_and_numeric(void **state)
{
    (void)state;
    block_types();
    const struct ts__label l[] = {
        {.key = "worker", .str = "a"},
        {.key = "bytes", .num = 4096, .num_unit = "bytes"},
        {.key = "n", .num = -3},
    };
    assert_int_equal(add(stack_a, 3, v12, 2, l, 3), 0);
    struct dprof *d = decode(prof);
    const struct d_sample *s = &d->sample[0];
    assert_int_equal(s->nlab, 3); /* stored sorted by key */
    assert_string_equal(S(d, s->lab[0].key), "bytes");
    assert_int_equal(s->lab[0].num, 4096);
    assert_string_equal(S(d, s->lab[0].unit), "bytes");
    assert_int_equal(s->lab[0].str, 0);
    assert_string_equal(S(d, s->lab[1].key), "n");
    assert_int_equal(s->lab[1].num, -3);
    assert_int_equal(s->lab[1].unit, 0);
    assert_string_equal(S(d, s->lab[2].key), "worker");
    assert_string_equal(S(d, s->lab[2].str), "a");
    assert_int_equal(s->lab[2].unit, 0);
    dprof_free(d);
    prof_end();
}

static void test_pprof_encode_rejects_null(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    assert_int_equal(ts__pprof_encode(NULL, &buf, &len), EINVAL);
    assert_int_equal(ts__pprof_encode(prof, NULL, &len), EINVAL);
    assert_int_equal(ts__pprof_encode(prof, &buf, NULL), EINVAL);
    prof_end();
}

/* ---- mapping and symbolization ----------------------------------------- */

static uintptr_t real_stack[2]; /* leaf first: in leaf_fn, in mid_fn */

static TP_NOINLINE void grab(void)
{
    real_stack[0] = (uintptr_t)__builtin_return_address(0);
}

static TP_NOINLINE void leaf_fn(void)
{
    grab();
    real_stack[1] = (uintptr_t)__builtin_return_address(0);
}

static TP_NOINLINE void mid_fn(void)
{
    leaf_fn();
    TP_NO_TAIL_CALL();
}

/* A profile holding the real stack leaf_fn <- mid_fn, symbolized. */
static struct dprof *symbolized_profile(void)
{
    mid_fn();
    assert_int_equal(ts__profile_add_sample_type(prof, "goroutine", "count"),
                     0);
    assert_int_equal(add(real_stack, 2, &(int64_t){1}, 1, NULL, 0), 0);
    struct ts__symbolizer *sym;
    assert_int_equal(ts__symbolizer_new(&sym), 0);
    int r = ts__profile_symbolize(prof, sym);
    ts__symbolizer_free(sym);
    assert_int_equal(r, 0);
    return decode(prof);
}

static const struct d_function *leaf_function(const struct dprof *d, size_t k)
{
    const struct d_location *l = &d->loc[d->sample[0].loc[k] - 1];
    assert_true(l->nline >= 1);
    assert_in_range(l->line[l->nline - 1].fid, 1, d->nfn);
    return &d->fn[l->line[l->nline - 1].fid - 1];
}

static void test_pprof_symbolized_stack_names_functions(void **state)
{
    (void)state;
    struct dprof *d = symbolized_profile();
    const struct d_function *f0 = leaf_function(d, 0),
                            *f1 = leaf_function(d, 1);
    assert_string_equal(S(d, f0->name), "leaf_fn");
    assert_string_equal(S(d, f1->name), "mid_fn");
    const char *file = S(d, f0->filename);
    assert_non_null(strstr(file, "tests/unit/test_pprof.c"));
    assert_true(f0->start_line > 0);
    assert_true(d->loc[d->sample[0].loc[0] - 1].line[0].line > f0->start_line);
    for (size_t i = 0; i < d->nfn; i++) /* unique non-zero ids */
        assert_int_equal(d->fn[i].id, i + 1);
    dprof_free(d);
    prof_end();
}

/* CONVENTIONS §6 item 5: mapping[0] is the main executable, with its
 * build id, and flags telling pprof not to symbolize again. */
static void test_pprof_mapping0_is_main_executable(void **state)
{
    (void)state;
    char want[2 * 64 + 1];
    assert_true(tp_main_build_id(want, sizeof want));
    struct dprof *d = symbolized_profile();
    assert_true(d->nmap >= 1);
    const struct d_mapping *m = &d->map[0];
    assert_int_equal(m->id, 1);
    assert_string_equal(S(d, m->filename), tp_exe_path());
    assert_string_equal(S(d, m->build_id), want);
    assert_true(m->start <= real_stack[0] && real_stack[0] < m->limit);
    assert_true(m->has_functions && m->has_filenames);
    assert_true(m->has_line_numbers && m->has_inline_frames);
    for (size_t i = 0; i < d->nloc; i++)
        assert_int_equal(d->loc[i].mapping_id, 1);
    dprof_free(d);
    prof_end();
}

/* Mapping alone (no symbolizer): addresses and mappings, no functions and
 * no flags, so pprof symbolizes from the binary itself. */
static void test_pprof_map_without_symbolizer_leaves_flags_clear(void **state)
{
    (void)state;
    mid_fn();
    assert_int_equal(ts__profile_add_sample_type(prof, "goroutine", "count"),
                     0);
    assert_int_equal(add(real_stack, 2, &(int64_t){1}, 1, NULL, 0), 0);
    assert_int_equal(ts__profile_map(prof, NULL), 0);
    struct dprof *d = decode(prof);
    assert_int_equal(d->nfn, 0);
    assert_string_equal(S(d, d->map[0].filename), tp_exe_path());
    assert_string_equal(S(d, d->map[0].build_id), "");
    assert_false(d->map[0].has_functions);
    assert_false(d->map[0].has_line_numbers);
    assert_int_equal(d->loc[0].mapping_id, 1);
    assert_int_equal(d->loc[0].nline, 0);
    dprof_free(d);
    prof_end();
}

/* An address no module holds keeps no lines and no mapping; the mapping
 * of the main executable is there all the same. */
static void test_pprof_unknown_address_stays_unsymbolized(void **state)
{
    (void)state;
    assert_int_equal(ts__profile_add_sample_type(prof, "goroutine", "count"),
                     0);
    static const uintptr_t nowhere[] = {0x11};
    assert_int_equal(add(nowhere, 1, &(int64_t){1}, 1, NULL, 0), 0);
    struct ts__symbolizer *sym;
    assert_int_equal(ts__symbolizer_new(&sym), 0);
    assert_int_equal(ts__profile_symbolize(prof, sym), 0);
    ts__symbolizer_free(sym);
    struct dprof *d = decode(prof);
    assert_int_equal(d->loc[0].mapping_id, 0);
    assert_int_equal(d->loc[0].nline, 0);
    assert_int_equal(d->nmap, 1);
    assert_string_equal(S(d, d->map[0].filename), tp_exe_path());
    dprof_free(d);
    prof_end();
}

static void test_pprof_symbolize_rejects_null(void **state)
{
    (void)state;
    struct ts__symbolizer *sym;
    assert_int_equal(ts__symbolizer_new(&sym), 0);
    assert_int_equal(ts__profile_symbolize(NULL, sym), EINVAL);
    assert_int_equal(ts__profile_symbolize(prof, NULL), EINVAL);
    assert_int_equal(ts__profile_map(NULL, sym), EINVAL);
    ts__symbolizer_free(sym);
    prof_end();
}

/* ---- writing ----------------------------------------------------------- */

/* gunzip a whole buffer; *out malloc'd. */
static void gunzip(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = 4 * n + 1024;
    *out = malloc(cap);
    assert_non_null(*out);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = *out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = zs.total_out;
    inflateEnd(&zs);
}

/* Read all of fd from offset 0. */
static uint8_t *slurp(int fd, size_t *n)
{
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size > 0);
    uint8_t *b = malloc((size_t)size);
    assert_non_null(b);
    assert_int_equal(pread(fd, b, (size_t)size, 0), size);
    *n = (size_t)size;
    return b;
}

/* The file is one gzip member (magic 1f 8b) whose content is exactly the
 * encoded profile. */
static void test_pprof_write_gzips_the_encoding(void **state)
{
    (void)state;
    block_types();
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 0), 0);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(ts__pprof_write(prof, fileno(f)), 0);
    size_t n, plain_len, want_len;
    uint8_t *gz = slurp(fileno(f), &n), *plain, *want;
    fclose(f);
    assert_true(n > 2 && gz[0] == 0x1f && gz[1] == 0x8b);
    gunzip(gz, n, &plain, &plain_len);
    assert_int_equal(ts__pprof_encode(prof, &want, &want_len), 0);
    assert_int_equal(plain_len, want_len);
    assert_memory_equal(plain, want, want_len);
    free(gz);
    free(plain);
    free(want);
    prof_end();
}

static void test_pprof_write_closed_fd_is_ebadf(void **state)
{
    (void)state;
    block_types();
    assert_int_equal(add(stack_a, 3, v12, 2, NULL, 0), 0);
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ts__pprof_write(prof, fd), EBADF);
    assert_int_equal(ts__pprof_write(prof, -1), EBADF);
    prof_end();
}

static void test_pprof_write_readonly_fd_is_ebadf(void **state)
{
    (void)state;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ts__pprof_write(prof, fd), EBADF);
    close(fd);
    prof_end();
}

/* A reader that went away gives EPIPE; the SIGPIPE the write raised is
 * neither delivered (the default action would kill the test) nor left
 * pending. */
static void test_pprof_write_broken_pipe_is_epipe(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    assert_int_equal(ts__pprof_write(prof, p[1]), EPIPE);
    close(p[1]);
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_int_equal(sigismember(&pending, SIGPIPE), 0);
    prof_end();
}

static void test_pprof_write_null_profile_is_einval(void **state)
{
    (void)state;
    assert_int_equal(ts__pprof_write(NULL, 1), EINVAL);
    prof_end();
}

/* ---- allocation failures ----------------------------------------------- */

/* Step result: 0 goes on, ENOMEM ends the run early (nothing else is
 * acceptable). */
#define STEP(expr)                                                             \
    do {                                                                       \
        int r_ = (expr);                                                       \
        if (r_ == ENOMEM)                                                      \
            goto out;                                                          \
        assert_int_equal(r_, 0);                                               \
    } while (0)

/* Whatever failed, what the profile holds still encodes into a profile
 * pprof accepts: strings[0] == "", one value per sample type, every
 * location id resolves. */
static void check_still_valid(const struct ts__profile *p)
{
    struct dprof *d = decode(p);
    assert_true(d->nstr >= 1);
    assert_string_equal(d->str[0], "");
    for (size_t i = 0; i < d->nsample; i++) {
        assert_int_equal(d->sample[i].nval, d->nst);
        for (size_t k = 0; k < d->sample[i].nloc; k++)
            assert_in_range(d->sample[i].loc[k], 1, d->nloc);
    }
    dprof_free(d);
}

/* One run of everything that allocates: symbolizer, profile, header,
 * samples (one with a label set large enough for the heap path), mapping,
 * symbolization, encoding and writing. Returns whether the injected
 * failure was reached. */
static bool run_everything(int devnull)
{
    struct ts__symbolizer *sym = NULL;
    struct ts__profile *p = NULL;
    enum { NL = 40 };
    struct ts__label l[NL];
    char keys[NL][16];
    for (int i = 0; i < NL; i++) {
        snprintf(keys[i], sizeof keys[i], "key%d", i);
        l[i] = (struct ts__label){.key = keys[i], .str = keys[i]};
    }
    STEP(ts__symbolizer_new(&sym));
    STEP(ts__profile_new(&p));
    STEP(ts__profile_add_sample_type(p, "contentions", "count"));
    STEP(ts__profile_add_sample_type(p, "delay", "nanoseconds"));
    STEP(ts__profile_set_period(p, "contentions", "count", 1));
    STEP(ts__profile_add_comment(p, "fault injection"));
    struct ts__sample s = {.stack = real_stack,
                           .depth = 2,
                           .values = v12,
                           .nvalues = 2,
                           .labels = l,
                           .nlabels = NL};
    STEP(ts__profile_add_sample(p, &s));
    s.stack = stack_a;
    s.depth = 3;
    s.nlabels = 1;
    STEP(ts__profile_add_sample(p, &s));
    STEP(ts__profile_symbolize(p, sym));
    STEP(ts__pprof_write(p, devnull));
out:;
    bool fired = !ts__prof_fail_armed();
    ts__prof_fail_nth(0);
    if (p)
        check_still_valid(p);
    ts__profile_free(p);
    ts__symbolizer_free(sym);
    return fired;
}

/* Fail the 1st, 2nd, ... allocation of the run until a run completes
 * without reaching the injected failure: every ENOMEM path runs once,
 * returns ENOMEM (not a crash, not another code) and leaves a valid
 * profile behind; ASan builds also see that nothing leaks. */
static void test_pprof_every_allocation_failure_returns_enomem(void **state)
{
    (void)state;
    mid_fn();
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    assert_true(devnull >= 0);
    int n;
    for (n = 1; n < 10000; n++) {
        ts__prof_fail_nth(n);
        if (!run_everything(devnull))
            break; /* the run needed fewer than n allocations */
    }
    close(devnull);
    print_message("    %d allocations failed one by one\n", n - 1);
    assert_true(n > 10 && n < 10000);
    prof_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* building: header */
        PROF_TEST(test_profile_new_rejects_null),
        PROF_TEST(test_profile_string_table_starts_with_empty_string),
        PROF_TEST(test_profile_sample_type_needs_type_and_unit),
        PROF_TEST(test_profile_sample_type_after_first_sample_is_busy),
        PROF_TEST(test_profile_header_rejects_bad_values),
        PROF_TEST(test_profile_default_sample_type_must_exist),
        /* building: samples */
        PROF_TEST(test_profile_sample_without_sample_types_rejected),
        PROF_TEST(test_profile_sample_value_count_mismatch_rejected),
        PROF_TEST(test_profile_sample_null_arrays_rejected),
        PROF_TEST(test_profile_sample_zero_address_rejected),
        PROF_TEST(test_profile_empty_stack_is_a_sample),
        PROF_TEST(test_profile_equal_samples_merge),
        PROF_TEST(test_profile_labels_distinguish_samples),
        PROF_TEST(test_profile_merge_overflow_rejected),
        PROF_TEST(test_profile_one_location_per_address),
        PROF_TEST(test_profile_return_addresses_step_into_the_call),
        /* building: labels */
        PROF_TEST(test_profile_label_reserved_prefix_rejected),
        PROF_TEST(test_profile_label_duplicate_key_rejected),
        PROF_TEST(test_profile_label_duplicate_among_many_rejected),
        PROF_TEST(test_profile_label_empty_key_rejected),
        PROF_TEST(test_profile_label_unit_on_string_rejected),
        /* encoding */
        PROF_TEST(test_pprof_encode_header_fields),
        PROF_TEST(test_pprof_encode_time_defaults_to_now),
        PROF_TEST(test_pprof_encode_labels_string_and_numeric),
        PROF_TEST(test_pprof_encode_rejects_null),
        /* mapping and symbolization */
        PROF_TEST(test_pprof_symbolized_stack_names_functions),
        PROF_TEST(test_pprof_mapping0_is_main_executable),
        PROF_TEST(test_pprof_map_without_symbolizer_leaves_flags_clear),
        PROF_TEST(test_pprof_unknown_address_stays_unsymbolized),
        PROF_TEST(test_pprof_symbolize_rejects_null),
        /* writing */
        PROF_TEST(test_pprof_write_gzips_the_encoding),
        PROF_TEST(test_pprof_write_closed_fd_is_ebadf),
        PROF_TEST(test_pprof_write_readonly_fd_is_ebadf),
        PROF_TEST(test_pprof_write_broken_pipe_is_epipe),
        PROF_TEST(test_pprof_write_null_profile_is_einval),
        /* allocation failures */
        PROF_TEST(test_pprof_every_allocation_failure_returns_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
