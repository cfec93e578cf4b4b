/* taskscope — task snapshots (see tasks.h).
 *
 * Invariants:
 *   - one ts_introspect_tasks walk; the callback copies, it keeps no
 *     pointer into the runtime but the label sets, which it references;
 *   - a running task's stack is unknown (its frames change under us) and
 *     is recorded as such, never guessed; the one exception is the caller,
 *     whose stack is captured directly;
 *   - snapshots are sorted by id, so every report lists tasks in creation
 *     order, as Go does. */
#include "profiler/tasks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <taskscope/task.h>

#include "profiler/record.h"
#include "runtime/introspect.h"
#include "runtime/labels.h"
#include "runtime/sched.h"

/* resize: realloc, or for a private snapshot mmap + copy + munmap, so no
 * freed block keeps a copy of what the snapshot held. */
static void *resize(const struct ts__tasks *ts, void *old, size_t old_bytes,
                    size_t bytes)
{
    if (!ts->private_memory)
        return realloc(old, bytes);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (old) {
        memcpy(p, old, old_bytes);
        munmap(old, old_bytes);
    }
    return p;
}

static void release(const struct ts__tasks *ts, void *p, size_t bytes)
{
    if (!ts->private_memory)
        free(p);
    else if (p)
        munmap(p, bytes);
}

static bool grow(const struct ts__tasks *ts, void **v, size_t *cap,
                 size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *nv = resize(ts, *v, *cap * size, c * size);
    if (!nv)
        return false;
    *v = nv;
    *cap = c;
    return true;
}

static bool add_pcs(struct ts__tasks *ts, const uint64_t *pcs, size_t n)
{
    if (!grow(ts, (void **)&ts->pcs, &ts->pcs_cap, ts->npcs + n, sizeof *pcs))
        return false;
    memcpy(ts->pcs + ts->npcs, pcs, n * sizeof *pcs);
    ts->npcs += n;
    return true;
}

struct collect {
    struct ts__tasks *ts;
    uint64_t self;
    uint64_t self_pcs[TS_INTROSPECT_MAX_PCS];
    size_t self_n;
};

int (*ts__tasks_extra)(int (*fn)(const struct ts_task_info *info, void *arg),
                       void *arg);

static int collect_one(const struct ts_task_info *info, void *arg)
{
    struct collect *c = arg;
    struct ts__tasks *ts = c->ts;
    bool self = info->id == c->self;
    const uint64_t *pcs = self ? c->self_pcs : info->pcs;
    size_t npcs = self ? c->self_n : info->npcs;
    int nchans = info->nchans > 0 ? info->nchans : 0;
    uint64_t chans[TS_INTROSPECT_MAX_CHANS];
    for (int i = 0; i < nchans; i++)
        chans[i] = info->chans[i];
    if (!grow(ts, (void **)&ts->v, &ts->cap, ts->n + 1, sizeof *ts->v) ||
        !add_pcs(ts, pcs, npcs) || !add_pcs(ts, chans, (size_t)nchans)) {
        ts->oom = true;
        return 0;
    }
    ts__labels_ref(info->labels);
    ts->v[ts->n++] = (struct ts__tsnap){
        .id = info->id,
        .parent = info->parent_id,
        .state = info->state,
        .wait_reason = info->wait_reason,
        .wait_object = info->wait_object,
        .wait_since = info->wait_since,
        .create_pc = info->create_pc,
        .entry = info->entry,
        .stack_valid = self || info->stack_valid,
        .self = self,
        .npcs = npcs,
        .pcs = ts->npcs - (size_t)nchans - npcs,
        .nchans = self ? -1 : info->nchans,
        .chans = ts->npcs - (size_t)nchans,
        .labels = info->labels,
        .stack_lo = (uintptr_t)info->stack_lo,
        .stack_hi = (uintptr_t)info->stack_hi,
    };
    return 0;
}

/* sort_by_id: in-place heapsort (qsort may copy the entries into a
 * malloc'd buffer, leaving copies of wait objects behind: see
 * ts__tasks_collect_private). */
static void sift(struct ts__tsnap *v, size_t i, size_t n)
{
    for (size_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && v[c + 1].id > v[c].id)
            c++;
        if (v[i].id >= v[c].id)
            return;
        struct ts__tsnap t = v[i];
        v[i] = v[c];
        v[c] = t;
    }
}

static void sort_by_id(struct ts__tsnap *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift(v, i, n);
    for (size_t end = n; end-- > 1;) {
        struct ts__tsnap t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift(v, 0, end);
    }
}

int ts__tasks_collect(struct ts__tasks *ts)
{
    return ts__tasks_collect_private(ts, false);
}

int ts__tasks_collect_private(struct ts__tasks *ts, bool private_memory)
{
    struct collect c = {.ts = ts};
    memset(ts, 0, sizeof *ts);
    ts->private_memory = private_memory;
    c.self = ts_self();
    c.self_n = c.self ? ts__capture_current(c.self_pcs, TS_INTROSPECT_MAX_PCS, 0)
                      : 0;
    ts->now = ts__coarse_now();
    /* Room for the tasks there are now, plus a margin, in one go: growing
     * by doubling copies (and, on this kind of VM, faults) twice as much. */
    size_t expect = (size_t)ts_num_tasks() + 64;
    if (!grow(ts, (void **)&ts->v, &ts->cap, expect, sizeof *ts->v) ||
        !grow(ts, (void **)&ts->pcs, &ts->pcs_cap, expect * 10, sizeof *ts->pcs))
        ts->oom = true;
    ts_introspect_tasks(collect_one, &c);
    if (ts__tasks_extra)
        ts__tasks_extra(collect_one, &c);
    sort_by_id(ts->v, ts->n);
    return ts->oom ? ENOMEM : 0;
}

void ts__tasks_free(struct ts__tasks *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        ts__labels_unref(ts->v[i].labels);
    release(ts, ts->v, ts->cap * sizeof *ts->v);
    release(ts, ts->pcs, ts->pcs_cap * sizeof *ts->pcs);
    memset(ts, 0, sizeof *ts);
}
