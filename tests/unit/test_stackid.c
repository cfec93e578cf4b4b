/* test_stackid.c — profiler/stackid.c: frame-pointer stack capture and the
 * lock-free stack intern table.
 *
 * Capture is checked from a chain of out-of-line functions of this file:
 * each captured return address is symbolized (profiler/symbolize.h) and
 * must fall in the expected caller. Interning is checked single-threaded
 * (identity, distinctness, both full paths) and from 4 threads interning
 * overlapping stacks in different orders, which must agree on every id. */
#include "tt_prof.h"

#include "profiler/stackid.h"
#include "profiler/symbolize.h"

/* ---- capture ------------------------------------------------------- */

struct cap {
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    size_t n;
    size_t max;
    size_t skip;
    uintptr_t lo, hi;
    bool hi_at_outer; /* use the outer function's frame as hi */
};

static TP_NOINLINE void cap_inner(struct cap *c)
{
    c->n = ts__stack_capture(c->pcs, c->max, c->skip, c->lo, c->hi);
    TP_NO_TAIL_CALL();
}

static TP_NOINLINE void cap_middle(struct cap *c)
{
    cap_inner(c);
    TP_NO_TAIL_CALL();
}

static TP_NOINLINE void cap_outer(struct cap *c)
{
    if (c->hi_at_outer)
        c->hi = (uintptr_t)__builtin_frame_address(0);
    cap_middle(c);
    TP_NO_TAIL_CALL();
}

/* The function containing return address pc ("" if unknown). */
static const char *func_of(struct ts__symbolizer *s, uint64_t pc)
{
    const struct ts__frame *f;
    size_t n;
    if (ts__symbolize(s, pc - 1, &f, &n) != 0 || n == 0)
        return "";
    return f[n - 1].function;
}

static struct cap cap_self(size_t max, size_t skip)
{
    struct cap c = {.max = max, .skip = skip};
    assert_int_equal(ts__stack_bounds_self(&c.lo, &c.hi), 0);
    return c;
}

static void test_stack_capture_returns_callers_innermost_first(void **state)
{
    (void)state;
    struct cap c = cap_self(TS__STACK_MAX_DEPTH, 0);
    cap_outer(&c);
    assert_true(c.n >= 4);
    struct ts__symbolizer *s;
    assert_int_equal(ts__symbolizer_new(&s), 0);
    assert_string_equal(func_of(s, c.pcs[0]), "cap_inner");
    assert_string_equal(func_of(s, c.pcs[1]), "cap_middle");
    assert_string_equal(func_of(s, c.pcs[2]), "cap_outer");
    assert_string_equal(func_of(s, c.pcs[3]),
                        "test_stack_capture_returns_callers_innermost_first");
    ts__symbolizer_free(s);
    tp_end();
}

static void test_stack_capture_respects_max_and_skip(void **state)
{
    (void)state;
    struct cap full = cap_self(TS__STACK_MAX_DEPTH, 0);
    cap_outer(&full);
    assert_true(full.n >= 4);

    struct cap two = cap_self(2, 0);
    cap_outer(&two);
    assert_int_equal(two.n, 2);
    assert_int_equal(two.pcs[0], full.pcs[0]);
    assert_int_equal(two.pcs[1], full.pcs[1]);

    struct cap skipped = cap_self(TS__STACK_MAX_DEPTH, 2);
    cap_outer(&skipped);
    assert_int_equal(skipped.n, full.n - 2);
    assert_int_equal(skipped.pcs[0], full.pcs[2]);
    tp_end();
}

/* With hi at cap_outer's frame record, the walk reads the records of
 * ts__stack_capture, cap_inner and cap_middle (all below hi) and stops
 * before cap_outer's: three return addresses, the last one in cap_outer. */
static void test_stack_capture_stops_at_range_end(void **state)
{
    (void)state;
    struct cap c = cap_self(TS__STACK_MAX_DEPTH, 0);
    c.hi_at_outer = true;
    cap_outer(&c);
    assert_int_equal(c.n, 3);
    struct ts__symbolizer *s;
    assert_int_equal(ts__symbolizer_new(&s), 0);
    assert_string_equal(func_of(s, c.pcs[2]), "cap_outer");
    ts__symbolizer_free(s);
    tp_end();
}

