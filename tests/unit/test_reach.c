/* test_reach.c — profiler/reach.c: the conservative reachability scan
 * behind the goroutine-leak profile.
 *
 * Every property is checked both ways: the reference that makes a target
 * reached is put in place, the scan must say reached; it is removed (or
 * the scenario is built without it), the scan must say unreached.
 *
 * How a test keeps a target unreached. An "unreached" answer is only
 * trustworthy if no root holds the target's address, so:
 *   - targets live in `arena`, memory from ts__reach_alloc (excluded from
 *     every scan), and each test takes fresh addresses from it (fresh();
 *     never reused in the process), so a stale copy a test leaves behind
 *     (a dead helper-thread frame, a freed heap block) can only keep its
 *     own targets reached, never a later test's. A fresh mmap or malloc
 *     is no substitute: its address may be one the process used before
 *     (a dead thread's stack), still named by stale words in roots
 *     (test_reach_target_memory_with_holes failed 1 run in 20 under TSan
 *     that way); the one test that needs heap targets retries with new
 *     blocks;
 *   - the targets array is in ts__reach_alloc memory too (`tg`);
 *   - the test computes addresses on the cmocka thread, which is the
 *     thread that calls ts__reach_scan: its stack and saved registers are
 *     the scanner's "own stack", excluded, so the test's locals are
 *     invisible to the scan. Globals (.bss is a root) hold only the arena
 *     base, never a target address, except `root_ref`, which the tests
 *     set to make a target reached and clear afterwards;
 *   - memory a test makes a root (a malloc'd block, an mmap'd page, a
 *     helper thread's volatile local) is cleared with explicit_bzero or a
 *     volatile store before it is freed;
 *   - no target address is ever printed (stdio buffers are heap memory). */
#include "tt_prof.h"

#include <semaphore.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "profiler/reach.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux >= 6.13 */
#endif

#define ARENA_SIZE (4u << 20)
#define MAX_TARGETS 4096

static unsigned char *arena;            /* ts__reach_alloc(ARENA_SIZE) */
static size_t arena_next = 4096;        /* next fresh offset */
static struct ts__reach_target *tg;     /* ts__reach_alloc'd, MAX_TARGETS */
static void *volatile root_ref;         /* a root in .bss */
static size_t page;

static int suite_setup(void **state)
{
    (void)state;
    page = (size_t)sysconf(_SC_PAGESIZE);
    arena = ts__reach_alloc(ARENA_SIZE);
    tg = ts__reach_alloc(MAX_TARGETS * sizeof *tg);
    return arena && tg ? 0 : -1;
}

static int suite_teardown(void **state)
{
    (void)state;
    ts__reach_free(tg, MAX_TARGETS * sizeof *tg);
    ts__reach_free(arena, ARENA_SIZE);
    return 0;
}

/* A fresh, never reused, 64-byte aligned block of the arena. */
static uintptr_t fresh(size_t size)
{
    size = (size + 63) & ~(size_t)63;
    assert_true(arena_next + size <= ARENA_SIZE);
    uintptr_t p = (uintptr_t)arena + arena_next;
    arena_next += size + 64; /* a gap: a pointer to p+size hits nothing */
    return p;
}

/* tg[i] = [lo, lo + size). */
static void set_target(size_t i, uintptr_t lo, size_t size)
{
    tg[i].lo = lo;
    tg[i].hi = lo + size;
    tg[i].reached = false;
}

/* Scan tg[0..n) with no extra exclusion; fails the test on an error. */
static void scan(size_t n)
{
    for (size_t i = 0; i < n; i++)
        tg[i].reached = !tg[i].reached; /* the scan must overwrite it */
    assert_int_equal(ts__reach_scan(tg, n, NULL, 0), 0);
}

/* ---- arguments --------------------------------------------------------- */

static void test_reach_rejects_bad_args(void **state)
{
    (void)state;
    struct ts__range r = {1, 2};
    set_target(0, fresh(64), 64);
    assert_int_equal(ts__reach_scan(NULL, 1, NULL, 0), EINVAL);
    assert_int_equal(ts__reach_scan(tg, 1, NULL, 1), EINVAL);
    tg[0].hi = tg[0].lo; /* empty */
    assert_int_equal(ts__reach_scan(tg, 1, &r, 1), EINVAL);
    tg[0].hi = tg[0].lo - 1; /* inverted */
    assert_int_equal(ts__reach_scan(tg, 1, NULL, 0), EINVAL);
    tp_end();
}

