/* taskscope — the introspection walk over all live tasks.
 *
 * Walks each P's all-tasks list under that P's tasks_lock (which keeps the
 * mappings in it from being unmapped). The list also holds pooled mappings
 * whose task has returned, and structs being reused for a new task: a struct
 * is reported only if its state, loaded with acquire, is live; the other
 * fields are written with atomic stores before that state (task.c), so a
 * reported snapshot is consistent for that task, though not across tasks.
 *
 * A switched-out task's stack is read under its run_seq seqlock (sched.h):
 * taken only when the seq is even before and unchanged after the walk, so a
 * task resumed meanwhile is never reported with frames read from a live
 * stack. The walk is bounds-checked against the mapping, which the
 * tasks_lock keeps mapped, so a torn read cannot fault.
 */
#include "runtime/introspect.h"

#include <assert.h>
#include <stddef.h>
#include <taskscope/sync.h>

#include "profiler/stackid.h"
#include "runtime/sched.h"

static bool live(int state)
{
    return state == TS_TASK_RUNNABLE || state == TS_TASK_RUNNING ||
           state == TS_TASK_WAITING;
}

/* saved_stack: the frames of a switched-out task from its saved sp. */
static size_t saved_stack(const struct ts_task *t, uint64_t *pcs, size_t max)
{
    const uintptr_t *sp = (const uintptr_t *)t->sp;
    uintptr_t lo = (uintptr_t)t->stack.lo, hi = (uintptr_t)t->stack.hi;
    if ((uintptr_t)sp < lo ||
        (uintptr_t)(sp + TS__SWITCH_RET_WORD + 1) > hi)
        return 0;
    uintptr_t ret = sp[TS__SWITCH_RET_WORD];
    if (ret == (uintptr_t)ts__trampoline) {
        pcs[0] = (uint64_t)(uintptr_t)t->fn + 1; /* never ran */
        return 1;
    }
    pcs[0] = ret;
    return 1 + ts__stack_walk(sp[TS__SWITCH_FP_WORD], pcs + 1, max - 1, 0,
                              lo, hi);
}

enum { WALK_TRIES = 3 };

bool ts__sync_wait(int reason, size_t *size, long *holder_off)
{
    /* A writer queued on an RWMutex parks on its w_, at offset 0: a
     * sync.Mutex.Lock wait whose object is the RWMutex itself. */
    static_assert(offsetof(ts_rwmutex_t, w_) == 0, "rwmutex writer lock");
    *holder_off = -1;
    switch (reason) {
    case TS_WAIT_MUTEX:
        *size = sizeof(ts_mutex_t);
        *holder_off = offsetof(ts_mutex_t, owner_);
        return true;
    case TS_WAIT_RWMUTEX_RLOCK: /* waits for the writer holding w_ */
        *size = sizeof(ts_rwmutex_t);
        *holder_off = offsetof(ts_rwmutex_t, w_.owner_);
        return true;
    case TS_WAIT_RWMUTEX_LOCK:
        *size = sizeof(ts_rwmutex_t);
        return true;
    case TS_WAIT_WAITGROUP:
        *size = sizeof(ts_waitgroup_t);
        return true;
    case TS_WAIT_COND:
        *size = sizeof(ts_cond_t);
        return true;
    default:
        return false;
    }
}

/* wait_chans: the channels (or the sync primitive: ts__sync_wait) a
 * switched-out waiting task waits on. */
static int wait_chans(const struct ts_task *t, int reason, const void *object,
                      uintptr_t *out)
{
    switch (reason) {
    case TS_WAIT_CHAN_RECV:
    case TS_WAIT_CHAN_SEND:
    case TS_WAIT_MUTEX:
    case TS_WAIT_RWMUTEX_RLOCK:
    case TS_WAIT_RWMUTEX_LOCK:
    case TS_WAIT_WAITGROUP:
    case TS_WAIT_COND:
        out[0] = (uintptr_t)object;
        return object ? 1 : -1;
    case TS_WAIT_SELECT:
        return ts__select_chans(t, object, out, TS_INTROSPECT_MAX_CHANS);
    case TS_WAIT_CHAN_RECV_NIL:
    case TS_WAIT_CHAN_SEND_NIL:
    case TS_WAIT_SELECT_NO_CASES:
        return 0;
    default:
        return -1;
    }
}

