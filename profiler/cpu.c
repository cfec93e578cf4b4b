/* taskscope — the CPU profiler (see cpu.h).
 *
 * Model (Go's on Linux since 1.18): while a profile is taken, each thread
 * gets SIGPROF once per 10 ms of its own CPU time (100 Hz). One POSIX
 * timer per thread, on that thread's CPU clock (the clockid of its tid),
 * delivered to that thread (SIGEV_THREAD_ID): every thread is sampled in
 * proportion to the CPU it burns, which setitimer(ITIMER_PROF) does not
 * promise (its process-wide signal goes to whichever thread the kernel
 * picks). The threads are those of /proc/self/task, read at the start and
 * again every TICK_NS: a thread created during the profile is sampled from
 * the next tick on (one that lives less than a tick may be missed; a new
 * thread that reuses the tid of one that exited is missed); at most
 * MAX_THREADS threads. Threads that block SIGPROF (the profiler's helper
 * threads, ts__start_helper_thread) are not sampled.
 *
 * The handler (async-signal-safe: no allocation, no lock, no stdio; errno
 * preserved) takes the interrupted PC and walks the frame pointers of the
 * interrupted context, within the bounds of the stack it ran on: the
 * running task's stack, the M's own (g0) stack, or, on a thread that is
 * not an M, the read-write mapping holding its stack pointer in a snapshot
 * of /proc/self/maps (taken at the start and again when new threads
 * appear; none found: the PC alone). The walk misses one caller when the
 * sample lands in a function without a frame record: a frameless leaf
 * (-momit-leaf-frame-pointer, glibc, the vDSO, TSan's runtime) or a
 * prologue/epilogue. x86-64 and aarch64 only.
 *
 * Samples go to a bounded multi-producer ring (Vyukov's: a sequence number
 * per slot, producers claim the head by CAS). The profiling thread drains
 * it every TICK_NS into the profile builder, which merges equal
 * stack+labels. A full ring drops the sample and counts it; lost samples
 * appear, as Go's, under a frame of their own (ts__cpu_lost_samples) and in
 * a comment. A timer overrun (expirations while its signal was still
 * pending) adds to the count of the sample that was delivered.
 *
 * Labels: a sample carries the labels of the task it interrupted, as Go's
 * CPU samples carry pprof labels. The handler takes a reference on the set
 * (a relaxed atomic increment): only the task itself swaps its set, and it
 * is interrupted, so the set it points to is alive; the drain releases it.
 *
 * Two ways in, one run at a time: ts__cpu_profile_run (the caller's thread
 * ticks, for the HTTP endpoint) and ts_cpu_profile_start/stop (a helper
 * thread ticks; TASKSCOPE_CPUPROFILE uses them from start to exit).
 *
 * Invariants:
 *   - one profile at a time: `running` is taken by exchange (EBUSY else);
 *   - the handler touches the ring only between its `inflight` increment
 *     and decrement and only while `collecting`; the stopper clears
 *     `collecting`, then waits for inflight == 0 (both seq_cst: a handler
 *     that missed the clear is counted, one that starts later sees it), so
 *     the ring can be unmapped afterwards;
 *   - SIGPROF is ours during the profile (Go takes it over too; a handler
 *     of the program is not called meanwhile); afterwards SIGPROF is set to
 *     SIG_IGN, which discards signals of deleted timers still pending, then
 *     the program's own disposition is restored;
 *   - SA_RESTART: the program's interrupted system calls restart where the
 *     kernel allows (sleeps, poll and epoll_wait still return EINTR, as with
 *     any signal-based profiler). */
#include "profiler/cpu.h"

#include <taskscope/profile.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "profiler/pprof.h"
#include "profiler/profile.h"
#include "profiler/stackid.h"
#include "profiler/threadcreate.h"
#include "profiler/write.h"
#include "runtime/labels.h"
#include "runtime/race.h"
#include "runtime/sched.h"