static void test_reach_no_targets_is_ok(void **state)
{
    (void)state;
    assert_int_equal(ts__reach_scan(NULL, 0, NULL, 0), 0);
    assert_int_equal(ts__reach_scan(tg, 0, NULL, 0), 0);
    tp_end();
}

static void test_reach_alloc_is_zeroed_and_rejects_zero(void **state)
{
    (void)state;
    assert_null(ts__reach_alloc(0));
    unsigned char *p = ts__reach_alloc(10000);
    assert_non_null(p);
    for (size_t i = 0; i < 10000; i++)
        assert_int_equal(p[i], 0);
    assert_int_equal((uintptr_t)p % 64, 0);
    memset(p, 0xab, 10000);
    ts__reach_free(p, 10000);
    ts__reach_free(NULL, 0);
    tp_end();
}

/* From a task the stack in use is the task's, not the thread's one the
 * scanner excludes; the scan refuses instead of reporting every target
 * reached. The task touches no channel (the test waits for it to end), so
 * only the scan runs in it. */
static int in_task_ret = -1; /* atomic */

static void scan_in_task(void *p)
{
    (void)p;
    __atomic_store_n(&in_task_ret, ts__reach_scan(tg, 1, NULL, 0),
                     __ATOMIC_RELEASE);
}

static void test_reach_rejects_call_from_a_task(void **state)
{
    (void)state;
    set_target(0, fresh(64), 64);
    tt_go(scan_in_task, NULL);
    assert_int_equal(tt_wait_num_tasks(tt_baseline, TT_SOON), tt_baseline);
    assert_int_equal(__atomic_load_n(&in_task_ret, __ATOMIC_ACQUIRE),
                     EINVAL);
    tp_end();
}

/* ---- roots ------------------------------------------------------------- */

static void test_reach_global_reference_reaches(void **state)
{
    (void)state;
    uintptr_t a = fresh(64);
    set_target(0, a, 64);
    scan(1);
    assert_false(tg[0].reached);
    root_ref = (void *)a;
    scan(1);
    assert_true(tg[0].reached);
    root_ref = NULL;
    scan(1);
    assert_false(tg[0].reached);
    tp_end();
}

/* A reference in a region the caller excludes (as the lead excludes the
 * blocked tasks' stacks) does not count; the same region not excluded
 * does. */
static void test_reach_excluded_region_does_not_reach(void **state)
{
    (void)state;
    uintptr_t a = fresh(64);
    set_target(0, a, 64);
    uintptr_t *region = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(region != MAP_FAILED);
    region[page / sizeof *region + 3] = a;
    struct ts__range *ex = (struct ts__range *)(void *)(tg + 1);
    ex->lo = (uintptr_t)region;
    ex->hi = (uintptr_t)region + 4 * page;
    assert_int_equal(ts__reach_scan(tg, 1, ex, 1), 0);
    assert_false(tg[0].reached);
    /* excluding only the part before the reference is not enough */
    ex->hi = (uintptr_t)region + page;
    assert_int_equal(ts__reach_scan(tg, 1, ex, 1), 0);
    assert_true(tg[0].reached);
    scan(1);
    assert_true(tg[0].reached);
    region[page / sizeof *region + 3] = 0;
    munmap(region, 4 * page);
    tp_end();
}

static void test_reach_heap_block_reaches(void **state)
{
    (void)state;
    uintptr_t a = fresh(64);
    set_target(0, a, 64);
    uintptr_t *block = malloc(48);
    assert_non_null(block);
    block[0] = 1;
    block[5] = a;
    scan(1);
    assert_true(tg[0].reached);
    explicit_bzero(block, 48);
    scan(1);
    assert_false(tg[0].reached);
    free(block);
    tp_end();
}

/* The reference is one of a million words of a malloc'd block. */
static void test_reach_large_heap_block_reaches(void **state)
{
    (void)state;
    uintptr_t a = fresh(64);
    set_target(0, a, 64);
    size_t nw = 1u << 20;
    uintptr_t *block = malloc(nw * sizeof *block);
    assert_non_null(block);
    for (size_t i = 0; i < nw; i++)
        block[i] = i * 0x9e3779b97f4a7c15ULL;
    block[nw - 7] = a + 63;
    scan(1);
    assert_true(tg[0].reached);
    block[nw - 7] = 0;
    scan(1);
    assert_false(tg[0].reached);
    free(block);
    tp_end();
}

