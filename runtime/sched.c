/* taskscope — the M:N work-stealing scheduler: run queues, Ms, park/ready.
 *
 * Design (Go's, trimmed to what taskscope needs):
 *   - nprocs Ps, each owned for life by one M (worker thread). A P has a
 *     256-slot lock-free ring (owner pushes at the tail, owner and thieves
 *     pop at the head by CAS) and a runnext slot that beats the ring, so a
 *     task readied by a channel operation runs next on the waker's P (the
 *     ping-pong case stays on one core, hot in cache).
 *   - A global queue (sched.lock) takes overflow and tasks readied from
 *     plain threads.
 *   - An M with nothing to run spins once over all Ps stealing half a
 *     victim's ring (runnext only on the last pass, as Go does, so a
 *     ping-pong pair is not torn apart), then parks on its own futex word.
 *   - wakep wakes one idle M only when no M is spinning: at most one thread
 *     hunts for work at a time.
 *
 * Invariants:
 *   - no lost wakeup: a readier publishes the task, issues a seq_cst fence,
 *     then reads nidle/nspinning; an M going idle first joins the idle list,
 *     drops spinning, fences, then re-checks every queue. One of the two
 *     always sees the other (Dekker).
 *   - a task is on at most one queue; only its owner moves it (sched.h).
 *   - code that may run on a task stack reads the current M through
 *     ts__getm() after every switch: a task may resume on another thread,
 *     and a thread-pointer-relative address computed before the switch
 *     would name the old thread's M.
 *
 * Locks: sched.lock guards the global queue and the idle-M list; it is a
 * leaf lock (no other runtime lock is taken while holding it).
 *
 * sysmon, a helper thread, wakes an idle M when a P has queued work but its
 * M has run the same task for a whole sysmon tick (10 ms): tasks are not
 * preempted, so this is what keeps work queued behind a long computation
 * from waiting for it. It backs off to 500 ms while every M is idle.
 */
#include "runtime/sched.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/contention.h"
#include "profiler/deadlock.h"
#include "profiler/record.h"
#include "profiler/threadcreate.h"
#include "profiler/stackid.h"
#include "runtime/asan.h"
#include "runtime/race.h"

#define SYSMON_TICK_NS (10 * 1000 * 1000)

/* Field groups written by different Ms at different rates sit on their own
 * cache lines (bench/tsbench spawn showed false sharing between them). */
static struct {
    pthread_once_t once;        /* read-mostly after start */
    int nprocs;
    int started_nprocs;         /* atomic: nprocs once the Ps exist, else 0 */
    struct ts_p *ps;
    struct ts_m *ms;

    _Alignas(64) ts__lock_t lock; /* guards gq_* and idle */
    struct ts_task *gq_head;
    struct ts_task *gq_tail;
    struct ts_m *idle;          /* idle Ms, linked by idle_next */
    _Alignas(64) int64_t gq_len; /* atomic; written under lock, polled */
    _Alignas(64) int32_t nidle; /* atomic; written under lock */
    _Alignas(64) int32_t nspinning; /* atomic */
    char pad[60];
} sched = {.once = PTHREAD_ONCE_INIT};

static __thread struct ts_m *tls_m __attribute__((tls_model("initial-exec")));
static __thread struct ts_task *tls_thread_task
    __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_rand __attribute__((tls_model("initial-exec")));
static pthread_key_t thread_task_key;

/* Not inlined, and read through a volatile lvalue: every call recomputes the
 * thread pointer, which a task needs after it may have migrated. */
__attribute__((noinline)) struct ts_m *ts__getm(void)
{
    return *(struct ts_m *volatile *)&tls_m;
}

int ts__nprocs(void)
{
    ts__sched_start();
    return sched.nprocs;
}

