/* taskscope — threadcreate (see threadcreate.h).
 *
 * Invariants: the runtime creates a bounded number of threads (one per P,
 * sysmon, the drain and agent threads), so a fixed array of stack ids
 * holds them all; a creation beyond it is counted in overflow, never
 * written out of bounds. Slots are claimed with one atomic increment. */
#include "profiler/threadcreate.h"

#include <pthread.h>
#include <signal.h>

#include "profiler/profile.h"
#include "profiler/record.h"
#include "profiler/stackid.h"
#include "profiler/text.h"
#include "profiler/unwind.h"
#include "runtime/sched.h"

#define MAX_THREADS (TS__MAX_PROCS + 16)

static uint32_t ids[MAX_THREADS]; /* atomic */
static uint32_t nids;             /* atomic: slots claimed */

/* Cold, and the creation sites run through glibc (pthread_once), which has
 * no frame pointers: libunwind walks it. */
__attribute__((noinline)) void ts__record_thread_create(void)
{
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    size_t n = ts__capture_unwind(pcs, TS__STACK_MAX_DEPTH, 1);
    uint32_t slot = __atomic_fetch_add(&nids, 1, __ATOMIC_RELAXED);
    if (slot < MAX_THREADS)
        __atomic_store_n(&ids[slot], ts__stackid_intern(pcs, n),
                         __ATOMIC_RELEASE);
}

uint32_t ts__threads_created(void)
{
    return __atomic_load_n(&nids, __ATOMIC_RELAXED);
}

int ts__threadcreate_profile(struct ts__profile *p)
{
    int r = ts__profile_add_sample_type(p, "threadcreate", "count");
    if (!r)
        r = ts__profile_set_period(p, "threadcreate", "count", 1);
    uint32_t n = __atomic_load_n(&nids, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < n && i < MAX_THREADS && !r; i++) {
        const uint64_t *pcs;
        size_t depth;
        uint32_t id = __atomic_load_n(&ids[i], __ATOMIC_ACQUIRE);
        if (ts__stackid_lookup(id, &pcs, &depth) != 0)
            continue;
        int64_t one = 1;
        struct ts__sample s = {.stack = (const uintptr_t *)pcs,
                               .depth = depth, .values = &one, .nvalues = 1};
        r = ts__profile_add_sample(p, &s);
    }
    return r;
}

void ts__threadcreate_text(FILE *f, struct ts__symbolizer *sym)
{
    uint32_t n = __atomic_load_n(&nids, __ATOMIC_RELAXED);
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    fprintf(f, "threadcreate profile: total %u\n", n);
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t *pcs;
        size_t depth;
        uint32_t id = __atomic_load_n(&ids[i], __ATOMIC_ACQUIRE);
        if (ts__stackid_lookup(id, &pcs, &depth) != 0)
            continue;
        fputs("1 @", f);
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
