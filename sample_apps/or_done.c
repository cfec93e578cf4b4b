/* or_done.c — the or-done channel: range over a channel you do not own and
 * still stop when done is closed.
 *
 * Ported from 002_4afb6b829636c6ad.txt, "The or-done-channel": orDone(done,
 * c) wraps c in a channel that closes when c closes *or* done closes, so the
 * consumer writes a plain `for val := range orDone(done, myChan)` instead of
 * a select on done around every receive.
 *
 * The seed gives only the function and the loop; two runs exercise it:
 *   1. myChan is closed by its producer after 5 values: the loop prints them
 *      and ends because myChan closed.
 *   2. myChan's producer sends 3 values and then keeps myChan open (its
 *      owner closes it only when told to stop, at the end). A plain
 *      `range myChan` would block forever after the third value; the
 *      consumer closes done after the third value and the loop over orDone
 *      ends even though myChan is still open.
 * Deterministic output.
 *
 * Run: build/sample_apps/or_done */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "stages.h"

/* ---- the producer of myChan --------------------------------------------- */

/* myChan's owner: sends count values, then closes myChan, or, with
 * close_when_finished false, keeps it open until its own stop channel is
 * closed (a channel of someone else that the consumer cannot close). */
struct producer_args {
    ts_chan_t *stop, *out;
    int count;
    bool close_when_finished;
};

static void producer_task(void *p)
{
    struct producer_args *a = p;
    for (int i = 0; i < a->count; i++) {
        ts_select_case_t c[] = {TS_RECV_CASE(a->stop, NULL),
                                TS_SEND_CASE(a->out, &i)};
        if (ts_select(c, 2, 0) == 0)
            goto out;
    }
    if (!a->close_when_finished)
        ts_chan_recv(a->stop, NULL, NULL); /* keep myChan open until stop */
out:
    ts_chan_close(a->out);
    ts_chan_release(a->out);
    ts_chan_release(a->stop);
    free(a);
}

static ts_chan_t *producer(ts_chan_t *stop, int count, bool close_when_finished)
{
    ts_chan_t *myChan = xchan(sizeof(int), 0);
    struct producer_args *a = xmalloc(sizeof *a);
    a->stop = ts_chan_retain(stop);
    a->out = ts_chan_retain(myChan);
    a->count = count;
    a->close_when_finished = close_when_finished;
    sample_go(producer_task, a);
    return myChan;
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = 0;

    /* 1. myChan closes by itself */
    printf("1. myChan closed by its producer after 5 values\n");
    ts_chan_t *stop = xchan(0, 0);
    ts_chan_t *done = xchan(0, 0);
    ts_chan_t *myChan = producer(stop, 5, true);
    ts_chan_t *vals = orDone(done, myChan);
    int v, n = 0;
    bool ok;
    for (;;) { /* for val := range orDone(done, myChan) */
        ts_chan_recv(vals, &v, &ok);
        if (!ok)
            break;
        printf("val: %d\n", v);
        n++;
    }
    printf("loop ended: myChan was closed (%d values)\n", n);
    failed |= n != 5;
    ts_chan_release(vals);
    ts_chan_release(myChan);
    ts_chan_close(done); /* defer close(done) */
    ts_chan_release(done);

    /* 2. myChan stays open; done ends the loop */
    printf("2. myChan stays open; the consumer closes done after 3 values\n");
    done = xchan(0, 0);
    myChan = producer(stop, 3, false);
    vals = orDone(done, myChan);
    n = 0;
    for (;;) {
        ts_chan_recv(vals, &v, &ok);
        if (!ok)
            break;
        printf("val: %d\n", v);
        if (++n == 3) {
            printf("close(done)\n");
            ts_chan_close(done);
        }
    }
    bool still_open = ts_chan_try_recv(myChan, NULL, &ok) == TS_EWOULDBLOCK;
    printf("loop ended although myChan is still open: %s\n",
           still_open ? "yes" : "NO");
    failed |= n != 3 || !still_open;
    ts_chan_release(vals);
    ts_chan_release(myChan);
    ts_chan_release(done);
    ts_chan_close(stop); /* now let the producer close myChan and exit */
    ts_chan_release(stop);

    if (sample_wait_tasks() != 0)
        failed = 1;
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
