/* test_cpu.c — profiler/cpu.c: CPU profiles (ts__cpu_profile_run,
 * ts_cpu_profile_start/stop, TASKSCOPE_CPUPROFILE).
 *
 * Workloads are out-of-line spinners of this file: a task (labelled
 * worker=spin) and a plain pthread, each keeping count of the CPU time it
 * burnt (its thread's CPU clock). Profiles are gunzipped and decoded with
 * tt_prof.h's wire reader, independently of protobuf-c, then checked: Go's
 * sample types and period, samples matching the spinners' CPU time (wide
 * margins; on a loaded machine both are small), the task's labels on its
 * samples only, and `go tool pprof -raw` accepting the file (skipped
 * without a go command). Also: EINVAL, EBUSY while a profile runs (the
 * second fd untouched), the program's SIGPROF disposition back afterwards,
 * errno of an interrupted thread kept, start/stop (EBADF, EBUSY, stop
 * without start, a thread created during the profile sampled), and the
 * environment variable in a child whose workers start after the profile.
 *
 * The walk cannot see the caller of a frameless leaf function: the
 * spinners burn CPU inline (not in a helper), and under TSan, whose
 * frameless __tsan_write8 is the usual leaf, the task and the thread are
 * recognised by their bodies (spin_*_body) and cpu_spin_task's share is
 * checked only outside TSan. */
#include "tt_prof.h"

#include <sys/stat.h>
#include <zlib.h>

#include <taskscope/profile.h>

#include "profiler/cpu.h"
#include "profiler/symbolize.h"
#include "profiler/write.h"
#include "runtime/race.h"

#define PERIOD 10000000 /* 1e9 / 100 Hz */
#define MAXN 8192
#define MAXLAB 4

/* ---- decoding --------------------------------------------------------- */

struct dsample {
    int64_t v[2];
    size_t nv;
    uint64_t loc[64];
    size_t nloc;
    int64_t lkey[MAXLAB], lstr[MAXLAB];
    size_t nlab;
};

struct dloc {
    uint64_t id;
    uint64_t fn[8]; /* function ids, innermost first */
    size_t nfn;
};

struct dprof {
    char *str[MAXN];
    size_t nstr;
    int64_t st[4][2]; /* sample types: type, unit */
    size_t nst;
    int64_t pt[2];
    int64_t period, duration;
    struct dsample *s;
    size_t ns;
    struct dloc *l;
    size_t nl;
    uint64_t fid[MAXN];
    int64_t fname[MAXN];
    size_t nf;
};

/* varints: the values of a field, packed (wire 2) or not (wire 0). */
static size_t varints(uint32_t wire, uint64_t v, struct rd *sub, uint64_t *out,
                      size_t max)
{
    if (wire == 0) {
        out[0] = v;
        return 1;
    }
    size_t n = 0;
    while (sub->p < sub->end && n < max)
        out[n++] = rd_varint(sub);
    return n;
}

static void dec_sample(struct rd r, struct dsample *s)
{
    uint32_t f, w;
    uint64_t v, tmp[64];
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1) {
            s->nloc += varints(w, v, &sub, s->loc + s->nloc, 64 - s->nloc);
        } else if (f == 2) {
            size_t n = varints(w, v, &sub, tmp, 2 - s->nv);
            for (size_t i = 0; i < n; i++)
                s->v[s->nv++] = (int64_t)tmp[i];
        } else if (f == 3 && s->nlab < MAXLAB) {
            uint32_t f2, w2;
            uint64_t v2;
            struct rd s2;
            while (rd_field(&sub, &f2, &w2, &v2, &s2)) {
                if (f2 == 1)
                    s->lkey[s->nlab] = (int64_t)v2;
                if (f2 == 2)
                    s->lstr[s->nlab] = (int64_t)v2;
            }
            s->nlab++;
        }
    }
}

static void dec_location(struct rd r, struct dloc *l)
{
    uint32_t f, w, f2, w2;
    uint64_t v, v2;
    struct rd sub, s2;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            l->id = v;
        if (f == 4 && l->nfn < 8)
            while (rd_field(&sub, &f2, &w2, &v2, &s2))
                if (f2 == 1)
                    l->fn[l->nfn++] = v2;
    }
}

