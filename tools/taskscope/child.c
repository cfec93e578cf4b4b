/*
 * child.c — running the program a subcommand wraps (`leaks`, `run`,
 * `race`): fork, change its environment, exec, forward SIGINT/SIGTERM,
 * wait, and keep its exit status.
 *
 * Invariants:
 *   - exec failure is known for certain: the child writes its errno into a
 *     CLOEXEC pipe whose write end a successful exec closes, so the parent
 *     reads either 0 bytes (exec'd) or the errno (never guessed from the
 *     status, which a real program could exit with too);
 *   - SIGINT and SIGTERM are blocked from before fork until the handler
 *     knows the child's pid, so none is lost or sent to pid 0; the child
 *     restores the default dispositions and the mask before exec; the
 *     parent keeps forwarding them until the child has ended, so a wrapper
 *     never dies before its child;
 *   - a child killed by signal N yields 128 + N, said on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

static int apply_env(const struct cli_env *env, size_t nenv)
{
    for (size_t i = 0; i < nenv; i++) {
        int rc = env[i].value ? setenv(env[i].name, env[i].value, 1)
                              : unsetenv(env[i].name);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* In the child: environment, signals, exec; reports errno on efd. */
static _Noreturn void exec_child(char **cmd, const struct cli_env *env, size_t nenv,
                                 const sigset_t *oldmask, int efd)
{
    if (apply_env(env, nenv) == 0 &&
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
static int wait_child(const char *sub, pid_t pid, const char *cmd)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            cli_error(sub, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    child_pid = 0;
    if (WIFSIGNALED(status)) {
        cli_error(sub, "%s was killed by signal %d (%s)", cmd, WTERMSIG(status),
                  strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

int cli_run_child(const char *sub, char **cmd, const struct cli_env *env, size_t nenv)
{
    sigset_t block, old;
    int pipefd[2];
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        cli_error(sub, "pipe: %s", strerror(errno));
        return -1;
    }
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0) {
        cli_error(sub, "sigprocmask: %s", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        exec_child(cmd, env, nenv, &old, pipefd[1]);
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
        cli_error(sub, "fork: %s", strerror(err));
        return -1;
    }
    err = read_exec_errno(pipefd[0]);
    close(pipefd[0]);
    int code = wait_child(sub, pid, cmd[0]);
    if (err) {
        cli_error(sub, "%s: %s", cmd[0], strerror(err));
        return -1;
    }
    return code;
}
