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
 * Invariants:
 *   - the temporary file is removed on every path once it was created,
 *     including a failed exec and a SIGINT/SIGTERM (forwarded to the child,
 *     whose end we still wait for);
 *   - exec failure is known for certain: the child writes its errno into a
 *     CLOEXEC pipe whose write end a successful exec closes, so the parent
 *     reads either 0 bytes (exec'd) or the errno (never guessed from the
 *     status, which a real program could exit with too);
 *   - SIGINT and SIGTERM are blocked from before fork until the handler
 *     knows the child's pid, so none is lost or sent to pid 0; the child
 *     restores the default dispositions and the mask before exec.
 * The report is read by path after the child ends, not through the fd from
 * mkstemp, so a runtime that replaces the file (write + rename) works too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

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

/* In the child: environment, signals, exec; reports errno on efd. */
static _Noreturn void exec_child(char **cmd, const char *report, bool json,
                                 const sigset_t *oldmask, int efd)
{
    if (setenv("TASKSCOPE_LEAKS_OUT", report, 1) == 0 &&
        (json ? setenv("TASKSCOPE_LEAKS_FORMAT", "json", 1)
              : unsetenv("TASKSCOPE_LEAKS_FORMAT")) == 0 &&
        signal(SIGINT, SIG_DFL) != SIG_ERR && signal(SIGTERM, SIG_DFL) != SIG_ERR &&
        sigprocmask(SIG_SETMASK, oldmask, NULL) == 0)
        execvp(cmd[0], cmd);
    int err = errno;
    while (write(efd, &err, sizeof err) < 0 && errno == EINTR)
        ;
    _exit(127);
}

/* Whether exec failed: the errno the child sent, or 0 after a clean exec. */
static int read_exec_errno(int fd)
{
    int err = 0;
    ssize_t n;
    while ((n = read(fd, &err, sizeof err)) < 0 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof err ? err : 0;
}

/* Waits for pid; its exit code (128 + signo when killed), or -1. */
static int wait_child(pid_t pid, const char *cmd)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            cli_error("leaks", "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (WIFSIGNALED(status)) {
        cli_error("leaks", "%s was killed by signal %d (%s)", cmd, WTERMSIG(status),
                  strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
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

/* Forks and execs cmd; returns its exit code or -1 (message printed). */
static int run_child(char **cmd, const char *report, bool json)
{
    sigset_t block, old;
    int pipefd[2];
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        cli_error("leaks", "pipe: %s", strerror(errno));
        return -1;
    }
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0) {
        cli_error("leaks", "sigprocmask: %s", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        exec_child(cmd, report, json, &old, pipefd[1]);
    }
    int err = pid < 0 ? errno : 0;
    close(pipefd[1]);
    if (pid > 0) {
        /* cannot fail: valid signals, valid pointers */
        struct sigaction sa = {.sa_handler = forward_signal};
        sigemptyset(&sa.sa_mask);
        child_pid = pid;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    sigprocmask(SIG_SETMASK, &old, NULL); /* cannot fail: valid how */
    if (pid < 0) {
        close(pipefd[0]);
        cli_error("leaks", "fork: %s", strerror(err));
        return -1;
    }
    err = read_exec_errno(pipefd[0]);
    close(pipefd[0]);
    int code = wait_child(pid, cmd[0]);
    if (err) {
        cli_error("leaks", "%s: %s", cmd[0], strerror(err));
        return -1;
    }
    return code;
}

static int leaks_run(char **cmd, bool json)
{
    char report[4096];
    if (make_report_file(report, sizeof report))
        return CLI_EXIT_ERROR;
    int code = run_child(cmd, report, json);
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
