/* taskscope — profiler start-up and the drain thread.
 *
 * Invariants:
 *   - everything read from the environment is set before the helper
 *     threads start, so they read settled values;
 *   - the drain thread blocks every signal, never exits, and is the only
 *     thread that polls for long-blocked tasks; it drains every 20 ms so a
 *     1024-record ring absorbs 50,000 sampled events per second per
 *     thread before it drops (bench/README.md). */
#include "profiler/contention.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiler/agent.h"
#include "profiler/blockwarn.h"
#include "profiler/exit.h"
#include "profiler/http.h"
#include "profiler/threadcreate.h"

#define DRAIN_PERIOD_NS 20000000 /* 20 ms */

static int held; /* atomic: ts__profiler_drain_hold */

void ts__profiler_drain_hold(bool hold)
{
    __atomic_store_n(&held, hold, __ATOMIC_RELEASE);
}

static void *drain_main(void *arg)
{
    (void)arg;
    struct timespec ts = {0, DRAIN_PERIOD_NS};
    for (;;) {
        nanosleep(&ts, NULL);
        if (!__atomic_load_n(&held, __ATOMIC_ACQUIRE))
            ts__contention_drain();
        ts__blockwarn_poll();
    }
    return NULL;
}

static void start_drain_thread(void)
{
    if (ts__start_helper_thread(drain_main, NULL) != 0)
        fputs("taskscope: cannot start the profiler's drain thread; "
              "profiles drain when written\n", stderr);
}

static bool for_probe;

static void start_once(void)
{
    ts__contention_init();
    ts__blockwarn_init();
    if (!for_probe)
        ts__exit_profiles_init(); /* the probe writes its own (probe/output.c) */
    start_drain_thread();
    /* Under the probe the program is not ours: no agent thread and no
     * SIGQUIT handler unless asked for (taskscope run asks). */
    const char *agent = getenv("TASKSCOPE_AGENT");
    if (!for_probe || (agent && strcmp(agent, "1") == 0))
        ts__agent_start();
    ts__http_start(); /* TASKSCOPE_HTTP: the program's and the probe's alike */
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void ts__profiler_start(void)
{
    pthread_once(&once, start_once);
}

void ts__profiler_start_probe(void)
{
    for_probe = true;
    pthread_once(&once, start_once);
}
