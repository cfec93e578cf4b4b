/* busy_app SECONDS — a taskscope program that keeps every profile busy for
 * SECONDS (tests/views: pushes and the /debug/pprof page in a browser):
 * producer/consumer tasks on an unbuffered channel (block profile), tasks
 * contending for one ts_mutex_t (mutex profile), ts_malloc'd buffers kept
 * and freed (heap, allocs), and a spinning task (CPU). Prints "READY" once
 * the tasks run, "DONE" at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/profile.h>
#include <taskscope/taskscope.h>

static ts_mutex_t mu;
static volatile int stop;
static volatile unsigned long long sink;

static void __attribute__((noinline)) busy_producer(void *arg)
{
    ts_chan_t *ch = arg;
    for (int i = 0; !stop; i++)
        ts_chan_send(ch, &i);
    ts_chan_close(ch);
}

static void __attribute__((noinline)) busy_consumer(void *arg)
{
    ts_chan_t *ch = arg;
    int v;
    bool ok;
    while (ts_chan_recv(ch, &v, &ok) == 0 && ok)
        ts_sleep(TS_MILLISECOND / 10);
}

static void __attribute__((noinline)) busy_locker(void *arg)
{
    (void)arg;
    while (!stop) {
        ts_mutex_lock(&mu);
        void *keep = ts_malloc(4096);
        memset(keep, 1, 4096);
        ts_sleep(TS_MILLISECOND / 5);
        ts_free(keep);
        ts_mutex_unlock(&mu);
    }
}

static void __attribute__((noinline)) busy_spinner(void *arg)
{
    (void)arg;
    while (!stop) {
        for (int i = 0; i < 100000; i++)
            sink += (unsigned long long)i * i;
        ts_yield();
    }
}

static int main_task(void *arg)
{
    double seconds = *(double *)arg;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 0);
    ts_go(busy_producer, ch);
    ts_go(busy_consumer, ch);
    for (int i = 0; i < 3; i++)
        ts_go(busy_locker, NULL);
    ts_go(busy_spinner, NULL);
    printf("READY\n");
    fflush(stdout);
    ts_sleep((int64_t)(seconds * TS_SECOND));
    stop = 1;
    ts_sleep(50 * TS_MILLISECOND);
    printf("DONE\n");
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    return ts_run(main_task, &seconds);
}
