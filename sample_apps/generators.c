/* generators.c — handy generators: repeat, repeatFn, take.
 *
 * Ported from 002_4afb6b829636c6ad.txt:
 *   - "Some Handy Generators": repeat(done, values...) sends its values over
 *     and over until done closes; take(done, valueStream, num) forwards the
 *     first num values and closes. The seed's main prints
 *     take(done, repeat(done, 1), 10): 1 1 1 1 1 1 1 1 1 1
 *   - repeatFn(done, fn) (the book's companion to repeat): calls fn for every
 *     value; here fn is a pseudo-random generator with a fixed seed (the book
 *     uses rand.Int), so the output is reproducible.
 *   - "Preventing Goroutine Leaks": newRandStream(done) — a generator whose
 *     task is told to stop through done; once main closes done, the task
 *     prints "newRandStream closure exited." (the seed's version without
 *     done never exits: a leaked goroutine).
 *
 * Shows: generators built from a task and an unbuffered channel produce
 * values lazily, on demand; take's `takeStream <- <-valueStream` receives
 * *before* its select (Go evaluates the operand first); closing done is how
 * the consumer stops an infinite generator. Deterministic output.
 *
 * Run: build/sample_apps/generators */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "stages.h"

/* ---- repeatFn ----------------------------------------------------------- */

/* A Go closure is a function plus what it captured: fn(state). */
typedef int (*gen_fn)(void *state);

struct repeat_fn_args {
    ts_chan_t *done, *valueStream;
    gen_fn fn;
    void *state;
};

static void repeat_fn_task(void *p)
{
    struct repeat_fn_args *a = p;
    for (;;) {
        int v = a->fn(a->state);
        ts_select_case_t c[] = {TS_RECV_CASE(a->done, NULL),
                                TS_SEND_CASE(a->valueStream, &v)}; /* <- fn() */
        if (ts_select(c, 2, 0) == 0)
            break;
    }
    ts_chan_close(a->valueStream);
    ts_chan_release(a->valueStream);
    ts_chan_release(a->done);
    free(a);
}

static ts_chan_t *repeatFn(ts_chan_t *done, gen_fn fn, void *state)
{
    ts_chan_t *valueStream = xchan(sizeof(int), 0);
    struct repeat_fn_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->valueStream = ts_chan_retain(valueStream);
    a->fn = fn;
    a->state = state;
    sample_go(repeat_fn_task, a);
    return valueStream;
}

/* ---- a reproducible rand.Int -------------------------------------------- */

static int rand_int(void *state) /* xorshift32, 31-bit non-negative result */
{
    uint32_t *x = state;
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return (int)(*x >> 1);
}

/* ---- newRandStream (seed 002, "Preventing Goroutine Leaks") ------------- */

struct rand_stream_args {
    ts_chan_t *done, *randStream;
    uint32_t seed;
};

static void rand_stream_task(void *p)
{
    struct rand_stream_args *a = p;
    for (;;) {
        int v = rand_int(&a->seed);
        ts_select_case_t c[] = {
            TS_SEND_CASE(a->randStream, &v), /* randStream <- rand.Int() */
            TS_RECV_CASE(a->done, NULL),     /* case <-done: return */
        };
        if (ts_select(c, 2, 0) == 1)
            break;
    }
    ts_chan_close(a->randStream); /* defer close(randStream) */
    printf("newRandStream closure exited.\n"); /* defer fmt.Println(...) */
    ts_chan_release(a->randStream);
    ts_chan_release(a->done);
    free(a);
}

static ts_chan_t *newRandStream(ts_chan_t *done)
{
    ts_chan_t *randStream = xchan(sizeof(int), 0);
    struct rand_stream_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->randStream = ts_chan_retain(randStream);
    a->seed = 2463534242u;
    sample_go(rand_stream_task, a);
    return randStream;
}

/* print_stream: for num := range c { fmt.Printf("%v ", num) } */
static int print_stream(ts_chan_t *c)
{
    int v, n = 0;
    bool ok;
    for (;;) {
        ts_chan_recv(c, &v, &ok);
        if (!ok)
            break;
        printf("%s%d", n > 0 ? " " : "", v);
        n++;
    }
    printf("\n");
    return n;
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = 0;
    ts_chan_t *done = xchan(0, 0);

    printf("take(done, repeat(done, 1), 10):\n");
    static const int one[] = {1};
    ts_chan_t *rep = repeat(done, one, 1);
    ts_chan_t *taken = take(done, rep, 10);
    failed |= print_stream(taken) != 10;
    ts_chan_release(rep);
    ts_chan_release(taken);

    printf("take(done, repeat(done, 1, 2, 3), 7):\n");
    static const int one_two_three[] = {1, 2, 3};
    rep = repeat(done, one_two_three, 3);
    taken = take(done, rep, 7);
    failed |= print_stream(taken) != 7;
    ts_chan_release(rep);
    ts_chan_release(taken);

    printf("take(done, repeatFn(done, rand), 5):\n");
    static uint32_t rand_state = 88172645u; /* fixed seed: same output */
    rep = repeatFn(done, rand_int, &rand_state);
    taken = take(done, rep, 5);
    failed |= print_stream(taken) != 5;
    ts_chan_release(rep);
    ts_chan_release(taken);

    ts_chan_close(done); /* defer close(done): the repeats stop */
    ts_chan_release(done);
    if (sample_wait_tasks() != 0) /* also: nothing uses rand_state any more */
        return 1;

    /* newRandStream with a done channel */
    done = xchan(0, 0);
    ts_chan_t *randStream = newRandStream(done);
    printf("3 random ints:\n");
    for (int i = 1; i <= 3; i++) {
        int v;
        ts_chan_recv(randStream, &v, NULL);
        printf("%d:%d\n", i, v);
    }
    ts_chan_close(done);
    ts_chan_release(done);
    ts_chan_release(randStream);
    /* Go: time.Sleep(1 * time.Second) to let the message appear; here:
     * wait for the task to return */
    if (sample_wait_tasks() != 0)
        return 1;
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