/* stack_snapshot: frames and waited channels of a switched-out task, read
 * under its run_seq seqlock. The channels are kept only if the task still
 * waits as info says (same reason, same object) inside the read: a task
 * that woke and parked elsewhere in between reports them unknown. */
static void stack_snapshot(const struct ts_task *t, struct ts_task_info *info,
                           const void *object)
{
    info->stack_valid = false;
    info->npcs = 0;
    info->nchans = -1;
    for (int i = 0; i < WALK_TRIES && !info->stack_valid; i++) {
        uint32_t s1 = __atomic_load_n(&t->run_seq, __ATOMIC_ACQUIRE);
        if (s1 & 1)
            break;
        info->npcs = saved_stack(t, info->pcs, TS_INTROSPECT_MAX_PCS);
        bool same = info->wait_reason &&
                    __atomic_load_n(&t->wait_reason, __ATOMIC_RELAXED) ==
                        info->wait_reason &&
                    __atomic_load_n(&t->wait_object, __ATOMIC_RELAXED) == object;
        info->nchans = same ? wait_chans(t, info->wait_reason, object, info->chans)
                            : -1;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        info->stack_valid = __atomic_load_n(&t->run_seq, __ATOMIC_RELAXED) == s1;
    }
    if (!info->stack_valid) {
        info->npcs = 0;
        info->nchans = -1;
    }
}

static bool snapshot(const struct ts_task *t, struct ts_task_info *info)
{
    int state = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    if (!live(state))
        return false;
    info->id = __atomic_load_n(&t->id, __ATOMIC_RELAXED);
    info->parent_id = __atomic_load_n(&t->parent_id, __ATOMIC_RELAXED);
    info->state = state;
    int reason = __atomic_load_n(&t->wait_reason, __ATOMIC_RELAXED);
    info->wait_reason = state == TS_TASK_WAITING ? reason : TS_WAIT_NONE;
    info->wait_text = ts__wait_text(info->wait_reason);
    const void *object = info->wait_reason
                             ? __atomic_load_n(&t->wait_object, __ATOMIC_RELAXED)
                             : NULL;
    info->wait_object = info->wait_reason == TS_WAIT_SELECT ? NULL : object;
    info->wait_since = info->wait_reason
                           ? __atomic_load_n(&t->wait_since, __ATOMIC_RELAXED)
                           : 0;
    info->create_pc = __atomic_load_n(&t->create_pc, __ATOMIC_RELAXED);
    info->entry = (uintptr_t)t->fn;
    info->stack_lo = t->stack.lo;
    info->stack_hi = t->stack.hi;
    info->labels = __atomic_load_n(&t->labels, __ATOMIC_ACQUIRE);
    stack_snapshot(t, info, object);
    return true;
}

int ts_introspect_tasks(int (*fn)(const struct ts_task_info *, void *), void *arg)
{
    int np = ts__nprocs_if_started();
    for (int i = 0; i < np; i++) {
        struct ts_p *p = ts__p(i);
        int rc = 0;
        ts__lock(&p->tasks_lock);
        for (struct ts_task *t = p->tasks; t && !rc; t = t->all_next) {
            struct ts_task_info info;
            if (snapshot(t, &info))
                rc = fn(&info, arg);
        }
        ts__unlock(&p->tasks_lock);
        if (rc)
            return rc;
    }
    return 0;
}

int64_t ts_introspect_count(void)
{
    return ts_num_tasks();
}

int ts__introspect_idle_stacks(void (*fn)(const void *mapping, uintptr_t lo,
                                          uintptr_t hi, void *arg),
                               void *arg)
{
    int np = ts__nprocs_if_started(), n = 0;
    for (int i = 0; i < np; i++) {
        struct ts_p *p = ts__p(i);
        ts__lock(&p->tasks_lock);
        for (struct ts_task *t = p->tasks; t; t = t->all_next) {
            if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != TS_TASK_DEAD)
                continue;
            fn(t, (uintptr_t)t->stack.lo,
               (uintptr_t)t->stack.hi + sizeof(struct ts_task), arg);
            n++;
        }
        ts__unlock(&p->tasks_lock);
    }
    return n;
}

bool ts__introspect_still_idle(const void *mapping)
{
    const struct ts_task *t = mapping;
    return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == TS_TASK_DEAD;
}
