/* racy_write_after_send: the sender writes a plain global before sending on
 * a buffered channel (fine: send happens before the receive completes) and
 * writes it AGAIN right after the send returns; the receiver reads it after
 * its receive. Nothing orders the second write with the read: a buffered
 * send completes without waiting for the receiver. The receiver polls with
 * try_recv on the other worker thread so that neither side parks, and the
 * scheduler's own hand-off of a parked task cannot hide the race; the
 * sender's second write waits on a relaxed flag for the read (race_util.h).
 * Expected: exactly one TSan data race, on 'after_send_value'. */
#include "race_util.h"

int after_send_value; /* the race */
volatile int after_send_sink;

static ts_chan_t *ch, *done;
static atomic_int arrived, read_done;

static void sender(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    after_send_value = 1; /* published by the send: no race */
    race_send_int(ch, 1);
    race_flag_wait(&read_done); /* real time only: no happens-before */
    after_send_value = 2; /* racy write */
    race_send_int(done, 0);
}

static void receiver(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    int v;
    bool ok;
    while (ts_chan_try_recv(ch, &v, &ok) == TS_EWOULDBLOCK)
        sched_yield();
    if (!ok || v != 1)
        race_fail("receive: ok %d v %d", ok, v);
    after_send_sink = after_send_value; /* racy read */
    race_flag_set(&read_done);
    race_send_int(done, 1);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    ch = race_chan(sizeof(int), 1);
    done = race_chan(sizeof(int), 0);
    ts_go(sender, NULL);
    ts_go(receiver, NULL);
    race_recv_int(done);
    race_recv_int(done);
    printf("racy_write_after_send: done\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
