/* fanout_fanin.c — fan-out to N workers, fan-in (merge) of their outputs.
 *
 * Ported from the seeds:
 *   1. 000_ba33576b914601bb.txt, "Adding Parallelism with Fan-Out and
 *      Fan-In": producer -> NumCPU x transformToLower -> mergeStringChans ->
 *      NumCPU x transformToTitle -> mergeStringChans -> sink, over
 *      {"FOO", "BAR", "BAX"}, each transform sleeping before it sends (3 s in
 *      the article, 30 ms here). ctx.Done() is a done channel that main
 *      closes (cancel); NumCPU is ts_procs().
 *   2. 002_4afb6b829636c6ad.txt, "Fan-Out, Fan-In": fan out a slow stage
 *      (a deliberately naive primeFinder, as in "Concurrency in Go") to
 *      ts_procs() finders reading one stream, and fan their outputs in.
 *
 * Shows: several tasks can receive from one channel (each value goes to
 * exactly one of them); the merge starts one forwarding task per input and
 * one more that waits for all of them (a WaitGroup, built here from a
 * buffered channel) before closing the merged channel. Fan-in order is not
 * deterministic, so the program prints what it received in arrival order and
 * then checks invariants: the set of words, the count and sum of the primes
 * against a sequential computation.
 *
 * Run: build/sample_apps/fanout_fanin */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

/* Go strings travel by value: a small fixed-size struct per element. */
typedef struct word {
    char s[8];
} word_t;

/* ---- producer (seed 000) ----------------------------------------------- */

struct producer_args {
    ts_chan_t *ctx_done, *out;
    const char *const *strings;
    size_t n;
};

static void producer_task(void *p)
{
    struct producer_args *a = p;
    for (size_t i = 0; i < a->n; i++) {
        ts_select_case_t c[] = {TS_RECV_CASE(a->ctx_done, NULL)};
        if (ts_select(c, 1, TS_SELECT_NONBLOCK) == 0) /* case <-ctx.Done() */
            break;
        word_t w = {{0}};                                  /* default: */
        snprintf(w.s, sizeof w.s, "%s", a->strings[i]);
        ts_chan_send(a->out, &w);                          /* outChannel <- s */
    }
    ts_chan_close(a->out); /* defer close(outChannel) */
    ts_chan_release(a->out);
    ts_chan_release(a->ctx_done);
    free(a);
}

static ts_chan_t *producer(ts_chan_t *ctx_done, const char *const *strings,
                           size_t n)
{
    ts_chan_t *outChannel = xchan(sizeof(word_t), 0);
    struct producer_args *a = xmalloc(sizeof *a);
    a->ctx_done = ts_chan_retain(ctx_done);
    a->out = ts_chan_retain(outChannel);
    a->strings = strings;
    a->n = n;
    sample_go(producer_task, a);
    return outChannel;
}

/* ---- transformToLower / transformToTitle (seed 000) --------------------- */

struct transform_args {
    ts_chan_t *ctx_done, *in, *out;
    int (*conv)(int c); /* tolower or toupper (strings.ToTitle) */
};

static void transform_task(void *p)
{
    struct transform_args *a = p;
    word_t s;
    bool ok;
    for (;;) { /* for s := range values */
        ts_chan_recv(a->in, &s, &ok);
        if (!ok)
            break;
        ts_sleep(30 * TS_MILLISECOND); /* time.Sleep(time.Second * 3) */
        ts_select_case_t c[] = {TS_RECV_CASE(a->ctx_done, NULL)};
        if (ts_select(c, 1, TS_SELECT_NONBLOCK) == 0) /* case <-ctx.Done() */
            break;
        for (char *q = s.s; *q; q++)
            *q = (char)a->conv((unsigned char)*q);
        /* default: outChannel <- strings.ToLower(s) */
        ts_chan_send(a->out, &s);
    }
    ts_chan_close(a->out); /* defer close(outChannel) */
    ts_chan_release(a->out);
    ts_chan_release(a->in);
    ts_chan_release(a->ctx_done);
    free(a);
}

static ts_chan_t *transform(ts_chan_t *ctx_done, ts_chan_t *values,
                            int (*conv)(int))
{
    ts_chan_t *outChannel = xchan(sizeof(word_t), 0);
    struct transform_args *a = xmalloc(sizeof *a);
    a->ctx_done = ts_chan_retain(ctx_done);
    a->in = ts_chan_retain(values);
    a->out = ts_chan_retain(outChannel);
    a->conv = conv;
    sample_go(transform_task, a);
    return outChannel;
}

static ts_chan_t *transformToLower(ts_chan_t *ctx_done, ts_chan_t *values)
{
    return transform(ctx_done, values, tolower);
}

static ts_chan_t *transformToTitle(ts_chan_t *ctx_done, ts_chan_t *values)
{
    return transform(ctx_done, values, toupper);
}

/* ---- merge: mergeStringChans (seed 000) / fanIn (seed 002) -------------- *
 * Works for any element size: it forwards ts_chan_elem_size() bytes. */

