/* taskscope — task lifecycle: creation, exit, ts_go, ts_run, the task list.
 *
 * Invariants:
 *   - a task's struct lives at the top of its own stack mapping (stack.h);
 *     it is live from ts__task_new until its function returns, after which
 *     g0 returns the mapping to the pool with the struct's state DEAD;
 *   - like Go's allgs, a mapping's struct joins one P's all-tasks list when
 *     the mapping first hosts a task and stays on it while pooled; only
 *     stack.c's trim, unmapping the mapping, takes it off (unmap hook). So
 *     spawning and exiting take no list lock: a short task created on one P
 *     and finished on another touches no shared line but the run queue's;
 *   - the walk (introspect.c) skips structs whose state is not a live one;
 *     the fields it reads are written with atomic stores, state last with
 *     release, so a struct being reused is either skipped or consistent;
 *   - ids come from one atomic counter: unique, increasing, never reused;
 *   - live count = sum over Ps of (created - exited) + created by threads;
 *     each P's counters are written only by its own M.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/task.h>

#include "runtime/labels.h"
#include "runtime/asan.h"
#include "runtime/race.h"
#include "runtime/sched.h"

/* Own cache lines: next_id is written at every spawn. */
static _Alignas(64) uint64_t next_id;          /* atomic */
static _Alignas(64) int64_t created_by_threads; /* atomic */

static void list_add(struct ts_p *p, struct ts_task *t)
{
    ts__lock(&p->tasks_lock);
    t->tasks_p = p;
    t->all_prev = NULL;
    t->all_next = p->tasks;
    if (p->tasks)
        p->tasks->all_prev = t;
    p->tasks = t;
    ts__unlock(&p->tasks_lock);
}

/* list_remove: stack.c's unmap hook; the mapping is pooled, its task dead. */
static void list_remove(void *header)
{
    struct ts_task *t = header;
    struct ts_p *p = t->tasks_p;
    ts__lock(&p->tasks_lock);
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        p->tasks = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    ts__unlock(&p->tasks_lock);
}

void ts__tasks_init(void)
{
    ts__stack_set_unmap_hook(list_remove);
}

static void count_created(struct ts_m *m)
{
    if (m)
        __atomic_store_n(&m->p->created, m->p->created + 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&created_by_threads, 1, __ATOMIC_RELAXED);
}

/* init: every field of a reused struct but the stable ones (sched.h). */
static void init(struct ts_task *t, void (*fn)(void *), void *arg,
                 uintptr_t pc, struct ts_task *parent)
{
    t->link = NULL;
    t->kind = TS__KIND_TASK;
    t->fn = fn;
    t->arg = arg;
    t->select_done = 0;
    t->param = NULL;
    t->wake_futex = 0;
    t->pstate = (struct ts__pstate){0};
    ts__timer_init(&t->sleep_timer, NULL, NULL);
    __atomic_store_n(&t->wait_reason, TS_WAIT_NONE, __ATOMIC_RELAXED);
    __atomic_store_n(&t->wait_object, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&t->wait_since, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->id, __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&t->parent_id, parent ? parent->id : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->create_pc, pc, __ATOMIC_RELAXED);
    ts__labels_inherit(t, parent);
    t->sp = ts__stack_prepare(t->stack.hi, t);
    t->race_fiber = ts__race_fiber_create();
    ts__race_fiber_name(t->race_fiber, t->id);
    ts__race_release(t); /* the go statement happens before the task starts */
    __atomic_store_n(&t->state, TS_TASK_RUNNABLE, __ATOMIC_RELEASE);
}

struct ts_task *ts__task_new(void (*fn)(void *), void *arg, uintptr_t pc)
{
    ts__sched_start();
    struct ts_m *m = ts__getm();
    struct ts__stack s;
    if (ts__stack_alloc(m ? &m->p->stacks : NULL, &s))
        return NULL;
    struct ts_task *t = s.hi;
    if (s.fresh) {
        t->state = TS_TASK_DEAD; /* not yet visible to the walk */
        t->stack = s;
    }
    init(t, fn, arg, pc, m ? m->curr : NULL);
    if (s.fresh)
        list_add(m ? m->p : ts__p(0), t);
    count_created(m);
    return t;
}

void ts__task_free(struct ts_m *m, struct ts_task *t)
{
    __atomic_store_n(&m->p->exited, m->p->exited + 1, __ATOMIC_RELAXED);
    ts__labels_drop(t);
    ts__race_fiber_destroy(t->race_fiber);
    ts__stack_free(&m->p->stacks, &t->stack);
}

/* ts__task_main: first function on a new task's stack (ts__trampoline). */
__attribute__((noreturn)) void ts__task_main(struct ts_task *t)
{
    ts__asan_arrive(NULL); /* first arrival: no state left behind */
    ts__race_acquire(t);
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
    int64_t n = __atomic_load_n(&created_by_threads, __ATOMIC_RELAXED);
    int np = ts__nprocs_if_started();
    for (int i = 0; i < np; i++) {
        struct ts_p *p = ts__p(i);
        n += __atomic_load_n(&p->created, __ATOMIC_RELAXED) -
             __atomic_load_n(&p->exited, __ATOMIC_RELAXED);
    }
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
    ts__race_release(r); /* main_fn happens before ts_run returns */
    ts__thread_sleeping(-1); /* the waiter counts as awake from now on */
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
    ts__thread_sleeping(1); /* until run_main_task wakes us */
    ts__ready(t);
    while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) == 0)
        ts__futex_wait_thread(&r.done, 0);
    ts__race_acquire(&r);
    return r.result;
}
