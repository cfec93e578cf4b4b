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
    return rc;
}
