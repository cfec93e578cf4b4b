/* taskscope — ts_profile_write and friends (see write.h).
 *
 * Invariants:
 *   - every writer runs under write_lock: one profile at a time, so the
 *     shared symbolizer (not thread-safe) and the builders need no other
 *     locking; the symbolizer is created on first use and kept (modules
 *     loaded later are found by a fresh one after a miss... not yet: see
 *     docs/profiler.md);
 *   - a profile is built unsymbolized, then symbolized and mapped once,
 *     then encoded: pprof output is always fully symbolized with mapping[0]
 *     the main executable;
 *   - nothing the caller passes is kept; fd is written, never closed;
 *   - the wait-for cycles of a leak snapshot (cycles.h) are printed with
 *     the reports that list tasks (ts__write_tasks*) and in the
 *     goroutineleak JSON; the goroutineleak pprof and debug=1/2 texts
 *     stay Go's, for Go's tools. */
#include "profiler/write.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/profile.h>
#include <unistd.h>

#include "profiler/contention.h"
#include "profiler/cycles.h"
#include "profiler/fdio.h"
#include "profiler/goroutine.h"
#include "profiler/heap.h"
#include "profiler/json.h"
#include "profiler/leaks.h"
#include "profiler/pprof.h"
#include "profiler/profile.h"
#include "profiler/symbolize.h"
#include "profiler/tasks.h"
#include "profiler/text.h"
#include "profiler/threadcreate.h"

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ts__symbolizer *sym;

enum kind {
    GOROUTINE, GOROUTINELEAK, BLOCK, MUTEX, HEAP, ALLOCS, THREADCREATE, NKINDS
};

static const char *const names[NKINDS] = {
    [GOROUTINE] = "goroutine",
    [GOROUTINELEAK] = "goroutineleak",
    [BLOCK] = "block",
    [MUTEX] = "mutex",
    [HEAP] = "heap",
    [ALLOCS] = "allocs",
    [THREADCREATE] = "threadcreate",
};

static int kind_of(const char *name)
{
    for (int k = 0; name && k < NKINDS; k++)
        if (strcmp(name, names[k]) == 0)
            return k;
    return -1;
}

bool ts__profile_known(const char *name)
{
    return kind_of(name) >= 0;
}

static struct ts__symbolizer *symbolizer(void)
{
    if (!sym && ts__symbolizer_new(&sym) != 0)
        sym = NULL;
    return sym;
}

static int collect(int k, struct ts__tasks *ts)
{
    return k == GOROUTINELEAK ? ts__leaks_collect(ts) : ts__tasks_collect(ts);
}

static enum ts__gfilter filter(int k)
{
    return k == GOROUTINELEAK ? TS__G_LEAKED : TS__G_ALL;
}

/* build: the unsymbolized profile of kind k into p. */
static int build(struct ts__profile *p, int k)
{
    switch (k) {
    case GOROUTINE:
    case GOROUTINELEAK: {
        struct ts__tasks ts;
        int r = collect(k, &ts);
        if (!r)
            r = ts__goroutine_profile(p, &ts, filter(k), names[k]);
        ts__tasks_free(&ts);
        return r;
    }
    case BLOCK:
    case MUTEX:
        return ts__contention_profile(p, k == MUTEX);
    case HEAP:
    case ALLOCS:
        return ts__heap_profile(p, k == ALLOCS);
    case THREADCREATE:
        return ts__threadcreate_profile(p);
    }
    return EINVAL;
}

/* comment: the dropped-event count, in every profile (the rule). */
static int add_dropped(struct ts__profile *p)
{
    char text[96];
    snprintf(text, sizeof text, "taskscope: %llu events dropped",
             (unsigned long long)ts__events_dropped());
    return ts__profile_add_comment(p, text);
}

static int built(int k, struct ts__profile **out)
{
    int r = ts__profile_new(out);
    if (r)
        return r;
    r = build(*out, k);
    if (!r)
        r = add_dropped(*out);
    if (!r)
        r = ts__profile_symbolize(*out, symbolizer());
    if (r) {
        ts__profile_free(*out);
        *out = NULL;
    }
    return r;
}

