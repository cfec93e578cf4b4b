/* taskscope — the introspection walk over all live tasks.
 *
 * Walks each P's all-tasks list under that P's tasks_lock (which keeps the
 * mappings in it from being unmapped). The list also holds pooled mappings
 * whose task has returned, and structs being reused for a new task: a struct
 * is reported only if its state, loaded with acquire, is live; the other
 * fields are written with atomic stores before that state (task.c), so a
 * reported snapshot is consistent for that task, though not across tasks.
 */
#include "runtime/introspect.h"

#include "runtime/sched.h"

static bool live(int state)
{
    return state == TS_TASK_RUNNABLE || state == TS_TASK_RUNNING ||
           state == TS_TASK_WAITING;
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
    info->wait_object = info->wait_reason
                            ? __atomic_load_n(&t->wait_object, __ATOMIC_RELAXED)
                            : NULL;
    info->wait_since = info->wait_reason
                           ? __atomic_load_n(&t->wait_since, __ATOMIC_RELAXED)
                           : 0;
    info->create_pc = __atomic_load_n(&t->create_pc, __ATOMIC_RELAXED);
    info->stack_lo = t->stack.lo;
    info->stack_hi = t->stack.hi;
    return true;
}

int ts_introspect_tasks(int (*fn)(const struct ts_task_info *, void *), void *arg)
{
    int np = ts__nprocs();
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
