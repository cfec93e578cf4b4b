/* test_heap.c — profiler/heap.c: ts_malloc & co., Poisson sampling, the
 * bucket table, the live set behind ts_free, and the heap/allocs profiles
 * (pprof and legacy text) as Go's runtime/pprof writes them.
 *
 * Buckets are process-wide and never removed, so every test allocates from
 * its own TP_NOINLINE "site" functions and looks its buckets up by the
 * symbolized leaf frame: a leaf of the site (not ts_malloc) also checks
 * the frames the capture skips. Exact counts use rate 1 (every allocation
 * sampled); the sampling test only bounds the sample count statistically.
 * No assertion depends on timing. */
#include <taskscope/profile.h>

#include "tt_prof.h"

#include "profiler/heap.h"
#include "profiler/profile.h"
#include "profiler/stackid.h"
#include "profiler/symbolize.h"

static struct ts__symbolizer *sym;

static int heap_setup(void **state)
{
    int r = tp_setup(state);
    return r != 0 ? r : (ts__symbolizer_new(&sym) == 0 ? 0 : -1);
}

static int heap_teardown(void **state)
{
    ts__symbolizer_free(sym); /* after a failed assert */
    sym = NULL;
    ts__heap_set_rate(TS__HEAP_DEFAULT_RATE);
    return tt_teardown(state);
}

/* The closing check: the symbolizer is freed first, so the fd check also
 * covers the ELF files libdw opened. */
static void heap_end(void)
{
    ts__symbolizer_free(sym);
    sym = NULL;
    tp_end();
}

#define HEAP_TEST(f) \
    cmocka_unit_test_setup_teardown(f, heap_setup, heap_teardown)

/* ---- helpers ----------------------------------------------------------- */

/* The function physically holding return address pc ("" if unknown). */
static const char *func_of(uint64_t pc)
{
    const struct ts__frame *fr;
    size_t n;
    if (ts__symbolize(sym, pc - 1, &fr, &n) != 0 || n == 0)
        return "";
    return fr[n - 1].function;
}

/* Buckets whose leaf frame is in function `leaf` (and, if caller is not
 * NULL, whose next frame is in `caller`), summed into *sum; returns how
 * many there are. */
static size_t sum_site(const char *leaf, const char *caller,
                       struct ts__heap_record *sum)
{
    size_t n = ts__heap_records(NULL, 0);
    struct ts__heap_record *b = calloc(n + 1, sizeof *b);
    assert_non_null(b);
    n = ts__heap_records(b, n);
    size_t found = 0;
    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *pcs;
        size_t depth;
        assert_int_equal(ts__stackid_lookup(b[i].stack, &pcs, &depth), 0);
        if (depth == 0 || strcmp(func_of(pcs[0]), leaf) != 0)
            continue;
        if (caller && (depth < 2 || strcmp(func_of(pcs[1]), caller) != 0))
            continue;
        found++;
        sum->stack = b[i].stack;
        sum->size = b[i].size;
        sum->allocs += b[i].allocs;
        sum->alloc_bytes += b[i].alloc_bytes;
        sum->frees += b[i].frees;
        sum->free_bytes += b[i].free_bytes;
    }
    free(b);
    return found;
}

static const char *str_at(const struct ts__profile *p, int64_t i)
{
    return ts__strtab_get(&p->strings, (size_t)i);
}

/* The index of the profile sample whose leaf location is return address
 * leaf_pc, or -1. */
static long sample_at_leaf(const struct ts__profile *p, uint64_t leaf_pc)
{
    for (size_t i = 0; i < p->samples.n; i++) {
        const struct ts__psample *s =
            &TS__VEC_AT(&p->samples, struct ts__psample, i);
        if (s->nloc == 0)
            continue;
        uint64_t id = TS__VEC_AT(&p->loc_ids, uint64_t, s->loc);
        const struct ts__plocation *l =
            &TS__VEC_AT(&p->locations, struct ts__plocation, id - 1);
        if (l->address == leaf_pc - 1)
            return (long)i;
    }
    return -1;
}

