/* taskscope — block and mutex events: sampling on the hot path, the drain
 * thread, and the per-stack tables the block and mutex profiles come from.
 *
 * Invariants:
 *   - hot path (ts__record_block / ts__record_mutex): no malloc, no lock,
 *     no syscall; an event is either dropped by sampling, or interned and
 *     pushed to the calling thread's ring (a full ring counts a drop);
 *   - sampling is Go's: a block event of d ticks is kept with probability
 *     min(1, d / rate) and, when d < rate, counted as rate / d events of
 *     rate ticks (runtime.saveblockevent's debiasing); a mutex event is
 *     kept with probability 1 / fraction and the profile multiplies by the
 *     fraction (runtime/pprof.scaleMutexProfile);
 *   - the tables are touched only under table_lock, by the drain thread
 *     (start.c) or a profile writer draining first; a bucket is (kind,
 *     stack id). */
#include "profiler/contention.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/profile.h>

#include "profiler/profile.h"
#include "profiler/record.h"
#include "profiler/ring.h"
#include "profiler/stackid.h"
#include "profiler/text.h"
#include "runtime/sched.h"

#define DEFAULT_BLOCK_RATE_NS 10000 /* see docs/profiler.md */

uint64_t ts__block_rate_ticks;
int ts__mutex_fraction;
static int64_t block_rate_ns;

/* ---- ticks ------------------------------------------------------------ */

static uint64_t tick0;
static int64_t nano0;

double ts__ticks_per_ns(void)
{
#if defined(__aarch64__)
    uint64_t freq;
    __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(freq));
    return (double)freq / 1e9;
#elif defined(__x86_64__)
    int64_t dn;
    while ((dn = ts__nanotime() - nano0) < 5000000)
        ts__cpu_relax(); /* at least 5 ms of history for 0.1% precision */
    return (double)(ts__ticks() - tick0) / (double)dn;
#else
    return 1.0;
#endif
}

/* ---- hot path --------------------------------------------------------- */

static void push(int kind, int reason, const void *object, uint64_t dur,
                 uint64_t rate, uint32_t stack)
{
    struct ts__event ev = {
        .time = ts__ticks(),
        .task = ts_self(),
        .object = (uint64_t)(uintptr_t)object,
        .duration = (int64_t)dur,
        .kind = (uint16_t)kind,
        .wait_reason = (uint8_t)reason,
        .stack_id = stack,
        .rate = rate,
    };
    ts__ring_record(&ev);
}

__attribute__((noinline)) void ts__record_block(int reason, const void *object,
                                                uint64_t d, uint64_t rate,
                                                size_t skip)
{
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    size_t n = ts__capture_current(pcs, TS__STACK_MAX_DEPTH, 1 + skip);
    push(TS__EV_BLOCK, reason, object, d, rate,
         ts__stackid_intern(pcs, n));
}

/* mutex_kept: sampled 1 / fraction (0 = off); the fraction, or 0. */
static int mutex_kept(void)
{
    int frac = __atomic_load_n(&ts__mutex_fraction, __ATOMIC_RELAXED);
    if (frac <= 0 ||
        (frac > 1 && ((unsigned __int128)ts__rand() * (uint64_t)frac) >> 64 != 0))
        return 0;
    return frac;
}

__attribute__((noinline)) void ts__record_mutex(uint64_t delay)
{
    int frac = mutex_kept();
    if (!frac)
        return;
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    /* skip 2: this function and ts__unlock_slow; the leaf is the code that
     * unlocked. */
    size_t n = ts__capture_current(pcs, TS__STACK_MAX_DEPTH, 2);
    push(TS__EV_MUTEX, 0, NULL, delay, (uint64_t)frac,
         ts__stackid_intern(pcs, n));
}

void ts__record_mutex_at(uint32_t stack, uint64_t delay)
{
    int frac = mutex_kept();
    if (frac)
        push(TS__EV_MUTEX, 0, NULL, delay, (uint64_t)frac, stack);
}

/* ---- rate controls ------------------------------------------------------ */

