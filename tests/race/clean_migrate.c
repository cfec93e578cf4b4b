/* clean_migrate: many tasks moving between the worker threads.
 *
 * 40 tasks each own a heap record (filled by the main task before ts_go:
 * creating a task happens before it starts) and a stack array, and touch
 * both across ts_yield and channel waits, so they resume on whichever worker
 * thread stole them. No data is shared between tasks except through the
 * final results channel. A plain global counts, per task, how often its
 * worker thread changed: written only by the task that owns the slot.
 * Expected: no TSan report. */
#include <pthread.h>
#include <string.h>

#include "race_util.h"

enum { TASKS = 40, ROUNDS = 20, WORDS = 64 };

struct record {
    int id;
    long words[WORDS];
    ts_chan_t *ping; /* this task's ping-pong partner channel */
    ts_chan_t *pong;
};

static struct record *records[TASKS];
static int migrations[TASKS]; /* slot i written only by task i */
static ts_chan_t *results;

static void partner(void *arg)
{
    struct record *r = arg;
    for (int i = 0; i < ROUNDS / 2; i++) { /* task_fn pings on even rounds */
        int v = race_recv_int(r->ping);
        race_send_int(r->pong, v + 1);
    }
}

static void task_fn(void *arg)
{
    struct record *r = arg;
    long local[WORDS];
    memset(local, 0, sizeof local);
    pthread_t last = pthread_self();
    for (int round = 0; round < ROUNDS; round++) {
        for (int w = 0; w < WORDS; w++) {
            local[w] += r->id + w;
            r->words[w] += local[w] & 7;
        }
        if (round % 2)
            ts_yield();
        else {
            race_send_int(r->ping, round);
            if (race_recv_int(r->pong) != round + 1)
                race_fail("task %d: bad pong", r->id);
        }
        if (!pthread_equal(last, pthread_self())) {
            migrations[r->id]++;
            last = pthread_self();
        }
    }
    long sum = 0;
    for (int w = 0; w < WORDS; w++)
        sum += local[w] + r->words[w];
    ts_chan_send(results, &sum);
}

static int main_task(void *arg)
{
    (void)arg;
    race_require_procs(2);
    results = race_chan(sizeof(long), TASKS);
    for (int i = 0; i < TASKS; i++) {
        struct record *r = calloc(1, sizeof *r);
        if (!r)
            race_fail("calloc");
        r->id = i;
        for (int w = 0; w < WORDS; w++)
            r->words[w] = w;
        r->ping = race_chan(sizeof(int), 0);
        r->pong = race_chan(sizeof(int), 0);
        records[i] = r;
    }
    for (int i = 0; i < TASKS; i++) {
        ts_go(task_fn, records[i]);
        ts_go(partner, records[i]);
    }
    for (int i = 0; i < TASKS; i++) {
        long sum;
        bool ok;
        ts_chan_recv(results, &sum, &ok);
        if (!ok || sum <= 0)
            race_fail("result %d: %ld", i, sum);
    }
    int moved = 0, total = 0;
    for (int i = 0; i < TASKS; i++) {
        moved += migrations[i] > 0;
        total += migrations[i];
    }
    fprintf(stderr, "clean_migrate: %d of %d tasks changed thread (%d moves)\n",
            moved, TASKS, total);
    printf("clean_migrate: %d tasks ok\n", TASKS);
    return 0;
}

int main(void) { return ts_run(main_task, NULL); }