static int64_t value_at(const struct ts__profile *p, long sample, int k)
{
    return TS__VEC_AT(&p->values, int64_t, (size_t)sample * 4 + (size_t)k);
}

/* ---- allocation sites ---------------------------------------------------- */

/* Each site stores its own line number first, so that no two have the
 * same code: identical functions would be folded into one at -O2
 * (-fipa-icf) and symbolize as one name. */
static atomic_int site_line; /* atomic: sites run on many threads */

#define MALLOC_SITE(name)                                                  \
    TP_NOINLINE static void *name(size_t n)                                \
    {                                                                      \
        atomic_store_explicit(&site_line, __LINE__, memory_order_relaxed); \
        void *p = ts_malloc(n);                                            \
        TP_NO_TAIL_CALL();                                                 \
        return p;                                                          \
    }

MALLOC_SITE(site_a)
MALLOC_SITE(site_b)
MALLOC_SITE(site_free)
MALLOC_SITE(site_realloc_from)
MALLOC_SITE(site_profile)
MALLOC_SITE(site_scaled)
MALLOC_SITE(site_poisson)
MALLOC_SITE(site_off)
MALLOC_SITE(site_mt)
MALLOC_SITE(site_text)

TP_NOINLINE static void *site_realloc_to(void *old, size_t n)
{
    void *p = ts_realloc(old, n);
    TP_NO_TAIL_CALL();
    return p;
}

TP_NOINLINE static void *site_realloc_null(size_t n)
{
    void *p = ts_realloc(NULL, n);
    TP_NO_TAIL_CALL();
    return p;
}

TP_NOINLINE static void *site_calloc(size_t n, size_t size)
{
    void *p = ts_calloc(n, size);
    TP_NO_TAIL_CALL();
    return p;
}

/* out[0..n) = site(size), from one call site whatever the optimisation
 * (n is not a constant here, so the loop is not unrolled into several
 * calls, each its own stack). */
