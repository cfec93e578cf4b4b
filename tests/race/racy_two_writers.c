/* racy_two_writers: two tasks write one plain global with no
 * synchronization between them. Both run at the same time on the two worker
 * threads (they meet at a relaxed barrier first, see race_util.h), so the
 * two stores are unordered; the second writer waits on a relaxed flag until
 * the first has stored (real time only, no happens-before). Expected: exactly one TSan data race, on
 * 'shared_counter'. Everything else is synchronized through channels. */
#include "race_util.h"

int shared_counter; /* the race */

static ts_chan_t *done;
static atomic_int arrived, first_stored;

static void writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    race_barrier(&arrived, 2);
    if (id == 2)
        race_flag_wait(&first_stored);
    shared_counter = id; /* racy store, in both tasks */
    if (id == 1)
        race_flag_set(&first_stored);
    race_send_int(done, id);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    done = race_chan(sizeof(int), 0);
    ts_go(writer, (void *)(intptr_t)1);
    ts_go(writer, (void *)(intptr_t)2);
    race_recv_int(done);
    race_recv_int(done);
    printf("racy_two_writers: done\n");
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