int ts__nprocs_if_started(void)
{
    return __atomic_load_n(&sched.started_nprocs, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------------
 * Random numbers: xorshift64*, per M or per thread; used for steal order
 * and select's case order, never for anything that must be unpredictable. */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    if (x == 0)
        x = (uint64_t)ts__nanotime() | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t ts__rand(void)
{
    struct ts_m *m = ts__getm();
    if (m)
        return xorshift(&m->rand);
    if (tls_rand == 0)
        tls_rand = (uint64_t)ts__nanotime() ^ (uint64_t)(uintptr_t)&tls_rand;
    return xorshift(&tls_rand);
}

/* ------------------------------------------------------------------------
 * Global run queue (sched.lock). */

static void globrunq_put_locked(struct ts_task *t)
{
    t->link = NULL;
    if (sched.gq_tail)
        sched.gq_tail->link = t;
    else
        sched.gq_head = t;
    sched.gq_tail = t;
    __atomic_store_n(&sched.gq_len, sched.gq_len + 1, __ATOMIC_RELAXED);
}

static void globrunq_put(struct ts_task *t)
{
    ts__lock(&sched.lock);
    globrunq_put_locked(t);
    ts__unlock(&sched.lock);
}

static bool runq_put_ring(struct ts_p *p, struct ts_task *t);

/* globrunq_get_locked: take one task to run and move up to a fair share of
 * the rest into p's ring. */
static struct ts_task *globrunq_get_locked(struct ts_p *p, int max)
{
    int64_t len = sched.gq_len;
    if (len == 0)
        return NULL;
    int64_t n = len / sched.nprocs + 1;
    if (n > len)
        n = len;
    if (max > 0 && n > max)
        n = max;
    /* Never overflow p's ring here: that would push back to the global
     * queue under sched.lock, which we hold. Only thieves touch the ring
     * besides us, and they only make room. */
    uint32_t used = p->runq_tail - __atomic_load_n(&p->runq_head, __ATOMIC_ACQUIRE);
    int64_t room = (int64_t)(TS__RUNQ_SIZE - used) + 1;
    if (n > room)
        n = room;
    if (n > TS__RUNQ_SIZE / 2)
        n = TS__RUNQ_SIZE / 2;
    struct ts_task *first = sched.gq_head;
    sched.gq_head = first->link;
    for (int64_t i = 1; i < n; i++) {
        struct ts_task *t = sched.gq_head;
        sched.gq_head = t->link;
        runq_put_ring(p, t);
    }
    if (!sched.gq_head)
        sched.gq_tail = NULL;
    __atomic_store_n(&sched.gq_len, len - n, __ATOMIC_RELAXED);
    return first;
}

static struct ts_task *globrunq_get(struct ts_p *p, int max)
{
    if (__atomic_load_n(&sched.gq_len, __ATOMIC_RELAXED) == 0)
        return NULL;
    ts__lock(&sched.lock);
    struct ts_task *t = globrunq_get_locked(p, max);
    ts__unlock(&sched.lock);
    return t;
}

/* ------------------------------------------------------------------------
 * Local run queue: Go's runqput/runqget/runqgrab. */

/* runq_put_slow: the ring is full; move half of it plus t to the global
 * queue in one batch. Returns false if a thief freed space meanwhile. */
static bool runq_put_slow(struct ts_p *p, struct ts_task *t, uint32_t h)
{
    enum { N = TS__RUNQ_SIZE / 2 };
    struct ts_task *batch[N + 1];
    for (uint32_t i = 0; i < N; i++)
        batch[i] = p->runq[(h + i) % TS__RUNQ_SIZE];
    if (!__atomic_compare_exchange_n(&p->runq_head, &h, h + N, false,
                                     __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        return false;
    batch[N] = t;
    ts__lock(&sched.lock);
    for (int i = 0; i <= N; i++)
        globrunq_put_locked(batch[i]);
    ts__unlock(&sched.lock);
    return true;
}

/* runq_put_ring: push t at the tail (owner only); overflow goes global. */
static bool runq_put_ring(struct ts_p *p, struct ts_task *t)
{
    for (;;) {
        uint32_t h = __atomic_load_n(&p->runq_head, __ATOMIC_ACQUIRE);
        uint32_t tail = p->runq_tail;
        if (tail - h < TS__RUNQ_SIZE) {
            p->runq[tail % TS__RUNQ_SIZE] = t;
            __atomic_store_n(&p->runq_tail, tail + 1, __ATOMIC_RELEASE);
            return true;
        }
        if (runq_put_slow(p, t, h))
            return true;
    }
}

static void wakep(void);

/* runq_put: make t runnable on p (owner only). With next, t takes runnext
 * and the task it displaces goes to the ring. Wakes an idle M whenever the
 * ring gained work that another M could steal. */
static void runq_put(struct ts_p *p, struct ts_task *t, bool next)
{
    if (next) {
        t = __atomic_exchange_n(&p->runnext, t, __ATOMIC_ACQ_REL);
        if (!t)
            return;
    }
    runq_put_ring(p, t);
    wakep();
}

/* runq_get: next task of p's own queues (owner only). */
static struct ts_task *runq_get(struct ts_p *p)
{
    struct ts_task *t = __atomic_load_n(&p->runnext, __ATOMIC_RELAXED);
    if (t && __atomic_compare_exchange_n(&p->runnext, &t, NULL, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return t;
    for (;;) {
        uint32_t h = __atomic_load_n(&p->runq_head, __ATOMIC_ACQUIRE);
        uint32_t tail = p->runq_tail;
        if (tail == h)
            return NULL;
        t = p->runq[h % TS__RUNQ_SIZE];
        if (__atomic_compare_exchange_n(&p->runq_head, &h, h + 1, false,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            return t;
    }
}

/* runq_grab: copy half of victim's ring into batch (thief side); with
 * take_next, also consider its runnext when the ring is empty. */
static uint32_t runq_grab(struct ts_p *victim, struct ts_task **batch,
                          bool take_next)
{
    for (;;) {
        uint32_t h = __atomic_load_n(&victim->runq_head, __ATOMIC_ACQUIRE);
        uint32_t tail = __atomic_load_n(&victim->runq_tail, __ATOMIC_ACQUIRE);
        uint32_t n = tail - h;
        n -= n / 2;
        if (n == 0) {
            if (!take_next)
                return 0;
            struct ts_task *t = __atomic_load_n(&victim->runnext, __ATOMIC_ACQUIRE);
            if (t && __atomic_load_n(&victim->m->curr, __ATOMIC_RELAXED)) {
                /* The victim is running and will most likely run its
                 * runnext within microseconds (a ping-pong pair): give it
                 * 3 us before tearing the pair apart, as Go does. */
                int64_t until = ts__nanotime() + 3000;
                while (ts__nanotime() < until)
                    ts__cpu_relax();
                if (__atomic_load_n(&victim->runnext, __ATOMIC_ACQUIRE) != t)
                    return 0;
            }
            if (t && __atomic_compare_exchange_n(&victim->runnext, &t, NULL, false,
                                                 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
                batch[0] = t;
                return 1;
            }
            return 0;
        }
        if (n > TS__RUNQ_SIZE / 2) /* inconsistent h/tail read: retry */
            continue;
        for (uint32_t i = 0; i < n; i++)
            batch[i] = __atomic_load_n(&victim->runq[(h + i) % TS__RUNQ_SIZE],
                                       __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&victim->runq_head, &h, h + n, false,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            return n;
    }
}

/* runq_steal: steal half of victim's work into p; returns one to run. */
static struct ts_task *runq_steal(struct ts_p *p, struct ts_p *victim,
                                  bool take_next)
{
    struct ts_task *batch[TS__RUNQ_SIZE / 2];
    uint32_t n = runq_grab(victim, batch, take_next);
    if (n == 0)
        return NULL;
    for (uint32_t i = 1; i < n; i++)
        runq_put_ring(p, batch[i]);
    return batch[0];
}

static bool p_has_work(struct ts_p *p)
{
    return __atomic_load_n(&p->runq_head, __ATOMIC_ACQUIRE) !=
               __atomic_load_n(&p->runq_tail, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&p->runnext, __ATOMIC_ACQUIRE) != NULL;
}

/* ------------------------------------------------------------------------
 * Idle Ms and wakeups. */

static void m_wake(struct ts_m *m)
{
    __atomic_store_n(&m->park_futex, 1, __ATOMIC_RELEASE);
    ts__futex_wake(&m->park_futex, 1);
}

/* idle_remove_locked: unlink m from the idle list; false if not there. */
static bool idle_remove_locked(struct ts_m *m)
{
    for (struct ts_m **pp = &sched.idle; *pp; pp = &(*pp)->idle_next) {
        if (*pp == m) {
            *pp = m->idle_next;
            __atomic_store_n(&sched.nidle, sched.nidle - 1, __ATOMIC_RELAXED);
            return true;
        }
    }
    return false;
}

/* wakep: wake an idle M to look for work, unless one already does. */
static void wakep(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&sched.nidle, __ATOMIC_SEQ_CST) == 0 ||
        __atomic_load_n(&sched.nspinning, __ATOMIC_SEQ_CST) != 0)
        return;
    int32_t zero = 0;
    if (!__atomic_compare_exchange_n(&sched.nspinning, &zero, 1, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return;
    ts__lock(&sched.lock);
    struct ts_m *m = sched.idle;
    if (m) {
        idle_remove_locked(m);
        m->spin_token = true; /* our nspinning count passes to m */
    }
    ts__unlock(&sched.lock);
    if (!m) {
        __atomic_sub_fetch(&sched.nspinning, 1, __ATOMIC_SEQ_CST);
        return;
    }
    m_wake(m);
}

/* ts__wake_for_timer: a timer at `when` was added; wake an idle M that
 * sleeps past it so that it re-arms its sleep. Lock-free unless one must
 * be woken: an M's sleep_until is INT64_MIN while it is awake. Pairs with
 * m_idle's fence and re-check of the timer heaps (Dekker, as for work). */
void ts__wake_for_timer(int64_t when)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (int i = 0; i < sched.nprocs; i++) {
        struct ts_m *m = &sched.ms[i];
        if (__atomic_load_n(&m->sleep_until, __ATOMIC_RELAXED) <= when)
            continue;
        ts__lock(&sched.lock);
        bool was_idle = idle_remove_locked(m);
        ts__unlock(&sched.lock);
        if (was_idle) {
            m_wake(m);
            return;
        }
    }
}

static void reset_spinning(struct ts_m *m)
{
    if (!m->spinning)
        return;
    m->spinning = false;
    /* The last spinner found work: there may be more, keep one looking. */
    if (__atomic_sub_fetch(&sched.nspinning, 1, __ATOMIC_SEQ_CST) == 0)
        wakep();
}

/* ------------------------------------------------------------------------
 * Timers across Ps. */

static int64_t next_timer_all(void)
{
    int64_t next = INT64_MAX;
    for (int i = 0; i < sched.nprocs; i++) {
        int64_t w = __atomic_load_n(&sched.ps[i].timers.next_when, __ATOMIC_ACQUIRE);
        if (w < next)
            next = w;
    }
    return next;
}

static void run_timers_all(int64_t now)
{
    for (int i = 0; i < sched.nprocs; i++) {
        struct ts_p *p = &sched.ps[i];
        if (__atomic_load_n(&p->timers.next_when, __ATOMIC_ACQUIRE) <= now)
            ts__timers_run(p, now);
    }
}

struct ts_p *ts__timer_p(void)
{
    ts__sched_start();
    struct ts_m *m = ts__getm();
    if (m)
        return m->p;
    return &sched.ps[ts__rand() % (uint64_t)sched.nprocs];
}

/* ------------------------------------------------------------------------
 * Finding work. */

static struct ts_task *steal_work(struct ts_m *m)
{
    enum { PASSES = 4 };
    int n = sched.nprocs;
    for (int pass = 0; pass < PASSES; pass++) {
        bool last = pass == PASSES - 1;
        int start = (int)(xorshift(&m->rand) % (uint64_t)n);
        for (int i = 0; i < n; i++) {
            struct ts_p *victim = &sched.ps[(start + i) % n];
            if (victim == m->p)
                continue;
            struct ts_task *t = runq_steal(m->p, victim, last);
            if (t)
                return t;
        }
        struct ts_task *t = globrunq_get(m->p, 0);
        if (t)
            return t;
    }
    return NULL;
}

static bool any_work(void)
{
    if (__atomic_load_n(&sched.gq_len, __ATOMIC_RELAXED) > 0)
        return true;
    for (int i = 0; i < sched.nprocs; i++)
        if (p_has_work(&sched.ps[i]))
            return true;
    return false;
}

/* m_idle: sleep until woken or until the earliest timer is due. */
static void m_idle(struct ts_m *m)
{
    __atomic_store_n(&m->park_futex, 0, __ATOMIC_RELAXED);
    int64_t deadline = next_timer_all();
    __atomic_store_n(&m->sleep_until, deadline, __ATOMIC_RELAXED);
    ts__lock(&sched.lock);
    if (sched.gq_len > 0) {
        ts__unlock(&sched.lock);
        return;
    }
    m->idle_next = sched.idle;
    sched.idle = m;
    __atomic_store_n(&sched.nidle, sched.nidle + 1, __ATOMIC_SEQ_CST);
    ts__unlock(&sched.lock);

    if (m->spinning) {
        m->spinning = false;
        __atomic_sub_fetch(&sched.nspinning, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    bool recheck = any_work() || next_timer_all() < deadline;
    while (!recheck && __atomic_load_n(&m->park_futex, __ATOMIC_ACQUIRE) == 0) {
        ts__futex_wait(&m->park_futex, 0, deadline == INT64_MAX ? -1 : deadline);
        if (ts__nanotime() >= deadline)
            break;
    }
    ts__lock(&sched.lock);
    idle_remove_locked(m); /* no-op if a waker already took us off */
    bool token = m->spin_token;
    m->spin_token = false;
    ts__unlock(&sched.lock);
    /* A waker that took us off the idle list counted us as spinning. */
    if (token)
        m->spinning = true;
    __atomic_store_n(&m->sleep_until, INT64_MIN, __ATOMIC_RELAXED);
}

/* find_work: one look everywhere work can be, cheapest first; NULL when
 * there is none (the M is spinning by then). */
static struct ts_task *find_work(struct ts_m *m)
{
    struct ts_p *p = m->p;
    struct ts_task *t;
    uint32_t tick = __atomic_load_n(&p->schedtick, __ATOMIC_RELAXED);
    if (tick % 61 == 0 && (t = globrunq_get(p, 1)))
        return t;
    if ((t = runq_get(p)))
        return t;
    int64_t now = ts__nanotime();
    if (__atomic_load_n(&p->timers.next_when, __ATOMIC_ACQUIRE) <= now) {
        ts__timers_run(p, now);
        if ((t = runq_get(p)))
            return t;
    }
    if ((t = globrunq_get(p, 0)))
        return t;
    if (!m->spinning) {
        m->spinning = true;
        __atomic_add_fetch(&sched.nspinning, 1, __ATOMIC_SEQ_CST);
    }
    run_timers_all(now);
    if ((t = runq_get(p)))
        return t;
    return steal_work(m);
}

/* find_runnable: block until there is a task to run. Whatever path found
 * it, a spinning M stops spinning here (and may wake a successor), so
 * nspinning counts only Ms that are really looking. */
static struct ts_task *find_runnable(struct ts_m *m)
{
    struct ts_task *t;
    while (!(t = find_work(m)))
        m_idle(m);
    reset_spinning(m);
    return t;
}

/* ------------------------------------------------------------------------
 * Running tasks. */

static void switch_to_g0(struct ts_m *m, struct ts_task *t)
{
    ts__race_fiber_switch(m->g0_fiber);
    ts__asan_leave(m->after == TS__AFTER_EXIT ? NULL : &t->asan_fake, m->g0_lo,
                   m->g0_size);
    ts__switch(&t->sp, m->g0_sp);
    ts__asan_arrive(t->asan_fake); /* resumed, maybe on another M */
}

static void stack_overflow_fatal(struct ts_task *t)
{
    ts__fatal("task %llu overran its %zu-byte stack (canary overwritten; "
              "guard pages are off beyond vm.max_map_count/2 stacks)\n"
              "fatal error: stack overflow",
              (unsigned long long)t->id, ts__stack_size());
}

/* after_switch: on g0, finish what the task asked for when it switched. */
static void after_switch(struct ts_m *m, struct ts_task *t)
{
    int after = m->after;
    m->after = TS__AFTER_NONE;
    if (!ts__stack_check(&t->stack))
        stack_overflow_fatal(t);
    switch (after) {
    case TS__AFTER_PARK:
        if (m->unlockf)
            m->unlockf(m->unlockarg);
        m->unlockf = NULL;
        m->unlockarg = NULL; /* no stale reference for the leak scan */
        break;
    case TS__AFTER_YIELD:
        __atomic_store_n(&t->state, TS_TASK_RUNNABLE, __ATOMIC_RELAXED);
        runq_put_ring(m->p, t);
        break;
    case TS__AFTER_EXIT:
        ts__task_free(m, t);
        break;
    default:
        ts__fatal("taskscope: task %llu switched to the scheduler with no "
                  "request", (unsigned long long)t->id);
    }
}

static void execute(struct ts_m *m, struct ts_task *t)
{
    __atomic_store_n(&m->curr, t, __ATOMIC_RELAXED);
    __atomic_store_n(&t->state, TS_TASK_RUNNING, __ATOMIC_RELAXED);
    __atomic_store_n(&m->p->schedtick, m->p->schedtick + 1, __ATOMIC_RELAXED);
    ts__race_fiber_switch(t->race_fiber);
    /* The task may read this thread's TLS (errno, the locale of tolower):
     * its setup, at thread start, happens before (an edge from the thread
     * start only: no edge between tasks). */
    ts__race_acquire(&m->race_tls);
    __atomic_store_n(&t->run_seq, t->run_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    ts__asan_leave(&m->g0_asan, t->stack.lo,
                   (size_t)((char *)t->stack.hi - (char *)t->stack.lo));
    ts__switch(&m->g0_sp, t->sp);
    ts__asan_arrive(m->g0_asan);
    /* Release: a walker that sees the even seq sees the saved frames. */
    __atomic_store_n(&t->run_seq, t->run_seq + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&m->curr, NULL, __ATOMIC_RELAXED);
    after_switch(m, t);
}

void ts__overflow_thread_init(struct ts_m *m); /* overflow.c */

static void *m_main(void *arg)
{
    struct ts_m *m = arg;
    tls_m = m;
    m->g0_fiber = ts__race_fiber_current();
    uintptr_t lo = 0, hi = 0;
    if (ts__stack_bounds_self(&lo, &hi) == 0) {
        m->g0_lo = (const void *)lo;
        m->g0_size = hi - lo;
    }
    ts__race_release(&m->race_tls);
    ts__overflow_thread_init(m);
    for (;;)
        execute(m, find_runnable(m));
    return NULL;
}

/* ------------------------------------------------------------------------
 * Park and ready. */

static struct ts_task *thread_task(void)
{
    struct ts_task *t = tls_thread_task;
    if (t)
        return t;
    t = calloc(1, sizeof *t);
    if (!t)
        ts__fatal("taskscope: out of memory for a thread's wait record");
    t->kind = TS__KIND_THREAD;
    t->state = TS_TASK_RUNNING;
    ts__sched_start(); /* makes thread_task_key: a thread may block first */
    pthread_setspecific(thread_task_key, t);
    tls_thread_task = t;
    return t;
}

struct ts_task *ts__current(void)
{
    struct ts_m *m = ts__getm();
    if (m && m->curr)
        return m->curr;
    return thread_task();
}

/* Reads the thread pointer itself, as ts__getm does (one call, not two:
 * ts_pcall and ts_defer call it every time). */
__attribute__((noinline)) struct ts_task *ts__current_task(void)
{
    struct ts_m *m = *(struct ts_m *volatile *)&tls_m;
    return m ? m->curr : NULL;
}

int64_t ts__coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_wait(struct ts_task *t, int reason, const void *object)
{
    __atomic_store_n(&t->wait_reason, reason, __ATOMIC_RELAXED);
    __atomic_store_n(&t->wait_object, object, __ATOMIC_RELAXED);
    __atomic_store_n(&t->wait_since, reason ? ts__coarse_now() : 0, __ATOMIC_RELAXED);
}

/* Plain threads asleep in the runtime (thread_park, ts_run's wait): the
 * deadlock check counts them as threads that cannot wake anybody. */
static int32_t threads_parked; /* atomic */

void ts__thread_sleeping(int delta)
{
    __atomic_add_fetch(&threads_parked, delta, __ATOMIC_SEQ_CST);
}

/* The count goes up before the unlock lets a waker in, and the waker takes
 * it down when it sets the futex word: a thread woken but not yet running
 * no longer counts as unable to wake anybody. */
static void thread_park(struct ts_task *t, void (*unlockf)(void *), void *arg)
{
    __atomic_store_n(&t->state, TS_TASK_WAITING, __ATOMIC_RELAXED);
    ts__thread_sleeping(1);
    if (unlockf)
        unlockf(arg);
    while (__atomic_load_n(&t->wake_futex, __ATOMIC_ACQUIRE) == 0)
        ts__futex_wait_thread(&t->wake_futex, 0);
    __atomic_store_n(&t->wake_futex, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->state, TS_TASK_RUNNING, __ATOMIC_RELAXED);
}

/* profiled_wait: the waits Go's block profile records: channels, select
 * and sync primitives; not sleeps, nil channels or select {}, which
 * either wait by design or never end. */
static bool profiled_wait(int reason)
{
    switch (reason) {
    case TS_WAIT_CHAN_RECV:
    case TS_WAIT_CHAN_SEND:
    case TS_WAIT_SELECT:
    case TS_WAIT_MUTEX:
    case TS_WAIT_RWMUTEX_RLOCK:
    case TS_WAIT_RWMUTEX_LOCK:
    case TS_WAIT_WAITGROUP:
    case TS_WAIT_COND:
    case TS_WAIT_SEMACQUIRE:
        return true;
    default:
        return false;
    }
}

/* block_event: a park that began at t0 goes to the block profile when
 * Go's sampling keeps it (ts__block_keep). Inline: the unsampled case
 * costs a tick read and two multiplies (bench/README.md). */
__attribute__((always_inline)) static inline void
block_event(int reason, const void *object, uint64_t t0, uint64_t rate)
{
    uint64_t now = ts__ticks(), d = now - t0;
    if (ts__block_keep(now, d, rate))
        ts__record_block(reason, object, d, rate, 1); /* 1: ts__park */
}

void ts__park(int reason, const void *object, void (*unlockf)(void *),
              void *unlockarg)
{
    struct ts_m *m = ts__getm();
    struct ts_task *t = m ? m->curr : NULL;
    uint64_t rate = __atomic_load_n(&ts__block_rate_ticks, __ATOMIC_RELAXED);
    uint64_t t0 = rate && profiled_wait(reason) ? ts__ticks() : 0;
    if (!t) {
        t = thread_task();
        set_wait(t, reason, object);
        thread_park(t, unlockf, unlockarg);
        set_wait(t, TS_WAIT_NONE, NULL);
        if (t0)
            block_event(reason, object, t0, rate);
        return;
    }
    set_wait(t, reason, object);
    __atomic_store_n(&t->state, TS_TASK_WAITING, __ATOMIC_RELAXED);
    m->after = TS__AFTER_PARK;
    m->unlockf = unlockf;
    m->unlockarg = unlockarg;
    switch_to_g0(m, t);
    /* Resumed, possibly on another M: do not use m here. */
    set_wait(t, TS_WAIT_NONE, NULL);
    if (t0)
        block_event(reason, object, t0, rate);
}

void ts__ready(struct ts_task *t)
{
    if (t->kind == TS__KIND_THREAD) {
        if (__atomic_exchange_n(&t->wake_futex, 1, __ATOMIC_ACQ_REL) == 0)
            ts__thread_sleeping(-1);
        ts__futex_wake(&t->wake_futex, 1);
        return;
    }
    __atomic_store_n(&t->state, TS_TASK_RUNNABLE, __ATOMIC_RELAXED);
    struct ts_m *m = ts__getm();
    if (m) {
        runq_put(m->p, t, true);
        return;
    }
    globrunq_put(t);
    wakep();
}

void ts_yield(void)
{
    struct ts_m *m = ts__getm();
    struct ts_task *t = m ? m->curr : NULL;
    if (!t) {
        sched_yield();
        return;
    }
    m->after = TS__AFTER_YIELD;
    switch_to_g0(m, t);
}

/* ts__task_exit: called on the task's own stack when its function returns;
 * g0 frees the stack after the switch. */
void ts__task_exit(struct ts_task *t)
{
    struct ts_m *m = ts__getm();
    __atomic_store_n(&t->state, TS_TASK_DEAD, __ATOMIC_RELAXED);
    m->after = TS__AFTER_EXIT;
    switch_to_g0(m, t);
    __builtin_unreachable();
}

/* ------------------------------------------------------------------------
 * Quiescence, for the deadlock check. */

static bool timers_pending(void)
{
    for (int i = 0; i < sched.nprocs; i++)
        if (__atomic_load_n(&sched.ps[i].timers.next_when, __ATOMIC_ACQUIRE) !=
            INT64_MAX)
            return true;
    return false;
}

bool ts__sched_idle(void)
{
    if (__atomic_load_n(&sched.nidle, __ATOMIC_SEQ_CST) < sched.nprocs ||
        __atomic_load_n(&sched.gq_len, __ATOMIC_ACQUIRE) != 0)
        return false;
    for (int i = 0; i < sched.nprocs; i++)
        if (p_has_work(&sched.ps[i]))
            return false;
    return true;
}

bool ts__sched_quiet(struct ts__quiet *q)
{
    if (__atomic_load_n(&sched.nidle, __ATOMIC_SEQ_CST) < sched.nprocs ||
        __atomic_load_n(&sched.gq_len, __ATOMIC_ACQUIRE) != 0 ||
        timers_pending() || ts__netpoll_waiting() > 0)
        return false;
    q->progress = 0;
    for (int i = 0; i < sched.nprocs; i++) {
        if (p_has_work(&sched.ps[i]))
            return false;
        q->progress += __atomic_load_n(&sched.ps[i].schedtick, __ATOMIC_RELAXED);
    }
    q->parked = __atomic_load_n(&threads_parked, __ATOMIC_SEQ_CST);
    return ts_num_tasks() > 0;
}

/* ------------------------------------------------------------------------
 * sysmon: keeps queued work from waiting behind a task that never blocks. */

/* sysmon_sleep: 10 ms while any M works; doubling up to 500 ms while every
 * M is idle (there is then nothing to watch), so an idle process wakes
 * twice a second, not a hundred times. */
static int64_t sysmon_sleep(int64_t prev)
{
    if (__atomic_load_n(&sched.nidle, __ATOMIC_RELAXED) < sched.nprocs)
        return SYSMON_TICK_NS;
    int64_t next = prev * 2;
    return next > 50 * SYSMON_TICK_NS ? 50 * SYSMON_TICK_NS : next;
}

static void *sysmon_main(void *arg)
{
    (void)arg;
    uint32_t *last = calloc((size_t)sched.nprocs, sizeof *last);
    if (!last)
        return NULL;
    int64_t sleep_ns = SYSMON_TICK_NS, since_trim = 0;
    for (;;) {
        struct timespec ts = {sleep_ns / 1000000000, sleep_ns % 1000000000};
        nanosleep(&ts, NULL);
        if ((since_trim += sleep_ns) >= 100 * SYSMON_TICK_NS) {
            since_trim = 0;
            ts__stack_trim();
        }
        for (int i = 0; i < sched.nprocs; i++) {
            struct ts_p *p = &sched.ps[i];
            uint32_t tick = __atomic_load_n(&p->schedtick, __ATOMIC_RELAXED);
            if (tick == last[i] && p_has_work(p))
                wakep();
            last[i] = tick;
        }
        struct ts__quiet q;
        if (ts__sched_quiet(&q))
            ts__deadlock_check(&q);
        sleep_ns = sysmon_sleep(sleep_ns);
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Start-up. */

long ts__env_long(const char *name, long def, long min, long max,
                  bool size_suffix)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (size_suffix && end != s) {
        if (*end == 'k' || *end == 'K')
            v *= 1024, end++;
        else if (*end == 'm' || *end == 'M')
            v *= 1024 * 1024, end++;
    }
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "taskscope: ignoring %s=%s: want a whole number in "
                        "[%ld, %ld]%s; using %ld\n",
                name, s, min, max, size_suffix ? " (k/m suffix allowed)" : "",
                def);
        return def;
    }
    return v;
}

static void thread_task_free(void *p) { free(p); }


static void start(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    if (ncpu > TS__MAX_PROCS)
        ncpu = TS__MAX_PROCS;
    sched.nprocs = (int)ts__env_long("TASKSCOPE_PROCS", ncpu, 1, TS__MAX_PROCS, false);
    ts__stack_config((size_t)ts__env_long("TASKSCOPE_STACK", 256 * 1024, 16 * 1024,
                                      1L << 30, true),
                     sizeof(struct ts_task));
    ts__tasks_init();
    pthread_key_create(&thread_task_key, thread_task_free);
    sched.ps = calloc((size_t)sched.nprocs, sizeof *sched.ps);
    sched.ms = calloc((size_t)sched.nprocs, sizeof *sched.ms);
    if (!sched.ps || !sched.ms)
        ts__fatal("taskscope: out of memory starting the scheduler");
    for (int i = 0; i < sched.nprocs; i++) {
        struct ts_p *p = &sched.ps[i];
        struct ts_m *m = &sched.ms[i];
        p->id = i;
        p->m = m;
        ts__timers_heap_init(&p->timers);
        m->id = i;
        m->p = p;
        m->rand = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        m->sleep_until = INT64_MIN;
    }
    __atomic_store_n(&sched.started_nprocs, sched.nprocs, __ATOMIC_RELEASE);
    ts__sigpanic_init();
    ts__profiler_start();
    /* Workers and sysmon start with every signal blocked: the program's own
     * threads keep receiving its asynchronous signals. Synchronous faults
     * (SIGSEGV from a stack overflow) are still delivered to the thread,
     * and so is SIGPROF: the CPU profiler's per-thread timers target each
     * worker (profiler/cpu.c), as Go's Ms take SIGPROF. */
    sigset_t all, old;
    sigfillset(&all);
    static const int taken[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT,
                                SIGPROF};
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++)
        sigdelset(&all, taken[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < sched.nprocs; i++) {
        struct ts_m *m = &sched.ms[i];
        if (pthread_create(&m->thread, &attr, m_main, m) != 0)
            ts__fatal("taskscope: cannot start worker thread %d", i);
        ts__record_thread_create();
    }
    pthread_t sysmon;
    if (pthread_create(&sysmon, &attr, sysmon_main, NULL) != 0)
        ts__fatal("taskscope: cannot start the sysmon thread");
    ts__record_thread_create();
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ts__sched_start(void)
{
    pthread_once(&sched.once, start);
}

/* Internal access for introspect.c and task.c. */
struct ts_p *ts__p(int i) { return &sched.ps[i]; }
