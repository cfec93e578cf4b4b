/* racy_same_worker: two tasks write one plain global with nothing ordering
 * them: a real race, which Go's race detector reports whatever GOMAXPROCS.
 * Run with ONE worker thread (TASKSCOPE_PROCS=1), so the two tasks run one
 * after the other on that worker. Regression: TSan missed it while fiber
 * switches synchronized (task A -> g0 -> task B looked ordered); fiber
 * switches no longer synchronize (runtime/race.h).
 * Expected: exactly one data race, on 'same_worker_value'. */
#include "race_util.h"

int same_worker_value; /* the race */

static ts_chan_t *done;

static void writer(void *arg)
{
    same_worker_value = (int)(intptr_t)arg; /* racy store, in both tasks */
    race_send_int(done, 0);
}

static int main_task(void *arg)
{
    (void)arg;
    done = race_chan(sizeof(int), 0);
    ts_go(writer, (void *)(intptr_t)1);
    ts_go(writer, (void *)(intptr_t)2);
    race_recv_int(done);
    race_recv_int(done);
    printf("racy_same_worker: done\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
