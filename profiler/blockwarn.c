/* taskscope — long-blocked task warnings (see blockwarn.h).
 *
 * Invariants:
 *   - a wait is identified by (task id, wait_since): a task is reported once
 *     per wait, again only if it wakes and blocks long again;
 *   - the reported set is rebuilt on each check from the waits still in
 *     progress, so it never grows beyond the live tasks;
 *   - runs on the drain thread only: no locking of its own state. */
#include "profiler/blockwarn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/goroutine.h"
#include "profiler/tasks.h"
#include "profiler/write.h"
#include "runtime/introspect.h"
#include "runtime/sched.h"

struct wait {
    uint64_t id;
    int64_t since;
};

static int64_t threshold; /* ns, 0 = off */
static int64_t next_check;
static struct wait *warned;
static size_t nwarned;

int64_t ts__parse_duration(const char *s)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    char *end;
    double v = s ? strtod(s, &end) : -1;
    if (!s || end == s || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(end, units[i].unit) == 0)
            return (int64_t)(v * units[i].ns);
    return -1;
}

void ts__blockwarn_init(void)
{
    const char *s = getenv("TASKSCOPE_BLOCKED_WARN");
    if (!s || !*s)
        return;
    int64_t d = ts__parse_duration(s);
    if (d <= 0)
        fprintf(stderr, "taskscope: ignoring TASKSCOPE_BLOCKED_WARN=%s: want "
                        "a duration such as 10s, 500ms or 2m\n", s);
    else
        threshold = d;
}

static bool was_warned(uint64_t id, int64_t since)
{
    for (size_t i = 0; i < nwarned; i++)
        if (warned[i].id == id && warned[i].since == since)
            return true;
    return false;
}

static void check(void)
{
    struct ts__tasks ts;
    ts__tasks_collect(&ts);
    struct wait *still = malloc((ts.n + 1) * sizeof *still);
    size_t nstill = 0, nnew = 0;
    for (size_t i = 0; still && i < ts.n; i++) {
        struct ts__tsnap *s = &ts.v[i];
        if (s->state != TS_TASK_WAITING || !s->wait_since ||
            ts.now - s->wait_since < threshold)
            continue;
        s->marked = !was_warned(s->id, s->wait_since);
        nnew += s->marked;
        still[nstill++] = (struct wait){s->id, s->wait_since};
    }
    if (nnew) {
        fprintf(stderr, "taskscope: %zu task%s blocked longer than "
                        "TASKSCOPE_BLOCKED_WARN (%.3gs):\n\n", nnew,
                nnew == 1 ? "" : "s", (double)threshold / 1e9);
        ts__write_tasks(stderr, &ts, TS__G_MARKED, false, NULL);
        fputc('\n', stderr);
    }
    if (still) {
        free(warned);
        warned = still;
        nwarned = nstill;
    }
    ts__tasks_free(&ts);
}

void ts__blockwarn_poll(void)
{
    if (!threshold)
        return;
    int64_t now = ts__nanotime();
    if (now < next_check)
        return;
    int64_t step = threshold / 4;
    next_check = now + (step < 1000000000 ? step : 1000000000);
    check();
}
