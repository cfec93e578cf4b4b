/* taskscope — sampled heap profiling (interface in heap.h): Go's
 * mallocgc/nextSample sampling for ts_malloc and friends, the buckets
 * behind the heap and allocs profiles, and the set of live sampled
 * addresses that lets a free recognise them without a header.
 *
 * Sampling, as Go's mcache.nextSample: each thread counts down the bytes
 * left until its next sample, drawn from an exponential distribution with
 * mean = rate (a Poisson process over allocated bytes). An allocation not
 * smaller than what is left is sampled, and a new countdown drawn. Rate 1
 * samples every allocation, 0 none.
 *
 * Layout (one mmap'd block, made on the first sample, never freed):
 *
 *   +-------------------------------+
 *   | group_bits                    |  bit per group: holds a live address
 *   | nlive, nbuckets, group_live   |  group_live: live addresses per group
 *   +-------------------------------+
 *   | live_addr[LIVE_SLOTS]         |  addresses, in groups of LIVE_GROUP
 *   |   group 0: slots 0..15        |  slots (2 cache lines); an address
 *   |   group 1: slots 16..31 ...   |  lives only in the group its hash
 *   +-------------------------------+  names
 *   | live_bucket[LIVE_SLOTS]       |  the bucket of each live address
 *   +-------------------------------+
 *   | index[INDEX_SLOTS]            |  (stack, size) -> bucket + 1
 *   +-------------------------------+
 *   | buckets[MAX_BUCKETS]          |  struct ts__heap_record
 *   +-------------------------------+
 *
 * Invariants:
 *   - heap_lock guards everything in the block but the live addresses,
 *     group_bits and nlive, which are written under it and read without
 *     it; a group's bit is set exactly while its group_live count is
 *     non-zero. It is a leaf:
 *     nothing else is taken, nothing allocates, no task switches while it
 *     is held (so an interposed malloc may call these hooks);
 *   - a live slot's address is 0 or a sampled allocation not freed yet,
 *     held by exactly one slot; its bucket is written before the address;
 *   - nlive is the number of non-zero live addresses, and a bucket's
 *     allocs - frees the number of its live slots;
 *   - buckets are appended, never removed: an index is stable;
 *   - a thread's countdown (struct ts__heap_sampler, heap.h) is used only by the code that
 *     thread runs (tasks included), one at a time, and is re-drawn when
 *     the rate it was drawn for is no longer the current one.
 * Why ts_free may look up without the lock: only the free of p clears p's
 * slot, and the insert of p happens before that free (the user got p from
 * ts_malloc), so a sampled p is always found. An unsampled p is in no slot:
 * an address is inserted only while its allocation is live, and its slot is
 * cleared before the memory goes back to the allocator; racing inserts of
 * other addresses never match p.
 * Rejected:
 *   - a header before each allocation (Go keeps the bucket in the span):
 *     impossible for the probe's interposed malloc;
 *   - open addressing with tombstones: deleted slots never become empty
 *     again, so the lookups of unsampled pointers (every free) probe ever
 *     longer. A fixed group bounds the probe to 16 slots (2 cache lines);
 *     the price is a dropped sample when a group is full (with 10,000 live
 *     samples a group holds 0.6 on average);
 *   - resizing: readers would have to synchronise with it;
 *   - a bare countdown without the rate check on the allocation path
 *     (one relaxed load more; Go's mallocgc reads MemProfileRate too): a
 *     thread whose countdown was drawn at rate 0 (never) or at a large
 *     rate would not see a new, smaller rate for a long time, or ever;
 *   - the runtime's ts__lock_t for heap_lock: the runtime is not
 *     instrumented in the tsan build, so TSan would not see it order the
 *     buckets' updates; a pthread mutex it intercepts;
 *   - libm's exp and log: the libraries do not link libm; the two are
 *     computed here to double precision (exp within an ulp or two). */
#include "profiler/heap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <taskscope/export.h>
#include <taskscope/profile.h>

