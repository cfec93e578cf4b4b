/* taskscope — scheduler internals shared by the runtime's files.
 *
 * Vocabulary (Go's): a task (G) is a function with its own stack; an M is a
 * worker thread; a P is the right to run tasks, with a local run queue and a
 * timer heap. Each M owns one P for its whole life (taskscope does not hand
 * Ps off around blocking syscalls yet: tasks block only through park).
 *
 * Task states, by owner (legal transitions only):
 *   RUNNABLE  on a run queue or in runnext; the queue owns it.
 *             -> RUNNING (an M takes it in execute)
 *   RUNNING   the M executing it owns it and its stack.
 *             -> WAITING (ts__park; the switch to g0 completes it)
 *             -> RUNNABLE (ts_yield; g0 requeues it after the switch)
 *             -> DEAD (the task function returned; g0 frees the stack)
 *   WAITING   parked; owned by whoever may wake it: the holder of the lock
 *             that was released by the park's unlock function, or the winner
 *             of the select_done race, or the timer that will fire.
 *             -> RUNNABLE (ts__ready)
 *   A park's unlock function runs on g0 after the task's registers are
 *   saved, so no waker can make the task runnable while it still runs.
 *
 * Plain threads that call blocking channel operations get a thread-local
 * struct ts_task of kind TS__KIND_THREAD: ts__park sleeps on its wake futex
 * and ts__ready sets and wakes it; queues and select treat both kinds alike.
 */
#ifndef TASKSCOPE_RUNTIME_SCHED_H
#define TASKSCOPE_RUNTIME_SCHED_H

#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/introspect.h"
#include "runtime/lock.h"
#include "runtime/stack.h"
#include "runtime/waitreason.h"

#define TS__MAX_PROCS 256
#define TS__RUNQ_SIZE 256 /* power of two */

enum ts__task_kind {
    TS__KIND_TASK = 0,   /* a real task with its own stack */
    TS__KIND_THREAD = 1, /* a plain thread's stand-in, parks on a futex */
};

struct ts_m;

/* A timer as the heap sees it (timer.c owns the protocol). */
struct ts__timer {
    ts__lock_t lock;       /* guards everything below except heap fields */
    int64_t when;          /* next fire time (guarded by lock and heap lock) */
    int64_t period;        /* > 0: re-arm after firing (ticker) */
    bool pending;          /* armed and not yet fired or stopped */
    int32_t heap_index;    /* index in its P's heap, -1 when not in a heap;
                              guarded by that heap's lock */
    struct ts_p *heap_p;   /* heap holding it, guarded by that heap's lock */
    /* fire: called with t->lock held, from scheduler context (g0 or a
     * plain thread); must not block. */
    void (*fire)(struct ts__timer *t, int64_t now);
    void *arg;
    /* chan: a fired value still in this channel's buffer counts as pending:
     * arm and disarm drain it (Go 1.23 synchronous timer channels). */
    struct ts_chan *chan;
    /* done: called after a one-shot fire, with no lock held; t may be freed
     * by it (ts_after's self-freeing timer). */
    void (*done)(struct ts__timer *t);
};

struct ts__timer_heap {
    ts__lock_t lock;           /* guards heap, len, cap */
    struct ts__timer **heap;   /* 4-ary min-heap on when */
    int32_t len;
    int32_t cap;
    int64_t next_when;         /* atomic mirror of heap[0]->when, INT64_MAX if
                                  empty; read without the lock */
};

/* panic.c: */
struct ts__pframe;
struct ts__panic;
/* A task's (or thread's) protected frames and active panics, newest first. */
struct ts__pstate {
    struct ts__pframe *top;
    struct ts__panic *panics;
};

struct ts_task {
    /* --- switch state: owned by the M running the task, or by its waker */
    void *sp;                   /* saved stack pointer when not running */
    struct ts_task *link;       /* global run queue link (sched.lock) */
    int state;                  /* enum ts_task_state, atomic */
    int kind;                   /* enum ts__task_kind, immutable */
    uint32_t run_seq;           /* atomic: odd while an M runs the task on
                                   its stack, even once it switched out
                                   (a seqlock for walks of its stack) */
    uint64_t id;                /* immutable, >= 1 for tasks, 0 threads */

    void (*fn)(void *);         /* immutable entry point */
    void *arg;

    /* --- park state: written by the task before it parks */
    int wait_reason;            /* enum ts_wait_reason, atomic */
    const void *wait_object;    /* atomic */
    int64_t wait_since;         /* atomic */
    uint32_t select_done;       /* select: 0 until one waker claims it */
    void *param;                /* waker -> parked task: the winning waiter */
    uint32_t wake_futex;        /* thread kind: 1 once readied */

    /* --- timers embedded for sleep and select deadlines */
    struct ts__timer sleep_timer;

