/* taskscope probe — the program's threads: pthread_create and join
 * interposed, and the registry the blocked-thread dump is read from.
 *
 * Every thread of the program has a slot: its kernel tid, who created it
 * and where, and, while it waits in an interposed call, the wait reason,
 * the object, since when, and the stack it blocked at (captured by the
 * waiting thread itself, so the dump needs no ptrace). The profiler's
 * snapshot (profiler/tasks.c) shows each slot as a task whose id is the
 * tid: goroutine profile, debug=1/2 dumps and JSON all work unchanged.
 *
 * Invariants:
 *   - a slot is written only by its thread; readers see a consistent copy
 *     through the slot's sequence counter (odd while being written: the
 *     reader retries, then gives up and shows the thread as running);
 *   - slots live in one mmap'd array, claimed with a CAS and released by
 *     the thread's key destructor (pthread_exit and return alike); when
 *     all are taken a thread runs unregistered and is counted;
 *   - the interposed pthread_create never changes what the program sees:
 *     the trampoline calls the program's function with its argument and
 *     returns its result; a thread the probe or profiler itself starts
 *     runs with the guard raised for life. */
#include "probe/probe.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "profiler/record.h"
#include "profiler/stackid.h"
#include "profiler/tasks.h"
#include "profiler/threadcreate.h"
#include "runtime/introspect.h"
#include "runtime/sched.h"

#define MAX_SLOTS 4096
#define SLOT_PCS 48

struct slot {
    uint32_t seq;   /* atomic; odd while the owner writes */
    int used;       /* atomic; 0 free, 1 taken */
    pid_t tid;
    pid_t parent;
    uintptr_t create_pc;
    uintptr_t entry;
    int reason;     /* 0 while running */
    const void *object;
    int64_t since;
    uint32_t npcs;
    uint64_t pcs[SLOT_PCS];
};

static struct slot *slots;
static uint64_t unregistered; /* atomic: threads that found no slot */
static pthread_key_t slot_key;
static __thread struct slot *self __attribute__((tls_model("initial-exec")));
static __thread int self_tried __attribute__((tls_model("initial-exec")));

