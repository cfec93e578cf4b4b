/* pprof_writer — writes two profiles built from real stacks of its own
 * functions, for check_pprof.sh to feed to `go tool pprof`:
 *
 *   DIR/goroutine.pb.gz  goroutine/count samples, period goroutine/count 1:
 *                        3 x goroutine_park <- worker_loop <- spawn_workers
 *                            <- main, labelled worker=a,
 *                        1 x idle_wait <- main
 *   DIR/block.pb.gz      contentions/count + delay/nanoseconds, period
 *                        contentions/count 1:
 *                        chan_block <- consumer <- main: 4 and 4000000,
 *                        mutex_block <- main: 2 and 1500
 *
 * and, through the public API (ts_profile_write at debug 0), every profile
 * of a live program state, as DIR/live/<name>.pb.gz:
 *
 *   goroutine     3 x live_park <- live_worker labelled worker=b, and
 *                 1 x live_idle_park <- live_idle, unlabelled;
 *   block         live_block (a 10 ms channel receive, rate 1);
 *   mutex         live_unlock (a runtime lock slept on, fraction 1);
 *   heap, allocs  live_alloc (8 x 1 MiB via ts_malloc, default rate
 *                 524288: sampled with probability 1 - e^-2 each);
 *   threadcreate  the runtime's threads.
 *
 * Stacks are taken by walking frame pointers (the whole tree builds with
 * -fno-omit-frame-pointer), the way the profiler will, and end at main:
 * the walk stops at main's frame, so no libc start-up frame (without debug
 * info) makes pprof re-symbolize the binary. Every stack is captured as
 * many times as its count and added sample by sample: the builder merges
 * them. Usage: pprof_writer DIR; exit 0 when both files were written. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>
#include <taskscope/taskscope.h>
#include <taskscope/profile.h>
#include <time.h>
#include <sys/stat.h>

#include "runtime/lock.h"
#include "profiler/pprof.h"
#include "profiler/profile.h"
#include "profiler/symbolize.h"

/* noclone (GCC only): keep one copy per function; the CMake target also
 * turns off sibling calls, which would drop the callers' frames. */
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif
#define MAX_DEPTH 64

static void *main_frame; /* main's frame pointer: where walks stop */

struct stack {
    uintptr_t pc[MAX_DEPTH];
    size_t depth;
};

/* Return addresses from the caller of capture up to main, leaf first. */
static NOINLINE void capture(struct stack *st)
{
    void **fp = __builtin_frame_address(0);
    st->depth = 0;
    while (fp && st->depth < MAX_DEPTH) {
        void **next = fp[0];
        st->pc[st->depth++] = (uintptr_t)fp[1];
        if ((void *)next == main_frame || next <= fp)
            break;
        fp = next;
    }
}

/* ---- the "tasks" whose stacks are recorded ----------------------------- */

static NOINLINE void goroutine_park(struct stack *st) { capture(st); }

static NOINLINE void worker_loop(struct stack *st) { goroutine_park(st); }

static NOINLINE void spawn_workers(struct stack *st) { worker_loop(st); }

static NOINLINE void idle_wait(struct stack *st) { capture(st); }

static NOINLINE void chan_block(struct stack *st) { capture(st); }

static NOINLINE void consumer(struct stack *st) { chan_block(st); }

static NOINLINE void mutex_block(struct stack *st) { capture(st); }

/* ---- profiles ---------------------------------------------------------- */

static int fail(const char *what, int r)
{
    fprintf(stderr, "pprof_writer: %s: %s\n", what, strerror(r));
    return 1;
}

static int add(struct ts__profile *p, const struct stack *st,
               const int64_t *v, size_t nv, const struct ts__label *l,
               size_t nl)
{
    struct ts__sample s = {.stack = st->pc, .depth = st->depth,
                           .values = v, .nvalues = nv,
                           .labels = l, .nlabels = nl};
    return ts__profile_add_sample(p, &s);
}

static int goroutine_samples(struct ts__profile *p)
{
    static const struct ts__label worker = {.key = "worker", .str = "a"};
    static const int64_t one = 1;
    struct stack st;
    int r = 0;
    for (int i = 0; i < 3 && r == 0; i++) {
        spawn_workers(&st);
        r = add(p, &st, &one, 1, &worker, 1);
    }
    idle_wait(&st);
    return r != 0 ? r : add(p, &st, &one, 1, NULL, 0);
}

static int block_samples(struct ts__profile *p)
{
    struct stack st;
    int r = 0;
    for (int i = 0; i < 4 && r == 0; i++) {
        static const int64_t v[2] = {1, 1000000};
        consumer(&st);
        r = add(p, &st, v, 2, NULL, 0);
    }
    for (int i = 0; i < 2 && r == 0; i++) {
        static const int64_t v[2] = {1, 750};
        mutex_block(&st);
        r = add(p, &st, v, 2, NULL, 0);
    }
    return r;
}

/* Symbolize p and write it to dir/name. */
static int finish(struct ts__profile *p, struct ts__symbolizer *sym,
                  const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int r = ts__profile_symbolize(p, sym);
    if (r != 0)
        return fail("ts__profile_symbolize", r);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(path, errno);
    r = ts__pprof_write(p, fd);
    if (close(fd) != 0 && r == 0)
        r = errno;
    if (r != 0)
        return fail(path, r);
    printf("pprof_writer: wrote %s\n", path);
    return 0;
}