static void test_reach_interior_pointer_reaches(void **state)
{
    (void)state;
    uintptr_t a = fresh(64);
    set_target(0, a, 64);
    root_ref = (void *)(a + 40);
    scan(1);
    assert_true(tg[0].reached);
    root_ref = (void *)(a + 63);
    scan(1);
    assert_true(tg[0].reached);
    root_ref = (void *)(a + 64); /* one past the end: not inside */
    scan(1);
    assert_false(tg[0].reached);
    root_ref = (void *)(a - 1);
    scan(1);
    assert_false(tg[0].reached);
    root_ref = NULL;
    tp_end();
}

/* ---- transitive marking -------------------------------------------------- */

/* global -> A's memory -> B: both reached; A is reached first and its
 * memory (excluded from the roots, being a target's) is what reaches B. */
static void test_reach_chain_through_target_memory(void **state)
{
    (void)state;
    uintptr_t a = fresh(128), b = fresh(64), c = fresh(64);
    set_target(0, b, 64); /* unsorted on purpose */
    set_target(1, a, 128);
    set_target(2, c, 64);
    ((uintptr_t *)a)[9] = b + 8;  /* A -> B */
    ((uintptr_t *)b)[7] = c;      /* B -> C */
    scan(3);
    assert_false(tg[0].reached);
    assert_false(tg[1].reached);
    assert_false(tg[2].reached);
    root_ref = (void *)a;
    scan(3);
    assert_true(tg[0].reached);
    assert_true(tg[1].reached);
    assert_true(tg[2].reached);
    root_ref = (void *)c; /* only the tail of the chain */
    scan(3);
    assert_false(tg[0].reached);
    assert_false(tg[1].reached);
    assert_true(tg[2].reached);
    root_ref = NULL;
    tp_end();
}

/* A <-> B and nothing else: a cycle among targets is not a root. */
static void test_reach_cycle_without_outside_ref_is_unreached(void **state)
{
    (void)state;
    uintptr_t a = fresh(64), b = fresh(64);
    set_target(0, a, 64);
    set_target(1, b, 64);
    ((uintptr_t *)a)[1] = b;
    ((uintptr_t *)b)[2] = a + 16;
    scan(2);
    assert_false(tg[0].reached);
    assert_false(tg[1].reached);
    root_ref = (void *)(b + 32);
    scan(2);
    assert_true(tg[0].reached);
    assert_true(tg[1].reached);
    root_ref = NULL;
    tp_end();
}

/* The same cycle with both targets in malloc'd blocks: the heap is a root,
 * but the targets' own memory is subtracted from it. Heap addresses are
 * reused, and a stale word somewhere (a dead frame, a freed block) may
 * still point at a reused block: such a pair is kept (not freed, so the
 * next pair gets new addresses) and another is tried. A scanner that
 * failed to subtract the targets would find every pair reached. */
static void test_reach_heap_cycle_is_unreached(void **state)
{
    (void)state;
    uintptr_t *kept[8] = {0};
    uintptr_t *a = NULL, *b = NULL;
    bool unreached = false;
    for (size_t try = 0; try < 4 && !unreached; try++) {
        a = malloc(256);
        b = malloc(256);
        assert_non_null(a);
        assert_non_null(b);
        memset(a, 0, 256);
        memset(b, 0, 256);
        a[0] = (uintptr_t)b;
        b[0] = (uintptr_t)a;
        set_target(0, (uintptr_t)a, 64);
        set_target(1, (uintptr_t)b, 64);
        scan(2);
        unreached = !tg[0].reached && !tg[1].reached;
        if (!unreached) {
            kept[2 * try] = a;
            kept[2 * try + 1] = b;
        }
    }
    assert_true(unreached);
    a[10] = (uintptr_t)a; /* a's tail, outside the target: a root */
    scan(2);
    assert_true(tg[0].reached);
    assert_true(tg[1].reached);
    explicit_bzero(a, 256);
    explicit_bzero(b, 256);
    free(a);
    free(b);
    for (size_t i = 0; i < 8; i++) {
        if (kept[i])
            explicit_bzero(kept[i], 256);
        free(kept[i]);
    }
    tp_end();
}

