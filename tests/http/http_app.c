/* http_app.c — a taskscope program for the /debug/pprof tests
 * (check_http.sh): for argv[1] seconds (default 10) it keeps every
 * profile busy: labelled workers contend on a mutex (mutex, block),
 * wait on a channel (block, goroutine) and allocate with ts_malloc
 * (heap, allocs), while main sleeps. Run with TASKSCOPE_HTTP set. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/profile.h>
#include <taskscope/taskscope.h>

#define WORKERS 4

static ts_mutex_t mu = TS_MUTEX_INIT;
static ts_chan_t *ticks;
static atomic_int stop;
static void *kept[64];

static void worker(void *arg)
{
    (void)arg;
    ts_set_label("role", "worker");
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        ts_mutex_lock(&mu);
        void *p = ts_malloc(64 * 1024);
        ts_sleep(200 * TS_MICROSECOND);
        ts_free(kept[i % 64]);
        kept[i % 64] = p;
        ts_mutex_unlock(&mu);
        int v;
        bool ok;
        ts_chan_recv(ticks, &v, &ok);
    }
}

static void ticker(void *arg)
{
    (void)arg;
    for (int v = 0; !atomic_load(&stop); v++) {
        ts_sleep(TS_MILLISECOND);
        ts_chan_try_send(ticks, &v);
    }
}

static int main_task(void *arg)
{
    int64_t seconds = *(int64_t *)arg;
    ticks = ts_chan_make(sizeof(int), 0);
    for (int i = 0; i < WORKERS; i++)
        ts_go(worker, NULL);
    ts_go(ticker, NULL);
    ts_sleep(seconds * TS_SECOND);
    atomic_store(&stop, 1);
    puts("http_app: done");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int64_t seconds = argc > 1 ? atoll(argv[1]) : 10;
    ts_set_block_profile_rate(1);
    ts_set_mutex_profile_fraction(1);
    return ts_run(main_task, &seconds);
}