TP_NOINLINE static void alloc_n(void *(*site)(size_t), size_t size,
                                void **out, int n)
{
    for (int i = 0; i < n; i++) {
        out[i] = site(size);
        assert_non_null(out[i]);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_heap_rate_one_puts_two_sites_in_two_buckets(void **state)
{
    (void)state;
    ts__heap_set_rate(1);
    void *a[3], *b[2];
    alloc_n(site_a, 100, a, 3);
    alloc_n(site_b, 200, b, 2);

    struct ts__heap_record ra, rb;
    assert_int_equal(sum_site("site_a", "alloc_n", &ra), 1);
    assert_int_equal(sum_site("site_b", "alloc_n", &rb), 1);
    assert_int_not_equal(ra.stack, rb.stack);
    assert_int_equal(ra.size, 100);
    assert_int_equal(ra.allocs, 3);
    assert_int_equal(ra.alloc_bytes, 300);
    assert_int_equal(ra.frees, 0);
    assert_int_equal(rb.size, 200);
    assert_int_equal(rb.allocs, 2);
    assert_int_equal(rb.alloc_bytes, 400);
    assert_int_equal(sum_site("ts_malloc", NULL, &ra), 0);

    for (int i = 0; i < 3; i++)
        ts_free(a[i]);
    for (int i = 0; i < 2; i++)
        ts_free(b[i]);
    struct ts__heap_stats st;
    ts__heap_stats(&st);
    assert_int_equal(st.dropped, 0);
    heap_end();
}

static void test_heap_free_moves_bytes_out_of_inuse(void **state)
{
    (void)state;
    ts__heap_set_rate(1);
    struct ts__heap_stats before, mid, after;
    ts__heap_stats(&before);
    void *p[4];
    alloc_n(site_free, 48, p, 4);
    ts__heap_stats(&mid);
    assert_int_equal(mid.live, before.live + 4);
    for (int i = 0; i < 3; i++)
        ts_free(p[i]);

    struct ts__heap_record r;
    assert_int_equal(sum_site("site_free", NULL, &r), 1);
    assert_int_equal(r.allocs, 4);
    assert_int_equal(r.frees, 3);
    assert_int_equal(r.free_bytes, 144);
    assert_int_equal(r.alloc_bytes - r.free_bytes, 48);

    ts_free(p[3]);
    assert_int_equal(sum_site("site_free", NULL, &r), 1);
    assert_int_equal(r.frees, 4);
    ts__heap_stats(&after);
    assert_int_equal(after.live, before.live);
    heap_end();
}

static void test_heap_realloc_is_free_then_alloc(void **state)
{
    (void)state;
    ts__heap_set_rate(1);
    char *p = site_realloc_from(64);
    assert_non_null(p);
    memset(p, 'x', 64);
    char *q = site_realloc_to(p, 128);
    assert_non_null(q);
    assert_int_equal(q[63], 'x');

    struct ts__heap_record from, to;
    assert_int_equal(sum_site("site_realloc_from", NULL, &from), 1);
    assert_int_equal(from.allocs, 1);
    assert_int_equal(from.frees, 1);
    assert_int_equal(from.free_bytes, 64);
    assert_int_equal(sum_site("site_realloc_to", NULL, &to), 1);
    assert_int_equal(to.size, 128);
    assert_int_equal(to.allocs, 1);
    assert_int_equal(to.frees, 0);

    /* realloc(p, 0) frees p and returns NULL. */
    assert_null(site_realloc_to(q, 0));
    assert_int_equal(sum_site("site_realloc_to", NULL, &to), 1);
    assert_int_equal(to.frees, 1);
    assert_int_equal(to.free_bytes, 128);

    /* realloc(NULL, n) is malloc(n). */
    void *r = site_realloc_null(32);
    assert_non_null(r);
    struct ts__heap_record rn;
    assert_int_equal(sum_site("site_realloc_null", NULL, &rn), 1);
    assert_int_equal(rn.allocs, 1);
    assert_int_equal(rn.alloc_bytes, 32);
    ts_free(r);
    heap_end();
}

static void test_heap_calloc_zeroes_and_counts_n_times_size(void **state)
{
    (void)state;
    ts__heap_set_rate(1);
    unsigned char *p = site_calloc(10, 12);
    assert_non_null(p);
    for (int i = 0; i < 120; i++)
        assert_int_equal(p[i], 0);
    struct ts__heap_record r;
    assert_int_equal(sum_site("site_calloc", NULL, &r), 1);
    assert_int_equal(r.size, 120);
    assert_int_equal(r.alloc_bytes, 120);
    ts_free(p);
    heap_end();
}

static void test_heap_calloc_overflow_fails_with_enomem(void **state)
{
    (void)state;
    errno = 0;
    assert_null(ts_calloc(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ts_calloc(3, SIZE_MAX / 2));
    assert_int_equal(errno, ENOMEM);
    heap_end();
}

static void test_heap_free_null_is_noop(void **state)
{
    (void)state;
    struct ts__heap_stats before, after;
    ts__heap_stats(&before);
    ts_free(NULL);
    ts__heap_on_free(NULL);
    ts__heap_stats(&after);
    assert_int_equal(after.live, before.live);
    heap_end();
}

static void test_heap_rate_zero_samples_nothing(void **state)
{
    (void)state;
    assert_int_equal(ts__heap_set_rate(0), TS__HEAP_DEFAULT_RATE);
    assert_int_equal(ts__heap_rate(), 0);
    for (int i = 0; i < 100; i++)
        ts_free(site_off(1 << 20));
    struct ts__heap_record r;
    assert_int_equal(sum_site("site_off", NULL, &r), 0);
    /* negative only reads */
    assert_int_equal(ts__heap_set_rate(-5), 0);
    assert_int_equal(ts__heap_rate(), 0);
    heap_end();
}

/* The heap profile has Go's four sample types, period and "bytes" label;
 * allocs differs only in default_sample_type. */
static void test_heap_profile_has_go_types_period_and_labels(void **state)
{
    (void)state;
    ts__heap_set_rate(1);
    void *p = site_profile(24);
    assert_non_null(p);
    struct ts__heap_record r;
    assert_int_equal(sum_site("site_profile", NULL, &r), 1);
    const uint64_t *pcs;
    size_t depth;
    assert_int_equal(ts__stackid_lookup(r.stack, &pcs, &depth), 0);

    static const char *const want[4][2] = {{"alloc_objects", "count"},
                                           {"alloc_space", "bytes"},
                                           {"inuse_objects", "count"},
                                           {"inuse_space", "bytes"}};
    for (int allocs = 0; allocs < 2; allocs++) {
        struct ts__profile *prof;
        assert_int_equal(ts__profile_new(&prof), 0);
        assert_int_equal(ts__heap_profile(prof, allocs), 0);
        assert_int_equal(prof->sample_types.n, 4);
        for (int k = 0; k < 4; k++) {
            const struct ts__pvaluetype *t = &TS__VEC_AT(
                &prof->sample_types, struct ts__pvaluetype, k);
            assert_string_equal(str_at(prof, t->type), want[k][0]);
            assert_string_equal(str_at(prof, t->unit), want[k][1]);
        }
        assert_string_equal(str_at(prof, prof->period_type.type), "space");
        assert_string_equal(str_at(prof, prof->period_type.unit), "bytes");
        assert_int_equal(prof->period, 1);
        if (allocs)
            assert_string_equal(str_at(prof, prof->default_sample_type),
                                "alloc_space");
        else
            assert_int_equal(prof->default_sample_type, 0);

        long s = sample_at_leaf(prof, pcs[0]);
        assert_true(s >= 0);
        const struct ts__psample *ps =
            &TS__VEC_AT(&prof->samples, struct ts__psample, (size_t)s);
        assert_int_equal(ps->nloc, depth);
        assert_int_equal(ps->nlabel, 1);
        const struct ts__plabel *l =
            &TS__VEC_AT(&prof->labels, struct ts__plabel, ps->label);
        assert_string_equal(str_at(prof, l->key), "bytes");
        assert_int_equal(l->str, 0);
        assert_int_equal(l->num, 24);
        assert_int_equal(l->num_unit, 0);
        assert_int_equal(value_at(prof, s, 0), 1);
        assert_int_equal(value_at(prof, s, 1), 24);
        assert_int_equal(value_at(prof, s, 2), 1);
        assert_int_equal(value_at(prof, s, 3), 24);
        ts__profile_free(prof);
    }
    ts_free(p);
    heap_end();
}

/* Values are divided by the probability 1 - e^(-avg/rate) of sampling an
 * object of the average size, at the rate current when the profile is
 * built (Go's scaleHeapSample); expected numbers are Go's formula
 * evaluated in float64 and truncated, as int64(float64(n) * scale). */
static void test_heap_profile_scales_as_go(void **state)
{
    (void)state;
    ts__heap_set_rate(1);
    void *p[3];
    alloc_n(site_scaled, 100000, p, 3);
    ts_free(p[0]);
    struct ts__heap_record r;
    assert_int_equal(sum_site("site_scaled", NULL, &r), 1);
    const uint64_t *pcs;
    size_t depth;
    assert_int_equal(ts__stackid_lookup(r.stack, &pcs, &depth), 0);

    ts__heap_set_rate(524288);
    struct ts__profile *prof;
    assert_int_equal(ts__profile_new(&prof), 0);
    assert_int_equal(ts__heap_profile(prof, false), 0);
    assert_int_equal(prof->period, 524288);
    long s = sample_at_leaf(prof, pcs[0]);
    assert_true(s >= 0);
    /* scale = 1 / (1 - exp(-100000 / 524288)) = 5.7587... */
    assert_int_equal(value_at(prof, s, 0), 17);      /* 3 objects */
    assert_int_equal(value_at(prof, s, 1), 1727629); /* 300000 bytes */
    assert_int_equal(value_at(prof, s, 2), 11);      /* 2 objects */
    assert_int_equal(value_at(prof, s, 3), 1151752); /* 200000 bytes */
    ts__profile_free(prof);
    ts_free(p[1]);
    ts_free(p[2]);
    heap_end();
}

/* 10,000 allocations of 1 KiB at a mean of 64 KiB between samples: about
 * 156 samples. The bound is wide (±50%, beyond 6 standard deviations), so
 * a correct sampler never fails it but a wrong mean or a countdown that
 * never fires does. */
static void test_heap_sampling_mean_matches_rate(void **state)
{
    (void)state;
    ts__heap_set_rate(64 * 1024);
    for (int i = 0; i < 10000; i++) {
        void *p = site_poisson(1024);
        assert_non_null(p);
        ts_free(p);
    }
    struct ts__heap_record r;
    sum_site("site_poisson", NULL, &r);
    double expected = 10000.0 * 1024 / (64 * 1024);
    assert_true(r.allocs >= (int64_t)(expected * 0.5));
    assert_true(r.allocs <= (int64_t)(expected * 1.5));
    assert_int_equal(r.frees, r.allocs);
    heap_end();
}

/* ---- threads and tasks --------------------------------------------------- */

struct mt_arg {
    long n;          /* allocations */
    size_t size;     /* of each */
    ts_chan_t *done; /* tasks signal it; NULL on plain threads */
};

/* Allocate n objects, free every other one at once and the rest at the
 * end: frees interleave with other threads' allocations. */
static void mt_work(struct mt_arg *a)
{
    void **keep = calloc((size_t)a->n, sizeof *keep);
    TT_REQUIRE_V(keep != NULL);
    for (long i = 0; i < a->n; i++) {
        void *p = site_mt(a->size);
        TT_CHECK(p != NULL);
        if (i % 2)
            ts_free(p);
        else
            keep[i] = p;
        if (a->done && i % 64 == 0)
            ts_yield();
    }
    for (long i = 0; i < a->n; i++)
        ts_free(keep[i]);
    free(keep);
}

static void *mt_thread(void *arg)
{
    mt_work(arg);
    return NULL;
}

static void mt_task(void *arg)
{
    struct mt_arg *a = arg;
    mt_work(a);
    tt_signal(a->done);
}

/* Plain threads and tasks allocate and free concurrently at rate 1; every
 * allocation lands in a bucket and every free is matched, exactly. */
static void test_heap_threads_and_tasks_count_exactly(void **state)
{
    (void)state;
    enum { THREADS = 3, TASKS = 6 };
    ts__heap_set_rate(1);
    struct ts__heap_stats before, after;
    ts__heap_stats(&before);
    long n = tt_scaled(2000, 200);
    ts_chan_t *done = ts_chan_make(0, TASKS);
    assert_non_null(done);
    struct mt_arg targ[THREADS], karg[TASKS];
    pthread_t th[THREADS];
    for (int i = 0; i < TASKS; i++) {
        karg[i] = (struct mt_arg){.n = n, .size = 16, .done = done};
        tt_go(mt_task, &karg[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        targ[i] = (struct mt_arg){.n = n, .size = 32};
        th[i] = tt_thread(mt_thread, &targ[i]);
    }
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    assert_int_equal(tt_wait_done(done, TASKS, TT_SOON), TASKS);
    ts_chan_release(done);

    struct ts__heap_record r;
    assert_int_equal(sum_site("site_mt", NULL, &r), 2); /* sizes 16, 32 */
    int64_t total = (int64_t)(THREADS + TASKS) * n;
    assert_int_equal(r.allocs, total);
    assert_int_equal(r.frees, total);
    assert_int_equal(r.alloc_bytes, (TASKS * 16 + THREADS * 32) * n);
    assert_int_equal(r.free_bytes, r.alloc_bytes);
    ts__heap_stats(&after);
    assert_int_equal(after.live, before.live);
    assert_int_equal(after.dropped, 0);
    heap_end();
}

/* ---- legacy text --------------------------------------------------------- */

/* Totals of every bucket, as the text header sums them. */
static void sum_all(struct ts__heap_record *t)
{
    size_t n = ts__heap_records(NULL, 0);
    struct ts__heap_record *b = calloc(n + 1, sizeof *b);
    assert_non_null(b);
    n = ts__heap_records(b, n);
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t->allocs += b[i].allocs;
        t->alloc_bytes += b[i].alloc_bytes;
        t->frees += b[i].frees;
        t->free_bytes += b[i].free_bytes;
    }
    free(b);
}

/* Go's debug=1 heap text: the header with the totals and heap/<2*rate>,
 * then per bucket "inuse: bytes [allocs: bytes] @ <pcs>", its frame lines
 * ("#\t<pc-1>\t...") and a blank line. */
static void test_heap_text_has_go_header_and_records(void **state)
{
    (void)state;
    ts__heap_set_rate(1);
    void *v[2];
    alloc_n(site_text, 40, v, 2);
    ts_free(v[0]);
    struct ts__heap_record r, t;
    assert_int_equal(sum_site("site_text", NULL, &r), 1);
    const uint64_t *pcs;
    size_t depth;
    assert_int_equal(ts__stackid_lookup(r.stack, &pcs, &depth), 0);
    sum_all(&t);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(ts__heap_write_text(f, sym), 0);
    assert_int_equal(fclose(f), 0);

    /* Alloc bytes never equal in-use bytes in the header (Go's guard
     * against pprof's old 2-column format). */
    int64_t inuse = t.alloc_bytes - t.free_bytes;
    char want[4096];
    int w = snprintf(want, sizeof want,
                     "heap profile: %lld: %lld [%lld: %lld] @ heap/2\n",
                     (long long)(t.allocs - t.frees), (long long)inuse,
                     (long long)t.allocs,
                     (long long)(t.alloc_bytes + (inuse == t.alloc_bytes)));
    assert_true(w > 0 && (size_t)w < sizeof want);
    assert_true(strncmp(buf, want, (size_t)w) == 0);

    w = snprintf(want, sizeof want, "\n1: 40 [2: 80] @");
    for (size_t i = 0; i < depth; i++)
        w += snprintf(want + w, sizeof want - (size_t)w, " %#llx",
                      (unsigned long long)pcs[i]);
    w += snprintf(want + w, sizeof want - (size_t)w, "\n#\t%#llx\t",
                  (unsigned long long)pcs[0] - 1);
    assert_true((size_t)w < sizeof want);
    char *rec = strstr(buf, want);
    assert_non_null(rec);
    /* one frame line per PC at least, then the closing blank line */
    char *end = strstr(rec + 1, "\n\n");
    assert_non_null(end);
    size_t lines = 0;
    for (char *c = rec + 1; c < end; c++)
        lines += *c == '\n';
    assert_true(lines >= depth);
    free(buf);
    ts_free(v[1]);
    heap_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HEAP_TEST(test_heap_rate_one_puts_two_sites_in_two_buckets),
        HEAP_TEST(test_heap_free_moves_bytes_out_of_inuse),
        HEAP_TEST(test_heap_realloc_is_free_then_alloc),
        HEAP_TEST(test_heap_calloc_zeroes_and_counts_n_times_size),
        HEAP_TEST(test_heap_calloc_overflow_fails_with_enomem),
        HEAP_TEST(test_heap_free_null_is_noop),
        HEAP_TEST(test_heap_rate_zero_samples_nothing),
        HEAP_TEST(test_heap_profile_has_go_types_period_and_labels),
        HEAP_TEST(test_heap_profile_scales_as_go),
        HEAP_TEST(test_heap_sampling_mean_matches_rate),
        HEAP_TEST(test_heap_threads_and_tasks_count_exactly),
        HEAP_TEST(test_heap_text_has_go_header_and_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