#define HZ 100
#define PERIOD_NS (1000000000 / HZ)
#define MAX_THREADS 1024
#define RING_SLOTS 4096 /* power of two */
#define MAX_REGIONS 4096
#define TICK_NS (50 * 1000000) /* drain, look for new threads */
#define MAX_LABELS 64

struct slot {
    uint64_t seq; /* atomic: == pos free for pos, pos + 1 filled */
    const struct ts__labels *labels; /* referenced, or NULL */
    uint32_t n;
    uint32_t weight; /* 1 + the timer's overruns */
    uint64_t pcs[TS__STACK_MAX_DEPTH];
};

struct region {
    uintptr_t lo, hi;
};

/* A snapshot of the read-write mappings, sorted and disjoint. */
struct regions {
    size_t n;
    struct region v[MAX_REGIONS];
};

/* The state the handler reads: the ring is set before `collecting` and
 * fixed until the stopper has seen inflight == 0; `regions` points to one
 * of the two snapshots, and the other one is rewritten only once no
 * handler can still be reading it (publish_regions). */
static struct {
    struct slot *ring;
    uint64_t head;     /* atomic: next position to claim */
    uint64_t tail;     /* drainer only: next position to read */
    uint64_t lost;     /* atomic: samples dropped, ring full */
    struct regions snap[2];
    struct regions *regions; /* atomic */
    int collecting;    /* atomic */
    int inflight;      /* atomic: handlers inside */
    int running;       /* atomic: a profile is being taken */
} cpu;

/* ---- the handler --------------------------------------------------- */

struct ctx {
    uintptr_t pc, fp, sp;
};

static struct ctx ctx_of(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (struct ctx){.pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP],
                        .fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP],
                        .sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP]};
#elif defined(__aarch64__)
    return (struct ctx){.pc = (uintptr_t)uc->uc_mcontext.pc,
                        .fp = (uintptr_t)uc->uc_mcontext.regs[29],
                        .sp = (uintptr_t)uc->uc_mcontext.sp};
#else
#error "taskscope's CPU profiler supports x86-64 and aarch64"
#endif
}

static bool within(uintptr_t sp, const void *lo, const void *hi)
{
    return sp >= (uintptr_t)lo && sp < (uintptr_t)hi;
}

/* region_of: the snapshot's read-write mapping holding sp, or NULL. */
static const struct region *region_of(uintptr_t sp)
{
    const struct regions *rs = __atomic_load_n(&cpu.regions, __ATOMIC_SEQ_CST);
    size_t a = 0, b = rs->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (sp < rs->v[m].lo)
            b = m;
        else if (sp >= rs->v[m].hi)
            a = m + 1;
        else
            return &rs->v[m];
    }
    return NULL;
}

/* stack_bounds: [*lo, *hi) of the stack sp is on; false if unknown. On an
 * M, only the task's and g0's stacks are trusted (a stale task stack may
 * be unmapped since the snapshot). */
static bool stack_bounds(uintptr_t sp, struct ts_task *t, uintptr_t *lo,
                         uintptr_t *hi)
{
    struct ts_m *m = ts__getm();
    if (t && within(sp, t->stack.lo, t->stack.hi)) {
        *lo = sp;
        *hi = (uintptr_t)t->stack.hi;
        return true;
    }
    if (m) {
        const char *g0 = m->g0_lo;
        if (!g0 || !within(sp, g0, g0 + m->g0_size))
            return false;
        *lo = sp;
        *hi = (uintptr_t)(g0 + m->g0_size);
        return true;
    }
    const struct region *r = region_of(sp);
    if (!r)
        return false;
    *lo = sp;
    *hi = r->hi;
    return true;
}

