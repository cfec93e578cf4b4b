/* clean_buffered: message passing through a buffered channel, both edges.
 *
 *   send k -> receive k: the producer writes msgs[k] before send k, the
 *   consumer reads it after receive k;
 *   receive k -> send k+C completes: the consumer writes acks[k] before
 *   receive k, the producer reads it after send k+C returns (the send could
 *   only complete once receive k freed a slot).
 * Each array slot is written once and read once, so no other order is
 * needed. Expected: no TSan report. */
#include "race_util.h"

enum { N = 400, C = 4 };

static int msgs[N];  /* producer -> consumer */
static int acks[N];  /* consumer -> producer, through the k+C edge */

static ts_chan_t *ch, *done;
static atomic_int arrived;

static void producer(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    for (int i = 0; i < N; i++) {
        msgs[i] = 1000 + i;
        race_send_int(ch, i);
        if (i >= C && acks[i - C] != 2000 + i - C)
            race_fail("ack %d is %d after send %d", i - C, acks[i - C], i);
    }
    race_send_int(done, 0);
}

static void consumer(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    for (int k = 0; k < N; k++) {
        acks[k] = 2000 + k;
        int v = race_recv_int(ch);
        if (v != k || msgs[k] != 1000 + k)
            race_fail("receive %d: got %d, msgs[k] %d", k, v, msgs[k]);
    }
    race_send_int(done, 1);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    ch = race_chan(sizeof(int), C);
    done = race_chan(sizeof(int), 0);
    ts_go(producer, NULL);
    ts_go(consumer, NULL);
    race_recv_int(done);
    race_recv_int(done);
    printf("clean_buffered: %d messages through cap %d ok\n", N, C);
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
