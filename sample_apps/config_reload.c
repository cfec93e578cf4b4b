/* config_reload.c — atomic.Value config reload: readers keep serving while
 * a writer publishes new configurations (copy on write).
 *
 * Ported from 001_f54886a91adcaa1b.txt, "(3) sync.atomic" ("example:
 * Config struct, 四个人读，一个人写": four readers, one writer; `cfg :=
 * &Config{...}` built anew on every change, "copy on write", `v.Store(cfg)`
 * and `v.Load().(*Config)`), "(3.1) Copy-On-Write", and
 * 004_981443292b25e44f.txt's atomic.Value section (Load -> copy -> Store).
 *
 * Four reader tasks serve requests, each reading the current config with
 * ts_atomic_value_load (a counted reference), using it across a yield and
 * releasing it; one writer task reloads the config 1,000 times, each time
 * copying the current one, changing it and storing the copy. The value's
 * destructor frees an old config once the last reader has released it:
 * C's stand-in for Go's collector.
 *
 * Differences from the seed: C has no GC, so readers release what they
 * load; the writer stops after a fixed number of reloads and the readers
 * when they see the last version; the output prints only what does not
 * depend on scheduling (counts and checks as "...: yes" lines).
 *
 * Run: build/sample_apps/config_reload (~0.05 s). */
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define READERS 4
#define RELOADS 1000

struct config {
    int version;
    int timeout_ms;   /* always version * 10: a torn config would break it */
    int workers;      /* always version % 8 + 1 */
    bool freed;       /* set by the destructor, just before free */
};

static atomic_int configs_made;
static atomic_int configs_freed;
static atomic_int bad_reads;       /* a config read inconsistent or freed */

static void free_config(void *ptr, void *arg)
{
    struct config *c = ptr;
    (void)arg;
    c->freed = true;
    atomic_fetch_add(&configs_freed, 1);
    free(c);
}

static ts_atomic_value_t current = TS_ATOMIC_VALUE_INIT(free_config, NULL);

static struct config *make_config(const struct config *from)
{
    struct config *c = xmalloc(sizeof *c);
    *c = from ? *from : (struct config){0};
    c->version++;
    c->timeout_ms = c->version * 10;
    c->workers = c->version % 8 + 1;
    c->freed = false;
    atomic_fetch_add(&configs_made, 1);
    return c;
}

static bool consistent(const struct config *c)
{
    return !c->freed && c->timeout_ms == c->version * 10 &&
           c->workers == c->version % 8 + 1;
}

static void reader(void *arg)
{
    long *served = arg;
    for (;;) {
        struct config *c = ts_atomic_value_load(&current);
        if (!consistent(c))
            atomic_fetch_add(&bad_reads, 1);
        ts_yield(); /* serve a request with it: others run meanwhile */
        if (!consistent(c))
            atomic_fetch_add(&bad_reads, 1);
        bool last = c->version == RELOADS + 1;
        ts_atomic_value_release(&current, c);
        (*served)++;
        if (last)
            return;
    }
}

static void writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < RELOADS; i++) {
        struct config *old = ts_atomic_value_load(&current);
        struct config *next = make_config(old); /* copy on write */
        ts_atomic_value_release(&current, old);
        ts_atomic_value_store(&current, next);
        if (i % 10 == 0)
            ts_yield();
    }
}

static int main_task(void *arg)
{
    (void)arg;
    ts_atomic_value_store(&current, make_config(NULL));
    long served[READERS] = {0};
    for (int i = 0; i < READERS; i++)
        sample_go(reader, &served[i]);
    sample_go(writer, NULL);
    if (sample_wait_tasks() != 0)
        return 1;
    struct config *c = ts_atomic_value_load(&current);
    printf("final config: version %d, timeout %d ms, workers %d\n",
           c->version, c->timeout_ms, c->workers);
    ts_atomic_value_release(&current, c);
    bool all_served = true;
    for (int i = 0; i < READERS; i++)
        all_served = all_served && served[i] > 0;
    printf("readers: %d, each served requests: %s\n", READERS,
           all_served ? "yes" : "no");
    printf("configs made: %d, freed before destroy: %d\n",
           atomic_load(&configs_made), atomic_load(&configs_freed));
    printf("every read consistent and never freed: %s\n",
           atomic_load(&bad_reads) == 0 ? "yes" : "no");
    ts_atomic_value_destroy(&current);
    printf("configs freed after destroy: %d\n", atomic_load(&configs_freed));
    return atomic_load(&bad_reads) == 0 &&
                   atomic_load(&configs_freed) == atomic_load(&configs_made)
               ? 0
               : 1;
}

int main(void) { return ts_run(main_task, NULL); }
