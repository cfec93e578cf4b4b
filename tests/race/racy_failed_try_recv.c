/* racy_failed_try_recv: task A writes a plain global, then polls an empty
 * buffered channel with ts_chan_try_recv, which fails; only afterwards (a
 * relaxed flag, no synchronization, makes sure of the order) task B sends on
 * that channel and reads the global. A failed try_recv is not a receive:
 * none of the channel edges the API promises (chan.h) orders A's write
 * before B's read, a real race (Go's race detector reports it).
 * Regression: TSan missed it while the runtime's channel lock was
 * instrumented and ordered every operation on a channel; the runtime is no
 * longer instrumented (runtime/race.h).
 * Expected: exactly one data race, on 'polled_value'. */
#include "race_util.h"

int polled_value; /* the race */
volatile int polled_sink;

static ts_chan_t *ch, *done;
static atomic_int arrived, polled;

static void poller(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    polled_value = 1; /* racy write */
    int v;
    bool ok;
    if (ts_chan_try_recv(ch, &v, &ok) != TS_EWOULDBLOCK)
        race_fail("try_recv on an empty channel succeeded");
    atomic_fetch_add_explicit(&polled, 1, memory_order_relaxed);
    race_send_int(done, 0);
}

static void sender(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    race_barrier(&polled, 2); /* after the failed poll, without an edge */
    race_send_int(ch, 5);     /* buffered: completes at once */
    polled_sink = polled_value; /* racy read */
    race_send_int(done, 1);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    ch = race_chan(sizeof(int), 1);
    done = race_chan(sizeof(int), 0);
    ts_go(poller, NULL);
    ts_go(sender, NULL);
    race_recv_int(done);
    race_recv_int(done);
    printf("racy_failed_try_recv: done\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
