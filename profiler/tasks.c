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
#include <time.h>
#include <taskscope/task.h>

#include "profiler/record.h"
#include "runtime/introspect.h"
#include "runtime/labels.h"

static bool grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *nv = realloc(*v, c * size);
    if (!nv)
        return false;
    *v = nv;
    *cap = c;
    return true;
}

static bool add_pcs(struct ts__tasks *ts, const uint64_t *pcs, size_t n)
{
    if (!grow((void **)&ts->pcs, &ts->pcs_cap, ts->npcs + n, sizeof *pcs))
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

static int collect_one(const struct ts_task_info *info, void *arg)
{
    struct collect *c = arg;
    struct ts__tasks *ts = c->ts;
    bool self = info->id == c->self;
    const uint64_t *pcs = self ? c->self_pcs : info->pcs;
    size_t npcs = self ? c->self_n : info->npcs;
    if (!grow((void **)&ts->v, &ts->cap, ts->n + 1, sizeof *ts->v) ||
        !add_pcs(ts, pcs, npcs)) {
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
        .pcs = ts->npcs - npcs,
        .labels = info->labels,
        .stack_lo = (uintptr_t)info->stack_lo,
        .stack_hi = (uintptr_t)info->stack_hi,
    };
    return 0;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = ((const struct ts__tsnap *)a)->id;
    uint64_t y = ((const struct ts__tsnap *)b)->id;
    return (x > y) - (x < y);
}

static int64_t coarse_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int ts__tasks_collect(struct ts__tasks *ts)
{
    struct collect c = {.ts = ts};
    memset(ts, 0, sizeof *ts);
    c.self = ts_self();
    c.self_n = c.self ? ts__capture_current(c.self_pcs, TS_INTROSPECT_MAX_PCS, 0)
                      : 0;
    ts->now = coarse_now();
    ts_introspect_tasks(collect_one, &c);
    if (ts->n)
        qsort(ts->v, ts->n, sizeof *ts->v, by_id);
    return ts->oom ? ENOMEM : 0;
}

void ts__tasks_free(struct ts__tasks *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        ts__labels_unref(ts->v[i].labels);
    free(ts->v);
    free(ts->pcs);
    memset(ts, 0, sizeof *ts);
}
