/* pool_buffers.c — sync.Pool of byte buffers: allocations with and without
 * the pool.
 *
 * Ported from 001_f54886a91adcaa1b.txt, "(6) sync.Pool" ("保存和复用临时对象,
 * 减少GC压力": keep and reuse temporary objects to relieve the GC; "Pools
 * often contain things like *bytes.Buffer") and 004_981443292b25e44f.txt,
 * "10. 临时对象池" (temporary object pool: `pool := sync.Pool{New:
 * newFunc}`, `pool.Get()`, and `runtime.GC()` after which "the values are
 * all gone").
 *
 * Eight workers each format 500 log lines into a scratch buffer, first
 * with a fresh malloc'd buffer per line, then with buffers from a
 * ts_pool_t. New counts the buffers made, as the seed's newFunc counts
 * with atomic.AddInt32. Then the seed's GC experiment: ts_pool_cleanup
 * stands for runtime.GC (C has none); the first keeps the buffers as the
 * victim cache, the second drops them through free_fn.
 *
 * Differences from the seed: the worker count is fixed and the workers run
 * one after another's turn on a channel token, so the count of buffers
 * made with the pool is deterministic (with free concurrency it depends on
 * scheduling, at most one per worker); the seed's debug.SetGCPercent(-1)
 * has no counterpart (there is no collector to disable).
 *
 * Run: build/sample_apps/pool_buffers (~0.01 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define WORKERS 8
#define LINES 500
#define BUF_SIZE 256

struct buffer {
    size_t len;
    char data[BUF_SIZE];
};

static atomic_int made;   /* buffers allocated (the seed's count) */
static atomic_int freed;  /* buffers the pool dropped */

static void *new_buffer(void *arg)
{
    (void)arg;
    atomic_fetch_add(&made, 1);
    return xmalloc(sizeof(struct buffer));
}

static void free_buffer(void *buf, void *arg)
{
    (void)arg;
    atomic_fetch_add(&freed, 1);
    free(buf);
}

static ts_pool_t buffers = TS_POOL_INIT(new_buffer, free_buffer, NULL);

struct job {
    int id;
    bool use_pool;
    ts_chan_t *token; /* passed worker to worker: one formats at a time */
    long *bytes;
};

/* format_line: what the scratch buffer is for. */
static size_t format_line(struct buffer *b, int worker, int line)
{
    b->len = (size_t)snprintf(b->data, sizeof b->data,
                              "worker %d: request %d served", worker, line);
    return b->len;
}

static void worker(void *arg)
{
    struct job *j = arg;
    int token;
    ts_chan_recv(j->token, &token, NULL);
    for (int line = 0; line < LINES; line++) {
        struct buffer *b = j->use_pool ? ts_pool_get(&buffers) : new_buffer(NULL);
        *j->bytes += (long)format_line(b, j->id, line);
        if (j->use_pool)
            ts_pool_put(&buffers, b);
        else
            free_buffer(b, NULL);
    }
    ts_chan_send(j->token, &token);
}

/* run: WORKERS workers, each taking the token in turn; returns buffers
 * made. */
static int run(bool use_pool)
{
    atomic_store(&made, 0);
    atomic_store(&freed, 0);
    ts_chan_t *token = xchan(sizeof(int), 1);
    long bytes = 0;
    struct job jobs[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        jobs[i] = (struct job){i, use_pool, token, &bytes};
        sample_go(worker, &jobs[i]);
    }
    int t = 1;
    ts_chan_send(token, &t);
    if (sample_wait_tasks() != 0)
        exit(1);
    ts_chan_release(token);
    printf("%-12s lines %d, bytes %ld, buffers allocated %d\n",
           use_pool ? "with pool:" : "no pool:", WORKERS * LINES, bytes,
           atomic_load(&made));
    return atomic_load(&made);
}

static int main_task(void *arg)
{
    (void)arg;
    int without = run(false);
    int with = run(true);
    printf("allocations saved: %d of %d\n", without - with, without);

    /* The seed's experiment: Get, then GC; the pooled value is gone. */
    ts_pool_cleanup();
    printf("gc 1: dropped %d (pooled buffers become the victim cache)\n",
           atomic_load(&freed));
    void *b = ts_pool_get(&buffers); /* still served, from the victim cache */
    printf("get after gc 1: new buffer made: %s\n",
           atomic_load(&made) > with ? "yes" : "no");
    ts_pool_put(&buffers, b);
    ts_pool_cleanup();
    ts_pool_cleanup();
    printf("gc 2, 3: dropped %d of %d allocated\n", atomic_load(&freed),
           atomic_load(&made));
    ts_pool_destroy(&buffers);
    return atomic_load(&freed) == atomic_load(&made) ? 0 : 1;
}

int main(void) { return ts_run(main_task, NULL); }