struct merge_output_args {
    ts_chan_t *done, *c, *out, *wg;
};

static void merge_output_task(void *p) /* output := func(c <-chan string) */
{
    struct merge_output_args *a = p;
    void *n = xmalloc(ts_chan_elem_size(a->c) + 1);
    bool ok;
    for (;;) { /* for n := range c */
        ts_chan_recv(a->c, n, &ok);
        if (!ok)
            break;
        ts_select_case_t cases[] = {
            TS_SEND_CASE(a->out, n),     /* case out <- n: */
            TS_RECV_CASE(a->done, NULL), /* case <-ctx.Done(): return */
        };
        if (ts_select(cases, 2, 0) == 1)
            break;
    }
    ts_chan_send(a->wg, NULL); /* defer wg.Done() */
    free(n);
    ts_chan_release(a->wg);
    ts_chan_release(a->out);
    ts_chan_release(a->c);
    ts_chan_release(a->done);
    free(a);
}

struct merge_closer_args {
    ts_chan_t *out, *wg;
    size_t n;
};

static void merge_closer_task(void *p)
{
    struct merge_closer_args *a = p;
    for (size_t i = 0; i < a->n; i++) /* wg.Wait() */
        ts_chan_recv(a->wg, NULL, NULL);
    ts_chan_close(a->out); /* close(out) */
    ts_chan_release(a->out);
    ts_chan_release(a->wg);
    free(a);
}

static ts_chan_t *merge(ts_chan_t *done, ts_chan_t **cs, size_t n)
{
    ts_chan_t *out = xchan(ts_chan_elem_size(cs[0]), 0);
    /* var wg sync.WaitGroup; wg.Add(len(cs)): a channel with room for every
     * Done, so Done never blocks, and Wait receives n times. */
    ts_chan_t *wg = xchan(0, n);
    for (size_t i = 0; i < n; i++) { /* for _, c := range cs { go output(c) } */
        struct merge_output_args *a = xmalloc(sizeof *a);
        a->done = ts_chan_retain(done);
        a->c = ts_chan_retain(cs[i]);
        a->out = ts_chan_retain(out);
        a->wg = ts_chan_retain(wg);
        sample_go(merge_output_task, a);
    }
    struct merge_closer_args *a = xmalloc(sizeof *a);
    a->out = ts_chan_retain(out);
    a->wg = wg; /* hand over our reference */
    a->n = n;
    sample_go(merge_closer_task, a);
    return out;
}

/* ---- sink (seed 000) ---------------------------------------------------- */

static size_t sink(ts_chan_t *ctx_done, ts_chan_t *values, word_t *got,
                   size_t max)
{
    size_t n = 0;
    for (;;) {
        word_t val;
        ts_select_case_t c[] = {
            TS_RECV_CASE(ctx_done, NULL), /* case <-ctx.Done() */
            TS_RECV_CASE(values, &val),   /* case val, ok := <-values */
        };
        if (ts_select(c, 2, 0) == 0) {
            printf("context canceled\n"); /* log.Print(ctx.Err().Error()) */
            return n;
        }
        if (!c[1].ok)
            return n;
        printf("%s\n", val.s); /* log.Println(val) */
        if (n < max)
            got[n] = val;
        n++;
    }
}

static int cmp_word(const void *x, const void *y)
{
    return strcmp(((const word_t *)x)->s, ((const word_t *)y)->s);
}

static int seed000_fanout(void)
{
    static const char *const source[] = {"FOO", "BAR", "BAX"};
    int numCPU = ts_procs();
    printf("seed 000: producer -> %d x transformToLower -> merge -> "
           "%d x transformToTitle -> merge -> sink\n", numCPU, numCPU);

    ts_chan_t *ctx_done = xchan(0, 0); /* ctx, cancel := context.WithCancel */
    ts_chan_t *outputChannel = producer(ctx_done, source, 3);

    ts_chan_t **stage1Channels = xmalloc((size_t)numCPU * sizeof(ts_chan_t *));
    for (int i = 0; i < numCPU; i++)
        stage1Channels[i] = transformToLower(ctx_done, outputChannel);
    ts_chan_t *stage1Merged = merge(ctx_done, stage1Channels, (size_t)numCPU);

    ts_chan_t **stage2Channels = xmalloc((size_t)numCPU * sizeof(ts_chan_t *));
    for (int i = 0; i < numCPU; i++)
        stage2Channels[i] = transformToTitle(ctx_done, stage1Merged);
    ts_chan_t *stage2Merged = merge(ctx_done, stage2Channels, (size_t)numCPU);

    /* the tasks hold their own references now */
    ts_chan_release(outputChannel);
    ts_chan_release(stage1Merged);
    for (int i = 0; i < numCPU; i++) {
        ts_chan_release(stage1Channels[i]);
        ts_chan_release(stage2Channels[i]);
    }
    free(stage1Channels);
    free(stage2Channels);

    word_t got[8];
    size_t n = sink(ctx_done, stage2Merged, got, 8);
    ts_chan_release(stage2Merged);
    ts_chan_close(ctx_done); /* defer cancel() */
    ts_chan_release(ctx_done);

    /* invariant: exactly the three words, in some order */
    if (n > 8)
        n = 8;
    qsort(got, n, sizeof got[0], cmp_word);
    printf("received (sorted):");
    for (size_t i = 0; i < n; i++)
        printf(" %s", got[i].s);
    printf("\n");
    bool ok = n == 3 && strcmp(got[0].s, "BAR") == 0 &&
              strcmp(got[1].s, "BAX") == 0 && strcmp(got[2].s, "FOO") == 0;
    printf("set of values is {BAR, BAX, FOO}: %s\n", ok ? "yes" : "NO");
    return ok ? 0 : 1;
}