static void dec_pair(struct rd r, int64_t out[2])
{
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub))
        if (f == 1 || f == 2)
            out[f - 1] = (int64_t)v;
}

static void dec_function(struct rd r, struct dprof *d)
{
    uint32_t f, w;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &w, &v, &sub)) {
        if (f == 1)
            d->fid[d->nf] = v;
        if (f == 2)
            d->fname[d->nf] = (int64_t)v;
    }
    d->nf++;
}

static void dec_field(struct dprof *d, uint32_t f, uint64_t v, struct rd sub)
{
    assert_true(d->ns < MAXN && d->nl < MAXN && d->nf < MAXN &&
                d->nstr < MAXN && d->nst < 4);
    switch (f) {
    case 1: dec_pair(sub, d->st[d->nst++]); break;
    case 2: dec_sample(sub, &d->s[d->ns++]); break;
    case 4: dec_location(sub, &d->l[d->nl++]); break;
    case 5: dec_function(sub, d); break;
    case 6: d->str[d->nstr++] = strndup((const char *)sub.p,
                                        (size_t)(sub.end - sub.p)); break;
    case 10: d->duration = (int64_t)v; break;
    case 11: dec_pair(sub, d->pt); break;
    case 12: d->period = (int64_t)v; break;
    default: break;
    }
}

static uint8_t *gunzip(const uint8_t *in, size_t n, size_t *len)
{
    assert_true(n >= 2 && in[0] == 0x1f && in[1] == 0x8b);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    size_t cap = 1 << 20;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    *len = cap - z.avail_out;
    inflateEnd(&z);
    return out;
}

static struct dprof *decode_fd(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *gz = malloc((size_t)st.st_size + 1);
    assert_int_equal(pread(fd, gz, (size_t)st.st_size, 0), st.st_size);
    size_t len;
    uint8_t *raw = gunzip(gz, (size_t)st.st_size, &len);
    free(gz);
    struct dprof *d = calloc(1, sizeof *d);
    d->s = calloc(MAXN, sizeof *d->s);
    d->l = calloc(MAXN, sizeof *d->l);
    struct rd r = {raw, raw + len}, sub;
    uint32_t f, w;
    uint64_t v;
    while (rd_field(&r, &f, &w, &v, &sub))
        dec_field(d, f, v, sub);
    free(raw);
    return d;
}

static void dprof_free(struct dprof *d)
{
    for (size_t i = 0; i < d->nstr; i++)
        free(d->str[i]);
    free(d->s);
    free(d->l);
    free(d);
}

static const char *str(const struct dprof *d, int64_t i)
{
    return i >= 0 && (size_t)i < d->nstr ? d->str[i] : "<bad index>";
}

static const char *fn_name(const struct dprof *d, uint64_t id)
{
    for (size_t i = 0; i < d->nf; i++)
        if (d->fid[i] == id)
            return str(d, d->fname[i]);
    return "<no function>";
}

/* has_fn: whether a frame of s (inlined ones included) is function name. */
static bool has_fn(const struct dprof *d, const struct dsample *s,
                   const char *name)
{
    for (size_t i = 0; i < s->nloc; i++)
        for (size_t k = 0; k < d->nl; k++)
            if (d->l[k].id == s->loc[i])
                for (size_t j = 0; j < d->l[k].nfn; j++)
                    if (strcmp(fn_name(d, d->l[k].fn[j]), name) == 0)
                        return true;
    return false;
}

static const char *label(const struct dprof *d, const struct dsample *s,
                         const char *key)
{
    for (size_t i = 0; i < s->nlab; i++)
        if (strcmp(str(d, s->lkey[i]), key) == 0)
            return str(d, s->lstr[i]);
    return NULL;
}

static int64_t total(const struct dprof *d)
{
    int64_t n = 0;
    for (size_t i = 0; i < d->ns; i++)
        n += d->s[i].v[0];
    return n;
}

/* ---- workloads ----------------------------------------------------- */

static atomic_int stop_spinning;
/* CPU time each spinner has burnt since it started (its thread's CPU
 * clock: a spinning task never leaves its worker). */
static atomic_llong task_cpu, thread_cpu;

