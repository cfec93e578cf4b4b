/* tsbench — taskscope's side of the yardsticks in ../shared/bench/go/main.go.
 *
 *   tsbench <workload> <n>
 *
 * Each workload is the same scenario as the Go function of the same name and
 * prints the same line, "<name> <ns/op> ns/op" with one decimal (parked also
 * prints "parked_tasks N sys_bytes_per_task X" first). Everything runs inside
 * ts_run, timed with clock_gettime(CLOCK_MONOTONIC), as Go's time.Now/Since.
 * Channel elements are int64_t, Go's int on amd64. bench/run.sh runs this
 * binary and Go's side by side and writes build/bench/compare.tsv.
 *
 * Where the C code has to differ from the Go code it says why, next to it. */
#define _GNU_SOURCE
#include <taskscope/profile.h>
#include <taskscope/taskscope.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Go's report(): "<name> <ns/op> ns/op". */
static void report(const char *name, long n, int64_t elapsed_ns) {
    printf("%s %.1f ns/op\n", name, (double)elapsed_ns / (double)n);
    fflush(stdout);
}

static void die(const char *what) {
    fprintf(stderr, "tsbench: %s\n", what);
    fflush(stderr);
    _exit(1);
}

static ts_chan_t *chan_make(size_t elem_size, size_t cap) {
    ts_chan_t *c = ts_chan_make(elem_size, cap);
    if (c == NULL)
        die("ts_chan_make failed");
    return c;
}

static void go(void (*fn)(void *), void *arg) {
    if (ts_go(fn, arg) == 0)
        die("ts_go failed (out of memory?)");
}

