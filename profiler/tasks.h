/* taskscope — a snapshot of every live task for the goroutine profile,
 * dumps and the leak and deadlock detectors: ids, states, wait reasons,
 * stacks and labels, copied out of the runtime in one walk. */
#ifndef TASKSCOPE_PROFILER_TASKS_H
#define TASKSCOPE_PROFILER_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts__labels;

struct ts__tsnap {
    uint64_t id;
    uint64_t parent;
    int state;               /* enum ts_task_state */
    int wait_reason;         /* enum ts_wait_reason, 0 unless waiting */
    const void *wait_object;
    int64_t wait_since;      /* coarse monotonic ns, 0 unless waiting */
    uint64_t create_pc;      /* return address in the ts_go caller, or 0 */
    uint64_t entry;          /* the task's function */
    bool stack_valid;        /* false: running elsewhere, stack unknown */
    bool self;               /* the task that took the snapshot */
    bool leaked;             /* set by the leak detector */
    bool marked;             /* chosen by a report (ts_leakcheck) */
    size_t npcs;
    size_t pcs;              /* first of npcs entries in ts__tasks.pcs */
    int nchans;              /* channels waited on, -1 unknown (introspect.h) */
    size_t chans;            /* first of nchans entries in ts__tasks.pcs */
    const struct ts__labels *labels; /* referenced; released by free */
    uintptr_t stack_lo, stack_hi;    /* the task's stack mapping */
};

struct ts__tasks {
    struct ts__tsnap *v;     /* sorted by id */
    size_t n, cap;
    uint64_t *pcs;           /* every snapshot's frames, innermost first */
    size_t npcs, pcs_cap;
    int64_t now;             /* coarse monotonic ns when taken */
    bool oom;                /* some tasks were left out: out of memory */
    bool private_memory;     /* arrays are mmap'd, never realloc'd */
};

struct ts_task_info;

/* ts__tasks_extra: when set (by the LD_PRELOAD probe, before any thread
 * reads it), more "tasks" for every snapshot: it calls fn for each, as
 * ts_introspect_tasks does; ids must not collide with task ids. */
extern int (*ts__tasks_extra)(int (*fn)(const struct ts_task_info *info, void *arg),
                              void *arg);

/* ts__tasks_collect: snapshot every live task into *ts (zeroed by the
 * call). The calling task, if any, gets its own stack from a capture.
 * 0, or ENOMEM with what fitted (ts->oom set). */
int ts__tasks_collect(struct ts__tasks *ts);

/* ts__tasks_collect_private: the same, with the arrays in mmap'd memory
 * grown by copy and unmap, so no freed heap block keeps a copy of the wait
 * objects (the leak detector's scan treats the heap as a root). */
int ts__tasks_collect_private(struct ts__tasks *ts, bool private_memory);

/* ts__tasks_free: release the snapshot and its label references. */
void ts__tasks_free(struct ts__tasks *ts);

/* ts__tasks_frames: the frames of snapshot s. */
static inline const uint64_t *ts__tasks_frames(const struct ts__tasks *ts,
                                               const struct ts__tsnap *s)
{
    return ts->pcs + s->pcs;
}

/* ts__tasks_chans: the channels snapshot s waits on (s->nchans of them). */
static inline const uint64_t *ts__tasks_chans(const struct ts__tasks *ts,
                                              const struct ts__tsnap *s)
{
    return ts->pcs + s->chans;
}

#endif