static int write_pprof(int k, int fd)
{
    struct ts__profile *p;
    int r = built(k, &p);
    if (!r)
        r = ts__pprof_write(p, fd);
    ts__profile_free(p);
    return r;
}

static int write_goroutine(FILE *f, int k, int debug, bool json)
{
    struct ts__tasks ts;
    int r = collect(k, &ts);
    if (r && !ts.n) {
        ts__tasks_free(&ts);
        return r;
    }
    if (json) {
        /* goroutineleak's JSON carries its cycles; its text stays Go's */
        struct ts__cycles *cy = ts__leaks_take_cycles(&ts);
        ts__goroutine_json(f, symbolizer(), &ts, filter(k), names[k], cy);
        ts__cycles_free(cy);
    } else if (debug >= 2)
        ts__goroutine_dump(f, symbolizer(), &ts, filter(k));
    else
        ts__goroutine_text(f, symbolizer(), &ts, filter(k), names[k]);
    ts__tasks_free(&ts);
    return r;
}

static int write_text(FILE *f, int k, int debug, bool json)
{
    if (k == GOROUTINE || k == GOROUTINELEAK)
        return write_goroutine(f, k, debug, json);
    if (!json && (k == BLOCK || k == MUTEX))
        return ts__contention_text(f, symbolizer(), k == MUTEX);
    if (!json && (k == HEAP || k == ALLOCS))
        return ts__heap_write_text(f, symbolizer());
    if (!json && k == THREADCREATE) {
        ts__threadcreate_text(f, symbolizer());
        return 0;
    }
    struct ts__profile *p;
    int r = built(k, &p);
    if (r)
        return r;
    ts__profile_json(f, p, names[k], ts__events_dropped());
    ts__profile_free(p);
    return 0;
}

int ts__write_report(FILE *f, const char *name, int debug, bool json)
{
    int k = kind_of(name);
    if (k < 0 || debug < 0 || (debug == 0 && !json))
        return EINVAL;
    pthread_mutex_lock(&write_lock);
    int r = write_text(f, k, debug, json);
    pthread_mutex_unlock(&write_lock);
    return r;
}

/* write_stream: ts__write_report on a stdio stream writing to fd. */
static int write_stream(const char *name, int fd, int debug, bool json)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return errno;
    if ((fl & O_ACCMODE) == O_RDONLY)
        return EBADF;
    struct ts__fd_stream s;
    FILE *f = ts__fd_stream_open(&s, fd);
    if (!f)
        return errno;
    int r = ts__write_report(f, name, debug, json);
    int w = ts__fd_stream_close(&s, f);
    return w ? w : r;
}

int ts_profile_write(const char *name, int fd, int debug)
{
    int k = kind_of(name);
    if (k < 0 || debug < 0)
        return EINVAL;
    if (debug > 0)
        return write_stream(name, fd, debug, false);
    pthread_mutex_lock(&write_lock);
    int r = write_pprof(k, fd);
    pthread_mutex_unlock(&write_lock);
    return r;
}

int ts_profile_write_json(const char *name, int fd)
{
    if (kind_of(name) < 0)
        return EINVAL;
    return write_stream(name, fd, 0, true);
}

void ts__write_tasks_cycles(FILE *f, const struct ts__tasks *ts,
                            enum ts__gfilter which, bool json,
                            const char *name, const struct ts__cycles *cy)
{
    pthread_mutex_lock(&write_lock);
    if (json) {
        ts__goroutine_json(f, symbolizer(), ts, which, name, cy);
    } else {
        ts__goroutine_dump(f, symbolizer(), ts, which);
        ts__cycles_text(f, symbolizer(), ts, which, cy);
    }
    pthread_mutex_unlock(&write_lock);
}

void ts__write_tasks(FILE *f, const struct ts__tasks *ts,
                     enum ts__gfilter which, bool json, const char *name)
{
    struct ts__cycles *cy = ts__leaks_take_cycles(ts);
    ts__write_tasks_cycles(f, ts, which, json, name, cy);
    ts__cycles_free(cy);
}

void ts__write_with_symbolizer(FILE *f, ts__symbolized_fn fn, void *arg)
{
    pthread_mutex_lock(&write_lock);
    fn(f, symbolizer(), arg);
    pthread_mutex_unlock(&write_lock);
}