static int64_t thread_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* BURN: inline in each spinner, so that the spinner is the sampled leaf
 * (a frameless leaf function would hide its caller from the walk); on the
 * spinner's own volatile counter (a shared one would be a data race). */
#define BURN()                                                             \
    do {                                                                   \
        volatile uint64_t sink_ = 0;                                       \
        for (int i_ = 0; i_ < 20000; i_++)                                 \
            sink_ = sink_ + 1;                                             \
    } while (0)

static TP_NOINLINE void cpu_spin_task(void)
{
    int64_t t0 = thread_cpu_now();
    while (!atomic_load(&stop_spinning)) {
        BURN();
        atomic_store(&task_cpu, thread_cpu_now() - t0);
    }
    TP_NO_TAIL_CALL();
}

static TP_NOINLINE void cpu_spin_thread(void)
{
    int64_t t0 = thread_cpu_now();
    while (!atomic_load(&stop_spinning)) {
        BURN();
        atomic_store(&thread_cpu, thread_cpu_now() - t0);
    }
    TP_NO_TAIL_CALL();
}

static void spin_task_body(void *arg)
{
    TT_CHECK_EQ(ts_set_label("worker", "spin"), 0);
    cpu_spin_task();
    tt_signal(arg);
}

static void *spin_thread_body(void *arg)
{
    (void)arg;
    cpu_spin_thread();
    return NULL;
}

static void start_spinning(void)
{
    atomic_store(&stop_spinning, 0);
    atomic_store(&task_cpu, 0);
    atomic_store(&thread_cpu, 0);
}

/* wait_cpu: until *cpu (a spinner's CPU time) reaches ns (bounded). */
static void wait_cpu(atomic_llong *cpu, int64_t ns)
{
    int64_t deadline = ts_now() + TT_SOON;
    while (atomic_load(cpu) < ns && ts_now() < deadline)
        ts_sleep(5 * TS_MILLISECOND);
    assert_true(atomic_load(cpu) >= ns);
}

/* samples_match: n samples of 10 ms account for cpu ns of CPU time, within
 * wide margins (half to one and a half, give or take 3 samples). */
static bool samples_match(int64_t n, int64_t cpu)
{
    return n * PERIOD * 2 >= cpu - 6 * PERIOD &&
           n * PERIOD * 2 <= 3 * cpu + 6 * PERIOD;
}

static int tmpfd(void)
{
    char path[] = "/tmp/test_cpu.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static int64_t profile_ns(void)
{
    return (int64_t)(1000 * TS_MILLISECOND * (tt_scale() < 1 ? 2 : 1));
}

/* ---- go tool pprof ---------------------------------------------------- */

static const char *find_go(void)
{
    static const char *const c[] = {"/usr/bin/go", "/usr/lib/go/bin/go",
                                    "/usr/local/go/bin/go"};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (access(c[i], X_OK) == 0)
            return c[i];
    return NULL;
}

/* pprof_raw: `go tool pprof -raw` of fd's profile into out (false: no go). */
static bool pprof_raw(int fd, char *out, size_t cap)
{
    const char *go = find_go();
    if (!go)
        return false;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "GOTOOLCHAIN=local GOCACHE=/tmp/test_cpu.gocache %s tool pprof "
             "-raw /proc/%d/fd/%d 2>&1; echo exit=$?",
             go, (int)getpid(), fd);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    pclose(p);
    return true;
}

/* ---- tests -------------------------------------------------------------- */

/* check_header: Go's CPU profile header (CONVENTIONS.md §1.2). */
static void check_header(const struct dprof *d, int64_t ns)
{
    assert_int_equal(d->nst, 2);
    assert_string_equal(str(d, d->st[0][0]), "samples");
    assert_string_equal(str(d, d->st[0][1]), "count");
    assert_string_equal(str(d, d->st[1][0]), "cpu");
    assert_string_equal(str(d, d->st[1][1]), "nanoseconds");
    assert_string_equal(str(d, d->pt[0]), "cpu");
    assert_string_equal(str(d, d->pt[1]), "nanoseconds");
    assert_int_equal(d->period, PERIOD);
    assert_true(d->duration >= ns);
}

struct shares {
    int64_t all, task, thread, spin_fn;
};

