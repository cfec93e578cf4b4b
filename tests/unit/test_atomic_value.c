/* ts_atomic_value_t (include/taskscope/atomic_value.h): Go's atomic.Value
 * for pointers — load after store, swap and compare-and-swap, Go's nil
 * panics, and a destructor that runs once per replaced pointer, only after
 * its last reader released it. */
#include "tt.h"

#define MAGIC_LIVE 0x6c697665L
#define MAGIC_DEAD 0x64656164L

struct config {
    long magic;          /* plain: MAGIC_LIVE until the destructor */
    long version;
    atomic_int readers;  /* readers holding it, checked by the destructor */
};

static atomic_long destroyed;

static struct config *new_config(long version)
{
    struct config *c = calloc(1, sizeof *c);
    if (!c)
        fail_msg("calloc");
    c->magic = MAGIC_LIVE;
    c->version = version;
    return c;
}

static void destroy_config(void *ptr, void *arg)
{
    struct config *c = ptr;
    (void)arg;
    TT_CHECK_EQ(c->magic, MAGIC_LIVE);
    TT_CHECK_EQ(atomic_load(&c->readers), 0);
    c->magic = MAGIC_DEAD;
    atomic_fetch_add(&destroyed, 1);
    free(c);
}

static void init_value(ts_atomic_value_t *v)
{
    atomic_store(&destroyed, 0);
    ts_atomic_value_init(v, destroy_config, NULL);
}

/* ---- basics --------------------------------------------------------- */

static void test_atomic_value_load_empty_returns_null(void **state)
{
    (void)state;
    ts_atomic_value_t v;
    init_value(&v);
    assert_null(ts_atomic_value_load(&v));
    ts_atomic_value_release(&v, NULL);
    ts_atomic_value_destroy(&v);
    tt_end(0);
}

static void test_atomic_value_load_after_store(void **state)
{
    (void)state;
    ts_atomic_value_t v;
    init_value(&v);
    struct config *a = new_config(1);
    ts_atomic_value_store(&v, a);
    struct config *got = ts_atomic_value_load(&v);
    assert_ptr_equal(got, a);
    assert_int_equal(got->version, 1);
    ts_atomic_value_release(&v, got);
    ts_atomic_value_store(&v, a); /* the current pointer again: no-op */
    assert_int_equal(atomic_load(&destroyed), 0);
    ts_atomic_value_destroy(&v);
    assert_int_equal(atomic_load(&destroyed), 1);
    tt_end(0);
}

/* A replaced pointer with no reader is destroyed by the store; one that a
 * reader holds is destroyed by that reader's release. */
static void test_atomic_value_destructor_waits_for_last_reader(void **state)
{
    (void)state;
    ts_atomic_value_t v;
    init_value(&v);
    ts_atomic_value_store(&v, new_config(1));
    ts_atomic_value_store(&v, new_config(2));
    assert_int_equal(atomic_load(&destroyed), 1);
    struct config *r1 = ts_atomic_value_load(&v);
    struct config *r2 = ts_atomic_value_load(&v);
    ts_atomic_value_store(&v, new_config(3));
    assert_int_equal(atomic_load(&destroyed), 1);
    ts_atomic_value_release(&v, r1);
    assert_int_equal(r2->magic, MAGIC_LIVE);
    assert_int_equal(atomic_load(&destroyed), 1);
    ts_atomic_value_release(&v, r2);
    assert_int_equal(atomic_load(&destroyed), 2);
    ts_atomic_value_destroy(&v);
    assert_int_equal(atomic_load(&destroyed), 3);
    tt_end(0);
}

static void test_atomic_value_swap_returns_old_reference(void **state)
{
    (void)state;
    ts_atomic_value_t v;
    init_value(&v);
    struct config *a = new_config(1), *b = new_config(2);
    assert_null(ts_atomic_value_swap(&v, a));
    struct config *old = ts_atomic_value_swap(&v, b);
    assert_ptr_equal(old, a);
    assert_int_equal(atomic_load(&destroyed), 0); /* the caller holds a */
    ts_atomic_value_release(&v, old);
    assert_int_equal(atomic_load(&destroyed), 1);
    ts_atomic_value_destroy(&v);
    assert_int_equal(atomic_load(&destroyed), 2);
    tt_end(0);
}

static void test_atomic_value_compare_and_swap(void **state)
{
    (void)state;
    ts_atomic_value_t v;
    init_value(&v);
    struct config *a = new_config(1), *b = new_config(2), *c = new_config(3);
    assert_false(ts_atomic_value_compare_and_swap(&v, a, b)); /* empty */
    assert_true(ts_atomic_value_compare_and_swap(&v, NULL, a));
    assert_false(ts_atomic_value_compare_and_swap(&v, NULL, b));
    assert_false(ts_atomic_value_compare_and_swap(&v, c, b));
    struct config *got = ts_atomic_value_load(&v);
    assert_ptr_equal(got, a);
    ts_atomic_value_release(&v, got);
    assert_true(ts_atomic_value_compare_and_swap(&v, a, a)); /* no-op */
    assert_int_equal(atomic_load(&destroyed), 0);
    assert_true(ts_atomic_value_compare_and_swap(&v, a, b));
    assert_int_equal(atomic_load(&destroyed), 1);
    got = ts_atomic_value_load(&v);
    assert_ptr_equal(got, b);
    ts_atomic_value_release(&v, got);
    ts_atomic_value_destroy(&v);
    assert_int_equal(atomic_load(&destroyed), 2);
    free(c);
    tt_end(0);
}

/* ---- misuse panics ---------------------------------------------------- */

