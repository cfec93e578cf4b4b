/*
 * run.c — `taskscope run [--profile=LIST] [-o DIR] [--follow] [--] CMD
 * [ARGS...]`: runs an unmodified program under the LD_PRELOAD probe
 * (docs/probe.md), keeps its exit status, and says where the output went
 * with a short summary of each profile on stderr.
 *
 * Contract with the probe (probe/output.c): the child gets LD_PRELOAD with
 * the probe first (any earlier value kept after it), TASKSCOPE_AGENT=1 (so
 * `taskscope dump PID` works), TASKSCOPE_PROBE_OUT, TASKSCOPE_PROBE_PROFILES,
 * TASKSCOPE_PROBE_QUIET=1, TASKSCOPE_FOLLOW with --follow, and
 * TASKSCOPE_PROBE_INDEX=<a temporary file> into which every traced process
 * appends the directory it wrote.
 *
 * Invariants:
 *   - nothing is clobbered: an -o directory that exists and is not empty
 *     is refused before the program runs;
 *   - the program's stdout is untouched; everything this command says goes
 *     to stderr; the exit status is the program's (128 + N after signal N),
 *     2 only when it could not be run or the arguments are wrong;
 *   - the temporary index is removed on every path once created.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef TASKSCOPE_LIBDIR
#error "the build defines TASKSCOPE_LIBDIR (tools/CMakeLists.txt)"
#endif

static const char *const profiles[] = {
    "goroutine", "block", "mutex", "heap", "allocs", "threadcreate",
};
#define NPROFILES (sizeof profiles / sizeof *profiles)

struct run_opts {
    const char *profiles; /* NULL: all */
    const char *out;      /* NULL: taskscope.<exe>.<pid> */
    bool follow;
    const char *http;     /* --http ADDR, or NULL */
};

/* find_probe: the probe library: $TASKSCOPE_PROBE_LIB, else next to this
 * executable in the build tree (../probe/) or the install tree (../LIBDIR/). */
static bool find_probe(char *path, size_t cap)
{
    const char *env = getenv("TASKSCOPE_PROBE_LIB");
    if (env && *env)
        return snprintf(path, cap, "%s", env) < (int)cap && access(path, R_OK) == 0;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    static const char *const rel[] = {"../probe", "../" TASKSCOPE_LIBDIR};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++)
        if (snprintf(path, cap, "%s/%s/libtaskscope_probe.so", self, rel[i]) < (int)cap &&
            access(path, R_OK) == 0)
            return true;
    return false;
}

static bool known_profile(const char *name, size_t len)
{
    for (size_t i = 0; i < NPROFILES; i++)
        if (strlen(profiles[i]) == len && strncmp(name, profiles[i], len) == 0)
            return true;
    return false;
}

/* check_profiles: every name of the comma-separated list is known. */
static bool check_profiles(const char *list)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (!known_profile(p, len)) {
            cli_error("run", "unknown profile \"%.*s\" (known: goroutine, block, mutex, "
                             "heap, allocs, threadcreate)", (int)len, p);
            return false;
        }
        p += len + (p[len] == ',');
    }
    return *list != '\0';
}

/* usable_out: an -o directory that does not exist or is empty. */
static bool usable_out(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty)
        cli_error("run", "%s exists and is not empty; not overwriting it", dir);
    return empty;
}

/* The summary of one process's output directory: the profiles it wrote
 * (only those asked for were). */
static void summarize(const char *dir)
{
    fprintf(stderr, "taskscope run: output in %s\n", dir);
    for (size_t i = 0; i < NPROFILES; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.pb.gz", dir, profiles[i]);
        if (access(path, R_OK) == 0)
            cli_top_brief(stderr, path, profiles[i], 5);
    }
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lockorder.txt", dir);
    if (access(path, R_OK) == 0)
        fprintf(stderr, "lock-order inversions: see %s\n", path);
}

/* report: every directory the index names; false if none. */
static bool report(const char *index)
{
    FILE *f = fopen(index, "r");
    char line[PATH_MAX + 2];
    bool any = false;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        summarize(line);
        any = true;
    }
    if (f)
        fclose(f);
    return any;
}

