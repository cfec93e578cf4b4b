/* bridge.c — the bridge-channel: flatten a channel of channels into one
 * channel of values.
 *
 * Ported from 002_4afb6b829636c6ad.txt, "The bridge-channel": genVals()
 * returns a channel of 10 channels, the i-th a closed buffered channel
 * holding i; bridge(nil, genVals()) ranges over each inner channel in turn
 * (through orDone, also from the seed) and the program prints
 *     0 1 2 3 4 5 6 7 8 9
 * (the Go program prints "%v " per value and no final newline; this one
 * separates the values with spaces and ends the line).
 *
 * Shows: channels are values that travel through channels (the element type
 * of chanStream is ts_chan_t *); a nil done channel (NULL) is a select case
 * that is never ready. Ownership: each ts_chan_t * sent on chanStream
 * carries one reference from the sender to the receiver.
 *
 * Run: build/sample_apps/bridge — deterministic output. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "stages.h"

/* ---- bridge ------------------------------------------------------------- */

struct bridge_args {
    ts_chan_t *done, *chanStream, *valStream;
};

static void bridge_task(void *p)
{
    struct bridge_args *a = p;
    for (;;) {
        ts_chan_t *stream = NULL; /* var stream <-chan interface{} */
        ts_select_case_t c[] = {
            TS_RECV_CASE(a->chanStream, &stream), /* maybeStream, ok := */
            TS_RECV_CASE(a->done, NULL),          /* case <-done: return */
        };
        if (ts_select(c, 2, 0) == 1 || !c[0].ok)
            break;
        /* we now own the reference that came with stream */
        ts_chan_t *vals = orDone(a->done, stream);
        ts_chan_release(stream);
        int val;
        bool ok;
        for (;;) { /* for val := range orDone(done, stream) */
            ts_chan_recv(vals, &val, &ok);
            if (!ok)
                break;
            ts_select_case_t s[] = {TS_SEND_CASE(a->valStream, &val),
                                    TS_RECV_CASE(a->done, NULL)};
            ts_select(s, 2, 0);
        }
        ts_chan_release(vals);
    }
    ts_chan_close(a->valStream); /* defer close(valStream) */
    ts_chan_release(a->valStream);
    ts_chan_release(a->chanStream);
    ts_chan_release(a->done);
    free(a);
}

static ts_chan_t *bridge(ts_chan_t *done, ts_chan_t *chanStream)
{
    ts_chan_t *valStream = xchan(sizeof(int), 0);
    struct bridge_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done); /* NULL stays NULL */
    a->chanStream = ts_chan_retain(chanStream);
    a->valStream = ts_chan_retain(valStream);
    sample_go(bridge_task, a);
    return valStream;
}

/* ---- genVals ------------------------------------------------------------ */

static void gen_vals_task(void *p)
{
    ts_chan_t *chanStream = p;
    for (int i = 0; i < 10; i++) {
        /* stream := make(chan interface{}, 1) */
        ts_chan_t *stream = xchan(sizeof(int), 1);
        ts_chan_send(stream, &i);          /* stream <- i */
        ts_chan_close(stream);             /* close(stream) */
        ts_chan_send(chanStream, &stream); /* chanStream <- stream: our
                                              reference goes along */
    }
    ts_chan_close(chanStream); /* defer close(chanStream) */
    ts_chan_release(chanStream);
}

static ts_chan_t *genVals(void)
{
    ts_chan_t *chanStream = xchan(sizeof(ts_chan_t *), 0);
    sample_go(gen_vals_task, ts_chan_retain(chanStream));
    return chanStream;
}

static int main_task(void *arg)
{
    (void)arg;
    ts_chan_t *chanStream = genVals();
    ts_chan_t *vals = bridge(NULL, chanStream); /* bridge(nil, genVals()) */
    ts_chan_release(chanStream);

    int v, n = 0, sum = 0;
    bool ok;
    for (;;) { /* for v := range bridge(nil, genVals()) */
        ts_chan_recv(vals, &v, &ok);
        if (!ok)
            break;
        printf("%s%d", n > 0 ? " " : "", v); /* fmt.Printf("%v ", v) */
        n++;
        sum += v;
    }
    printf("\n");
    ts_chan_release(vals);

    if (sample_wait_tasks() != 0)
        return 1;
    return n == 10 && sum == 45 ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
