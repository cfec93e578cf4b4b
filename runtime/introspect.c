/* taskscope — the introspection walk over all live tasks.
 *
 * Holds one P's tasks_lock at a time: a task cannot exit (leave its list)
 * while its snapshot is taken, so the struct read is valid memory; its
 * state fields are read with atomic loads as they may change concurrently.
 */
#include "runtime/introspect.h"

#include "runtime/sched.h"

static void snapshot(const struct ts_task *t, struct ts_task_info *info)
{
    info->id = t->id;
    info->parent_id = t->parent_id;
    info->state = __atomic_load_n(&t->state, __ATOMIC_RELAXED);
    int reason = __atomic_load_n(&t->wait_reason, __ATOMIC_RELAXED);
    info->wait_reason = info->state == TS_TASK_WAITING ? reason : TS_WAIT_NONE;
    info->wait_text = ts__wait_text(info->wait_reason);
    info->wait_object = info->wait_reason
                            ? __atomic_load_n(&t->wait_object, __ATOMIC_RELAXED)
                            : NULL;
    info->wait_since = info->wait_reason
                           ? __atomic_load_n(&t->wait_since, __ATOMIC_RELAXED)
                           : 0;
    info->create_pc = t->create_pc;
    info->stack_lo = t->stack.lo;
    info->stack_hi = t->stack.hi;
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
            snapshot(t, &info);
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
