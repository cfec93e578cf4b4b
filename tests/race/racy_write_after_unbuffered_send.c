/* racy_write_after_unbuffered_send: reusing a variable after an UNBUFFERED
 * send returns. The send completing means the receive happened, not that
 * the receiver has finished with the data: the receiver's code after its
 * receive is unordered with the sender's code after its send. The sender
 * writes the global, sends, and writes it again; the receiver reads it after
 * receiving.
 *
 * Scheduling so that the scheduler's own synchronization cannot hide the
 * race (race_util.h): the receiver polls with try_recv on one worker thread
 * and takes the value from the parked sender, which it readies; after its
 * read it waits on a relaxed flag (no synchronization) until the sender,
 * resumed on the other worker thread, has done its second write, which in
 * turn waits on a relaxed flag for the read.
 * Expected: exactly one TSan data race, on 'after_unbuffered_value'. */
#include "race_util.h"

int after_unbuffered_value; /* the race */
volatile int after_unbuffered_sink;

static ts_chan_t *ch, *done;
static atomic_int arrived, read_done, second_write_done;

static void sender(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    after_unbuffered_value = 1; /* published by the send: no race */
    race_send_int(ch, 1);       /* parks until the receiver takes it */
    race_flag_wait(&read_done); /* real time only: no happens-before */
    after_unbuffered_value = 2; /* racy write */
    race_flag_set(&second_write_done);
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
    after_unbuffered_sink = after_unbuffered_value; /* racy read */
    race_flag_set(&read_done);
    /* Stay on this worker thread, touching nothing the sender will acquire,
     * until the sender (stolen by the other worker) has written again. */
    race_flag_wait(&second_write_done);
    race_send_int(done, 1);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    ch = race_chan(sizeof(int), 0);
    done = race_chan(sizeof(int), 0);
    ts_go(sender, NULL);
    ts_go(receiver, NULL);
    race_recv_int(done);
    race_recv_int(done);
    printf("racy_write_after_unbuffered_send: done\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