#include "profiler/profile.h"
#include "profiler/record.h"
#include "profiler/stackid.h"
#include "profiler/unwind.h"
#include "profiler/text.h"

#define LIVE_GROUP 16
#define LIVE_GROUPS_LOG2 TS__HEAP_GROUPS_LOG2
#define LIVE_SLOTS ((size_t)LIVE_GROUP << LIVE_GROUPS_LOG2)
#define MAX_BUCKETS ((size_t)1 << 16)
#define INDEX_SLOTS (2 * MAX_BUCKETS) /* at most half full: probes end */
#define NO_BUCKET UINT32_MAX
#define NO_SLOT SIZE_MAX
#define RATE_UNREAD (-1) /* TASKSCOPE_MEMPROFILERATE not read yet */

/* A call that ends a function stays a call, so the frame count the stack
 * capture skips is the same at every optimisation level. */
#define NO_TAIL_CALL() __asm__ volatile("" ::: "memory")

_Static_assert(sizeof(uint64_t) == sizeof(uintptr_t),
               "stack ids hold PCs as uint64_t, samples as uintptr_t");

struct heap {
    /* bit g set while group g holds a live address; written under
     * heap_lock, read without: a free whose group holds none (most frees)
     * stops at this 2 KiB bitmap, which stays in every core's cache
     * (a bit flips only when its group empties or fills its first slot),
     * instead of touching its group's two cache lines in the 2 MiB table */
    _Atomic uint64_t group_bits[((size_t)1 << LIVE_GROUPS_LOG2) / 64];
    _Alignas(64) _Atomic uint64_t nlive; /* non-zero live addresses */
    uint32_t nbuckets;                   /* guarded by heap_lock */
    uint8_t group_live[(size_t)1 << LIVE_GROUPS_LOG2]; /* guarded by heap_lock */
    _Atomic uintptr_t live_addr[LIVE_SLOTS]; /* 0, or a live sample */
    uint32_t live_bucket[LIVE_SLOTS];        /* guarded by heap_lock */
    uint32_t index[INDEX_SLOTS]; /* guarded by heap_lock; 0 = empty */
    struct ts__heap_record buckets[MAX_BUCKETS]; /* guarded by heap_lock */
};

/* Per thread: the countdown of Go's mcache.nextSample (heap.h).
 * initial-exec: no __tls_get_addr call on the allocation path. */
__thread struct ts__heap_sampler ts__heap_sampler
    __attribute__((tls_model("initial-exec"))) = {.rate = RATE_UNREAD};
/* On the functions that touch the sampler: not instrumented by TSan. The
 * sampler belongs to the OS thread, and the tasks that thread runs one
 * after another use it in turn; TSan models each task as a fiber, and the
 * (uninstrumented) scheduler's switches do not synchronise (runtime/race.h),
 * so it would report those uses as races. Go's mcache, per P, is likewise
 * runtime memory the race detector never sees. No access here can race:
 * nothing between computing &ts__heap_sampler and the last use can switch tasks. */
#define SAMPLER_CODE __attribute__((no_sanitize("thread")))

static _Atomic(struct heap *) heap_block; /* NULL until made */
/* Adaptive: held for a few cache misses, so a waiter spins briefly
 * instead of sleeping in futex (7x fewer futex calls on the probe's
 * 4-thread malloc workload). */
static pthread_mutex_t heap_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static pthread_once_t heap_once = PTHREAD_ONCE_INIT;
int64_t ts__heap_rate_now = RATE_UNREAD; /* atomic */
const uint64_t *ts__heap_group_bits;     /* atomic: the block's group_bits */
static _Atomic uint64_t heap_dropped;
static _Atomic uint64_t rng_seeds;

/* ---- rate ---------------------------------------------------------- */

static int64_t rate_from_env(void)
{
    const char *s = getenv("TASKSCOPE_MEMPROFILERATE");
    char *end;
    if (!s || *s == '\0')
        return TS__HEAP_DEFAULT_RATE;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return TS__HEAP_DEFAULT_RATE;
    return v;
}