static void test_stack_capture_outside_range_returns_nothing(void **state)
{
    (void)state;
    struct cap c = {.max = TS__STACK_MAX_DEPTH};
    cap_outer(&c); /* [0, 0) */
    assert_int_equal(c.n, 0);
    /* A range that is mapped but holds none of our frames. */
    static uintptr_t other[64];
    c.lo = (uintptr_t)other;
    c.hi = (uintptr_t)(other + 64);
    cap_outer(&c);
    assert_int_equal(c.n, 0);
    tp_end();
}

static void *capture_on_thread(void *p)
{
    struct cap *c = p;
    TT_CHECK_EQ(ts__stack_bounds_self(&c->lo, &c->hi), 0);
    cap_outer(c);
    return NULL;
}

/* A new thread's outermost frame ends the chain (NULL frame pointer or
 * return address): the walk stops inside the thread's stack. */
static void test_stack_capture_stops_at_thread_start(void **state)
{
    (void)state;
    struct cap c = {.max = TS__STACK_MAX_DEPTH};
    tt_join(tt_thread(capture_on_thread, &c));
    assert_true(c.n >= 4);
    assert_true(c.n < TS__STACK_MAX_DEPTH);
    struct ts__symbolizer *s;
    assert_int_equal(ts__symbolizer_new(&s), 0);
    assert_string_equal(func_of(s, c.pcs[3]), "capture_on_thread");
    ts__symbolizer_free(s);
    tp_end();
}

/* ---- intern table -------------------------------------------------- */

static void test_stacktab_new_rejects_bad_sizes(void **state)
{
    (void)state;
    struct ts__stacktab *t;
    assert_int_equal(ts__stacktab_new(1, 100, &t), EINVAL);
    assert_int_equal(ts__stacktab_new(25, 100, &t), EINVAL);
    assert_int_equal(ts__stacktab_new(4, 0, &t), EINVAL);
    assert_int_equal(ts__stacktab_new(4, 100, NULL), EINVAL);
    tp_end();
}