static int64_t set_block_rate(int64_t rate)
{
    int64_t prev = __atomic_load_n(&block_rate_ns, __ATOMIC_RELAXED);
    if (rate < 0)
        return prev;
    double t = (double)rate * ts__ticks_per_ns();
    uint64_t ticks = rate <= 1 ? (uint64_t)rate
                     : t >= 18446744073709549568.0 ? UINT64_MAX /* clamp */
                                                   : (uint64_t)t;
    __atomic_store_n(&block_rate_ns, rate, __ATOMIC_RELAXED);
    __atomic_store_n(&ts__block_rate_ticks, ticks ? ticks : (rate > 0),
                     __ATOMIC_RELAXED);
    return prev;
}

static int set_mutex_fraction(int rate)
{
    int prev = __atomic_load_n(&ts__mutex_fraction, __ATOMIC_RELAXED);
    if (rate >= 0)
        __atomic_store_n(&ts__mutex_fraction, rate, __ATOMIC_RELAXED);
    return prev;
}

int64_t ts_set_block_profile_rate(int64_t rate)
{
    ts__profiler_start();
    return set_block_rate(rate);
}

int ts_set_mutex_profile_fraction(int rate)
{
    ts__profiler_start();
    return set_mutex_fraction(rate);
}

/* ---- tables ----------------------------------------------------------- */

struct bucket {
    uint32_t stack_id; /* 0 = empty slot */
    bool mutex;
    double count;
    double ticks;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bucket *table; /* open addressing, power-of-two size */
static size_t table_cap, table_len;

static size_t slot_of(uint32_t id, bool mutex, size_t cap)
{
    uint64_t h = ((uint64_t)id << 1 | mutex) * 0x9e3779b97f4a7c15ull;
    size_t i = (size_t)(h >> 32) & (cap - 1);
    while (table[i].stack_id &&
           (table[i].stack_id != id || table[i].mutex != mutex))
        i = (i + 1) & (cap - 1);
    return i;
}

static bool grow_table(void)
{
    size_t cap = table_cap ? table_cap * 2 : 1024;
    struct bucket *old = table, *nt = calloc(cap, sizeof *nt);
    if (!nt)
        return false;
    size_t old_cap = table_cap;
    table = nt;
    table_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].stack_id)
            table[slot_of(old[i].stack_id, old[i].mutex, cap)] = old[i];
    free(old);
    return true;
}

static uint64_t table_lost; /* events not tabled: out of memory or no id */

static void on_event(const struct ts__event *ev, void *arg)
{
    (void)arg;
    bool mutex = ev->kind == TS__EV_MUTEX;
    if ((ev->kind != TS__EV_BLOCK && !mutex) || ev->stack_id == 0 ||
        ((table_len + 1) * 4 > table_cap * 3 && !grow_table())) {
        table_lost++;
        return;
    }
    struct bucket *b = &table[slot_of(ev->stack_id, mutex, table_cap)];
    if (!b->stack_id) {
        *b = (struct bucket){.stack_id = ev->stack_id, .mutex = mutex};
        table_len++;
    }
    double d = (double)ev->duration, rate = (double)ev->rate;
    if (!mutex && d < rate && d > 0) {
        b->count += rate / d;
        b->ticks += rate;
    } else {
        b->count += 1;
        b->ticks += d;
    }
}

void ts__contention_drain(void)
{
    pthread_mutex_lock(&table_lock);
    ts__ring_drain_all(on_event, NULL);
    pthread_mutex_unlock(&table_lock);
}

uint64_t ts__events_dropped(void)
{
    pthread_mutex_lock(&table_lock);
    uint64_t n = table_lost;
    pthread_mutex_unlock(&table_lock);
    return n + ts__ring_dropped_total();
}

/* ---- start-up ---------------------------------------------------------- */

