/* taskscope — threadcreate (see threadcreate.h).
 *
 * Invariants: creations are counted per creation site (stack id) in a
 * fixed table of sites, claimed with one CAS and counted with one atomic
 * increment; a site beyond the table (or without a stack id) is counted in
 * lost and in the text form's total, never written out of bounds. The runtime's own threads are also counted in runtime_threads
 * (the deadlock detector compares it with the kernel's thread list); the
 * probe's program threads are not. */
#include "profiler/threadcreate.h"

#include <pthread.h>
#include <signal.h>

#include "profiler/profile.h"
#include "profiler/record.h"
#include "profiler/stackid.h"
#include "profiler/text.h"
#include "profiler/unwind.h"
#include "runtime/sched.h"

#define MAX_SITES 1024

struct site {
    uint32_t id;    /* atomic: stack id, TS__STACKID_NONE while free */
    uint32_t count; /* atomic */
};

static struct site sites[MAX_SITES];
static uint32_t runtime_threads; /* atomic */
static uint32_t lost;            /* atomic: creations at sites beyond the table */

static void count_site(uint32_t id)
{
    for (size_t i = 0; id != TS__STACKID_NONE && i < MAX_SITES; i++) {
        uint32_t cur = __atomic_load_n(&sites[i].id, __ATOMIC_ACQUIRE);
        if (cur == TS__STACKID_NONE) {
            uint32_t expect = TS__STACKID_NONE;
            if (__atomic_compare_exchange_n(&sites[i].id, &expect, id, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                cur = id;
            else
                cur = expect;
        }
        if (cur == id) {
            __atomic_add_fetch(&sites[i].count, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    __atomic_add_fetch(&lost, 1, __ATOMIC_RELAXED);
}

/* Cold, and the creation sites run through glibc (pthread_once), which has
 * no frame pointers: libunwind walks it. skip counts frames above the
 * caller of this function. */
__attribute__((noinline)) static void record_site(size_t skip)
{
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    size_t n = ts__capture_unwind(pcs, TS__STACK_MAX_DEPTH, 1 + skip);
    count_site(ts__stackid_intern(pcs, n));
    __asm__ __volatile__("" ::: "memory"); /* keep this frame: skip counts it */
}

__attribute__((noinline)) void ts__record_thread_create(void)
{
    __atomic_add_fetch(&runtime_threads, 1, __ATOMIC_RELAXED);
    record_site(1);
    __asm__ __volatile__("" ::: "memory");
}

__attribute__((noinline)) void ts__record_user_thread_create(void)
{
    record_site(1);
    __asm__ __volatile__("" ::: "memory");
}

uint32_t ts__threads_created(void)
{
    return __atomic_load_n(&runtime_threads, __ATOMIC_RELAXED);
}

/* site_at: site i's stack and count; false if free or unknown. */
static bool site_at(size_t i, const uint64_t **pcs, size_t *depth, uint32_t *count)
{
    uint32_t id = __atomic_load_n(&sites[i].id, __ATOMIC_ACQUIRE);
    *count = __atomic_load_n(&sites[i].count, __ATOMIC_RELAXED);
    return id != TS__STACKID_NONE && *count != 0 &&
           ts__stackid_lookup(id, pcs, depth) == 0;
}

int ts__threadcreate_profile(struct ts__profile *p)
{
    int r = ts__profile_add_sample_type(p, "threadcreate", "count");
    if (!r)
        r = ts__profile_set_period(p, "threadcreate", "count", 1);
    for (size_t i = 0; i < MAX_SITES && !r; i++) {
        const uint64_t *pcs;
        size_t depth;
        uint32_t count;
        if (!site_at(i, &pcs, &depth, &count))
            continue;
        int64_t v = count;
        struct ts__sample s = {.stack = (const uintptr_t *)pcs,
                               .depth = depth, .values = &v, .nvalues = 1};
        r = ts__profile_add_sample(p, &s);
    }
    return r;
}

void ts__threadcreate_text(FILE *f, struct ts__symbolizer *sym)
{
    const uint64_t *pcs;
    size_t depth;
    uint32_t count, total = __atomic_load_n(&lost, __ATOMIC_RELAXED);
    for (size_t i = 0; i < MAX_SITES; i++)
        if (site_at(i, &pcs, &depth, &count))
            total += count;
    fprintf(f, "threadcreate profile: total %u\n", total);
    for (size_t i = 0; i < MAX_SITES; i++) {
        if (!site_at(i, &pcs, &depth, &count))
            continue;
        fprintf(f, "%u @", count);
        for (size_t k = 0; k < depth; k++)
            fprintf(f, " %#llx", (unsigned long long)pcs[k]);
        fputc('\n', f);
        ts__text_frames(f, sym, pcs, depth);
        fputc('\n', f);
    }
}

int ts__start_helper_thread(void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int r = pthread_create(&th, NULL, fn, arg);
    if (r == 0) {
        ts__record_thread_create();
        pthread_detach(th);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}