    /* --- bookkeeping, set at creation (atomic: the walk may read it) */
    uint64_t parent_id;
    uintptr_t create_pc;
    struct ts__labels *labels;  /* ts_set_label's set, or NULL; swapped
                                   under the tasks_lock (labels.c) */
    void *race_fiber;           /* TSan fiber, NULL outside the tsan build */
    struct ts__pstate pstate;   /* panic.c: owned by the task itself */
    void *asan_fake;            /* ASan fake-stack state while switched out */

    /* --- stable for the life of the stack mapping, across the tasks it
     * hosts: the mapping and the all-tasks list links (P tasks_p's
     * tasks_lock). Like Go's allgs, a mapping joins the list when it first
     * hosts a task and leaves it only when stack.c unmaps it; between tasks
     * its state is DEAD and the walk skips it. */
    struct ts__stack stack;
    struct ts_task *all_next;
    struct ts_task *all_prev;
    struct ts_p *tasks_p;
};

struct ts_p {
    int id;
    /* Local run queue (Go's runq): only the owner M pushes (tail); the owner
     * and stealers pop by CAS on head. */
    uint32_t runq_head;         /* atomic */
    uint32_t runq_tail;         /* atomic, written only by the owner */
    struct ts_task *runq[TS__RUNQ_SIZE];
    struct ts_task *runnext;    /* atomic: next task to run, beats runq */
    uint32_t schedtick;         /* atomic: bumped per execute (sysmon) */

    struct ts__timer_heap timers;

    ts__lock_t tasks_lock;      /* guards the all-tasks list below */
    struct ts_task *tasks;
    int64_t created;            /* atomic, written by the owner M: tasks
                                   created on this P */
    int64_t exited;             /* atomic, written by the owner M: tasks
                                   that returned on this P */

    struct ts__stack_cache stacks; /* owned by the M (no lock) */
    struct ts_m *m;
};

/* What g0 does with the task that just switched to it. */
enum ts__after {
    TS__AFTER_NONE = 0,
    TS__AFTER_PARK,
    TS__AFTER_YIELD,
    TS__AFTER_EXIT,
};

struct ts_m {
    int id;
    pthread_t thread;
    struct ts_p *p;
    struct ts_task *curr;       /* task running on this M, NULL on g0 */
    void *g0_sp;                /* scheduler context saved sp */
    void *g0_fiber;             /* TSan fiber of the thread itself */
    const void *g0_lo;          /* the thread's own stack, for ASan */
    size_t g0_size;
    void *g0_asan;              /* ASan fake-stack state while away */
    char race_tls;              /* TSan sync address: the thread's start
                                   (its TLS set up) happens before every
                                   task that runs on it (execute) */
    int after;                  /* enum ts__after, set by the task */
    void (*unlockf)(void *);    /* park: run on g0 after the switch */
    void *unlockarg;
    uint32_t park_futex;        /* 1 = woken; idle M sleeps on it */
    int64_t sleep_until;        /* atomic: idle M's wake-up deadline
                                   (INT64_MAX: none), INT64_MIN if awake */
    bool spinning;              /* looking for work, counted in nspinning;
                                   read and written only by this M */
    bool spin_token;            /* sched.lock: a waker counted this M in
                                   nspinning when taking it off the list */
    struct ts_m *idle_next;     /* sched.idle list link (sched.lock) */
    uint64_t rand;              /* xorshift state */
    void *altstack;             /* sigaltstack for stack-overflow reports */
};

/* --- sched.c ------------------------------------------------------------ */
void ts__sched_start(void);          /* idempotent, thread-safe */
int ts__nprocs(void);
/* ts__nprocs_if_started: the same, or 0 before the scheduler started (for
 * readers that must not start it: introspection, the probe's dumps). */
int ts__nprocs_if_started(void);
struct ts_m *ts__getm(void);         /* NULL on plain threads */
struct ts_task *ts__current(void);   /* running task or thread stand-in */
struct ts_task *ts__current_task(void); /* NULL unless a real task */
void ts__ready(struct ts_task *t);
/* ts__park: block the caller (task or thread) with reason/object; unlockf
 * (may be NULL) runs once the caller is safely off its stack (tasks) or
 * before sleeping (threads). Returns after ts__ready(caller). */
void ts__park(int reason, const void *object, void (*unlockf)(void *),
              void *unlockarg);
uint64_t ts__rand(void);             /* fast per-M / per-thread random */
struct ts_p *ts__timer_p(void);      /* P whose heap takes new timers */
void ts__wake_for_timer(int64_t when);

struct ts_p *ts__p(int i);           /* P number i, 0 <= i < nprocs */

