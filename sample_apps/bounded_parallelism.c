/* bounded_parallelism.c — limiting how many tasks run at once.
 *
 * Ported from 000_ba33576b914601bb.txt:
 *   1. "如何限定Goroutine数量" (how to limit the number of goroutines),
 *      "用有 buffer 的 channel 来限制": a buffered channel of capacity
 *      `limit` is a counting semaphore. Sending acquires a slot (blocks when
 *      `limit` tasks hold one), receiving releases it. As in the seed's
 *      `step()` ("Maximum Efficiency With Semaphores"), one task is started
 *      per input once a slot is free, and at the end the caller acquires all
 *      `limit` slots, which waits for the last workers (sem.Acquire(ctx,
 *      limit)). Every worker records how many workers run at the same time;
 *      the program prints the maximum observed and checks it never exceeds
 *      the bound.
 *   2. "利用无缓冲 channel 与任务发送/执行分离方式": a fixed pool of goCnt = 3
 *      workers ranging over an unbuffered channel, tasks sent by sendTask(),
 *      a WaitGroup (here a buffered channel) to wait for all of them.
 *      The seed sends math.MaxInt64 tasks; this sends 10, and closes the
 *      channel at the end so the workers exit (the seed leaves them blocked).
 *
 * Output: the per-task lines of part 2 come in a nondeterministic order and
 * the goroutine count depends on scheduling; the checks (bound respected,
 * every task handled exactly once) are printed as yes/NO lines.
 *
 * Run: build/sample_apps/bounded_parallelism */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

/* ---- 1. buffered channel as a semaphore --------------------------------- */

#define LIMIT 3
#define TASKS 20

static atomic_int running;      /* workers between acquire and release */
static atomic_int max_running;  /* highest value of running seen */
static atomic_int sem_overflow; /* len(sem) > cap(sem) seen: impossible */
static atomic_int completed;

struct job {
    ts_chan_t *sem;
    int t;
};

static void worker(void *p)
{
    struct job *j = p;
    int now = atomic_fetch_add(&running, 1) + 1;
    int max = atomic_load(&max_running);
    while (now > max && !atomic_compare_exchange_weak(&max_running, &max, now))
        ;
    if (ts_chan_len(j->sem) > ts_chan_cap(j->sem))
        atomic_store(&sem_overflow, 1);

    ts_sleep(10 * TS_MILLISECOND); /* the work (time.Sleep in the seed) */
    atomic_fetch_add(&completed, 1);

    atomic_fetch_sub(&running, 1);
    ts_chan_recv(j->sem, NULL, NULL); /* defer func() { <-sem }(): release */
    ts_chan_release(j->sem);
    free(j);
}

static int semaphore_part(void)
{
    printf("buffered channel as a semaphore: %d tasks, bound %d\n", TASKS,
           LIMIT);
    ts_chan_t *sem = xchan(0, LIMIT); /* make(chan struct{}, limit) */
    for (int t = 0; t < TASKS; t++) {
        ts_chan_send(sem, NULL); /* sem <- struct{}{}: acquire, may block */
        struct job *j = xmalloc(sizeof *j);
        j->sem = ts_chan_retain(sem);
        j->t = t;
        sample_go(worker, j);
    }
    for (int i = 0; i < LIMIT; i++) /* acquire every slot: all work done */
        ts_chan_send(sem, NULL);
    ts_chan_release(sem);

    int max = atomic_load(&max_running);
    bool bounded = max <= LIMIT && !atomic_load(&sem_overflow);
    printf("max concurrency observed: %d\n", max);
    printf("never exceeded the bound: %s\n", bounded ? "yes" : "NO");
    printf("tasks completed: %d\n", atomic_load(&completed));
    return bounded && atomic_load(&completed) == TASKS ? 0 : 1;
}

/* ---- 2. fixed workers on an unbuffered channel -------------------------- */

#define GO_CNT 3
#define TASK_CNT 10

static atomic_int handled[TASK_CNT];

struct business_args {
    ts_chan_t *ch, *wg;
};

static void doBusiness(void *p)
{
    struct business_args *a = p;
    int t;
    bool ok;
    for (;;) { /* for t := range ch */
        ts_chan_recv(a->ch, &t, &ok);
        if (!ok)
            break;
        printf("go task = %d, goroutine count = %lld\n", t,
               (long long)ts_num_tasks());
        if (t >= 0 && t < TASK_CNT)
            atomic_fetch_add(&handled[t], 1);
        ts_chan_send(a->wg, NULL); /* wg.Done() */
    }
    ts_chan_release(a->ch);
    ts_chan_release(a->wg);
    free(a);
}

static void sendTask(int task, ts_chan_t *ch)
{
    /* wg.Add(1): the WaitGroup channel has room for every task */
    ts_chan_send(ch, &task);
}

static int worker_pool_part(void)
{
    printf("unbuffered channel, %d workers, %d tasks\n", GO_CNT, TASK_CNT);
    ts_chan_t *ch = xchan(sizeof(int), 0); /* 无buffer channel */
    ts_chan_t *wg = xchan(0, TASK_CNT);
    for (int i = 0; i < GO_CNT; i++) { /* go doBusiness(ch) */
        struct business_args *a = xmalloc(sizeof *a);
        a->ch = ts_chan_retain(ch);
        a->wg = ts_chan_retain(wg);
        sample_go(doBusiness, a);
    }
    for (int t = 0; t < TASK_CNT; t++)
        sendTask(t, ch);
    for (int t = 0; t < TASK_CNT; t++) /* wg.Wait() */
        ts_chan_recv(wg, NULL, NULL);
    ts_chan_close(ch); /* not in the seed: lets the workers exit */
    ts_chan_release(ch);
    ts_chan_release(wg);

    bool once = true;
    for (int t = 0; t < TASK_CNT; t++)
        once = once && atomic_load(&handled[t]) == 1;
    printf("every task handled exactly once: %s\n", once ? "yes" : "NO");
    return once ? 0 : 1;
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = semaphore_part();
    failed |= worker_pool_part();
    if (sample_wait_tasks() != 0)
        failed = 1;
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
