/* taskscope probe — what the probe leaves behind: a directory with one
 * pprof file per profile and the text reports, written once when the
 * process ends (exit, return from main, _exit/_Exit).
 *
 * Environment (set by `taskscope run`, usable by hand):
 *   TASKSCOPE_PROBE_OUT       the directory; %p is replaced by the pid, %e
 *                             by the executable's name; default
 *                             "taskscope.%e.%p" in the directory the
 *                             program started in;
 *   TASKSCOPE_PROBE_PROFILES  comma-separated subset of goroutine, block,
 *                             mutex, heap, allocs, threadcreate (default:
 *                             all of them);
 *   TASKSCOPE_PROBE_QUIET=1   no "profiles in DIR" line on stderr;
 *   TASKSCOPE_PROBE_INDEX     a file to which each process appends the
 *                             directory it wrote, one line (how `taskscope
 *                             run` finds its outputs, also with --follow).
 *
 * Invariants:
 *   - written at most once, and only by the process that loaded the probe
 *     (a forked or vforked child never writes the parent's output);
 *   - nothing is clobbered: the directory is created (an existing one is
 *     used only if it is empty of our files: each file is created with
 *     O_EXCL or linked into place), and a failure names the file;
 *   - the path is made absolute at start, so a chdir does not move it. */
#include "probe/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiler/exit.h"
#include "profiler/write.h"

static const char *const all_profiles[] = {
    "goroutine", "block", "mutex", "heap", "allocs", "threadcreate",
};
#define NPROFILES (sizeof all_profiles / sizeof *all_profiles)

static char dir[PATH_MAX];
static bool wanted[NPROFILES];
static bool quiet;
static pid_t owner;
static int written; /* atomic */

/* expand: the template into out, %p and %e replaced; false if too long. */
static bool expand(const char *tmpl, char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    size_t o = 0;
    for (const char *p = tmpl; *p && o < cap; p++) {
        int w;
        if (p[0] == '%' && p[1] == 'p')
            w = snprintf(out + o, cap - o, "%d", (int)getpid()), p++;
        else if (p[0] == '%' && p[1] == 'e')
            w = snprintf(out + o, cap - o, "%s", *base ? base : "program"), p++;
        else
            w = (out[o] = *p, 1);
        o += (size_t)w;
    }
    if (o >= cap)
        return false;
    out[o] = '\0';
    return true;
}

static bool set_dir(const char *tmpl)
{
    char rel[PATH_MAX];
    if (!expand(tmpl, rel, sizeof rel))
        return false;
    if (rel[0] == '/')
        return snprintf(dir, sizeof dir, "%s", rel) < (int)sizeof dir;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return false;
    return snprintf(dir, sizeof dir, "%s/%s", cwd, rel) < (int)sizeof dir;
}

static void parse_profiles(const char *list)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < NPROFILES; i++)
            if (strlen(all_profiles[i]) == len && !strncmp(p, all_profiles[i], len))
                wanted[i] = known = true;
        if (!known && len)
            fprintf(stderr, "taskscope probe: TASKSCOPE_PROBE_PROFILES: unknown "
                            "profile \"%.*s\" (known: goroutine, block, mutex, heap, "
                            "allocs, threadcreate)\n", (int)len, p);
        p += len + (p[len] == ',');
    }
}

void ts__probe_output_init(void)
{
    const char *tmpl = getenv("TASKSCOPE_PROBE_OUT");
    if (!set_dir(tmpl && *tmpl ? tmpl : "taskscope.%e.%p")) {
        fputs("taskscope probe: the output directory's name is too long; "
              "nothing will be written\n", stderr);
        return;
    }
    const char *list = getenv("TASKSCOPE_PROBE_PROFILES");
    if (list && *list)
        parse_profiles(list);
    else
        for (size_t i = 0; i < NPROFILES; i++)
            wanted[i] = true;
    const char *q = getenv("TASKSCOPE_PROBE_QUIET");
    quiet = q && strcmp(q, "1") == 0;
    owner = getpid();
    atexit(ts__probe_output_write);
}

/* open_in: <dir>/<file> open for writing with flags; NULL after saying
 * why on stderr. */
static FILE *open_in(const char *file, int flags)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "taskscope probe: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

/* create: <dir>/<file>, which must not exist yet. */
static FILE *create(const char *file)
{
    return open_in(file, O_EXCL);
}

/* finish: close f; -1 (said) if anything written to it failed. */
static int finish(FILE *f, const char *file, int r)
{
    if (fclose(f) != 0 && !r)
        r = errno;
    if (r)
        fprintf(stderr, "taskscope probe: cannot write %s/%s: %s\n", dir, file,
                strerror(r));
    return r ? -1 : 0;
}

/* write_text: report name (debug 1 or 2) into <dir>/<file>. */
static int write_text(const char *file, const char *name, int debug)
{
    FILE *f = create(file);
    return f ? finish(f, file, ts__write_report(f, name, debug, false)) : -1;
}

static int write_lockorder(void)
{
    FILE *f = create("lockorder.txt");
    if (!f)
        return -1;
    ts__probe_lockgraph_report(f);
    return finish(f, "lockorder.txt", ferror(f) ? EIO : 0);
}

/* make_dir: dir and any missing parents (as mkdir -p). */
static int make_dir(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

FILE *ts__probe_output_create(const char *file)
{
    if (!*dir || make_dir() != 0) {
        fprintf(stderr, "taskscope probe: cannot create %s: %s\n", dir, strerror(errno));
        return NULL;
    }
    return open_in(file, O_APPEND);
}

static int write_all(void)
{
    if (make_dir() != 0) {
        fprintf(stderr, "taskscope probe: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int failed = 0;
    for (size_t i = 0; i < NPROFILES; i++)
        if (wanted[i])
            failed |= ts__profile_write_file(dir, all_profiles[i], false) != 0;
    failed |= write_text("threads.txt", "goroutine", 2) != 0;
    failed |= write_text("heap.txt", "heap", 1) != 0;
    if (ts__probe_lockgraph_cycles() > 0)
        failed |= write_lockorder() != 0;
    return failed ? -1 : 0;
}

/* note_in_index: append the directory to TASKSCOPE_PROBE_INDEX (one
 * write, O_APPEND: lines of several processes do not mix). */
static void note_in_index(void)
{
    const char *index = getenv("TASKSCOPE_PROBE_INDEX");
    int fd = index && *index ? open(index, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
    if (fd < 0)
        return;
    char line[PATH_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", dir);
    if (n > 0 && n < (int)sizeof line && write(fd, line, (size_t)n) != n)
        fprintf(stderr, "taskscope probe: cannot note %s in %s\n", dir, index);
    close(fd);
}

void ts__probe_output_write(void)
{
    if (!owner || getpid() != owner ||
        !__atomic_load_n(&ts__probe_on, __ATOMIC_ACQUIRE) ||
        __atomic_exchange_n(&written, 1, __ATOMIC_ACQ_REL))
        return;
    int saved = ts__probe_depth;
    ts__probe_depth = 1;
    int r = write_all();
    if (!quiet)
        fprintf(stderr, "taskscope probe: %s in %s\n",
                r ? "some output failed; the rest is" : "profiles", dir);
    note_in_index();
    ts__probe_depth = saved;
}