/* claim: a free slot of the ring, or NULL when it is full. */
static struct slot *claim(void)
{
    uint64_t pos = __atomic_load_n(&cpu.head, __ATOMIC_RELAXED);
    for (;;) {
        struct slot *s = &cpu.ring[pos & (RING_SLOTS - 1)];
        uint64_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (seq < pos)
            return NULL;
        if (seq == pos && __atomic_compare_exchange_n(
                              &cpu.head, &pos, pos + 1, true,
                              __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return s;
        if (seq > pos)
            pos = __atomic_load_n(&cpu.head, __ATOMIC_RELAXED);
    }
}

static void record(const ucontext_t *uc, uint32_t weight)
{
    struct slot *s = claim();
    if (!s) {
        __atomic_add_fetch(&cpu.lost, 1, __ATOMIC_RELAXED);
        return;
    }
    struct ctx c = ctx_of(uc);
    struct ts_task *t = ts__current_task();
    uintptr_t lo, hi;
    s->pcs[0] = c.pc;
    s->n = 1;
    s->weight = weight;
    if (stack_bounds(c.sp, t, &lo, &hi))
        s->n += (uint32_t)ts__stack_walk(c.fp, s->pcs + 1,
                                         TS__STACK_MAX_DEPTH - 1, 0, lo, hi);
    const struct ts__labels *l =
        t ? __atomic_load_n(&t->labels, __ATOMIC_ACQUIRE) : NULL;
    if (l)
        __atomic_add_fetch(&((struct ts__labels *)l)->refs, 1,
                           __ATOMIC_RELAXED);
    s->labels = l;
    /* claim saw seq == the slot's position: publish it as filled. */
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

static void on_sigprof(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    int saved = errno;
    __atomic_add_fetch(&cpu.inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&cpu.collecting, __ATOMIC_SEQ_CST))
        record(uc, 1 + (info->si_code == SI_TIMER && info->si_overrun > 0
                            ? (uint32_t)info->si_overrun : 0));
    __atomic_sub_fetch(&cpu.inflight, 1, __ATOMIC_SEQ_CST);
    errno = saved;
}

/* ts__cpu_lost_samples: never called; its address is the frame lost
 * samples are shown under (Go: runtime/pprof.lostProfileEvent). */
__attribute__((noinline, used)) void ts__cpu_lost_samples(void)
{
    __asm__ __volatile__("");
}

/* ---- the threads' timers and the maps snapshot ----------------------- */

static struct {
    pid_t tid[MAX_THREADS];
    timer_t id[MAX_THREADS];
    size_t n;
    size_t missed; /* most threads seen at once without a timer (limit) */
} timers;

/* thread_clock: the CPU clock of thread tid (the kernel's encoding, as
 * glibc's pthread_getcpuclockid makes it: ~tid << 3 | per-thread | sched). */
static clockid_t thread_clock(pid_t tid)
{
    return (clockid_t)(((~(unsigned)tid) << 3) | 6u);
}

static int arm_thread(pid_t tid, timer_t *id)
{
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID,
                          .sigev_signo = SIGPROF};
    ev._sigev_un._tid = tid;
    if (timer_create(thread_clock(tid), &ev, id) != 0)
        return errno;
    struct itimerspec its = {.it_interval = {0, PERIOD_NS},
                             .it_value = {0, PERIOD_NS}};
    if (timer_settime(*id, 0, &its, NULL) != 0) {
        int r = errno;
        timer_delete(*id);
        return r;
    }
    return 0;
}

static bool armed(pid_t tid)
{
    for (size_t i = 0; i < timers.n; i++)
        if (timers.tid[i] == tid)
            return true;
    return false;
}

/* arm_new: a timer for every thread of /proc/self/task that has none yet
 * (a thread that exits meanwhile is only missed); *added says whether any
 * was armed. */
static int arm_new(bool *added)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return errno;
    size_t missed = 0;
    *added = false;
    for (struct dirent *e; (e = readdir(d));) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || armed(tid))
            continue;
        if (timers.n == MAX_THREADS) {
            missed++;
        } else if (!arm_thread(tid, &timers.id[timers.n])) {
            timers.tid[timers.n++] = tid;
            *added = true;
        }
    }
    closedir(d);
    if (missed > timers.missed)
        timers.missed = missed;
    return 0;
}

static void disarm_all(void)
{
    for (size_t i = 0; i < timers.n; i++)
        timer_delete(timers.id[i]);
}

