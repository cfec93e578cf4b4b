/* tee.c — the tee-channel: split one stream into two that carry the same
 * values.
 *
 * Ported from 002_4afb6b829636c6ad.txt, "The tee-channel": tee(done, in)
 * returns out1 and out2; for each value from in it sends the value on both,
 * in whichever order the readers are ready, by setting its local copy of a
 * channel to nil (NULL here) once that side got the value, so the next
 * select can only pick the other side. The seed's main tees
 * take(done, repeat(done, 1, 2), 4) and prints
 *     out1: 1, out2:1
 *     out1: 2, out2:2
 *     out1: 1, out2:1
 *     out1: 2, out2:2
 * repeat, take and orDone are the seed's own (see generators.c and
 * or_done.c).
 *
 * Shows: select with a nil (NULL) channel case that is never ready; the two
 * outputs advance in lockstep (the tee waits until both readers took a
 * value). Deterministic output.
 *
 * Run: build/sample_apps/tee */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "stages.h"

/* ---- tee ---------------------------------------------------------------- */

struct tee_args {
    ts_chan_t *done, *in, *out1, *out2;
};

static void tee_task(void *p)
{
    struct tee_args *a = p;
    ts_chan_t *vals = orDone(a->done, a->in);
    int val;
    bool ok;
    for (;;) { /* for val := range orDone(done, in) */
        ts_chan_recv(vals, &val, &ok);
        if (!ok)
            break;
        ts_chan_t *out1 = a->out1, *out2 = a->out2; /* shadow the variables */
        for (int i = 0; i < 2; i++) {
            ts_select_case_t c[] = {
                TS_RECV_CASE(a->done, NULL), /* case <-done: */
                TS_SEND_CASE(out1, &val),    /* case out1 <- val: */
                TS_SEND_CASE(out2, &val),    /* case out2 <- val: */
            };
            switch (ts_select(c, 3, 0)) {
            case 1:
                out1 = NULL; /* further sends to this copy block */
                break;
            case 2:
                out2 = NULL;
                break;
            }
        }
    }
    ts_chan_release(vals);
    ts_chan_close(a->out2); /* defer close(out2), run first */
    ts_chan_close(a->out1); /* defer close(out1) */
    ts_chan_release(a->out1);
    ts_chan_release(a->out2);
    ts_chan_release(a->in);
    ts_chan_release(a->done);
    free(a);
}

/* tee: *out1 and *out2 each get one reference for the caller. */
static void tee(ts_chan_t *done, ts_chan_t *in, ts_chan_t **out1,
                ts_chan_t **out2)
{
    *out1 = xchan(sizeof(int), 0);
    *out2 = xchan(sizeof(int), 0);
    struct tee_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->in = ts_chan_retain(in);
    a->out1 = ts_chan_retain(*out1);
    a->out2 = ts_chan_retain(*out2);
    sample_go(tee_task, a);
}

static int main_task(void *arg)
{
    (void)arg;
    ts_chan_t *done = xchan(0, 0);

    /* out1, out2 := tee(done, take(done, repeat(done, 1, 2), 4)) */
    static const int values[] = {1, 2};
    ts_chan_t *rep = repeat(done, values, 2);
    ts_chan_t *taken = take(done, rep, 4);
    ts_chan_t *out1, *out2;
    tee(done, taken, &out1, &out2);
    ts_chan_release(rep);
    ts_chan_release(taken);

    int val1, val2, n = 0;
    bool ok;
    for (;;) { /* for val1 := range out1 */
        ts_chan_recv(out1, &val1, &ok);
        if (!ok)
            break;
        ts_chan_recv(out2, &val2, NULL); /* <-out2 */
        printf("out1: %d, out2:%d\n", val1, val2);
        n++;
    }
    ts_chan_release(out1);
    ts_chan_release(out2);
    ts_chan_close(done); /* defer close(done): stops repeat */
    ts_chan_release(done);

    if (sample_wait_tasks() != 0)
        return 1;
    return n == 4 ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
