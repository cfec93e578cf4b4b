/* pipeline.c — pipelines: stages connected by channels.
 *
 * Ported from the seeds:
 *   1. 000_ba33576b914601bb.txt, "Applying Modern Go Concurrency Patterns to
 *      Data Pipelines" / "A Simple Pipeline": producer -> sink over
 *      {"foo", "bar", "bax"}. The article's first version deadlocks (the
 *      producer sends on an unbuffered channel before anyone receives); this
 *      is its fixed version: the producer runs in its own task, and the task
 *      that creates the channel closes it.
 *   2. 002_4afb6b829636c6ad.txt, "Pipelines" / "Best practice for
 *      constructing Pipelines": generator -> multiply(2) -> add(1) ->
 *      multiply(2) over 1, 2, 3, 4, every stage selecting on a done channel.
 *      Prints 6 10 14 18, as the Go program does.
 *   3. The same stages as generator -> square -> print over 1..10 (the
 *      classic gen/sq pipeline), then cancellation: the consumer takes three
 *      squares of 1..1000 and closes done; every stage sees done and exits.
 *
 * Shows: a stage owns its output channel (creates it, closes it when its
 * input is exhausted or done is closed) and returns it to the caller;
 * ranging over a channel ends when it is closed; closing done stops a
 * pipeline without leaking its tasks. Ownership in C: each stage task holds
 * its own references to done, its input and its output; the caller releases
 * the references the constructors returned once it has wired the stages.
 *
 * Run: build/sample_apps/pipeline — deterministic output. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

/* ---- 1. seed 000: producer -> sink ------------------------------------- */

struct producer_args {
    ts_chan_t *out;
    const char *const *strings;
    size_t n;
};

static void producer_task(void *p)
{
    struct producer_args *a = p;
    for (size_t i = 0; i < a->n; i++)     /* for _, s := range strings */
        ts_chan_send(a->out, &a->strings[i]); /* outChannel <- s */
    ts_chan_close(a->out);                /* whoever creates it closes it */
    ts_chan_release(a->out);
    free(a);
}

/* producer: returns a channel of const char * (static strings). */
static ts_chan_t *producer(const char *const *strings, size_t n)
{
    ts_chan_t *outChannel = xchan(sizeof(const char *), 0);
    struct producer_args *a = xmalloc(sizeof *a);
    a->out = ts_chan_retain(outChannel);
    a->strings = strings;
    a->n = n;
    sample_go(producer_task, a); /* the fix: produce in another task */
    return outChannel;
}

static void sink(ts_chan_t *values)
{
    const char *value;
    bool ok;
    for (;;) { /* for value := range values */
        ts_chan_recv(values, &value, &ok);
        if (!ok)
            break;
        printf("%s\n", value); /* log.Println(value) */
    }
}

/* ---- 2./3. seed 002: generator and int stages --------------------------- */

struct generator_args {
    ts_chan_t *done, *out;
    int *integers;
    size_t n;
};

static void generator_task(void *p)
{
    struct generator_args *a = p;
    for (size_t k = 0; k < a->n; k++) { /* for _, i := range integers */
        int i = a->integers[k];
        ts_select_case_t cases[] = {
            TS_RECV_CASE(a->done, NULL), /* case <-done: return */
            TS_SEND_CASE(a->out, &i),    /* case intStream <- i: */
        };
        if (ts_select(cases, 2, 0) == 0)
            break;
    }
    ts_chan_close(a->out); /* defer close(intStream) */
    ts_chan_release(a->out);
    ts_chan_release(a->done);
    free(a->integers);
    free(a);
}

static ts_chan_t *generator(ts_chan_t *done, const int *integers, size_t n)
{
    ts_chan_t *intStream = xchan(sizeof(int), 0);
    struct generator_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->out = ts_chan_retain(intStream);
    a->integers = xmalloc(n * sizeof(int) + 1);
    memcpy(a->integers, integers, n * sizeof(int));
    a->n = n;
    sample_go(generator_task, a);
    return intStream;
}

/* multiply, add and square differ only in the operation: one stage task
 * runs them all (the Go program writes each as its own closure). */
typedef int (*int_op)(int value, int operand);

static int op_multiply(int v, int multiplier) { return v * multiplier; }
static int op_add(int v, int additive) { return v + additive; }
static int op_square(int v, int unused) { (void)unused; return v * v; }