int64_t ts__heap_rate(void)
{
    int64_t r = __atomic_load_n(&ts__heap_rate_now, __ATOMIC_RELAXED);
    if (r != RATE_UNREAD)
        return r;
    /* A racing ts__heap_set_rate wins over the environment. */
    int64_t unread = RATE_UNREAD;
    __atomic_compare_exchange_n(&ts__heap_rate_now, &unread, rate_from_env(), false,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return __atomic_load_n(&ts__heap_rate_now, __ATOMIC_RELAXED);
}

int64_t ts__heap_set_rate(int64_t rate)
{
    int64_t old = ts__heap_rate();
    if (rate >= 0)
        __atomic_store_n(&ts__heap_rate_now, rate, __ATOMIC_RELAXED);
    return old;
}

/* ---- the countdown: Go's fastexprand ------------------------------- */

SAMPLER_CODE static uint64_t rng_next(struct ts__heap_sampler *s)
{
    if (s->rng == 0) {
        /* splitmix64 of a per-thread sequence number: distinct seeds. */
        uint64_t z = atomic_fetch_add(&rng_seeds, 1) + 0x9e3779b97f4a7c15u;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        s->rng = (z ^ (z >> 31)) | 1;
    }
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545f4914f6cdd1du;
}

#define LN2 0.6931471805599453

/* ln(q) for q >= 1: q = m * 2^e with m in [1, 2); ln m = 2 atanh(z),
 * z = (m - 1) / (m + 1) <= 1/3, by its series to z^13 (truncation error
 * < 1e-8; Go's fastlog2 is an approximation too). */
static double ln_u64(uint64_t q)
{
    int e = 63 - __builtin_clzll(q);
    double m = (double)q / (double)((uint64_t)1 << e);
    double z = (m - 1) / (m + 1), z2 = z * z;
    double t = z * (1 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 +
               z2 * (1.0 / 9 + z2 * (1.0 / 11 + z2 / 13))))));
    return e * LN2 + 2 * t;
}

/* Bytes until the next sample: exponential with mean rate (Go caps the
 * mean at 0x7000000 so that a step fits in an int32); rate 0 never
 * samples, rate 1 always. */
SAMPLER_CODE static uint64_t next_sample(struct ts__heap_sampler *s, int64_t rate)
{
    if (rate == 0)
        return UINT64_MAX;
    if (rate == 1)
        return 0;
    double mean = (double)(rate > 0x7000000 ? 0x7000000 : rate);
    uint64_t q = (rng_next(s) >> 38) + 1; /* uniform in [1, 2^26] */
    double x = (26 * LN2 - ln_u64(q)) * mean;
    return (uint64_t)(x < 0 ? 0 : x) + 1;
}

/* Go's mallocgc test, after re-arming a countdown drawn for another rate
 * (or never drawn). True when this allocation is to be sampled. */
SAMPLER_CODE static bool take_sample(struct ts__heap_sampler *s, size_t size)
{
    int64_t rate = ts__heap_rate();
    if (s->rate != rate) {
        s->rate = rate;
        s->left = next_sample(s, rate);
    }
    if (rate == 0)
        return false;
    if (rate != 1 && size < s->left) {
        s->left -= size;
        return false;
    }
    s->left = next_sample(s, rate);
    return true;
}

/* ---- the block ----------------------------------------------------- */