/* count: samples in the task (under spin_task_body: TSan's frameless
 * leaves hide cpu_spin_task), in the thread, and under cpu_spin_task;
 * checks the label of each and Go's values (count, count * period). */
static struct shares count(const struct dprof *d)
{
    struct shares c = {.all = total(d)};
    for (size_t i = 0; i < d->ns; i++) {
        const struct dsample *s = &d->s[i];
        assert_int_equal(s->nv, 2);
        assert_int_equal(s->v[1], s->v[0] * PERIOD);
        const char *w = label(d, s, "worker");
        if (has_fn(d, s, "spin_task_body")) {
            c.task += s->v[0];
            assert_non_null(w);
            assert_string_equal(w, "spin");
        } else if (has_fn(d, s, "spin_thread_body")) {
            c.thread += s->v[0];
            assert_null(w);
        }
        if (has_fn(d, s, "cpu_spin_task"))
            c.spin_fn += s->v[0];
    }
    return c;
}

/* The counts against the CPU time the spinners got during the profile:
 * on a loaded machine that is little, and so are the samples. */
static bool shares_ok(struct shares c, int64_t task_ns, int64_t thread_ns)
{
    return samples_match(c.task, task_ns) &&
           samples_match(c.thread, thread_ns) &&
           (TS__RACE_ENABLED || c.spin_fn * 2 >= c.task);
}

static void check_pprof_raw(int fd)
{
    static char raw[1 << 20];
    if (!pprof_raw(fd, raw, sizeof raw))
        return; /* no go command */
    if (!strstr(raw, "exit=0") ||
        !strstr(raw, "PeriodType: cpu nanoseconds") ||
        !strstr(raw, "Period: 10000000") ||
        !strstr(raw, "samples/count cpu/nanoseconds") ||
        !strstr(raw, "spin_task_body") || !strstr(raw, "worker:[spin]") ||
        strstr(raw, "Main binary filename not available"))
        fail_msg("go tool pprof -raw:\n%.4000s", raw);
}

static void test_profile_of_spinners(void **state)
{
    (void)state;
    start_spinning();
    ts_chan_t *done = ts_chan_make(0, 1);
    ts_go(spin_task_body, done);
    pthread_t th = tt_thread(spin_thread_body, NULL);
    wait_cpu(&task_cpu, TS_MILLISECOND);
    wait_cpu(&thread_cpu, TS_MILLISECOND);
    int fd = tmpfd();
    int64_t task0 = atomic_load(&task_cpu), thread0 = atomic_load(&thread_cpu);
    assert_int_equal(ts__cpu_profile_run(profile_ns(), fd), 0);
    int64_t task_ns = atomic_load(&task_cpu) - task0;
    int64_t thread_ns = atomic_load(&thread_cpu) - thread0;
    atomic_store(&stop_spinning, 1);
    tt_join(th);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);

    struct dprof *d = decode_fd(fd);
    check_header(d, profile_ns());
    struct shares c = count(d);
    dprof_free(d);
    print_message("cpu: %lld samples: task %lld (in cpu_spin_task %lld) for "
                  "%lld ms of CPU, thread %lld for %lld ms\n",
                  (long long)c.all, (long long)c.task, (long long)c.spin_fn,
                  (long long)(task_ns / TS_MILLISECOND), (long long)c.thread,
                  (long long)(thread_ns / TS_MILLISECOND));
    if (!shares_ok(c, task_ns, thread_ns)) {
        static char raw[1 << 20];
        pprof_raw(fd, raw, sizeof raw);
        fail_msg("samples do not match the spinners' CPU time; the "
                 "profile:\n%.6000s", raw);
    }
    check_pprof_raw(fd);
    close(fd);
    ts_chan_release(done);
    tp_end();
}

static void test_einval(void **state)
{
    (void)state;
    int fd = tmpfd();
    assert_int_equal(ts__cpu_profile_run(0, fd), EINVAL);
    assert_int_equal(ts__cpu_profile_run(-1, fd), EINVAL);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 0);
    close(fd);
    tp_end();
}

struct bg {
    int fd;
    int64_t ns;
    int r;
};

static void *bg_run(void *arg)
{
    struct bg *b = arg;
    b->r = ts__cpu_profile_run(b->ns, b->fd);
    return NULL;
}

