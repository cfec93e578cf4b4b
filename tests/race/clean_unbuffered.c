/* clean_unbuffered: message passing through an unbuffered channel, both
 * directions of its edge.
 *
 *   send k -> receive k completes: the writer fills msgs[k] before send k,
 *   the reader reads it after receive k returns;
 *   receive k -> send k completes (unbuffered: C = 0): the reader writes
 *   acks[k] before receive k, the writer reads it after send k returns.
 *
 * Each slot is written once and read once. Note what is NOT ordered: the
 * reader's code after receive k and the writer's code after send k. Reusing
 * one variable for every message (write, send, write again) is a real race
 * even on an unbuffered channel: racy_write_after_unbuffered_send.c.
 * Expected: no TSan report. */
#include "race_util.h"

enum { N = 300 };

static int msgs[N]; /* writer -> reader */
static int acks[N]; /* reader -> writer */

static ts_chan_t *ch, *done;
static atomic_int arrived;

static void writer(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    for (int i = 0; i < N; i++) {
        msgs[i] = i * 7;
        race_send_int(ch, i);
        if (acks[i] != i + 1)
            race_fail("send %d returned, acks[%d] is %d", i, i, acks[i]);
    }
    race_send_int(done, 0);
}

static void reader(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    for (int i = 0; i < N; i++) {
        acks[i] = i + 1;
        int v = race_recv_int(ch);
        if (v != i || msgs[i] != i * 7)
            race_fail("message %d: got %d, msgs[i] %d", i, v, msgs[i]);
    }
    race_send_int(done, 1);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    ch = race_chan(sizeof(int), 0);
    done = race_chan(sizeof(int), 0);
    ts_go(writer, NULL);
    ts_go(reader, NULL);
    race_recv_int(done);
    race_recv_int(done);
    printf("clean_unbuffered: %d messages ok\n", N);
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
