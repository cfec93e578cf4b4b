/* taskscope — profiles at exit (see exit.h).
 *
 * Invariants:
 *   - the list is parsed once, at start: a misspelt name is reported when
 *     the program starts, not silently skipped at its end;
 *   - at exit every named profile is written to a temporary file in the
 *     directory and renamed (or, not to clobber, linked) into place, so a
 *     reader never sees half a profile; a failure names the file and the
 *     reason on stderr and the other profiles are still written. */
#include "profiler/exit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/profile.h>
#include <time.h>
#include <unistd.h>

#include "profiler/cpu.h"
#include "profiler/deadlock.h"
#include "profiler/leaks.h"
#include "profiler/tasks.h"
#include "profiler/write.h"
#include "runtime/sched.h"

#define MAX_PROFILES 8

static char names[MAX_PROFILES][32];
static int nnames;

int ts__profile_write_file(const char *dir, const char *name, bool clobber)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.pb.gz", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.pb.gz.%d", dir, name, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int r = fd < 0 ? errno : ts_profile_write(name, fd, 0);
    if (fd >= 0 && close(fd) != 0 && !r)
        r = errno;
    /* link, unlike rename, fails rather than replace an existing file */
    if (!r && (clobber ? rename(tmp, path) : link(tmp, path)) != 0)
        r = errno;
    if (fd >= 0 && (r || !clobber))
        unlink(tmp);
    if (r)
        fprintf(stderr, "taskscope: cannot write the %s profile to %s: %s\n",
                name, path, strerror(r));
    return r;
}

static void at_exit(void)
{
    const char *dir = getenv("TASKSCOPE_PROFILE_DIR");
    if (!dir || !*dir)
        dir = ".";
    for (int i = 0; i < nnames; i++)
        ts__profile_write_file(dir, names[i], true);
}

/* parse: the comma-separated list into names; false if none is valid. */
static bool parse(const char *list)
{
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[32];
        if (len > 0 && len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            if (!ts__profile_known(name))
                fprintf(stderr, "taskscope: TASKSCOPE_PROFILE: unknown profile "
                                "\"%s\" (known: goroutine, goroutineleak, block, "
                                "mutex, heap, allocs, threadcreate)\n", name);
            else if (nnames < MAX_PROFILES)
                strcpy(names[nnames++], name);
        }
        p += len + (p[len] == ',');
    }
    return nnames > 0;
}

static void leaks_report(FILE *f, const struct ts__tasks *ts, bool json)
{
    int n = ts__leaks_count(ts);
    if (!json)
        fprintf(f, "taskscope: %d leaked task%s (blocked on channels or locks "
                   "nothing else can reach):\n\n", n, n == 1 ? "" : "s");
    ts__write_tasks(f, ts, TS__G_LEAKED, json, "goroutineleak");
}

/* leaks_at_exit: for `taskscope leaks`: the leaked tasks, if any, into
 * TASKSCOPE_LEAKS_OUT. */
static void leaks_at_exit(void)
{
    bool json;
    FILE *out = ts__leaks_out(&json);
    if (!out)
        return;
    /* ts_run has returned, but the main task may still be finishing on a
     * worker, its stack (with the program's last frames) a root: let the
     * workers go idle first (200 ms at most). */
    struct timespec pause = {0, 2 * 1000 * 1000};
    for (int i = 0; i < 100 && !ts__sched_idle(); i++)
        nanosleep(&pause, NULL);
    struct ts__tasks ts;
    int r = ts__leaks_collect(&ts);
    if (r)
        fprintf(stderr, "taskscope: leak check at exit failed: %s\n",
                strerror(r));
    else if (ts__leaks_count(&ts) > 0)
        leaks_report(out, &ts, json);
    ts__tasks_free(&ts);
    fclose(out);
}

void ts__exit_profiles_init(void)
{
    const char *list = getenv("TASKSCOPE_PROFILE");
    if (list && parse(list))
        atexit(at_exit);
    const char *leaks = getenv("TASKSCOPE_LEAKS_OUT");
    if (leaks && *leaks)
        atexit(leaks_at_exit);
    ts__cpu_profile_env_init();
}
