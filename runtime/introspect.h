/* taskscope — runtime introspection: the one window the profiler, the dumps
 * and tests have on the scheduler's tasks.
 *
 * ts_introspect_tasks walks every live task under the all-tasks lock and
 * hands the callback a snapshot of each. The snapshot is consistent per task
 * (fields read while the task cannot exit) but not across tasks: a task may
 * change state right after its snapshot was taken. */
#ifndef TASKSCOPE_RUNTIME_INTROSPECT_H
#define TASKSCOPE_RUNTIME_INTROSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <taskscope/task.h>

enum ts_task_state {
    TS_TASK_RUNNABLE = 1, /* on a run queue, waiting for an M */
    TS_TASK_RUNNING = 2,  /* executing on an M */
    TS_TASK_WAITING = 3,  /* parked: see wait_reason / wait_object */
    TS_TASK_DEAD = 4,     /* returned; never shown by the walk */
};

#define TS_INTROSPECT_MAX_PCS 64
#define TS_INTROSPECT_MAX_CHANS 16

struct ts__labels;

struct ts_task_info {
    uint64_t id;             /* task id, >= 1 */
    uint64_t parent_id;      /* creator's id, 0 when created by a thread */
    enum ts_task_state state;
    int wait_reason;         /* enum ts_wait_reason (runtime/waitreason.h) */
    const char *wait_text;   /* Go's text, "" when not waiting */
    const void *wait_object; /* primitive blocked on, or NULL (NULL too for a
                                multi-case select and for sleep) */
    int nchans;              /* channels it waits on (chans[]): 1 for a
                                channel operation, the cases of a select,
                                1 for a wait on a sync primitive the leak
                                detector understands (ts__sync_wait: the
                                primitive), 0 when none (sleep, nil
                                channel), -1 when unknown (running, read
                                torn, a semaphore acquire: it may have a
                                deadline) */
    uintptr_t chans[TS_INTROSPECT_MAX_CHANS];
    int64_t wait_since;      /* when it parked, from the coarse monotonic
                                clock: up to one clock tick (about 4 ms)
                                earlier than ts_now() read just before the
                                park; 0 if not waiting */
    uintptr_t create_pc;     /* return address inside the ts_go caller */
    uintptr_t entry;         /* the task's function */
    void *stack_lo;          /* usable stack [stack_lo, stack_hi) */
    void *stack_hi;
    /* The task's stack when it is switched out (waiting or runnable),
     * innermost return address first: npcs frames, or stack_valid false
     * when it is running on an M (its stack is live) or kept changing. A
     * task that never ran shows its entry function (pcs[0] = fn + 1). */
    bool stack_valid;
    size_t npcs;
    uint64_t pcs[TS_INTROSPECT_MAX_PCS];
    const struct ts__labels *labels; /* ts_set_label's set or NULL; valid
                                        during the callback only: keep it
                                        with ts__labels_ref (labels.h) */
};

/* ts_introspect_tasks: call fn for each live task (plain threads blocked in
 * channel operations are not tasks and are not shown); stops early and returns
 * fn's value when it is non-zero, else returns 0. fn runs with the
 * all-tasks lock held: it must not create tasks or block. */
int ts_introspect_tasks(int (*fn)(const struct ts_task_info *info, void *arg),
                        void *arg);

/* ts__introspect_idle_stacks: fn(mapping, lo, hi) for every pooled stack
 * mapping, whose task has returned: [lo, hi) covers its stack and its task
 * struct. Stale frames there are not references anybody can use (the leak
 * detector excludes them). Returns how many. A mapping may host a new task
 * right after the call: check with ts__introspect_still_idle. fn runs with
 * a tasks lock held: no allocation of tasks, no blocking. */
int ts__introspect_idle_stacks(void (*fn)(const void *mapping, uintptr_t lo,
                                          uintptr_t hi, void *arg),
                               void *arg);
bool ts__introspect_still_idle(const void *mapping);

/* The holder id a ts_mutex_t records for a plain thread (0: unlocked). */
#define TS__MUTEX_THREAD UINT64_MAX

/* ts__sync_wait: whether a wait with this reason is on a sync primitive
 * (sync.h) whose address is its chans[0]; then *size is the primitive's
 * size and *holder_off the offset in it of the holder's task id (a
 * uint64_t read racily: runtime/mutex.c), or -1 when the wait has no
 * single holder (WaitGroup, Cond, a writer waiting for readers). */
bool ts__sync_wait(int reason, size_t *size, long *holder_off);

/* ts_introspect_count: live tasks, as ts_num_tasks. */
int64_t ts_introspect_count(void);

#endif