static int run(char **cmd, const struct run_opts *o)
{
    char probe[PATH_MAX], preload[2 * PATH_MAX], out[PATH_MAX], index[PATH_MAX];
    if (!find_probe(probe, sizeof probe)) {
        cli_error("run", "cannot find libtaskscope_probe.so next to this program; "
                         "set TASKSCOPE_PROBE_LIB to its path");
        return CLI_EXIT_ERROR;
    }
    const char *old = getenv("LD_PRELOAD");
    snprintf(preload, sizeof preload, "%s%s%s", probe, old && *old ? ":" : "",
             old ? old : "");
    snprintf(out, sizeof out, "%s%s", o->out ? o->out : "taskscope.%e.%p",
             o->out && o->follow ? "/%e.%p" : "");
    const char *tmp = getenv("TMPDIR");
    snprintf(index, sizeof index, "%s/taskscope-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkostemp(index, O_CLOEXEC);
    if (fd < 0) {
        cli_error("run", "creating a temporary file: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    close(fd);
    const struct cli_env env[] = {
        {"LD_PRELOAD", preload},
        {"TASKSCOPE_AGENT", "1"},
        {"TASKSCOPE_PROBE_OUT", out},
        {"TASKSCOPE_PROBE_PROFILES", o->profiles},
        {"TASKSCOPE_PROBE_QUIET", "1"},
        {"TASKSCOPE_PROBE_INDEX", index},
        {"TASKSCOPE_FOLLOW", o->follow ? "1" : NULL},
        {"TASKSCOPE_HTTP", o->http}, /* last: left out without --http */
    };
    size_t nenv = sizeof env / sizeof *env - (o->http ? 0 : 1);
    int code = cli_run_child("run", cmd, env, nenv);
    if (code >= 0 && !report(index))
        cli_error("run", "%s wrote no profiles (statically linked, setuid, or it "
                         "ended without exiting normally)", cmd[0]);
    unlink(index);
    return code < 0 ? CLI_EXIT_ERROR : code;
}

static int run_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"profile", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"follow", no_argument, NULL, 'f'},
        {"http", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct run_opts o = {0};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o.profiles = optarg; break;
        case 'o': o.out = optarg; break;
        case 'f': o.follow = true; break;
        case 'H': o.http = optarg; break;
        case 'h': cli_print_usage(&cli_run, stdout); return cli_finish("run", 0);
        case ':': return cli_usage_error(&cli_run, "%s needs a value", argv[optind - 1]);
        default: return cli_unknown_option(&cli_run, argv);
        }
    }
    if (optind == argc)
        return cli_usage_error(&cli_run, "no command given");
    if (o.profiles && !check_profiles(o.profiles))
        return CLI_EXIT_ERROR;
    if (o.out && (!*o.out || !usable_out(o.out)))
        return o.out[0] ? CLI_EXIT_ERROR : cli_usage_error(&cli_run, "-o needs a directory");
    return run(argv + optind, &o);
}

const struct cli_command cli_run = {
    .name = "run",
    .summary = "run a pthread program under the probe and profile it",
    .usage =
        "usage: taskscope run [--profile=LIST] [-o DIR] [--follow] [--http=ADDR] [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD with libtaskscope_probe.so preloaded: its mutex, block, heap,\n"
        "allocs, threadcreate and goroutine (thread) profiles, a thread dump and\n"
        "any lock-order inversions are written when it exits, to\n"
        "taskscope.<exe>.<pid>/ in the current directory; a summary goes to\n"
        "stderr. 'taskscope dump PID' works on it while it runs.\n"
        "\n"
        "  --profile=LIST       comma-separated subset of goroutine, block, mutex,\n"
        "                       heap, allocs, threadcreate (default: all)\n"
        "  -o, --output=DIR     write to DIR instead (must not exist or be empty);\n"
        "                       with --follow, DIR/<exe>.<pid>/ per process\n"
        "  --follow             also trace the programs CMD executes\n"
        "  --http=ADDR          serve CMD's live /debug/pprof endpoints on ADDR\n"
        "                       (e.g. 127.0.0.1:6060; docs/http.md)\n"
        "  -h, --help           print this help\n"
        "\n"
        "Exit status: CMD's own (128 + N if signal N killed it); 2 usage error or\n"
        "CMD could not be run.\n",
    .run = run_main,
};
