/*
 * leaks.c — `taskscope leaks [--json] [--] CMD [ARGS...]`: runs CMD and
 * reports the leaked tasks or the deadlock its taskscope runtime found.
 *
 * Contract with the runtime (docs/cli.md): the child gets
 * TASKSCOPE_LEAKS_OUT=<path of an empty file this command created with
 * mkstemp under $TMPDIR or /tmp> and, with --json, TASKSCOPE_LEAKS_FORMAT=json
 * (without --json the variable is removed). The runtime writes its report
 * there only when it finds leaked tasks or a deadlock. After the child has
 * ended: a non-empty file is copied to stdout and the exit status is 1;
 * an empty one means clean, and the child's own status is kept (128 + signo
 * for a child killed by a signal, which is said on stderr).
 *
 * Invariant: the temporary file is removed on every path once it was
 * created, including a failed exec and a SIGINT/SIGTERM (forwarded to the
 * child, whose end we still wait for; child.c).
 * The report is read by path after the child ends, not through the fd from
 * mkstemp, so a runtime that replaces the file (write + rename) works too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Creates the empty report file; its path goes into path[0..cap). */
static int make_report_file(char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    if ((size_t)snprintf(path, cap, "%s/taskscope-leaks.XXXXXX", dir) >= cap) {
        cli_error("leaks", "TMPDIR is too long");
        return -1;
    }
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        cli_error("leaks", "creating a temporary file in %s: %s", dir, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Copies the report to stdout; 1 if it had any bytes, 0 if empty, -1. */
static int copy_report(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("leaks", "reading the report %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int found = 0;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
            cli_error("leaks", "copying the report %s: %s", path, strerror(errno));
            found = -1;
            break;
        }
        found = 1;
    }
    close(fd);
    return found;
}

static int leaks_run(char **cmd, bool json)
{
    char report[4096];
    if (make_report_file(report, sizeof report))
        return CLI_EXIT_ERROR;
    const struct cli_env env[] = {
        {"TASKSCOPE_LEAKS_OUT", report},
        {"TASKSCOPE_LEAKS_FORMAT", json ? "json" : NULL},
    };
    int code = cli_run_child("leaks", cmd, env, sizeof env / sizeof *env);
    int found = code < 0 ? 0 : copy_report(report);
    if (unlink(report) != 0 && errno != ENOENT) {
        cli_error("leaks", "removing %s: %s", report, strerror(errno));
        code = -1;
    }
    if (code < 0 || found < 0)
        return CLI_EXIT_ERROR;
    return cli_finish("leaks", found ? CLI_EXIT_FOUND : code);
}

static int leaks_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    bool json = false;
    int c;
    opterr = 0;
    /* '+': options end at CMD, so CMD's own flags are left alone */
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': cli_print_usage(&cli_leaks, stdout); return cli_finish("leaks", 0);
        default: return cli_unknown_option(&cli_leaks, argv);
        }
    }
    if (optind == argc)
        return cli_usage_error(&cli_leaks, "no command given");
    return leaks_run(argv + optind, json);
}

const struct cli_command cli_leaks = {
    .name = "leaks",
    .summary = "run a program and report leaked tasks or a deadlock",
    .usage =
        "usage: taskscope leaks [--json] [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD with TASKSCOPE_LEAKS_OUT set to a fresh temporary file; its\n"
        "taskscope runtime writes a report there when tasks leaked or the\n"
        "program deadlocked. The report is printed on stdout. '--' is needed\n"
        "only when CMD starts with '-'.\n"
        "\n"
        "  --json               ask for the report as JSON\n"
        "                       (TASKSCOPE_LEAKS_FORMAT=json)\n"
        "  -h, --help           print this help\n"
        "\n"
        "Exit status: 1 leaks or a deadlock reported; otherwise CMD's own\n"
        "status (128 + N if signal N killed it); 2 usage error or CMD could not\n"
        "be run.\n",
    .run = leaks_main,
};