static void test_ebusy(void **state)
{
    (void)state;
    struct bg b = {.fd = tmpfd(), .ns = 2 * TS_SECOND};
    pthread_t th = tt_thread(bg_run, &b);
    /* running once SIGPROF is the profiler's */
    int64_t deadline = ts_now() + TT_SOON;
    struct sigaction sa;
    do {
        ts_sleep(TS_MILLISECOND);
        assert_int_equal(sigaction(SIGPROF, NULL, &sa), 0);
    } while (!(sa.sa_flags & SA_SIGINFO) && ts_now() < deadline);
    assert_true(sa.sa_flags & SA_SIGINFO);
    int fd2 = tmpfd();
    assert_int_equal(ts__cpu_profile_run(100 * TS_MILLISECOND, fd2), EBUSY);
    tt_join(th);
    assert_int_equal(b.r, 0);
    struct stat st;
    assert_int_equal(fstat(fd2, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(fstat(b.fd, &st), 0);
    assert_true(st.st_size > 0);
    /* free again once it ended */
    assert_int_equal(ts__cpu_profile_run(10 * TS_MILLISECOND, fd2), 0);
    close(b.fd);
    close(fd2);
    tp_end();
}

static atomic_int user_prof_calls;

static void user_prof(int sig)
{
    (void)sig;
    atomic_fetch_add(&user_prof_calls, 1);
}

static void test_disposition_restored(void **state)
{
    (void)state;
    int fd = tmpfd();
    /* default disposition: SIG_DFL again afterwards */
    struct sigaction sa, now;
    assert_int_equal(sigaction(SIGPROF, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    assert_int_equal(ts__cpu_profile_run(50 * TS_MILLISECOND, fd), 0);
    assert_int_equal(sigaction(SIGPROF, NULL, &now), 0);
    assert_true(now.sa_handler == SIG_DFL);
    assert_false(now.sa_flags & SA_SIGINFO);

    /* the program's own handler, flags and mask: back, and still called */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = user_prof;
    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    assert_int_equal(sigaction(SIGPROF, &sa, NULL), 0);
    assert_int_equal(ts__cpu_profile_run(50 * TS_MILLISECOND, fd), 0);
    assert_int_equal(sigaction(SIGPROF, NULL, &now), 0);
    assert_true(now.sa_handler == user_prof);
    assert_true(now.sa_flags & SA_NODEFER);
    assert_false(now.sa_flags & SA_SIGINFO);
    assert_true(sigismember(&now.sa_mask, SIGUSR2));
    atomic_store(&user_prof_calls, 0);
    raise(SIGPROF);
    assert_int_equal(atomic_load(&user_prof_calls), 1);
    signal(SIGPROF, SIG_DFL);
    close(fd);
    tp_end();
}

static atomic_int errno_changed;

static void *errno_spinner(void *arg)
{
    (void)arg;
    errno = 12345;
    while (!atomic_load(&stop_spinning)) {
        BURN();
        if (errno != 12345)
            atomic_store(&errno_changed, 1);
    }
    return NULL;
}

static void test_errno_preserved(void **state)
{
    (void)state;
    atomic_store(&stop_spinning, 0);
    atomic_store(&errno_changed, 0);
    pthread_t th = tt_thread(errno_spinner, NULL);
    ts_sleep(10 * TS_MILLISECOND);
    int fd = tmpfd();
    assert_int_equal(ts__cpu_profile_run(300 * TS_MILLISECOND, fd), 0);
    atomic_store(&stop_spinning, 1);
    tt_join(th);
    assert_int_equal(atomic_load(&errno_changed), 0);
    close(fd);
    tp_end();
}

/* decode_path: the profile in the file at path. */
static struct dprof *decode_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    struct dprof *d = decode_fd(fd);
    close(fd);
    return d;
}

static void test_start_stop(void **state)
{
    (void)state;
    int fd = tmpfd(), ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal(ts_cpu_profile_start(-1), EBADF);
    assert_int_equal(ts_cpu_profile_start(ro), EBADF);
    assert_int_equal(ts_cpu_profile_stop(), 0); /* none: a no-op, as Go */
    assert_int_equal(ts_cpu_profile_start(fd), 0);
    assert_int_equal(ts_cpu_profile_start(fd), EBUSY);
    assert_int_equal(ts__cpu_profile_run(TS_MILLISECOND, ro), EBUSY);
    /* a thread started after the profile: sampled from the next tick,
     * its stack walked (the maps snapshot is taken again) */
    start_spinning();
    pthread_t th = tt_thread(spin_thread_body, NULL);
    wait_cpu(&thread_cpu, 300 * TS_MILLISECOND);
    atomic_store(&stop_spinning, 1);
    tt_join(th);
    assert_int_equal(ts_cpu_profile_stop(), 0);
    assert_int_equal(ts_cpu_profile_stop(), 0);
    struct dprof *d = decode_fd(fd);
    check_header(d, 0);
    struct shares c = count(d);
    dprof_free(d);
    print_message("cpu: start/stop: %lld samples, thread %lld for %lld ms\n",
                  (long long)c.all, (long long)c.thread,
                  (long long)(atomic_load(&thread_cpu) / TS_MILLISECOND));
    /* less than the whole: the first tick may come after it started */
    assert_true(c.thread >= 10 &&
                samples_match(c.thread, atomic_load(&thread_cpu)));
    close(ro);
    close(fd);
    tp_end();
}

/* Scenario (child): TASKSCOPE_CPUPROFILE set; the runtime starts (and the
 * profile with it) before its workers exist: the task spinning on one of
 * them must still be sampled. */
static int scenario_env(void)
{
    start_spinning();
    ts_chan_t *done = ts_chan_make(0, 1);
    ts_go(spin_task_body, done);
    int64_t deadline = ts_now() + TT_SOON;
    while (atomic_load(&task_cpu) < 200 * TS_MILLISECOND && ts_now() < deadline)
        ts_sleep(5 * TS_MILLISECOND);
    atomic_store(&stop_spinning, 1);
    int ok = tt_wait_done(done, 1, TT_SOON) == 1;
    ts_chan_release(done);
    return ok ? 0 : 1;
}

static void test_env_cpuprofile(void **state)
{
    (void)state;
    char path[64], env[96];
    snprintf(path, sizeof path, "/tmp/test_cpu.env.%d.pb.gz", (int)getpid());
    snprintf(env, sizeof env, "TASKSCOPE_CPUPROFILE=%s", path);
    const char *const envs[] = {env, NULL};
    struct tt_child c;
    tt_child("env", envs, &c);
    tt_expect_child_ok("env", &c);
    struct dprof *d = decode_path(path);
    unlink(path);
    check_header(d, 0);
    struct shares sh = count(d);
    dprof_free(d);
    print_message("cpu: TASKSCOPE_CPUPROFILE: %lld samples, task %lld\n",
                  (long long)sh.all, (long long)sh.task);
    assert_true(sh.task >= 5); /* 200 ms of CPU: about 20 */
    tp_end();
}

/* warm_module: symbolize a code address of one loaded module. */
static int warm_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct ts__symbolizer *sym = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t pc = info->dlpi_addr + ph->p_vaddr;
        const struct ts__frame *fr;
        size_t n;
        struct ts__module m;
        ts__symbolize(sym, pc, &fr, &n);
        ts__symbolizer_module(sym, pc, &m);
    }
    return 0;
}

/* warm: every loaded module through the writers' symbolizer. */
static void warm(FILE *f, struct ts__symbolizer *sym, void *arg)
{
    (void)f;
    (void)arg;
    dl_iterate_phdr(warm_module, sym);
}

/* The writers' symbolizer keeps the ELF files of the modules it has
 * symbolized open for the life of the process, and a sample may land in
 * any module: have it open them all before the tests' fd baselines. */
static int group_setup(void **state)
{
    (void)state;
    ts__write_with_symbolizer(NULL, warm, NULL);
    return 0;
}

static const struct tt_scenario scenarios[] = {
    {"env", scenario_env},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    const struct CMUnitTest tests[] = {
        TP_TEST(test_profile_of_spinners),
        TP_TEST(test_einval),
        TP_TEST(test_ebusy),
        TP_TEST(test_disposition_restored),
        TP_TEST(test_errno_preserved),
        TP_TEST(test_start_stop),
        TP_TEST(test_env_cpuprofile),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