static int write_goroutine(struct ts__symbolizer *sym, const char *dir)
{
    struct ts__profile *p;
    int r = ts__profile_new(&p);
    if (r != 0)
        return fail("ts__profile_new", r);
    if ((r = ts__profile_add_sample_type(p, "goroutine", "count")) == 0 &&
        (r = ts__profile_set_period(p, "goroutine", "count", 1)) == 0)
        r = goroutine_samples(p);
    int rc = r != 0 ? fail("goroutine profile", r)
                    : finish(p, sym, dir, "goroutine.pb.gz");
    ts__profile_free(p);
    return rc;
}

static int write_block(struct ts__symbolizer *sym, const char *dir)
{
    struct ts__profile *p;
    int r = ts__profile_new(&p);
    if (r != 0)
        return fail("ts__profile_new", r);
    if ((r = ts__profile_add_sample_type(p, "contentions", "count")) == 0 &&
        (r = ts__profile_add_sample_type(p, "delay", "nanoseconds")) == 0 &&
        (r = ts__profile_set_period(p, "contentions", "count", 1)) == 0)
        r = block_samples(p);
    int rc = r != 0 ? fail("block profile", r)
                    : finish(p, sym, dir, "block.pb.gz");
    ts__profile_free(p);
    return rc;
}

/* ---- live profiles through ts_profile_write --------------------------- */

static ts_chan_t *park_ch;

static NOINLINE void live_park(void) { ts_chan_recv(park_ch, NULL, NULL); }

static void live_worker(void *arg) { (void)arg; live_park(); }

static NOINLINE void live_idle_park(void) { ts_chan_recv(park_ch, NULL, NULL); }

static void live_idle(void *arg) { (void)arg; live_idle_park(); }

static void send_later(void *arg)
{
    ts_sleep(10 * TS_MILLISECOND);
    ts_chan_send(arg, NULL);
}

static NOINLINE void live_block(void)
{
    ts_chan_t *ch = ts_chan_make(0, 0);
    ts_go(send_later, ch);
    ts_chan_recv(ch, NULL, NULL);
    ts_chan_release(ch);
}

static ts__lock_t live_lock = TS__LOCK_INIT;
static atomic_int held;

static NOINLINE void live_unlock(void) { ts__unlock(&live_lock); }

static void *lock_holder(void *arg)
{
    (void)arg;
    ts__lock(&live_lock);
    atomic_store(&held, 1);
    for (int i = 0; i < 10000 &&
                    __atomic_load_n(&live_lock.state, __ATOMIC_ACQUIRE) != 2; i++)
        ts_sleep(TS_MILLISECOND);
    ts_sleep(5 * TS_MILLISECOND);
    live_unlock();
    return NULL;
}

static void *lock_waiter(void *arg)
{
    (void)arg;
    ts__lock(&live_lock);
    ts__unlock(&live_lock);
    return NULL;
}

static NOINLINE void live_contend(void)
{
    pthread_t h, w;
    pthread_create(&h, NULL, lock_holder, NULL);
    while (!atomic_load(&held))
        ts_sleep(TS_MILLISECOND);
    pthread_create(&w, NULL, lock_waiter, NULL);
    pthread_join(h, NULL);
    pthread_join(w, NULL);
}

static void *kept[8];

static NOINLINE void live_alloc(void)
{
    for (int i = 0; i < 8; i++)
        kept[i] = ts_malloc(1 << 20);
}

struct live {
    const char *dir;
    int rc;
};

static const char *const live_names[] = {"goroutine", "block", "mutex",
                                         "heap", "allocs", "threadcreate"};

static int live_main(void *arg)
{
    struct live *l = arg;
    park_ch = ts_chan_make(0, 0);
    if (ts_set_label("worker", "b") != 0)
        return fail("ts_set_label", EINVAL);
    for (int i = 0; i < 3; i++)
        ts_go(live_worker, NULL);
    ts_set_label("worker", NULL);
    ts_go(live_idle, NULL);
    live_block();
    live_contend();
    live_alloc();
    while (ts_num_tasks() > 5) /* main + 4 parked (send_later gone) */
        ts_sleep(TS_MILLISECOND);
    ts_sleep(20 * TS_MILLISECOND); /* the 4 are parked by now */
    char path[4096];
    snprintf(path, sizeof path, "%s/live", l->dir);
    mkdir(path, 0755);
    for (size_t i = 0; i < sizeof live_names / sizeof live_names[0]; i++) {
        snprintf(path, sizeof path, "%s/live/%s.pb.gz", l->dir, live_names[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return l->rc = fail(path, errno);
        int r = ts_profile_write(live_names[i], fd, 0);
        if (close(fd) != 0 && r == 0)
            r = errno;
        if (r != 0)
            return l->rc = fail(path, r);
        printf("pprof_writer: wrote %s\n", path);
    }
    ts_chan_close(park_ch);
    for (int i = 0; i < 8; i++)
        ts_free(kept[i]);
    return 0;
}

static int write_live(const char *dir)
{
    ts_set_block_profile_rate(1);
    ts_set_mutex_profile_fraction(1);
    struct live l = {.dir = dir};
    int r = ts_run(live_main, &l);
    return r ? r : l.rc;
}

int main(int argc, char **argv)
{
    main_frame = __builtin_frame_address(0);
    if (argc != 2) {
        fprintf(stderr, "usage: pprof_writer DIR\n");
        return 2;
    }
    struct ts__symbolizer *sym;
    int r = ts__symbolizer_new(&sym);
    if (r != 0)
        return fail("ts__symbolizer_new", r);
    int rc = write_goroutine(sym, argv[1]);
    if (rc == 0)
        rc = write_block(sym, argv[1]);
    ts__symbolizer_free(sym);
    if (rc == 0)
        rc = write_live(argv[1]);
    return rc;
}