static void test_stacktab_same_stack_gets_same_id(void **state)
{
    (void)state;
    struct ts__stacktab *t;
    assert_int_equal(ts__stacktab_new(8, 1000, &t), 0);
    uint64_t a[] = {0x401000, 0x402000, 0x403000};
    uint64_t a_copy[] = {0x401000, 0x402000, 0x403000};
    uint32_t id = ts__stacktab_intern(t, a, 3);
    assert_int_not_equal(id, TS__STACKID_NONE);
    assert_int_equal(ts__stacktab_intern(t, a_copy, 3), id);
    assert_int_equal(ts__stacktab_intern(t, a, 3), id);
    const uint64_t *pcs;
    size_t n;
    assert_int_equal(ts__stacktab_lookup(t, id, &pcs, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(pcs, a, sizeof a);
    struct ts__stacktab_stats st;
    ts__stacktab_stats(t, &st);
    assert_int_equal(st.stacks, 1);
    assert_int_equal(st.arena_used, 4);
    ts__stacktab_free(t);
    tp_end();
}

static void test_stacktab_different_stacks_get_different_ids(void **state)
{
    (void)state;
    struct ts__stacktab *t;
    assert_int_equal(ts__stacktab_new(8, 1000, &t), 0);
    uint64_t abc[] = {1, 2, 3};
    uint64_t acb[] = {1, 3, 2};
    uint32_t ids[] = {
        ts__stacktab_intern(t, abc, 3),
        ts__stacktab_intern(t, abc, 2), /* a prefix is another stack */
        ts__stacktab_intern(t, acb, 3),
        ts__stacktab_intern(t, abc, 0), /* the empty stack */
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_not_equal(ids[i], TS__STACKID_NONE);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(ids[i], ids[j]);
    }
    const uint64_t *pcs;
    size_t n;
    assert_int_equal(ts__stacktab_lookup(t, ids[1], &pcs, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ts__stacktab_lookup(t, ids[3], &pcs, &n), 0);
    assert_int_equal(n, 0);
    ts__stacktab_free(t);
    tp_end();
}

static void test_stacktab_lookup_rejects_unused_ids(void **state)
{
    (void)state;
    struct ts__stacktab *t;
    assert_int_equal(ts__stacktab_new(4, 100, &t), 0);
    const uint64_t *pcs;
    size_t n;
    assert_int_equal(ts__stacktab_lookup(t, TS__STACKID_NONE, &pcs, &n),
                     EINVAL);
    assert_int_equal(ts__stacktab_lookup(t, 1, &pcs, &n), EINVAL);
    assert_int_equal(ts__stacktab_lookup(t, 17, &pcs, &n), EINVAL);
    ts__stacktab_free(t);
    tp_end();
}

static void test_stacktab_full_table_returns_sentinel(void **state)
{
    (void)state;
    struct ts__stacktab *t;
    assert_int_equal(ts__stacktab_new(2, 1000, &t), 0); /* 4 slots, 3 ids */
    uint64_t pc[5] = {10, 20, 30, 40, 50};
    uint32_t ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = ts__stacktab_intern(t, &pc[i], 1);
        assert_int_not_equal(ids[i], TS__STACKID_NONE);
    }
    assert_int_equal(ts__stacktab_intern(t, &pc[3], 1), TS__STACKID_NONE);
    assert_int_equal(ts__stacktab_intern(t, &pc[4], 1), TS__STACKID_NONE);
    /* Stacks already in keep their ids. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ts__stacktab_intern(t, &pc[i], 1), ids[i]);
    struct ts__stacktab_stats st;
    ts__stacktab_stats(t, &st);
    assert_int_equal(st.stacks, 3);
    assert_int_equal(st.full, 2);
    ts__stacktab_free(t);
    tp_end();
}

static void test_stacktab_full_arena_returns_sentinel(void **state)
{
    (void)state;
    struct ts__stacktab *t;
    assert_int_equal(ts__stacktab_new(6, 10, &t), 0); /* 10 words */
    uint64_t a[5] = {1, 2, 3, 4, 5}, b[5] = {6, 7, 8, 9, 10};
    uint32_t id = ts__stacktab_intern(t, a, 5); /* 6 words */
    assert_int_not_equal(id, TS__STACKID_NONE);
    assert_int_equal(ts__stacktab_intern(t, b, 5), TS__STACKID_NONE);
    uint32_t small = ts__stacktab_intern(t, b, 3); /* 4 words: fits */
    assert_int_not_equal(small, TS__STACKID_NONE);
    assert_int_equal(ts__stacktab_intern(t, a, 5), id);
    struct ts__stacktab_stats st;
    ts__stacktab_stats(t, &st);
    assert_int_equal(st.stacks, 2);
    assert_int_equal(st.full, 1);
    assert_int_equal(st.arena_used, 10);
    ts__stacktab_free(t);
    tp_end();
}

/* 4 threads intern the same K stacks (sharing prefixes, so hashes and
 * probe sequences overlap), each in its own order, many rounds. The first
 * rounds race on inserting new stacks; later ones on looking them up.
 * Every thread must get the same id for a stack in every round, ids must
 * be distinct, and the table must hold exactly K stacks. */
enum { K_STACKS = 300, DEPTH = 6, INTERN_THREADS = 4 };

struct interner {
    struct ts__stacktab *t;
    uint64_t (*stacks)[DEPTH];
    pthread_barrier_t *start;
    int index;
    long rounds;
    uint32_t ids[K_STACKS];
};

static void *interner_main(void *p)
{
    struct interner *w = p;
    pthread_barrier_wait(w->start);
    for (long r = 0; r < w->rounds; r++) {
        for (int k = 0; k < K_STACKS; k++) {
            /* thread i walks the stacks with stride 1 from offset i*K/4,
             * odd threads backwards */
            int j = (k + w->index * K_STACKS / INTERN_THREADS) % K_STACKS;
            if (w->index & 1)
                j = K_STACKS - 1 - j;
            size_t n = 1 + (size_t)j % DEPTH;
            uint32_t id = ts__stacktab_intern(w->t, w->stacks[j], n);
            if (r == 0)
                w->ids[j] = id;
            else
                TT_CHECK_EQ(w->ids[j], id);
        }
    }
    return NULL;
}

static void test_stacktab_concurrent_interning_agrees_on_ids(void **state)
{
    (void)state;
    static uint64_t stacks[K_STACKS][DEPTH];
    for (int j = 0; j < K_STACKS; j++)
        for (int d = 0; d < DEPTH; d++)
            stacks[j][d] = 0x400000 + (uint64_t)(j / 3) * 0x10 + d;
    /* j and j+1, j+2 share a prefix; their lengths differ (1 + j % 6). */
    struct ts__stacktab *t;
    assert_int_equal(ts__stacktab_new(10, 1 << 16, &t), 0);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, INTERN_THREADS);
    static struct interner w[INTERN_THREADS];
    pthread_t th[INTERN_THREADS];
    long rounds = tt_scaled(200, 5);
    for (int i = 0; i < INTERN_THREADS; i++) {
        w[i] = (struct interner){.t = t, .stacks = stacks, .start = &start,
                                 .index = i, .rounds = rounds};
        th[i] = tt_thread(interner_main, &w[i]);
    }
    for (int i = 0; i < INTERN_THREADS; i++)
        tt_join(th[i]);
    pthread_barrier_destroy(&start);

    for (int j = 0; j < K_STACKS; j++) {
        assert_int_not_equal(w[0].ids[j], TS__STACKID_NONE);
        for (int i = 1; i < INTERN_THREADS; i++)
            assert_int_equal(w[i].ids[j], w[0].ids[j]);
        const uint64_t *pcs;
        size_t n;
        assert_int_equal(ts__stacktab_lookup(t, w[0].ids[j], &pcs, &n), 0);
        assert_int_equal(n, 1 + (size_t)j % DEPTH);
        assert_memory_equal(pcs, stacks[j], n * sizeof(uint64_t));
    }
    /* Distinct: sort-free check through a seen-bitmap over slot ids. */
    static bool seen[1 << 10];
    memset(seen, 0, sizeof seen);
    for (int j = 0; j < K_STACKS; j++) {
        assert_false(seen[w[0].ids[j] - 1]);
        seen[w[0].ids[j] - 1] = true;
    }
    struct ts__stacktab_stats st;
    ts__stacktab_stats(t, &st);
    assert_int_equal(st.stacks, K_STACKS);
    assert_int_equal(st.full, 0);
    ts__stacktab_free(t);
    tp_end();
}

/* The process-wide table: a captured stack round-trips through an id. */
static void test_stackid_interns_captured_stack(void **state)
{
    (void)state;
    struct cap c = cap_self(TS__STACK_MAX_DEPTH, 0);
    cap_outer(&c);
    assert_true(c.n >= 4);
    uint32_t id = ts__stackid_intern(c.pcs, c.n);
    assert_int_not_equal(id, TS__STACKID_NONE);
    assert_int_equal(ts__stackid_intern(c.pcs, c.n), id);
    const uint64_t *pcs;
    size_t n;
    assert_int_equal(ts__stackid_lookup(id, &pcs, &n), 0);
    assert_int_equal(n, c.n);
    assert_memory_equal(pcs, c.pcs, n * sizeof(uint64_t));
    tp_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TP_TEST(test_stack_capture_returns_callers_innermost_first),
        TP_TEST(test_stack_capture_respects_max_and_skip),
        TP_TEST(test_stack_capture_stops_at_range_end),
        TP_TEST(test_stack_capture_outside_range_returns_nothing),
        TP_TEST(test_stack_capture_stops_at_thread_start),
        TP_TEST(test_stacktab_new_rejects_bad_sizes),
        TP_TEST(test_stacktab_same_stack_gets_same_id),
        TP_TEST(test_stacktab_different_stacks_get_different_ids),
        TP_TEST(test_stacktab_lookup_rejects_unused_ids),
        TP_TEST(test_stacktab_full_table_returns_sentinel),
        TP_TEST(test_stacktab_full_arena_returns_sentinel),
        TP_TEST(test_stacktab_concurrent_interning_agrees_on_ids),
        TP_TEST(test_stackid_interns_captured_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
