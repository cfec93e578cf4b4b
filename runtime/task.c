/* taskscope — task lifecycle: creation, exit, ts_go, ts_run, task lists.
 *
 * Invariants:
 *   - a task's struct lives at the top of its own stack mapping (stack.h);
 *     it is valid from ts__task_new until g0 frees the mapping after the
 *     task's function returned;
 *   - every live task is on exactly one P's all-tasks list (the P of the M
 *     that created it, P 0 for tasks created by plain threads), guarded by
 *     that P's tasks_lock; introspection walks these lists;
 *   - ids come from one atomic counter: unique, increasing, never reused.
 */
#include <stdlib.h>
#include <string.h>
#include <taskscope/task.h>

#include "runtime/race.h"
#include "runtime/sched.h"

static uint64_t next_id; /* atomic */

static void tasks_add(struct ts_p *p, struct ts_task *t)
{
    t->tasks_p = p;
    ts__lock(&p->tasks_lock);
    t->all_prev = NULL;
    t->all_next = p->tasks;
    if (p->tasks)
        p->tasks->all_prev = t;
    p->tasks = t;
    __atomic_store_n(&p->ntasks, p->ntasks + 1, __ATOMIC_RELAXED);
    ts__unlock(&p->tasks_lock);
}

static void tasks_remove(struct ts_task *t)
{
    struct ts_p *p = t->tasks_p;
    ts__lock(&p->tasks_lock);
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        p->tasks = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    __atomic_store_n(&p->ntasks, p->ntasks - 1, __ATOMIC_RELAXED);
    ts__unlock(&p->tasks_lock);
}

struct ts_task *ts__task_new(void (*fn)(void *), void *arg, uintptr_t pc)
{
    ts__sched_start();
    struct ts_m *m = ts__getm();
    struct ts__stack s;
    if (ts__stack_alloc(m ? &m->p->stacks : NULL, sizeof(struct ts_task), &s))
        return NULL;
    struct ts_task *t = s.hi;
    memset(t, 0, sizeof *t);
    t->stack = s;
    t->kind = TS__KIND_TASK;
    t->state = TS_TASK_RUNNABLE;
    t->fn = fn;
    t->arg = arg;
    t->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    t->create_pc = pc;
    struct ts_task *parent = m ? m->curr : NULL;
    t->parent_id = parent ? parent->id : 0;
    t->sp = ts__stack_prepare(s.hi, t);
    t->race_fiber = ts__race_fiber_create();
    tasks_add(m ? m->p : ts__p(0), t);
    return t;
}

void ts__task_free(struct ts_m *m, struct ts_task *t)
{
    tasks_remove(t);
    ts__race_fiber_destroy(t->race_fiber);
    struct ts__stack s = t->stack; /* t lives inside s: copy first */
    ts__stack_free(&m->p->stacks, &s);
}

/* ts__task_main: first function on a new task's stack (ts__trampoline). */
__attribute__((noreturn)) void ts__task_main(struct ts_task *t)
{
    t->fn(t->arg);
    ts__task_exit(t);
}

uint64_t ts_go(void (*fn)(void *), void *arg)
{
    struct ts_task *t =
        ts__task_new(fn, arg, (uintptr_t)__builtin_return_address(0));
    if (!t)
        return 0;
    uint64_t id = t->id; /* t may run and exit as soon as it is ready */
    ts__ready(t);
    return id;
}

uint64_t ts_self(void)
{
    struct ts_task *t = ts__current_task();
    return t ? t->id : 0;
}

int ts_procs(void)
{
    return ts__nprocs();
}

int64_t ts_num_tasks(void)
{
    int64_t n = 0;
    int np = ts__nprocs();
    for (int i = 0; i < np; i++)
        n += __atomic_load_n(&ts__p(i)->ntasks, __ATOMIC_RELAXED);
    return n;
}

/* ts_run: the calling thread sleeps on `done` while main_fn runs as a task. */
struct run_main {
    int (*fn)(void *);
    void *arg;
    int result;
    uint32_t done; /* atomic futex word */
};

static void run_main_task(void *p)
{
    struct run_main *r = p;
    r->result = r->fn(r->arg);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    ts__futex_wake(&r->done, 1);
}

int ts_run(int (*main_fn)(void *), void *arg)
{
    if (ts__current_task())
        return main_fn(arg);
    struct run_main r = {.fn = main_fn, .arg = arg};
    struct ts_task *t = ts__task_new(run_main_task, &r,
                                     (uintptr_t)__builtin_return_address(0));
    if (!t)
        ts__fatal("taskscope: ts_run: cannot allocate the main task's stack");
    ts__ready(t);
    while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) == 0)
        ts__futex_wait(&r.done, 0, -1);
    return r.result;
}