/* What the deadlock check needs of a quiet scheduler. */
struct ts__quiet {
    uint64_t progress;  /* sum of the Ps' schedticks: changes when any task
                           ran since */
    int parked;         /* plain threads asleep in the runtime, which only
                           a task can wake */
};
/* ts__sched_quiet: true when every M is idle, no task is runnable, no timer
 * is pending, no task waits for I/O, and tasks exist: then *q is filled. A
 * snapshot: the caller confirms it over time before concluding anything. */
bool ts__sched_quiet(struct ts__quiet *q);
/* ts__sched_idle: every M idle and no task runnable, this instant. */
bool ts__sched_idle(void);
/* ts__thread_sleeping: a plain thread is about to sleep in the runtime
 * until a task wakes it (+1, before anyone can wake it), or its waker has
 * woken it (-1, by the waker: a woken thread counts as awake at once). */
void ts__thread_sleeping(int delta);
__attribute__((noreturn)) void ts__task_exit(struct ts_task *t);

/* --- netpoll.c ---------------------------------------------------------- */
/* ts__netpoll_waiting: tasks parked in IO wait. A file descriptor can wake
 * them, so while there are any the scheduler is never quiet (Go: an M
 * blocked in netpoll is not idle). */
int ts__netpoll_waiting(void);

/* --- task.c ------------------------------------------------------------- */
void ts__tasks_init(void);           /* at scheduler start */
struct ts_task *ts__task_new(void (*fn)(void *), void *arg, uintptr_t pc);
void ts__task_free(struct ts_m *m, struct ts_task *t);

/* --- select.c --------------------------------------------------------- */
int ts__select_chans(const struct ts_task *t, const void *object,
                     uintptr_t *out, int max);

/* --- timer.c (internal interface) -------------------------------------- */
void ts__timer_init(struct ts__timer *t, void (*fire)(struct ts__timer *, int64_t),
                    void *arg);
/* ts__timer_arm: (re)schedule at when; returns whether it was pending. */
bool ts__timer_arm(struct ts__timer *t, int64_t when, int64_t period);
/* ts__timer_disarm: cancel; returns whether it was pending. Waits for a fire
 * in progress to finish, so the caller may free t afterwards. */
bool ts__timer_disarm(struct ts__timer *t);
void ts__timers_run(struct ts_p *p, int64_t now);
void ts__timers_heap_init(struct ts__timer_heap *h);

/* ts__coarse_now: CLOCK_MONOTONIC_COARSE in ns (the clock of wait_since). */
int64_t ts__coarse_now(void);

/* ts__env_long: the environment variable name as a whole number in
 * [min, max] (with a k/m suffix when size_suffix), or def when unset; a bad
 * value is reported on stderr, naming the variable and the range, and def
 * used. */
long ts__env_long(const char *name, long def, long min, long max,
                  bool size_suffix);

/* --- time.c ------------------------------------------------------------- */
static inline int64_t ts__nanotime(void);

#include <time.h>
static inline int64_t ts__nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- fatal.c ------------------------------------------------------------ */
/* ts__fatal: message, then the calling task's report; exits 2. */
void ts__fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* ts__report_stack: "goroutine <task> [running]:" ("thread TID" for task
 * 0), the frames pcs[0..n) and, when task is the one running, its
 * creation site, in Go's format. */
void ts__report_stack(FILE *f, uint64_t task, const uint64_t *pcs, size_t n);
/* write(2)-only output, usable in a signal handler */
void ts__put_stderr(const char *s, size_t n);
void ts__putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ts__print_pc(uintptr_t pc); /* "func(...)\n\tmodule +0xoff" by dladdr */

/* --- panic.c ------------------------------------------------------------ */
/* --- sigpanic.c --------------------------------------------------------- */
/* ts__sigpanic_init: the SIGSEGV/SIGBUS/SIGFPE handlers, once (cheap after
 * the first call). */
void ts__sigpanic_init(void);
/* ts__thread_protected (panic.c): the calling plain thread (not a task) is
 * inside a protected call. */
bool ts__thread_protected(void);
/* ts__sigpanic (panic.c): a fault in the program's code, as a panic
 * (sigpanic.c makes the faulting context call it). */
__attribute__((noreturn)) void ts__sigpanic(int sig, int code, uintptr_t addr,
                                            uintptr_t pc);

/* --- switch_*.S --------------------------------------------------------- */
void ts__switch(void **save_sp, void *new_sp);
/* Where ts__switch leaves the frame pointer and return address of its
 * caller, in words from the saved sp (switch_<arch>.S): the start of a
 * switched-out task's frame chain. */
#if defined(__x86_64__)
#define TS__SWITCH_FP_WORD 5
#define TS__SWITCH_RET_WORD 6
#elif defined(__aarch64__)
#define TS__SWITCH_FP_WORD 18
#define TS__SWITCH_RET_WORD 19
#endif
void ts__trampoline(void);

#endif