/* ---- seed 002: fan-out of a slow prime finder --------------------------- */

#define MAX_CANDIDATE 20000

struct counter_args {
    ts_chan_t *done, *out;
    int from, to;
};

static void counter_task(void *p) /* a generator of from..to */
{
    struct counter_args *a = p;
    for (int i = a->from; i <= a->to; i++) {
        ts_select_case_t c[] = {TS_RECV_CASE(a->done, NULL),
                                TS_SEND_CASE(a->out, &i)};
        if (ts_select(c, 2, 0) == 0)
            break;
    }
    ts_chan_close(a->out);
    ts_chan_release(a->out);
    ts_chan_release(a->done);
    free(a);
}

static bool naive_is_prime(int n) /* slow on purpose, as in the book */
{
    if (n < 2)
        return false;
    for (int divisor = n - 1; divisor > 1; divisor--)
        if (n % divisor == 0)
            return false;
    return true;
}

struct finder_args {
    ts_chan_t *done, *in, *out;
};

static void prime_finder_task(void *p)
{
    struct finder_args *a = p;
    int v;
    bool ok;
    for (;;) {
        ts_chan_recv(a->in, &v, &ok); /* for integer := range intStream */
        if (!ok)
            break;
        if (!naive_is_prime(v))
            continue;
        ts_select_case_t c[] = {TS_RECV_CASE(a->done, NULL),
                                TS_SEND_CASE(a->out, &v)};
        if (ts_select(c, 2, 0) == 0)
            break;
    }
    ts_chan_close(a->out);
    ts_chan_release(a->out);
    ts_chan_release(a->in);
    ts_chan_release(a->done);
    free(a);
}

static ts_chan_t *primeFinder(ts_chan_t *done, ts_chan_t *intStream)
{
    ts_chan_t *primeStream = xchan(sizeof(int), 0);
    struct finder_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->in = ts_chan_retain(intStream);
    a->out = ts_chan_retain(primeStream);
    sample_go(prime_finder_task, a);
    return primeStream;
}

static int seed002_primes(void)
{
    int numFinders = ts_procs();
    printf("seed 002: primes in 1..%d, fanned out to %d primeFinders\n",
           MAX_CANDIDATE, numFinders);

    ts_chan_t *done = xchan(0, 0);
    ts_chan_t *intStream = xchan(sizeof(int), 0);
    struct counter_args *ca = xmalloc(sizeof *ca);
    ca->done = ts_chan_retain(done);
    ca->out = ts_chan_retain(intStream);
    ca->from = 1;
    ca->to = MAX_CANDIDATE;
    sample_go(counter_task, ca);

    ts_chan_t **finders = xmalloc((size_t)numFinders * sizeof(ts_chan_t *));
    for (int i = 0; i < numFinders; i++)
        finders[i] = primeFinder(done, intStream);
    ts_chan_t *primes = merge(done, finders, (size_t)numFinders); /* fanIn */
    ts_chan_release(intStream);
    for (int i = 0; i < numFinders; i++)
        ts_chan_release(finders[i]);
    free(finders);

    static unsigned char seen[MAX_CANDIDATE + 1];
    long long count = 0, sum = 0, dups = 0;
    int v;
    bool ok;
    for (;;) {
        ts_chan_recv(primes, &v, &ok);
        if (!ok)
            break;
        if (v < 1 || v > MAX_CANDIDATE || seen[v]++)
            dups++;
        count++;
        sum += v;
    }
    ts_chan_release(primes);
    ts_chan_close(done);
    ts_chan_release(done);

    /* the same computation, sequentially, with a sieve */
    static unsigned char composite[MAX_CANDIDATE + 1];
    long long want_count = 0, want_sum = 0;
    for (int i = 2; i <= MAX_CANDIDATE; i++) {
        if (composite[i])
            continue;
        want_count++;
        want_sum += i;
        for (int j = 2 * i; j <= MAX_CANDIDATE; j += i)
            composite[j] = 1;
    }
    printf("primes received: %lld (sequential: %lld)\n", count, want_count);
    printf("sum of primes: %lld (sequential: %lld)\n", sum, want_sum);
    bool good = count == want_count && sum == want_sum && dups == 0;
    printf("every prime exactly once: %s\n", good ? "yes" : "NO");
    return good ? 0 : 1;
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = seed000_fanout();
    failed |= seed002_primes();
    if (sample_wait_tasks() != 0)
        failed = 1;
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
