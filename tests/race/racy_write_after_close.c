/* racy_write_after_close: the closer writes a plain global, closes the
 * channel (fine: the close happens before a receive that observes it), then
 * writes the global again; the reader observes the close and reads the
 * global. The write after the close is unordered with the read. The reader
 * polls with try_recv on the other worker thread (no parking), and the
 * second write waits on a relaxed flag for the read (see race_util.h). Expected: exactly one TSan data race, on
 * 'after_close_value'. */
#include "race_util.h"

int after_close_value; /* the race */
volatile int after_close_sink;

static ts_chan_t *ch, *done;
static atomic_int arrived, read_done;

static void closer(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    after_close_value = 1; /* published by the close: no race */
    ts_chan_close(ch);
    race_flag_wait(&read_done); /* real time only: no happens-before */
    after_close_value = 2; /* racy write */
    race_send_int(done, 0);
}

static void reader(void *arg)
{
    (void)arg;
    race_barrier(&arrived, 2);
    int v;
    bool ok = true;
    while (ts_chan_try_recv(ch, &v, &ok) == TS_EWOULDBLOCK)
        sched_yield();
    if (ok)
        race_fail("closed channel delivered a value");
    after_close_sink = after_close_value; /* racy read */
    race_flag_set(&read_done);
    race_send_int(done, 1);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    ch = race_chan(sizeof(int), 0);
    done = race_chan(sizeof(int), 0);
    ts_go(closer, NULL);
    ts_go(reader, NULL);
    race_recv_int(done);
    race_recv_int(done);
    printf("racy_write_after_close: done\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