static void test_reach_overlapping_targets(void **state)
{
    (void)state;
    uintptr_t a = fresh(256);
    set_target(0, a, 256);      /* [0, 256) */
    set_target(1, a + 64, 64);  /* [64, 128), inside 0 */
    set_target(2, a + 64, 64);  /* a duplicate of 1 */
    set_target(3, a + 192, 128); /* [192, 320), overlaps 0's end */
    root_ref = (void *)(a + 100);
    scan(4);
    assert_true(tg[0].reached);
    assert_true(tg[1].reached);
    assert_true(tg[2].reached);
    assert_false(tg[3].reached);
    root_ref = (void *)(a + 300);
    scan(4);
    assert_false(tg[0].reached);
    assert_false(tg[1].reached);
    assert_false(tg[2].reached);
    assert_true(tg[3].reached);
    root_ref = NULL;
    tp_end();
}

/* ---- other threads' stacks -------------------------------------------- */

static sem_t hold_ready, hold_release;

/* Loads the address from excluded memory into a volatile local, so the
 * only root holding it is this thread's stack, then blocks. */
static void *hold_fn(void *arg)
{
    uintptr_t *slot = arg;
    volatile uintptr_t held = *slot;
    sem_post(&hold_ready);
    while (sem_wait(&hold_release) != 0)
        ;
    held = 0;
    (void)held;
    return NULL;
}

static void test_reach_other_thread_stack_reaches(void **state)
{
    (void)state;
    uintptr_t a = fresh(64);
    uintptr_t *slot = (uintptr_t *)fresh(8); /* excluded memory */
    *slot = a + 8;
    set_target(0, a, 64);
    scan(1);
    assert_false(tg[0].reached);
    assert_int_equal(sem_init(&hold_ready, 0, 0), 0);
    assert_int_equal(sem_init(&hold_release, 0, 0), 0);
    pthread_t t = tt_thread(hold_fn, slot);
    while (sem_wait(&hold_ready) != 0)
        ;
    scan(1);
    assert_true(tg[0].reached);
    sem_post(&hold_release);
    tt_join(t);
    *slot = 0;
    sem_destroy(&hold_ready);
    sem_destroy(&hold_release);
    tp_end();
}

/* ---- memory that faults ----------------------------------------------- */

/* One rw mapping of 24 pages: page 3 made PROT_NONE (mprotect splits the
 * mapping), page 6 a MADV_GUARD_INSTALL guard (stays inside the rw
 * mapping: the read faults), references before and right after each. */