enum op { OP_STORE, OP_SWAP, OP_CAS, OP_RELEASE };

struct misuse {
    ts_atomic_value_t *v;
    enum op op;
};

static void misuse_body(void *arg)
{
    struct misuse *m = arg;
    static int not_loaded;
    ts_defer(tt_recover_quiet, NULL);
    switch (m->op) {
    case OP_STORE: ts_atomic_value_store(m->v, NULL); break;
    case OP_SWAP: (void)ts_atomic_value_swap(m->v, NULL); break;
    case OP_CAS: (void)ts_atomic_value_compare_and_swap(m->v, NULL, NULL); break;
    case OP_RELEASE: ts_atomic_value_release(m->v, &not_loaded); break;
    }
}

static void expect_panic(ts_atomic_value_t *v, enum op op, const char *msg)
{
    struct misuse m = {v, op};
    ts_panic_value_t pv;
    assert_int_equal(ts_pcall(misuse_body, &m, &pv), TS_PANIC_RECOVERED);
    assert_int_equal(pv.code, TS_PANIC_MISUSE);
    assert_string_equal(pv.message, msg);
}

/* Go's panics on nil, recovered; the value is left as it was. */
static void test_atomic_value_nil_store_panics(void **state)
{
    (void)state;
    ts_atomic_value_t v;
    init_value(&v);
    struct config *a = new_config(1);
    ts_atomic_value_store(&v, a);
    expect_panic(&v, OP_STORE, "sync/atomic: store of nil value into Value");
    expect_panic(&v, OP_SWAP, "sync/atomic: swap of nil value into Value");
    expect_panic(&v, OP_CAS,
                 "sync/atomic: compare and swap of nil value into Value");
    expect_panic(&v, OP_RELEASE,
                 "sync/atomic: release of a pointer not loaded from Value");
    struct config *got = ts_atomic_value_load(&v);
    assert_ptr_equal(got, a);
    ts_atomic_value_release(&v, got);
    ts_atomic_value_destroy(&v);
    assert_int_equal(atomic_load(&destroyed), 1);
    tt_end(0);
}

/* ---- readers against a writer ---------------------------------------- */

struct reload {
    ts_atomic_value_t v;
    long swaps;
    atomic_bool stop;
    atomic_long loads;
    ts_chan_t *done;
};

static void read_configs(struct reload *r, uint64_t seed)
{
    long last = 0;
    while (!atomic_load(&r->stop)) {
        struct config *c = ts_atomic_value_load(&r->v);
        atomic_fetch_add(&c->readers, 1);
        TT_CHECK_EQ(c->magic, MAGIC_LIVE);
        TT_CHECK(c->version >= last); /* never goes back in time */
        last = c->version;
        if (tt_rand(&seed) % 4 == 0)
            ts_yield(); /* hold it across a switch */
        TT_CHECK_EQ(c->magic, MAGIC_LIVE);
        atomic_fetch_sub(&c->readers, 1);
        ts_atomic_value_release(&r->v, c);
        atomic_fetch_add(&r->loads, 1);
    }
}

static void reader_task(void *arg)
{
    struct reload *r = arg;
    read_configs(r, ts_self() | 1);
    tt_signal(r->done);
}

static void *reader_thread(void *arg)
{
    read_configs(arg, (uint64_t)pthread_self() | 1);
    return NULL;
}

static void writer_task(void *arg)
{
    struct reload *r = arg;
    for (long i = 2; i <= r->swaps; i++) {
        if (i % 3 == 0) {
            ts_atomic_value_release(&r->v,
                                    ts_atomic_value_swap(&r->v, new_config(i)));
        } else {
            ts_atomic_value_store(&r->v, new_config(i));
        }
        if (i % 64 == 0)
            ts_yield();
    }
    atomic_store(&r->stop, true);
    tt_signal(r->done);
}

/* 200 reader tasks and 3 reader threads load, check and release configs
 * (some across a yield) while one task replaces the config 100,000 times:
 * each destructor runs once (count), never on a held config (its reader
 * count, the magic field; ASan would see a use after free), and readers
 * never see an older version after a newer one. */
static void test_atomic_value_readers_while_writer_swaps(void **state)
{
    (void)state;
    enum { TASKS = 200, THREADS = 3 };
    static struct reload r;
    memset(&r, 0, sizeof r);
    init_value(&r.v);
    r.swaps = tt_scaled(100000, 2000);
    r.done = ts_chan_make(0, TASKS + 1);
    ts_atomic_value_store(&r.v, new_config(1));
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        th[i] = tt_thread(reader_thread, &r);
    for (int i = 0; i < TASKS; i++)
        tt_go(reader_task, &r);
    tt_go(writer_task, &r);
    assert_int_equal(tt_wait_done(r.done, TASKS + 1, 90 * TS_SECOND),
                     TASKS + 1);
    for (int i = 0; i < THREADS; i++)
        tt_join(th[i]);
    assert_int_equal(atomic_load(&destroyed), r.swaps - 1);
    assert_true(atomic_load(&r.loads) > 0);
    ts_atomic_value_destroy(&r.v);
    assert_int_equal(atomic_load(&destroyed), r.swaps);
    ts_chan_release(r.done);
    tt_end(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TT_TEST(test_atomic_value_load_empty_returns_null),
        TT_TEST(test_atomic_value_load_after_store),
        TT_TEST(test_atomic_value_destructor_waits_for_last_reader),
        TT_TEST(test_atomic_value_swap_returns_old_reference),
        TT_TEST(test_atomic_value_compare_and_swap),
        TT_TEST(test_atomic_value_nil_store_panics),
        TT_TEST(test_atomic_value_readers_while_writer_swaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