struct stage_args {
    ts_chan_t *done, *in, *out;
    int_op op;
    int operand;
};

static void stage_task(void *p)
{
    struct stage_args *a = p;
    int i;
    bool ok;
    for (;;) { /* for i := range intStream */
        ts_chan_recv(a->in, &i, &ok);
        if (!ok)
            break;
        int v = a->op(i, a->operand);
        ts_select_case_t cases[] = {
            TS_RECV_CASE(a->done, NULL), /* case <-done: return */
            TS_SEND_CASE(a->out, &v),    /* case out <- i * multiplier: */
        };
        if (ts_select(cases, 2, 0) == 0)
            break;
    }
    ts_chan_close(a->out); /* defer close(out) */
    ts_chan_release(a->out);
    ts_chan_release(a->in);
    ts_chan_release(a->done);
    free(a);
}

static ts_chan_t *stage(ts_chan_t *done, ts_chan_t *in, int_op op, int operand)
{
    ts_chan_t *out = xchan(sizeof(int), 0);
    struct stage_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->in = ts_chan_retain(in);
    a->out = ts_chan_retain(out);
    a->op = op;
    a->operand = operand;
    sample_go(stage_task, a);
    return out;
}

static ts_chan_t *multiply(ts_chan_t *done, ts_chan_t *in, int multiplier)
{
    return stage(done, in, op_multiply, multiplier);
}

static ts_chan_t *add(ts_chan_t *done, ts_chan_t *in, int additive)
{
    return stage(done, in, op_add, additive);
}

static ts_chan_t *sq(ts_chan_t *done, ts_chan_t *in)
{
    return stage(done, in, op_square, 0);
}

/* print_ints: for v := range c { fmt.Println(v) }; returns how many. */
static int print_ints(ts_chan_t *c)
{
    int v, n = 0;
    bool ok;
    for (;;) {
        ts_chan_recv(c, &v, &ok);
        if (!ok)
            return n;
        printf("%d\n", v);
        n++;
    }
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = 0;

    /* 1. seed 000 */
    printf("simple pipeline (seed 000): producer -> sink\n");
    static const char *const source[] = {"foo", "bar", "bax"};
    ts_chan_t *outputChannel = producer(source, 3);
    sink(outputChannel);
    ts_chan_release(outputChannel);

    /* 2. seed 002: multiply(add(multiply(generator(1,2,3,4), 2), 1), 2) */
    printf("generator -> multiply 2 -> add 1 -> multiply 2 (seed 002)\n");
    ts_chan_t *done = xchan(0, 0);
    static const int ints[] = {1, 2, 3, 4};
    ts_chan_t *intStream = generator(done, ints, 4);
    ts_chan_t *m1 = multiply(done, intStream, 2);
    ts_chan_t *a1 = add(done, m1, 1);
    ts_chan_t *pipeline = multiply(done, a1, 2);
    ts_chan_release(intStream); /* the stages hold their own references */
    ts_chan_release(m1);
    ts_chan_release(a1);
    print_ints(pipeline);
    ts_chan_release(pipeline);
    ts_chan_close(done); /* defer close(done) */
    ts_chan_release(done);

    /* 3. generator -> square -> print */
    printf("generator -> square -> print, 1..10\n");
    done = xchan(0, 0);
    int nums[1000];
    for (int i = 0; i < 1000; i++)
        nums[i] = i + 1;
    ts_chan_t *gen = generator(done, nums, 10);
    ts_chan_t *squares = sq(done, gen);
    ts_chan_release(gen);
    if (print_ints(squares) != 10)
        failed = 1;
    ts_chan_release(squares);
    ts_chan_close(done);
    ts_chan_release(done);

    /* cancellation: take 3 squares of 1..1000, then close done */
    printf("first 3 squares of 1..1000, then close(done)\n");
    done = xchan(0, 0);
    gen = generator(done, nums, 1000);
    squares = sq(done, gen);
    ts_chan_release(gen);
    for (int k = 0; k < 3; k++) {
        int v;
        ts_chan_recv(squares, &v, NULL);
        printf("%d\n", v);
    }
    ts_chan_close(done); /* generator and sq, blocked sending, see done */
    ts_chan_release(squares);
    ts_chan_release(done);
    if (sample_wait_tasks() != 0)
        return 1;
    printf("all stages exited after done was closed\n");
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