static void heap_init(void)
{
    void *m = mmap(NULL, sizeof(struct heap), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    /* Huge pages where the system offers them (THP "madvise"): samples
     * land at random in the 3.5 MiB of live and index tables, and each
     * first touch of a 4 KiB page costs a page fault on the sampling
     * thread (a quarter of the probe's malloc overhead, bench/README.md).
     * The price: up to the block's 7.5 MiB resident instead of the pages
     * touched. */
    if (m != MAP_FAILED)
        madvise(m, sizeof(struct heap), MADV_HUGEPAGE);
    if (m != MAP_FAILED) { /* zero pages: the tables empty */
        __atomic_store_n(&ts__heap_group_bits,
                         (const uint64_t *)((struct heap *)m)->group_bits,
                         __ATOMIC_RELEASE);
        atomic_store_explicit(&heap_block, m, memory_order_release);
    }
}

static struct heap *heap_get(void)
{
    pthread_once(&heap_once, heap_init);
    return atomic_load_explicit(&heap_block, memory_order_acquire);
}

/* The first slot of p's group. */
static size_t live_group(uintptr_t p)
{
    return ts__heap_group_of(p) * LIVE_GROUP;
}

/* The slot holding p, or NO_SLOT. No lock. */
static size_t live_find(struct heap *h, uintptr_t p)
{
    if (!ts__heap_maybe_sampled((const void *)p)) /* h's group_bits */
        return NO_SLOT;
    size_t g = live_group(p);
    for (size_t i = g; i < g + LIVE_GROUP; i++)
        if (atomic_load_explicit(&h->live_addr[i], memory_order_relaxed) == p)
            return i;
    return NO_SLOT;
}

/* Clear live slot i, counting its allocation freed. Lock held. */
static void live_release(struct heap *h, size_t i)
{
    struct ts__heap_record *b = &h->buckets[h->live_bucket[i]];
    b->frees++;
    b->free_bytes += (int64_t)b->size;
    atomic_store_explicit(&h->live_addr[i], 0, memory_order_relaxed);
    size_t gi = i / LIVE_GROUP;
    if (--h->group_live[gi] == 0)
        atomic_fetch_and_explicit(&h->group_bits[gi / 64],
                                  ~(UINT64_C(1) << (gi % 64)),
                                  memory_order_relaxed);
    atomic_fetch_sub_explicit(&h->nlive, 1, memory_order_relaxed);
}

/* A slot for p: an empty one of its group, or p's own when p is still
 * there because its memory was freed behind our back (by free(), not
 * ts_free): that allocation is counted freed now. NO_SLOT when the group
 * is full. Lock held. */
static size_t live_claim(struct heap *h, uintptr_t p)
{
    size_t g = live_group(p), empty = NO_SLOT;
    for (size_t i = g; i < g + LIVE_GROUP; i++) {
        uintptr_t a = atomic_load_explicit(&h->live_addr[i],
                                           memory_order_relaxed);
        if (a == p) {
            live_release(h, i);
            return i;
        }
        if (a == 0 && empty == NO_SLOT)
            empty = i;
    }
    return empty;
}

/* The bucket of (stack, size), made if new; NO_BUCKET when the table is
 * full. Lock held. */
static uint32_t bucket_for(struct heap *h, uint32_t stack, uint64_t size)
{
    uint64_t k = (((uint64_t)stack << 32) ^ size) * 0x9e3779b97f4a7c15u;
    size_t i = (size_t)(k >> 32) & (INDEX_SLOTS - 1);
    for (;; i = (i + 1) & (INDEX_SLOTS - 1)) {
        uint32_t e = h->index[i];
        if (e == 0)
            break;
        const struct ts__heap_record *b = &h->buckets[e - 1];
        if (b->stack == stack && b->size == size)
            return e - 1;
    }
    if (h->nbuckets == MAX_BUCKETS)
        return NO_BUCKET;
    uint32_t n = h->nbuckets++;
    h->buckets[n] = (struct ts__heap_record){.stack = stack, .size = size};
    h->index[i] = n + 1;
    return n;
}

/* ---- hooks --------------------------------------------------------- */

static void drop_sample(void)
{
    atomic_fetch_add_explicit(&heap_dropped, 1, memory_order_relaxed);
}

/* Account sampled allocation p in its bucket and the live set. */
static void record_sample(void *p, size_t size, uint32_t stack)
{
    struct heap *h = heap_get();
    if (!h || stack == TS__STACKID_NONE) {
        drop_sample();
        return;
    }
    pthread_mutex_lock(&heap_lock);
    size_t s = live_claim(h, (uintptr_t)p);
    uint32_t b = s != NO_SLOT ? bucket_for(h, stack, size) : NO_BUCKET;
    if (b != NO_BUCKET) {
        h->buckets[b].allocs++;
        h->buckets[b].alloc_bytes += (int64_t)size;
        h->live_bucket[s] = b;
        atomic_store_explicit(&h->live_addr[s], (uintptr_t)p,
                              memory_order_relaxed);
        size_t gi = s / LIVE_GROUP;
        if (h->group_live[gi]++ == 0)
            atomic_fetch_or_explicit(&h->group_bits[gi / 64],
                                     UINT64_C(1) << (gi % 64),
                                     memory_order_relaxed);
        atomic_fetch_add_explicit(&h->nlive, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&heap_lock);
    if (b == NO_BUCKET)
        drop_sample();
}

/* The rare path of ts__heap_on_alloc: re-arm or sample. skip as for
 * ts__heap_on_alloc. */
__attribute__((noinline)) static void alloc_slow(void *p, size_t size,
                                                 size_t skip)
{
    if (!take_sample(&ts__heap_sampler, size))
        return;
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    /* + 2: alloc_slow's and ts__heap_on_alloc's own frames. A sampled
     * allocation is rare: unwind through frame-pointer-less code too. */
    size_t n = ts__capture_unwind(pcs, TS__STACK_MAX_DEPTH, skip + 2);
    record_sample(p, size, ts__stackid_intern(pcs, n));
}

SAMPLER_CODE __attribute__((noinline)) void ts__heap_on_alloc(void *p,
                                                              size_t size,
                                                              size_t skip)
{
    if (!ts__heap_sample_due(size))
        return;
    alloc_slow(p, size, skip);
    NO_TAIL_CALL();
}

void ts__heap_on_free(void *p)
{
    struct heap *h = atomic_load_explicit(&heap_block, memory_order_acquire);
    if (!p || !h)
        return;
    size_t s = live_find(h, (uintptr_t)p);
    if (s == NO_SLOT)
        return;
    pthread_mutex_lock(&heap_lock);
    /* Only a (wrong) concurrent free of p could have cleared it. */
    if (atomic_load_explicit(&h->live_addr[s], memory_order_relaxed) ==
        (uintptr_t)p)
        live_release(h, s);
    pthread_mutex_unlock(&heap_lock);
}

/* ---- the public allocation functions ------------------------------- */

/* noinline: each is one frame for the skip of 1 they pass, also under
 * LTO. */
TS_EXPORT __attribute__((noinline)) void *ts_malloc(size_t size)
{
    void *p = malloc(size);
    if (p)
        ts__heap_on_alloc(p, size, 1);
    return p;
}

TS_EXPORT __attribute__((noinline)) void *ts_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = calloc(n, size);
    if (p)
        ts__heap_on_alloc(p, total, 1);
    return p;
}

/* As Go and heaptrack: a free of ptr, then an allocation of size.
 * ts_realloc(NULL, size) is ts_malloc(size); ts_realloc(ptr, 0) frees ptr
 * and returns NULL (glibc's behaviour, made explicit). The free is
 * accounted before realloc runs, so ptr cannot be handed to another
 * thread while still in the live set; when realloc then fails, ptr stays
 * valid but is no longer in the profile. */
TS_EXPORT __attribute__((noinline)) void *ts_realloc(void *ptr, size_t size)
{
    if (ptr && size == 0) {
        ts__heap_on_free(ptr);
        free(ptr);
        return NULL;
    }
    ts__heap_on_free(ptr);
    void *p = realloc(ptr, size);
    if (p)
        ts__heap_on_alloc(p, size, 1);
    return p;
}

TS_EXPORT void ts_free(void *ptr)
{
    if (!ptr)
        return;
    ts__heap_on_free(ptr);
    free(ptr);
}

/* ---- reading ------------------------------------------------------- */

size_t ts__heap_records(struct ts__heap_record *out, size_t max)
{
    struct heap *h = atomic_load_explicit(&heap_block, memory_order_acquire);
    if (!h)
        return 0;
    pthread_mutex_lock(&heap_lock);
    size_t n = h->nbuckets;
    if (out)
        memcpy(out, h->buckets, (n < max ? n : max) * sizeof *out);
    pthread_mutex_unlock(&heap_lock);
    return n;
}

void ts__heap_stats(struct ts__heap_stats *out)
{
    struct heap *h = atomic_load_explicit(&heap_block, memory_order_acquire);
    out->live = h ? atomic_load_explicit(&h->nlive, memory_order_relaxed) : 0;
    out->dropped = atomic_load_explicit(&heap_dropped, memory_order_relaxed);
}

/* All buckets into a malloc'd array (malloc outside the heap lock: an
 * interposed malloc may sample). 0 or ENOMEM. */
static int snapshot(struct ts__heap_record **out, size_t *n)
{
    size_t want = ts__heap_records(NULL, 0);
    *out = malloc((want ? want : 1) * sizeof **out);
    if (!*out)
        return ENOMEM;
    size_t got = ts__heap_records(*out, want);
    *n = got < want ? got : want;
    return 0;
}

/* ---- the pprof profiles -------------------------------------------- */

/* exp(x) for x <= 0: x = k ln2 + r, |r| <= ln2 / 2 (ln2 split in two for
 * an exact k ln2), e^r by its Taylor series to r^13 (remainder < 1e-17),
 * times 2^k built in the exponent bits. */
static double exp_nonpos(double x)
{
    if (x < -700)
        return 0; /* e^-700 < 1e-304: 1 - it is exactly 1 */
    double k = __builtin_floor(x / LN2 + 0.5);
    double r = (x - k * 6.93147180369123816490e-01) -
               k * 1.90821492927058770002e-10;
    double t = 1;
    for (int i = 13; i >= 1; i--)
        t = 1 + t * r / i;
    union {
        uint64_t u;
        double d;
    } two_k = {.u = (uint64_t)((int64_t)k + 1023) << 52};
    return t * two_k.d;
}

/* Go's scaleHeapSample (runtime/pprof/protomem.go): divide by the
 * probability 1 - e^(-avg/rate) that an object of the average size is
 * sampled; unscaled when rate <= 1. */
static void scale_heap_sample(int64_t count, int64_t size, int64_t rate,
                              int64_t *scount, int64_t *ssize)
{
    if (count == 0 || size == 0) {
        *scount = *ssize = 0;
        return;
    }
    if (rate <= 1) {
        *scount = count;
        *ssize = size;
        return;
    }
    double avg = (double)size / (double)count;
    double scale = 1 / (1 - exp_nonpos(-avg / (double)rate));
    *scount = (int64_t)((double)count * scale);
    *ssize = (int64_t)((double)size * scale);
}

static int add_header(struct ts__profile *p, int64_t rate, bool allocs)
{
    static const char *const types[4][2] = {
        {"alloc_objects", "count"},
        {"alloc_space", "bytes"},
        {"inuse_objects", "count"},
        {"inuse_space", "bytes"},
    };
    int r = ts__profile_set_period(p, "space", "bytes", rate);
    for (int i = 0; i < 4 && r == 0; i++)
        r = ts__profile_add_sample_type(p, types[i][0], types[i][1]);
    if (r == 0 && allocs)
        r = ts__profile_set_default_sample_type(p, "alloc_space");
    return r;
}

static int add_bucket(struct ts__profile *p, const struct ts__heap_record *b,
                      int64_t rate)
{
    const uint64_t *pcs;
    size_t n;
    int r = ts__stackid_lookup(b->stack, &pcs, &n);
    if (r != 0)
        return r;
    int64_t v[4];
    scale_heap_sample(b->allocs, b->alloc_bytes, rate, &v[0], &v[1]);
    scale_heap_sample(b->allocs - b->frees, b->alloc_bytes - b->free_bytes,
                      rate, &v[2], &v[3]);
    struct ts__label size = {.key = "bytes", .num = (int64_t)b->size};
    struct ts__sample s = {
        .stack = (const uintptr_t *)pcs,
        .depth = n,
        .values = v,
        .nvalues = 4,
        .labels = &size,
        .nlabels = b->size != 0, /* Go: only a non-zero block size */
    };
    return ts__profile_add_sample(p, &s);
}

int ts__heap_profile(struct ts__profile *p, bool allocs)
{
    if (!p)
        return EINVAL;
    int64_t rate = ts__heap_rate();
    int r = add_header(p, rate, allocs);
    struct ts__heap_record *b;
    size_t n;
    if (r == 0)
        r = snapshot(&b, &n);
    if (r != 0)
        return r;
    for (size_t i = 0; i < n && r == 0; i++)
        r = add_bucket(p, &b[i], rate);
    free(b);
    return r;
}

/* ---- legacy text --------------------------------------------------- */

static int64_t inuse_bytes(const struct ts__heap_record *b)
{
    return b->alloc_bytes - b->free_bytes;
}

/* Largest in-use bytes first (Go 1.19's order); ties by stack id, size. */
static int cmp_inuse_desc(const void *x, const void *y)
{
    const struct ts__heap_record *a = x, *b = y;
    int64_t ia = inuse_bytes(a), ib = inuse_bytes(b);
    if (ia != ib)
        return ia > ib ? -1 : 1;
    if (a->stack != b->stack)
        return a->stack < b->stack ? -1 : 1;
    return (a->size > b->size) - (a->size < b->size);
}

static void write_header(FILE *f, const struct ts__heap_record *b, size_t n)
{
    int64_t allocs = 0, alloc_bytes = 0, frees = 0, free_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        allocs += b[i].allocs;
        alloc_bytes += b[i].alloc_bytes;
        frees += b[i].frees;
        free_bytes += b[i].free_bytes;
    }
    /* As Go: pprof reads alloc == inuse as an old 2-column profile, so
     * the header's alloc bytes never equal its in-use bytes; and the rate
     * shown is 2 * rate, which early pprof expected. */
    int64_t inuse = alloc_bytes - free_bytes;
    fprintf(f, "heap profile: %lld: %lld [%lld: %lld] @ heap/%lld\n",
            (long long)(allocs - frees), (long long)inuse, (long long)allocs,
            (long long)(alloc_bytes + (inuse == alloc_bytes)),
            (long long)(2 * ts__heap_rate()));
}