static void test_reach_skips_guard_and_prot_none_pages(void **state)
{
    (void)state;
    size_t np = 24;
    unsigned char *m = mmap(NULL, np * page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    uintptr_t t[5];
    for (size_t i = 0; i < 5; i++) {
        t[i] = fresh(64);
        set_target(i, t[i], 64);
    }
    *(uintptr_t *)(m + 2 * page + page - 8) = t[0]; /* before PROT_NONE */
    *(uintptr_t *)(m + 4 * page) = t[1];            /* right after it */
    *(uintptr_t *)(m + 5 * page + 16) = t[2];       /* before the guard */
    *(uintptr_t *)(m + 7 * page) = t[3];            /* right after it */
    *(uintptr_t *)(m + 20 * page + 8) = t[4];       /* far after it */
    assert_int_equal(mprotect(m + 3 * page, page, PROT_NONE), 0);
    bool guard = true;
    if (madvise(m + 6 * page, page, MADV_GUARD_INSTALL) != 0) {
        assert_int_equal(errno, EINVAL);
        print_message("MADV_GUARD_INSTALL unsupported (Linux < 6.13): "
                      "guard page part skipped\n");
        guard = false;
    }
    scan(5);
    for (size_t i = 0; i < 5; i++)
        assert_true(tg[i].reached);
    if (guard) {
        /* the guard page faults even from the kernel's side */
        char c;
        struct iovec l = {&c, 1}, r = {m + 6 * page, 1};
        assert_int_equal(process_vm_readv(getpid(), &l, 1, &r, 1, 0), -1);
        assert_int_equal(errno, EFAULT);
    }
    munmap(m, np * page);
    scan(5);
    for (size_t i = 0; i < 5; i++)
        assert_false(tg[i].reached);
    tp_end();
}

/* A reached target's memory is read whole, whatever /proc/self/maps
 * says, so a target spanning a PROT_NONE page, a guard page and a hole
 * makes the scanner fault on each and go on to the reference at its end
 * (the deterministic version of a mapping changed under the scan). The
 * target is carved from the arena, not a fresh mmap: a fresh mapping can
 * reuse the address of a dead thread's stack, and stale words pointing
 * there (in live threads' dead frames) would make it reached. */
static void test_reach_target_memory_with_holes(void **state)
{
    (void)state;
    size_t np = 8;
    uintptr_t base = fresh((np + 1) * page);
    unsigned char *m = (unsigned char *)((base + page - 1) & ~(page - 1));
    uintptr_t u = fresh(64);
    set_target(0, (uintptr_t)m, np * page);
    set_target(1, u, 64);
    *(uintptr_t *)(m + 7 * page + 24) = u;
    assert_int_equal(mprotect(m + 1 * page, page, PROT_NONE), 0);
    if (madvise(m + 3 * page, page, MADV_GUARD_INSTALL) != 0) {
        assert_int_equal(errno, EINVAL);
        print_message("MADV_GUARD_INSTALL unsupported (Linux < 6.13): "
                      "guard page part skipped\n");
    }
    assert_int_equal(munmap(m + 5 * page, page), 0);
    scan(2);
    assert_false(tg[0].reached);
    assert_false(tg[1].reached);
    root_ref = m + 16;
    scan(2);
    assert_true(tg[0].reached);
    assert_true(tg[1].reached);
    root_ref = NULL;
    /* give the arena its pages back (the hole must not host another
     * mapping inside the excluded range) */
    void *r = mmap(m, np * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    assert_true(r == (void *)m);
    tp_end();
}

/* A thread maps, fills, protects, guards and unmaps regions as fast as it
 * can while the scans run: the snapshot of /proc/self/maps is stale while
 * it is used, and every kind of fault must be skipped, not crash. */
struct churn {
    int stop; /* atomic */
    long rounds;
};

static void *churn_fn(void *p)
{
    struct churn *c = p;
    uint64_t seed = 42;
    void *live[16] = {0};
    size_t live_len[16] = {0};
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        size_t k = tt_rand(&seed) % 16;
        if (live[k]) {
            munmap(live[k], live_len[k]);
            live[k] = NULL;
        }
        size_t np = 1 + tt_rand(&seed) % 64;
        unsigned char *m = mmap(NULL, np * page, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            continue;
        for (size_t i = 0; i < np; i++)
            m[i * page] = 1;
        switch (tt_rand(&seed) % 4) {
        case 0:
            mprotect(m + (np / 2) * page, page, PROT_NONE);
            break;
        case 1:
            madvise(m + (np / 2) * page, page, MADV_GUARD_INSTALL);
            break;
        case 2:
            madvise(m, np * page, MADV_DONTNEED);
            break;
        default:
            break;
        }
        live[k] = m;
        live_len[k] = np * page;
        c->rounds++;
    }
    for (size_t k = 0; k < 16; k++)
        if (live[k])
            munmap(live[k], live_len[k]);
    return NULL;
}

static void test_reach_survives_concurrent_unmap(void **state)
{
    (void)state;
    uintptr_t a = fresh(64), b = fresh(64);
    set_target(0, a, 64);
    set_target(1, b, 64);
    root_ref = (void *)(a + 8);
    struct churn c = {0};
    pthread_t t = tt_thread(churn_fn, &c);
    long scans = tt_scaled(200, 20);
    for (long i = 0; i < scans; i++) {
        scan(2);
        assert_true(tg[0].reached);
        assert_false(tg[1].reached);
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    tt_join(t);
    assert_true(c.rounds > 0);
    root_ref = NULL;
    tp_end();
}

/* ---- ts__reach_alloc memory is never a root ----------------------------- */

static void test_reach_alloc_memory_is_excluded(void **state)
{
    (void)state;
    uintptr_t a = fresh(64);
    set_target(0, a, 64);
    uintptr_t *book = ts__reach_alloc(3 * page);
    assert_non_null(book);
    book[page / 8 + 1] = a;
    scan(1);
    assert_false(tg[0].reached);
    /* the same bytes in plain mmap'd memory are a root */
    uintptr_t *plain = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(plain != MAP_FAILED);
    memcpy(plain, book, 3 * page);
    scan(1);
    assert_true(tg[0].reached);
    munmap(plain, 3 * page);
    scan(1);
    assert_false(tg[0].reached);
    ts__reach_free(book, 3 * page);
    scan(1);
    assert_false(tg[0].reached);
    tp_end();
}

/* The argument arrays hold the target addresses; wherever the caller put
 * them (here: malloc'd memory, a root), the scan does not count them. */
static void test_reach_excludes_its_argument_arrays(void **state)
{
    (void)state;
    struct ts__reach_target *ht = malloc(2 * sizeof *ht);
    struct ts__range *hx = malloc(sizeof *hx);
    assert_non_null(ht);
    assert_non_null(hx);
    uintptr_t a = fresh(64);
    ht[0] = (struct ts__reach_target){.lo = a, .hi = a + 64};
    ht[1] = (struct ts__reach_target){.lo = a + 8, .hi = a + 16};
    hx[0] = (struct ts__range){.lo = a + 32, .hi = a + 40}; /* in a */
    assert_int_equal(ts__reach_scan(ht, 2, hx, 1), 0);
    assert_false(ht[0].reached);
    assert_false(ht[1].reached);
    root_ref = (void *)(a + 8);
    assert_int_equal(ts__reach_scan(ht, 2, hx, 1), 0);
    assert_true(ht[0].reached);
    assert_true(ht[1].reached);
    root_ref = NULL;
    explicit_bzero(ht, 2 * sizeof *ht);
    explicit_bzero(hx, sizeof *hx);
    free(ht);
    free(hx);
    tp_end();
}

/* ---- speed (measured and printed, not asserted) ----------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A malloc'd block of `mib` MiB, scanned twice: filled with words outside
 * every target's span (the one-compare reject), then with words inside
 * the span of 1000 targets but in the gaps between them (a binary search
 * per word, the worst case). One real reference at the end each time. */
static void test_reach_scans_large_heap(void **state)
{
    (void)state;
    size_t mib = (size_t)tt_scaled(100, 16);
    size_t nw = mib << 17;
    size_t nt = 1000;
    for (size_t i = 0; i < nt; i++)
        set_target(i, fresh(64), 64); /* 128-byte stride: 64-byte gaps */
    uintptr_t *block = malloc(nw * sizeof *block);
    assert_non_null(block);
    uint64_t seed = 7;
    for (size_t i = 0; i < nw; i++)
        block[i] = tt_rand(&seed) & 0x00000fffffffffffULL & ~(uintptr_t)1;
    for (size_t i = 0; i < nw; i++)
        if (block[i] >= tg[0].lo && block[i] < tg[nt - 1].hi + 64)
            block[i] = 0;
    block[nw - 1] = tg[nt - 1].lo;
    double t0 = now_s();
    scan(nt);
    double t1 = now_s();
    assert_true(tg[nt - 1].reached);
    assert_false(tg[0].reached);
    uintptr_t base = tg[0].lo;
    for (size_t i = 0; i < nw; i++)
        block[i] = base + 64 + (tt_rand(&seed) % nt) * 128 +
                   (tt_rand(&seed) % 64);
    block[nw - 1] = tg[nt / 2].lo;
    double t2 = now_s();
    scan(nt);
    double t3 = now_s();
    assert_true(tg[nt / 2].reached);
    assert_false(tg[0].reached);
    print_message("scan of a %zu MiB heap block + the process: %.0f ms with "
                  "words outside the targets' span, %.0f ms with every word "
                  "inside it (%zu targets)\n",
                  mib, (t1 - t0) * 1e3, (t3 - t2) * 1e3, nt);
    free(block); /* munmapped: a block this size is mmap'd by malloc */
    tp_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TP_TEST(test_reach_rejects_bad_args),
        TP_TEST(test_reach_no_targets_is_ok),
        TP_TEST(test_reach_alloc_is_zeroed_and_rejects_zero),
        TP_TEST(test_reach_rejects_call_from_a_task),
        TP_TEST(test_reach_global_reference_reaches),
        TP_TEST(test_reach_excluded_region_does_not_reach),
        TP_TEST(test_reach_heap_block_reaches),
        TP_TEST(test_reach_large_heap_block_reaches),
        TP_TEST(test_reach_interior_pointer_reaches),
        TP_TEST(test_reach_chain_through_target_memory),
        TP_TEST(test_reach_cycle_without_outside_ref_is_unreached),
        TP_TEST(test_reach_heap_cycle_is_unreached),
        TP_TEST(test_reach_overlapping_targets),
        TP_TEST(test_reach_other_thread_stack_reaches),
        TP_TEST(test_reach_skips_guard_and_prot_none_pages),
        TP_TEST(test_reach_target_memory_with_holes),
        TP_TEST(test_reach_survives_concurrent_unmap),
        TP_TEST(test_reach_alloc_memory_is_excluded),
        TP_TEST(test_reach_excludes_its_argument_arrays),
        TP_TEST(test_reach_scans_large_heap),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
