/* clean_semaphore: a buffered channel of capacity 1 used as a lock.
 *
 * Acquire is a send, release a receive. The k-th receive happens before the
 * (k+1)-th send completes (the (k+C)-th, C = 1), so the critical sections
 * on the plain counter are totally ordered. Four tasks, two at a time really
 * in parallel on the two worker threads. Expected: no TSan report, and the
 * counter exact. */
#include "race_util.h"

enum { TASKS = 4, ITERS = 200 };

static long guarded_counter;      /* only touched while holding the lock */
static long guarded_history[TASKS * ITERS];

static ts_chan_t *lock_ch, *done;
static atomic_int arrived;

static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    if (id < 2)
        race_barrier(&arrived, 2); /* the first two start together */
    int token = id;
    for (int i = 0; i < ITERS; i++) {
        ts_chan_send(lock_ch, &token);   /* acquire */
        long c = guarded_counter;
        guarded_history[c] = id;
        guarded_counter = c + 1;
        ts_chan_recv(lock_ch, NULL, NULL); /* release */
        if (i % 16 == 0)
            ts_yield();
    }
    race_send_int(done, id);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    lock_ch = race_chan(sizeof(int), 1);
    done = race_chan(sizeof(int), 0);
    for (int i = 0; i < TASKS; i++)
        ts_go(worker, (void *)(intptr_t)i);
    for (int i = 0; i < TASKS; i++)
        race_recv_int(done);
    if (guarded_counter != TASKS * ITERS)
        race_fail("counter %ld, want %d", guarded_counter, TASKS * ITERS);
    printf("clean_semaphore: %ld increments under a cap-1 channel lock ok\n",
           guarded_counter);
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