static int write_bucket(FILE *f, struct ts__symbolizer *sym,
                        const struct ts__heap_record *b)
{
    const uint64_t *pcs;
    size_t n;
    int r = ts__stackid_lookup(b->stack, &pcs, &n);
    if (r != 0)
        return r;
    fprintf(f, "%lld: %lld [%lld: %lld] @", (long long)(b->allocs - b->frees),
            (long long)inuse_bytes(b), (long long)b->allocs,
            (long long)b->alloc_bytes);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %#llx", (unsigned long long)pcs[i]);
    fputc('\n', f);
    ts__text_frames(f, sym, pcs, n);
    fputc('\n', f); /* printStackRecord's closing blank line */
    return 0;
}

int ts__heap_write_text(FILE *f, struct ts__symbolizer *sym)
{
    if (!f)
        return EINVAL;
    struct ts__heap_record *b;
    size_t n;
    int r = snapshot(&b, &n);
    if (r != 0)
        return r;
    qsort(b, n, sizeof *b, cmp_inuse_desc);
    write_header(f, b, n);
    for (size_t i = 0; i < n && r == 0; i++)
        r = write_bucket(f, sym, &b[i]);
    free(b);
    if (r == 0 && (fflush(f) != 0 || ferror(f)))
        r = errno ? errno : EIO;
    return r;
}
