/* ringbench — cost of the profiler's recording hot path, single thread.
 *
 *   ringbench [n]      (n pushes per measurement, default 50,000,000)
 *
 * Prints "<name> <ns/op> ns/op", one decimal, like tsbench:
 *   ring_push          ts__ring_push into a 1024-record ring, drained by
 *                      the same thread every 512 pushes (drain included,
 *                      amortised: it is what a full cycle costs)
 *   ring_push_full     ts__ring_push into a full ring (drop-and-count path)
 *   ring_record        ts__ring_record (thread-local ring lookup + push),
 *                      drained as ring_push
 *   stack_capture      ts__stack_capture from 8 nested calls below main
 *                      (the depth walked is printed on stderr)
 *   stackid_intern     ts__stacktab_intern of an already interned 8-PC stack
 * Timed with clock_gettime(CLOCK_MONOTONIC) around the whole loop. */
#include "profiler/ring.h"
#include "profiler/stackid.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(const char *name, int64_t ns, long n)
{
    printf("%s %.1f ns/op\n", name, (double)ns / (double)n);
}

static void sink(const struct ts__event *ev, void *arg)
{
    *(uint64_t *)arg += ev->time;
}

static uint64_t pcs_sink;

/* Captures after `depth` more nested (non-tail) calls. */
static __attribute__((noinline)) size_t capture_at(int depth, uint64_t *pcs,
                                                   uintptr_t lo, uintptr_t hi)
{
    size_t n = depth > 0
                   ? capture_at(depth - 1, pcs, lo, hi)
                   : ts__stack_capture(pcs, TS__STACK_MAX_DEPTH, 0, lo, hi);
    __asm__ volatile("" ::: "memory");
    return n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 50000000;
    if (n < 1024)
        n = 1024;
    struct ts__ring *r;
    if (ts__ring_new(10, &r) != 0)
        return 1;
    struct ts__event ev = {.kind = TS__EV_BLOCK, .task = 42, .object = 0x1234};
    uint64_t acc = 0;

    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ev.time = (uint64_t)i;
        ts__ring_push(r, &ev);
        if ((i & 511) == 511)
            ts__ring_drain(r, 0, sink, &acc);
    }
    report("ring_push", now_ns() - t0, n);
    ts__ring_drain(r, 0, sink, &acc);

    while (ts__ring_push(r, &ev))
        ;
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ev.time = (uint64_t)i;
        ts__ring_push(r, &ev);
    }
    report("ring_push_full", now_ns() - t0, n);
    ts__ring_free(r);

    struct ts__ring *mine = ts__ring_for_thread();
    if (!mine)
        return 1;
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ev.time = (uint64_t)i;
        ts__ring_record(&ev);
        if ((i & 511) == 511)
            ts__ring_drain(mine, 0, sink, &acc);
    }
    report("ring_record", now_ns() - t0, n);
    ts__ring_drain(mine, 0, sink, &acc);

    uintptr_t lo, hi;
    if (ts__stack_bounds_self(&lo, &hi) != 0)
        return 1;
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    long m = n / 10;
    size_t depth = capture_at(7, pcs, lo, hi);
    t0 = now_ns();
    for (long i = 0; i < m; i++)
        pcs_sink += capture_at(7, pcs, lo, hi);
    report("stack_capture", now_ns() - t0, m);
    fprintf(stderr, "(stack_capture walked %zu frames)\n", depth);

    struct ts__stacktab *t;
    if (ts__stacktab_new(16, 1 << 20, &t) != 0)
        return 1;
    uint64_t stack[8] = {0x401000, 0x402000, 0x403000, 0x404000,
                         0x405000, 0x406000, 0x407000, 0x408000};
    ts__stacktab_intern(t, stack, 8);
    t0 = now_ns();
    for (long i = 0; i < m; i++)
        pcs_sink += ts__stacktab_intern(t, stack, 8);
    report("stackid_intern", now_ns() - t0, m);
    ts__stacktab_free(t);

    fprintf(stderr, "(checksum %llu)\n",
            (unsigned long long)(acc + pcs_sink));
    return 0;
}
