/* racy_unbuffered_reuse: the writer reuses one plain global for every
 * message on an unbuffered channel: write, send, write again. The reader's
 * load after receive k is unordered with the writer's store after send k
 * returns (an unbuffered send completing orders the receive itself, not the
 * receiver's later code): a real race, and the program usually even
 * observes it (it counts loads that already see the next message's value).
 * Regression: TSan missed it while a parked receiver acquired a
 * per-channel sync address, which also handed it whatever the writer did
 * after the handoff; handoff edges are now per waiter (runtime/chan.c).
 * Expected: exactly one data race, on 'reused_msg'. */
#include "race_util.h"

enum { N = 300 };

int reused_msg; /* the race */

static ts_chan_t *ch, *done;
static atomic_int arrived;
static int stale;

static void writer(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    for (int i = 0; i < N; i++) {
        reused_msg = i;
        race_send_int(ch, i);
    }
    race_send_int(done, 0);
}

static void reader(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    for (int i = 0; i < N; i++) {
        int v = race_recv_int(ch);
        if (reused_msg != v)
            stale++;
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
    fprintf(stderr, "racy_unbuffered_reuse: %d of %d loads saw a later message\n",
            stale, N);
    printf("racy_unbuffered_reuse: done\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