/* Word-by-word copies: the slot is read while its owner may write it. */
static void copy_words(uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void write_begin(struct slot *s)
{
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(struct slot *s)
{
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

/* ---- claiming ------------------------------------------------------------ */

static void release_slot(void *p)
{
    struct slot *s = p;
    write_begin(s);
    s->reason = 0;
    s->tid = 0;
    write_end(s);
    self = NULL;
    __atomic_store_n(&s->used, 0, __ATOMIC_RELEASE);
}

static struct slot *claim(pid_t parent, uintptr_t create_pc, uintptr_t entry)
{
    self_tried = 1;
    for (size_t i = 0; slots && i < MAX_SLOTS; i++) {
        int expect = 0;
        if (__atomic_load_n(&slots[i].used, __ATOMIC_RELAXED) ||
            !__atomic_compare_exchange_n(&slots[i].used, &expect, 1, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            continue;
        struct slot *s = &slots[i];
        write_begin(s);
        s->tid = gettid();
        s->parent = parent;
        s->create_pc = create_pc;
        s->entry = entry;
        s->reason = 0;
        s->npcs = 0;
        write_end(s);
        self = s;
        pthread_setspecific(slot_key, s);
        return s;
    }
    __atomic_add_fetch(&unregistered, 1, __ATOMIC_RELAXED);
    return NULL;
}

static struct slot *self_slot(void)
{
    if (!self && !self_tried)
        claim(0, 0, 0);
    return self;
}

void ts__probe_thread_start(void)
{
    self_slot();
}

/* ---- waits --------------------------------------------------------------- */

__attribute__((noinline)) void ts__probe_thread_wait(int reason, const void *object,
                                                     size_t skip)
{
    struct slot *s = self_slot();
    if (!s)
        return;
    uint64_t pcs[SLOT_PCS];
    size_t n = ts__capture_current(pcs, SLOT_PCS, 1 + skip);
    write_begin(s);
    for (size_t i = 0; i < n; i++)
        __atomic_store_n(&s->pcs[i], pcs[i], __ATOMIC_RELAXED);
    s->npcs = (uint32_t)n;
    s->reason = reason;
    s->object = object;
    s->since = ts__coarse_now();
    write_end(s);
    __asm__ __volatile__("" ::: "memory"); /* keep this frame: skip counts it */
}

void ts__probe_thread_done(void)
{
    struct slot *s = self;
    if (!s)
        return;
    write_begin(s);
    s->reason = 0;
    write_end(s);
}

/* ---- the snapshot's view ------------------------------------------------- */

/* read_slot: a consistent copy of s into info; false if it kept changing
 * or is free. */
static bool read_slot(const struct slot *s, struct ts_task_info *info)
{
    for (int tries = 0; tries < 64; tries++) {
        uint32_t q = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (q & 1)
            continue;
        pid_t tid = __atomic_load_n(&s->tid, __ATOMIC_RELAXED);
        int reason = __atomic_load_n(&s->reason, __ATOMIC_RELAXED);
        uint32_t n = __atomic_load_n(&s->npcs, __ATOMIC_RELAXED);
        *info = (struct ts_task_info){
            .id = (uint64_t)tid,
            .parent_id = (uint64_t)__atomic_load_n(&s->parent, __ATOMIC_RELAXED),
            .state = reason ? TS_TASK_WAITING : TS_TASK_RUNNING,
            .wait_reason = reason,
            .wait_text = ts__wait_text(reason),
            .wait_object = reason ? __atomic_load_n(&s->object, __ATOMIC_RELAXED) : NULL,
            .wait_since = reason ? __atomic_load_n(&s->since, __ATOMIC_RELAXED) : 0,
            .create_pc = __atomic_load_n(&s->create_pc, __ATOMIC_RELAXED),
            .entry = __atomic_load_n(&s->entry, __ATOMIC_RELAXED),
            .nchans = -1,
            .stack_valid = reason != 0,
            .npcs = reason && n <= SLOT_PCS ? n : 0,
        };
        copy_words(info->pcs, s->pcs, info->npcs);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == q)
            return tid != 0;
    }
    return false;
}

static int visit_threads(int (*fn)(const struct ts_task_info *, void *), void *arg)
{
    struct ts_task_info info;
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        if (!__atomic_load_n(&slots[i].used, __ATOMIC_ACQUIRE) ||
            !read_slot(&slots[i], &info))
            continue;
        if (&slots[i] == self && !info.stack_valid) {
            /* the thread taking the snapshot (at exit: main): its own stack */
            info.npcs = ts__capture_current(info.pcs, TS_INTROSPECT_MAX_PCS, 0);
            info.stack_valid = true;
        }
        int r = fn(&info, arg);
        if (r)
            return r;
    }
    return 0;
}

struct copy {
    struct ts_task_info *v;
    size_t n, max;
};

static int copy_out(const struct ts_task_info *info, void *arg)
{
    struct copy *out = arg;
    if (out->n == out->max)
        return 1;
    out->v[out->n++] = *info;
    return 0;
}

size_t ts__probe_threads_read(struct ts_task_info *v, size_t max)
{
    struct copy out = {v, 0, max};
    if (slots)
        visit_threads(copy_out, &out);
    return out.n;
}

void ts__probe_threads_init(void)
{
    void *p = mmap(NULL, MAX_SLOTS * sizeof(struct slot), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED || pthread_key_create(&slot_key, release_slot) != 0) {
        fputs("taskscope probe: no memory for the thread registry; "
              "dumps will not show threads\n", stderr);
        return;
    }
    slots = p;
    ts__tasks_extra = visit_threads;
}

/* ---- pthread_create / join ---------------------------------------------- */

struct start {
    void *(*fn)(void *);
    void *arg;
    pid_t parent;
    uintptr_t create_pc;
    bool internal;
};

static void *trampoline(void *p)
{
    struct start s = *(struct start *)p;
    ts__real.free(p);
    if (s.internal)
        ts__probe_internal_thread();
    else if (__atomic_load_n(&ts__probe_on, __ATOMIC_RELAXED))
        claim(s.parent, s.create_pc, (uintptr_t)s.fn);
    return s.fn(s.arg);
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr,
                   void *(*fn)(void *), void *arg)
{
    if (!ts__real.create)
        ts__probe_resolve();
    bool entered = ts__probe_enter();
    bool internal = !entered && ts__probe_depth != 0;
    if (!entered && !internal)
        return ts__real.create(th, attr, fn, arg);
    struct start *s = ts__real.malloc(sizeof *s);
    if (!s) {
        if (entered)
            ts__probe_leave();
        return EAGAIN;
    }
    *s = (struct start){fn, arg, gettid(),
                        (uintptr_t)__builtin_return_address(0), internal};
    int r = ts__real.create(th, attr, trampoline, s);
    if (r != 0)
        ts__real.free(s);
    else if (entered)
        ts__record_user_thread_create();
    if (entered)
        ts__probe_leave();
    return r;
}

int pthread_join(pthread_t th, void **ret)
{
    TS__PROBE_ENTER_OR_FORWARD(join, (th, ret));
    uint64_t t0 = ts__probe_wait_begin(TS_WAIT_PTHREAD_JOIN, (const void *)th);
    int r = ts__real.join(th, ret);
    ts__probe_wait_end(TS_WAIT_PTHREAD_JOIN, (const void *)th, t0);
    ts__probe_leave();
    return r;
}