void ts__contention_init(void)
{
    tick0 = ts__ticks();
    nano0 = ts__nanotime();
    set_block_rate(ts__env_long("TASKSCOPE_BLOCKPROFILERATE",
                                DEFAULT_BLOCK_RATE_NS, 0, LONG_MAX, false));
    set_mutex_fraction((int)ts__env_long("TASKSCOPE_MUTEXPROFILEFRACTION", 1, 0,
                                         INT_MAX, false));
}

/* ---- profiles --------------------------------------------------------- */

static const struct bucket *sort_table;

static int by_delay(const void *a, const void *b)
{
    double x = sort_table[*(const size_t *)a].ticks;
    double y = sort_table[*(const size_t *)b].ticks;
    return (x < y) - (x > y);
}

/* sorted: indices of the kind's buckets, by delay, descending; NULL when
 * out of memory. Under table_lock. */
static size_t *sorted(bool mutex, size_t *n)
{
    size_t *idx = malloc((table_len + 1) * sizeof *idx);
    *n = 0;
    for (size_t i = 0; idx && i < table_cap; i++)
        if (table[i].stack_id && table[i].mutex == mutex)
            idx[(*n)++] = i;
    sort_table = table;
    if (idx)
        qsort(idx, *n, sizeof *idx, by_delay);
    return idx;
}

/* scaled: Go's values for bucket b: count and delay in ns. */
static void scaled(const struct bucket *b, double tpn, int64_t *count,
                   int64_t *ns)
{
    double scale = b->mutex && ts__mutex_fraction > 1 ? ts__mutex_fraction : 1;
    *count = (int64_t)(b->count * scale + 0.5);
    *ns = (int64_t)(b->ticks / tpn * scale + 0.5);
}

int ts__contention_profile(struct ts__profile *p, bool mutex)
{
    ts__contention_drain();
    double tpn = ts__ticks_per_ns();
    int r = ts__profile_add_sample_type(p, "contentions", "count");
    if (!r)
        r = ts__profile_add_sample_type(p, "delay", "nanoseconds");
    if (!r)
        r = ts__profile_set_period(p, "contentions", "count", 1);
    pthread_mutex_lock(&table_lock);
    size_t n, *idx = r ? NULL : sorted(mutex, &n);
    if (!r && !idx)
        r = ENOMEM;
    for (size_t k = 0; idx && k < n && !r; k++) {
        const uint64_t *pcs;
        size_t depth;
        int64_t v[2];
        if (ts__stackid_lookup(table[idx[k]].stack_id, &pcs, &depth) != 0)
            continue;
        scaled(&table[idx[k]], tpn, &v[0], &v[1]);
        struct ts__sample s = {.stack = (const uintptr_t *)pcs,
                               .depth = depth, .values = v, .nvalues = 2};
        r = ts__profile_add_sample(p, &s);
    }
    pthread_mutex_unlock(&table_lock);
    free(idx);
    return r;
}

int ts__contention_text(FILE *f, struct ts__symbolizer *sym, bool mutex)
{
    ts__contention_drain();
    double tpn = ts__ticks_per_ns();
    /* Delays are reported in nanoseconds, so one "cycle" is 1 ns. */
    fprintf(f, "--- %s:\ncycles/second=1000000000\n",
            mutex ? "mutex" : "contention");
    if (mutex)
        fprintf(f, "sampling period=%d\n", ts__mutex_fraction);
    pthread_mutex_lock(&table_lock);
    size_t n, *idx = sorted(mutex, &n);
    for (size_t k = 0; idx && k < n; k++) {
        const uint64_t *pcs;
        size_t depth;
        int64_t count, ns;
        if (ts__stackid_lookup(table[idx[k]].stack_id, &pcs, &depth) != 0)
            continue;
        scaled(&table[idx[k]], tpn, &count, &ns);
        fprintf(f, "%lld %lld @", (long long)ns, (long long)count);
        for (size_t i = 0; i < depth; i++)
            fprintf(f, " %#llx", (unsigned long long)pcs[i]);
        fputc('\n', f);
        ts__text_frames(f, sym, pcs, depth);
    }
    pthread_mutex_unlock(&table_lock);
    int r = idx ? 0 : ENOMEM;
    free(idx);
    return r;
}