/* read_regions: the read-write mappings of /proc/self/maps (thread stacks
 * among them), sorted as the kernel lists them. */
static int read_regions(struct regions *rs)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return errno;
    char line[512], perms[8];
    unsigned long lo, hi;
    rs->n = 0;
    while (rs->n < MAX_REGIONS && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
            perms[0] == 'r' && perms[1] == 'w')
            rs->v[rs->n++] = (struct region){lo, hi};
        if (!strchr(line, '\n') && fscanf(f, "%*[^\n]") == EOF)
            break; /* a long path: its rest skipped */
    }
    fclose(f);
    return 0;
}

/* publish_regions: a new snapshot in the spare buffer, made current; then
 * wait until no handler can be reading the old one (a handler counts
 * itself in inflight before it loads the pointer). */
static void publish_regions(void)
{
    struct regions *cur = __atomic_load_n(&cpu.regions, __ATOMIC_SEQ_CST);
    struct regions *spare = cur == &cpu.snap[0] ? &cpu.snap[1] : &cpu.snap[0];
    if (read_regions(spare))
        return;
    __atomic_store_n(&cpu.regions, spare, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&cpu.inflight, __ATOMIC_SEQ_CST))
        sched_yield();
}

/* ---- draining into the profile --------------------------------------- */

/* add: weight samples of stack pcs with the labels of l (NULL: none). */
static int add(struct ts__profile *p, const uint64_t *pcs, size_t n,
               uint32_t weight, const struct ts__labels *l)
{
    int64_t v[2] = {weight, (int64_t)weight * PERIOD_NS};
    struct ts__label labels[MAX_LABELS];
    size_t nl = 0;
    if (l)
        ts__race_acquire(l); /* the set's publication (labels.c) */
    for (uint32_t k = 0; l && k < l->n && nl < MAX_LABELS; k++)
        labels[nl++] = (struct ts__label){.key = l->kv[k].key,
                                          .str = l->kv[k].value};
    struct ts__sample s = {.stack = (const uintptr_t *)pcs, .depth = n,
                           .values = v, .nvalues = 2,
                           .labels = labels, .nlabels = nl,
                           .flags = TS__SAMPLE_LEAF_PC};
    return ts__profile_add_sample(p, &s);
}

/* drain: move every filled slot into p; returns the first error of the
 * builder (the slots are released regardless). */
static int drain(struct ts__profile *p)
{
    int r = 0;
    for (;;) {
        struct slot *s = &cpu.ring[cpu.tail & (RING_SLOTS - 1)];
        if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != cpu.tail + 1)
            return r;
        uint64_t pcs[TS__STACK_MAX_DEPTH];
        size_t n = s->n;
        uint32_t weight = s->weight;
        const struct ts__labels *l = s->labels;
        memcpy(pcs, s->pcs, n * sizeof pcs[0]);
        __atomic_store_n(&s->seq, cpu.tail + RING_SLOTS, __ATOMIC_RELEASE);
        cpu.tail++;
        int e = pcs[0] ? add(p, pcs, n, weight, l) : 0;
        if (!pcs[0])
            __atomic_add_fetch(&cpu.lost, 1, __ATOMIC_RELAXED);
        if (!r)
            r = e;
        ts__labels_unref(l);
    }
}

/* add_lost: the lost samples under ts__cpu_lost_samples, and a comment. */
static int add_lost(struct ts__profile *p)
{
    uint64_t lost = __atomic_load_n(&cpu.lost, __ATOMIC_RELAXED);
    char text[160];
    snprintf(text, sizeof text,
             "taskscope: %llu samples lost, %zu threads sampled, %zu over "
             "the limit", (unsigned long long)lost, timers.n, timers.missed);
    int r = ts__profile_add_comment(p, text);
    if (r || lost == 0)
        return r;
    uintptr_t pc = (uintptr_t)ts__cpu_lost_samples;
    int64_t v[2] = {(int64_t)lost, (int64_t)lost * PERIOD_NS};
    struct ts__sample s = {.stack = &pc, .depth = 1, .values = v,
                           .nvalues = 2, .flags = TS__SAMPLE_LEAF_PC};
    return ts__profile_add_sample(p, &s);
}