/* Go's runtime.NumCPU(): the CPUs in the process's affinity mask. */
static int num_cpu(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Resident set size in bytes, from /proc/self/statm (second field, pages). */
static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* A stand-in for sync.WaitGroup until taskscope's sync package exists: an
 * atomic counter plus a channel that the task bringing the counter to zero
 * signals. Go's wg.Add(1) per task is mirrored by one atomic add per task;
 * the spawner holds one extra count (the "bias") until it has started every
 * task, so the counter cannot touch zero early, and then waits on the channel
 * only if tasks are still outstanding. The channel has capacity 1 so the last
 * task never blocks on it. */
typedef struct waitgroup {
    _Atomic int64_t count;
    ts_chan_t *zero; /* elem 0, cap 1: one signal when count reaches 0 */
} waitgroup_t;

static void wg_init(waitgroup_t *wg) {
    atomic_init(&wg->count, 1); /* the bias, dropped by wg_wait */
    wg->zero = chan_make(0, 1);
}

static void wg_add(waitgroup_t *wg, int64_t d) {
    atomic_fetch_add_explicit(&wg->count, d, memory_order_relaxed);
}

static void wg_done(waitgroup_t *wg) {
    if (atomic_fetch_sub_explicit(&wg->count, 1, memory_order_acq_rel) == 1)
        ts_chan_send(wg->zero, NULL);
}

static void wg_wait(waitgroup_t *wg) {
    if (atomic_fetch_sub_explicit(&wg->count, 1, memory_order_acq_rel) != 1)
        ts_chan_recv(wg->zero, NULL, NULL);
}

/* ---- pingpong: unbuffered ping-pong between two tasks --------------------- */

typedef struct {
    ts_chan_t *a, *b;
} pair_t;

static void pingpong_echo(void *arg) {
    pair_t *p = arg;
    int64_t v;
    bool ok;
    for (;;) { /* for v := range a { b <- v } */
        ts_chan_recv(p->a, &v, &ok);
        if (!ok)
            break;
        ts_chan_send(p->b, &v);
    }
    ts_chan_close(p->b);
}

static void bench_pingpong(long n) {
    pair_t p = {chan_make(sizeof(int64_t), 0), chan_make(sizeof(int64_t), 0)};
    go(pingpong_echo, &p);
    int64_t v;
    int64_t t = now_ns();
    for (int64_t i = 0; i < n; i++) {
        ts_chan_send(p.a, &i);
        ts_chan_recv(p.b, &v, NULL);
    }
    report("pingpong_unbuffered", n, now_ns() - t);
    ts_chan_close(p.a);
    /* Untimed: wait for the echo task to close b, so that nobody touches the
     * channels when they are released. */
    bool ok = true;
    while (ok)
        ts_chan_recv(p.b, &v, &ok);
    ts_chan_release(p.a);
    ts_chan_release(p.b);
}

/* ---- buffered: one producer, one consumer, capacity 128 ------------------- */

typedef struct {
    ts_chan_t *c, *done;
} buffered_t;

static void buffered_consumer(void *arg) {
    buffered_t *b = arg;
    int64_t v, s = 0;
    bool ok;
    for (;;) {
        ts_chan_recv(b->c, &v, &ok);
        if (!ok)
            break;
        s += v;
    }
    (void)s;
    ts_chan_close(b->done);
}

static void bench_buffered(long n) {
    buffered_t b = {chan_make(sizeof(int64_t), 128), chan_make(0, 0)};
    go(buffered_consumer, &b);
    int64_t t = now_ns();
    for (int64_t i = 0; i < n; i++)
        ts_chan_send(b.c, &i);
    ts_chan_close(b.c);
    ts_chan_recv(b.done, NULL, NULL);
    report("chan_buffered_128", n, now_ns() - t);
    ts_chan_release(b.c);
    ts_chan_release(b.done);
}

/* ---- spawn: spawn n tasks and join them ----------------------------------- */

/* Go uses a sync.WaitGroup (wg.Add(1) before each go, wg.Done in the
 * goroutine, wg.Wait at the end). taskscope has no WaitGroup yet: waitgroup_t
 * above (atomic counter + a channel signalled by the last task) stands in. */
static void spawn_child(void *arg) { wg_done(arg); }

static void bench_spawn(long n) {
    waitgroup_t wg;
    wg_init(&wg);
    int64_t t = now_ns();
    for (long i = 0; i < n; i++) {
        wg_add(&wg, 1);
        go(spawn_child, &wg);
    }
    wg_wait(&wg);
    report("spawn_join", n, now_ns() - t);
    ts_chan_release(wg.zero);
}

/* ---- select: two buffered cap-1 channels, select send then select recv ---- */

static void bench_select(long n) {
    ts_chan_t *a = chan_make(sizeof(int64_t), 1), *b = chan_make(sizeof(int64_t), 1);
    int64_t v;
    int64_t t = now_ns();
    for (int64_t i = 0; i < n; i++) {
        ts_select_case_t send[2] = {TS_SEND_CASE(a, &i), TS_SEND_CASE(b, &i)};
        if (ts_select(send, 2, 0) < 0)
            die("select send failed");
        ts_select_case_t recv[2] = {TS_RECV_CASE(a, &v), TS_RECV_CASE(b, &v)};
        if (ts_select(recv, 2, 0) < 0)
            die("select recv failed");
    }
    report("select_two_buffered", n, now_ns() - t);
    ts_chan_release(a);
    ts_chan_release(b);
}

/* ---- parked: n tasks each blocked on one channel -------------------------- */

typedef struct {
    waitgroup_t started;  /* Go's wg: every task has run up to <-block */
    waitgroup_t finished; /* untimed: every task has returned after close */
    ts_chan_t *block;
} parked_t;

static void parked_child(void *arg) {
    parked_t *p = arg;
    wg_done(&p->started);
    ts_chan_recv(p->block, NULL, NULL); /* <-block */
    wg_done(&p->finished);
}

/* Go reports runtime.MemStats.Sys growth (memory obtained from the OS); the
 * C side has no such counter, so it reports resident-set growth read from
 * /proc/self/statm before and after. Both count what the tasks really
 * touched: untouched stack pages cost neither side anything. */
static void bench_parked(long n) {
    parked_t p;
    wg_init(&p.started);
    wg_init(&p.finished);
    p.block = chan_make(0, 0);
    long rss0 = rss_bytes();
    int64_t t = now_ns();
    for (long i = 0; i < n; i++) {
        wg_add(&p.started, 1);
        if (ts_go(parked_child, &p) == 0) {
            fprintf(stderr, "tsbench: parked: ts_go failed after %ld tasks "
                            "(out of memory or mappings?)\n", i);
            fflush(stderr);
            _exit(1);
        }
    }
    wg_wait(&p.started);
    int64_t el = now_ns() - t;
    wg_add(&p.finished, n); /* nobody finishes before close(block) */
    long rss1 = rss_bytes();
    printf("parked_tasks %ld sys_bytes_per_task %.0f\n", n,
           (double)(rss1 - rss0) / (double)n);
    report("park_spawn", n, el);
    /* Go stops at close(block) and exits; here the tasks are let finish
     * (untimed), which also checks that a close wakes a million waiters. */
    int64_t t_close = now_ns();
    ts_chan_close(p.block);
    wg_wait(&p.finished);
    if (getenv("TSBENCH_VERBOSE"))
        fprintf(stderr, "tsbench: parked: close + %ld tasks returning: %.3f s\n", n,
                (double)(now_ns() - t_close) / 1e9);
    ts_chan_release(p.block);
    ts_chan_release(p.started.zero);
    ts_chan_release(p.finished.zero);
}

/* ---- dump: the goroutine dump (debug=2) and profile (pprof) of n parked
 * tasks, written to /dev/null; taskscope only (Go has no equivalent knob
 * to time; the bound is 200 ms for 100,000 tasks). */
static void time_write(const char *label, int fd, int debug, long n) {
    int64_t t = now_ns();
    if (ts_profile_write("goroutine", fd, debug) != 0)
        die("ts_profile_write");
    int64_t el = now_ns() - t;
    printf("%s %ld tasks %.1f ms\n", label, n, (double)el / 1e6);
}

static void bench_dump(long n) {
    parked_t p;
    wg_init(&p.started);
    wg_init(&p.finished);
    p.block = chan_make(0, 0);
    for (long i = 0; i < n; i++) {
        wg_add(&p.started, 1);
        go(parked_child, &p);
    }
    wg_wait(&p.started);
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        die("open /dev/null");
    time_write("goroutine_dump_debug2_first", fd, 2, n); /* symbolizer cold */
    time_write("goroutine_dump_debug2", fd, 2, n);
    time_write("goroutine_profile_pprof", fd, 0, n);
    close(fd);
    wg_add(&p.finished, n);
    ts_chan_close(p.block);
    wg_wait(&p.finished);
}

/* ---- timers: create a 1-hour timer, non-blocking select, stop ------------- */

static void bench_timers(long n) {
    ts_chan_t *done = chan_make(0, 0);
    int64_t t = now_ns();
    for (long i = 0; i < n; i++) {
        ts_timer_t *tm = ts_timer_new(TS_HOUR);
        if (tm == NULL)
            die("ts_timer_new failed");
        /* select { case <-done: default: } — Go lowers a one-case select
         * with default to a non-blocking receive; this is the general
         * select path, as written. */
        ts_select_case_t c[1] = {TS_RECV_CASE(done, NULL)};
        (void)ts_select(c, 1, TS_SELECT_NONBLOCK);
        ts_timer_stop(tm);
        /* Go leaves the stopped timer to the GC; C frees it, in the loop. */
        ts_timer_free(tm);
    }
    report("timer_create_stop", n, now_ns() - t);
    ts_chan_release(done);
}

/* ---- pipeline: generator + 3 stages, each select also watching "ctx" ------ */

/* Go's ctx.Done() is a channel that is closed on cancel; here a plain
 * channel `done` that main closes at the end (Go's deferred cancel()) stands
 * in for the context. */
typedef struct {
    ts_chan_t *in, *out, *done;
    long n;  /* generator: how many values */
    int op;  /* stage: 0 v*2, 1 v+1, 2 v*2 */
} stage_t;

/* returns false if the "ctx" was cancelled instead of sending */
static bool send_or_done(ts_chan_t *out, ts_chan_t *done, int64_t *v) {
    ts_select_case_t c[2] = {TS_RECV_CASE(done, NULL), TS_SEND_CASE(out, v)};
    return ts_select(c, 2, 0) == 1;
}

static void pipeline_gen(void *arg) {
    stage_t *s = arg;
    for (int64_t i = 0; i < s->n; i++)
        if (!send_or_done(s->out, s->done, &i))
            break;
    ts_chan_close(s->out); /* defer close(out) */
}

static void pipeline_stage(void *arg) {
    stage_t *s = arg;
    int64_t v;
    bool ok;
    for (;;) { /* for v := range in */
        ts_chan_recv(s->in, &v, &ok);
        if (!ok)
            break;
        switch (s->op) {
        case 0: v = v * 2; break;
        case 1: v = v + 1; break;
        default: v = v * 2; break;
        }
        if (!send_or_done(s->out, s->done, &v))
            break;
    }
    ts_chan_close(s->out);
}

static void bench_pipeline(long n) {
    ts_chan_t *done = chan_make(0, 0); /* ctx, cancel := WithCancel(...) */
    stage_t st[4];
    memset(st, 0, sizeof st);
    int64_t t = now_ns();
    /* As in Go, the channels are made and the tasks started inside the timed
     * region: gen() first, then the three stages in order. */
    st[0].out = chan_make(sizeof(int64_t), 0);
    st[0].done = done;
    st[0].n = n;
    go(pipeline_gen, &st[0]);
    for (int k = 1; k <= 3; k++) {
        st[k].in = st[k - 1].out;
        st[k].out = chan_make(sizeof(int64_t), 0);
        st[k].done = done;
        st[k].op = k - 1;
        go(pipeline_stage, &st[k]);
    }
    int64_t v, s = 0;
    bool ok;
    for (;;) {
        ts_chan_recv(st[3].out, &v, &ok);
        if (!ok)
            break;
        s += v;
    }
    report("pipeline_4stage", n, now_ns() - t);
    (void)s;
    ts_chan_close(done); /* defer cancel() */
    /* The tasks may still be returning after their close(out): the channels
     * are not released (the process exits right after). */
}

/* ---- fanout: NumCPU workers, unbuffered in/out ---------------------------- */

typedef struct {
    ts_chan_t *in, *out;
    long n;
    _Atomic int workers; /* Go: wg + `go func(){ wg.Wait(); close(out) }()` */
} fanout_t;

static void fanout_worker(void *arg) {
    fanout_t *f = arg;
    int64_t v;
    bool ok;
    for (;;) {
        ts_chan_recv(f->in, &v, &ok);
        if (!ok)
            break;
        v = v * v;
        ts_chan_send(f->out, &v);
    }
    /* No WaitGroup yet: the last worker to finish closes out, which is what
     * Go's closer goroutine does once wg.Wait returns. */
    if (atomic_fetch_sub_explicit(&f->workers, 1, memory_order_acq_rel) == 1)
        ts_chan_close(f->out);
}

static void fanout_producer(void *arg) {
    fanout_t *f = arg;
    for (int64_t i = 0; i < f->n; i++)
        ts_chan_send(f->in, &i);
    ts_chan_close(f->in);
}

static void bench_fanout(long n) {
    fanout_t f;
    f.in = chan_make(sizeof(int64_t), 0);
    f.out = chan_make(sizeof(int64_t), 0);
    f.n = n;
    int workers = num_cpu();
    atomic_init(&f.workers, workers);
    for (int w = 0; w < workers; w++)
        go(fanout_worker, &f);
    int64_t t = now_ns();
    go(fanout_producer, &f);
    int64_t v, s = 0;
    bool ok;
    for (;;) {
        ts_chan_recv(f.out, &v, &ok);
        if (!ok)
            break;
        s += v;
    }
    report("fanout_fanin", n, now_ns() - t);
    (void)s;
    /* workers may still be returning: channels not released (process exits) */
}

/* ---- main ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    void (*fn)(long n);
} workload_t;

/* Go's mutexContended: 4 tasks, n/4 lock/count++/unlock each, one
 * ts_mutex_t (Go's sync.Mutex algorithm, runtime/mutex.c). */
typedef struct mutex_job {
    ts_mutex_t mu;
    long count, per_worker;
    waitgroup_t wg;
} mutex_job_t;

static void mutex_worker(void *arg) {
    mutex_job_t *j = arg;
    for (long i = 0; i < j->per_worker; i++) {
        ts_mutex_lock(&j->mu);
        j->count++;
        ts_mutex_unlock(&j->mu);
    }
    wg_done(&j->wg);
}

static void bench_mutex(long n) {
    enum { WORKERS = 4 };
    static mutex_job_t j;
    j = (mutex_job_t){.mu = TS_MUTEX_INIT, .per_worker = n / WORKERS};
    wg_init(&j.wg);
    int64_t t = now_ns();
    wg_add(&j.wg, WORKERS);
    for (int w = 0; w < WORKERS; w++)
        go(mutex_worker, &j);
    wg_wait(&j.wg);
    report("mutex_contended_4", n, now_ns() - t);
    if (j.count != j.per_worker * WORKERS)
        die("mutex: lost increments");
}

static const workload_t workloads[] = {
    {"pingpong", bench_pingpong}, {"buffered", bench_buffered},
    {"spawn", bench_spawn},       {"select", bench_select},
    {"parked", bench_parked},     {"timers", bench_timers},
    {"pipeline", bench_pipeline}, {"fanout", bench_fanout},
    {"dump", bench_dump},         {"mutex", bench_mutex},
};

typedef struct {
    const workload_t *w;
    long n;
} job_t;

static int bench_main(void *arg) {
    job_t *j = arg;
    j->w->fn(j->n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tsbench <workload> <n>\n");
        return 2;
    }
    const char *name = argv[1];
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || n <= 0) {
        fprintf(stderr, "tsbench: n must be a positive integer\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
        if (strcmp(name, workloads[i].name) == 0) {
            job_t j = {&workloads[i], n};
            int rc = ts_run(bench_main, &j);
            fflush(stdout);
            return rc;
        }
    }
    fprintf(stderr, "unknown workload\n");
    return 2;
}