/* ---- one run: begin, ticks, end ----------------------------------------- */

/* The run in progress (owner: whoever holds cpu.running). */
static struct {
    struct ts__profile *p;
    struct sigaction old; /* the program's SIGPROF action */
    int64_t t0, wall;     /* start: monotonic and wall clock */
    int r;                /* first error while sampling */
} run;

static int64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t deadline)
{
    struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int new_profile(struct ts__profile **out)
{
    int r = ts__profile_new(out);
    if (!r)
        r = ts__profile_add_sample_type(*out, "samples", "count");
    if (!r)
        r = ts__profile_add_sample_type(*out, "cpu", "nanoseconds");
    if (!r)
        r = ts__profile_set_period(*out, "cpu", "nanoseconds", PERIOD_NS);
    return r;
}

/* install: the ring, the snapshot, the handler (the program's action saved
 * in run.old). On failure nothing is left changed. */
static int install(void)
{
    void *ring = mmap(NULL, RING_SLOTS * sizeof(struct slot),
                      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (ring == MAP_FAILED)
        return errno;
    cpu.ring = ring;
    for (uint64_t i = 0; i < RING_SLOTS; i++)
        cpu.ring[i].seq = i;
    cpu.head = cpu.tail = cpu.lost = 0;
    timers.n = timers.missed = 0;
    int r = read_regions(&cpu.snap[0]);
    __atomic_store_n(&cpu.regions, &cpu.snap[0], __ATOMIC_SEQ_CST);
    struct sigaction sa = {.sa_sigaction = on_sigprof,
                           .sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    if (!r && sigaction(SIGPROF, &sa, &run.old) != 0)
        r = errno;
    if (r)
        munmap(ring, RING_SLOTS * sizeof(struct slot));
    return r;
}

/* run_begin: a new profile, sampling every thread. 0 or an errno (then
 * nothing is left changed). */
static int run_begin(void)
{
    run.t0 = now_ns(CLOCK_MONOTONIC);
    run.wall = now_ns(CLOCK_REALTIME);
    run.r = new_profile(&run.p);
    if (!run.r)
        run.r = install();
    if (run.r) {
        ts__profile_free(run.p);
        run.p = NULL;
        return run.r;
    }
    __atomic_store_n(&cpu.collecting, 1, __ATOMIC_SEQ_CST);
    bool added;
    run.r = arm_new(&added); /* reported by run_end */
    return 0;
}

/* run_tick: timers for the threads created since, the maps again if
 * there are any, and the ring drained. */
static void run_tick(void)
{
    bool added = false;
    int r = arm_new(&added);
    if (added)
        publish_regions();
    int e = drain(run.p);
    if (!run.r)
        run.r = r ? r : e;
}

/* uninstall: no timer, no handler inside, the ring drained and unmapped,
 * the program's SIGPROF disposition back (pending signals discarded). */
static void uninstall(void)
{
    disarm_all();
    __atomic_store_n(&cpu.collecting, 0, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&cpu.inflight, __ATOMIC_SEQ_CST))
        sched_yield();
    int e = drain(run.p);
    if (!run.r)
        run.r = e;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPROF, &ign, NULL);
    sigaction(SIGPROF, &run.old, NULL);
    munmap(cpu.ring, RING_SLOTS * sizeof(struct slot));
    cpu.ring = NULL;
}

struct sym_arg {
    struct ts__profile *p;
    int r;
};

static void symbolize(FILE *f, struct ts__symbolizer *sym, void *arg)
{
    (void)f;
    struct sym_arg *a = arg;
    a->r = ts__profile_symbolize(a->p, sym);
}

/* run_end: stop sampling, then (if all went well and fd >= 0) the profile
 * symbolized and written to fd; the profile freed. 0 or the first error. */
static int run_end(int fd)
{
    uninstall();
    int r = fd < 0 ? EBADF : run.r;
    if (!r)
        r = ts__profile_set_time(run.p, run.wall,
                                 now_ns(CLOCK_MONOTONIC) - run.t0);
    if (!r)
        r = add_lost(run.p);
    struct sym_arg a = {.p = run.p, .r = r};
    if (!r)
        ts__write_with_symbolizer(NULL, symbolize, &a);
    r = a.r ? a.r : ts__pprof_write(run.p, fd);
    ts__profile_free(run.p);
    run.p = NULL;
    return r;
}

int ts__cpu_profile_run(int64_t ns, int fd)
{
    if (ns <= 0)
        return EINVAL;
    if (__atomic_exchange_n(&cpu.running, 1, __ATOMIC_ACQUIRE))
        return EBUSY;
    int r = run_begin();
    if (!r) {
        int64_t end = run.t0 + ns;
        for (int64_t t = run.t0; t < end; t = now_ns(CLOCK_MONOTONIC)) {
            sleep_until(end - t > TICK_NS ? t + TICK_NS : end);
            run_tick();
        }
        r = run_end(fd);
    }
    __atomic_store_n(&cpu.running, 0, __ATOMIC_RELEASE);
    return r;
}

/* ---- ts_cpu_profile_start / ts_cpu_profile_stop -------------------------- */

/* The started profile: its fd, and the ticker thread's stop handshake. */
static struct {
    int active;   /* atomic: started and not yet stopped */
    int fd;
    int stop;     /* atomic: the ticker should return */
    sem_t done;   /* posted by the ticker when it returns */
} bg;

static void *ticker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&bg.stop, __ATOMIC_ACQUIRE)) {
        sleep_until(now_ns(CLOCK_MONOTONIC) + TICK_NS);
        run_tick();
    }
    sem_post(&bg.done);
    return NULL;
}

int ts_cpu_profile_start(int fd)
{
    int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
        return EBADF;
    if (__atomic_exchange_n(&cpu.running, 1, __ATOMIC_ACQUIRE))
        return EBUSY;
    int r = run_begin();
    if (!r) {
        bg.fd = fd;
        __atomic_store_n(&bg.stop, 0, __ATOMIC_RELAXED);
        sem_init(&bg.done, 0, 0);
        r = ts__start_helper_thread(ticker, NULL);
        if (r)
            run_end(-1);
    }
    if (r)
        __atomic_store_n(&cpu.running, 0, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&bg.active, 1, __ATOMIC_RELEASE);
    return r;
}

int ts_cpu_profile_stop(void)
{
    if (!__atomic_exchange_n(&bg.active, 0, __ATOMIC_ACQ_REL))
        return 0;
    __atomic_store_n(&bg.stop, 1, __ATOMIC_RELEASE);
    while (sem_wait(&bg.done) != 0)
        ;
    sem_destroy(&bg.done);
    int r = run_end(bg.fd);
    __atomic_store_n(&cpu.running, 0, __ATOMIC_RELEASE);
    return r;
}

/* ---- TASKSCOPE_CPUPROFILE ---------------------------------------------- */

static int env_fd = -1;
static char env_path[PATH_MAX];

static void env_at_exit(void)
{
    int r = ts_cpu_profile_stop();
    if (close(env_fd) != 0 && !r)
        r = errno;
    if (r)
        fprintf(stderr, "taskscope: cannot write the CPU profile to %s: %s\n",
                env_path, strerror(r));
}

void ts__cpu_profile_env_init(void)
{
    const char *path = getenv("TASKSCOPE_CPUPROFILE");
    if (!path || !*path)
        return;
    snprintf(env_path, sizeof env_path, "%s", path);
    env_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int r = env_fd < 0 ? errno : ts_cpu_profile_start(env_fd);
    if (!r) {
        atexit(env_at_exit);
        return;
    }
    fprintf(stderr, "taskscope: TASKSCOPE_CPUPROFILE=%s: %s\n", path,
            strerror(r));
    if (env_fd >= 0)
        close(env_fd);
}
