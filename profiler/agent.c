/* taskscope — the agent thread (see agent.h; protocol in docs/cli.md).
 *
 * Invariants:
 *   - the SIGQUIT handler only write(2)s one byte to a pipe; the dump is
 *     built by the agent thread, which blocks every signal;
 *   - SIGQUIT is taken only if its disposition was the default when the
 *     runtime started: a program's own handler is left alone;
 *   - the socket is abstract ("\0taskscope.<pid>": nothing to clean up) and
 *     answers only peers with the process's uid, or root (SO_PEERCRED);
 *   - one request per connection, read with a timeout, written with a
 *     5 s send timeout, so a client that stops reading cannot stall the
 *     agent (or the profile writers) for long;
 *   - in a forked child the handler restores the default action and
 *     re-raises: the parent's agent never answers for a child. */
#include "profiler/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <taskscope/profile.h>
#include <unistd.h>

#include "profiler/fdio.h"
#include "profiler/threadcreate.h"
#include "profiler/write.h"

static int quit_pipe[2] = {-1, -1};
static int listen_fd = -1;

static pid_t agent_pid; /* the process whose agent thread reads the pipe */

static void on_sigquit(int sig)
{
    (void)sig;
    if (getpid() != agent_pid) {
        /* A forked child: its parent's agent must not answer for it, and it
         * has none of its own; do what SIGQUIT would have done. */
        signal(SIGQUIT, SIG_DFL);
        raise(SIGQUIT);
        return;
    }
    int saved = errno;
    char c = 'q';
    if (write(quit_pipe[1], &c, 1) < 0) {
        /* nothing to do in a handler */
    }
    errno = saved;
}

static ino_t quit_ino; /* the pipe's inode: the program may close our fds */

/* quit_pipe_ours: whether quit_pipe[0] is still our pipe (a program that
 * closes every descriptor, as daemons do, may have reused the number). */
static bool quit_pipe_ours(void)
{
    struct stat st;
    return quit_pipe[0] >= 0 && fstat(quit_pipe[0], &st) == 0 &&
           S_ISFIFO(st.st_mode) && st.st_ino == quit_ino;
}

static void quit_dump(void)
{
    char c;
    if (!quit_pipe_ours()) {
        quit_pipe[0] = -1; /* poll ignores it from now on */
        return;
    }
    if (read(quit_pipe[0], &c, 1) <= 0)
        return;
    /* Straight to fd 2: a thread blocked in stdio may hold a stream's
     * lock for good. */
    ts__flush_stdout_if_free();
    struct ts__fd_stream s;
    FILE *f = ts__fd_stream_open(&s, 2);
    if (f) {
        fputs("SIGQUIT: quit\n\n", f);
        ts__write_report(f, "goroutine", 2, false);
        ts__fd_stream_close(&s, f);
    }
    const char *mode = getenv("TASKSCOPE_SIGQUIT");
    if (!mode || strcmp(mode, "dump") != 0)
        _exit(2);
}

static bool peer_allowed(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
           (cred.uid == getuid() || cred.uid == 0);
}

/* read_request: one line, at most cap-1 bytes, within 2 s. */
static bool read_request(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0)
            return false;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl) {
            *nl = '\0';
            return true;
        }
    }
    return false;
}

/* answer: "dump", "dump json", "profile NAME [DEBUG|json]". */
static void answer(FILE *f, int fd, char *req)
{
    char name[64] = "", mode[16] = "";
    int n = sscanf(req, "profile %63s %15s", name, mode);
    if (strcmp(req, "dump") == 0) {
        ts__write_report(f, "goroutine", 2, false);
    } else if (strcmp(req, "dump json") == 0) {
        ts__write_report(f, "goroutine", 2, true);
    } else if (n >= 1 && ts__profile_known(name)) {
        bool json = strcmp(mode, "json") == 0;
        int debug = n == 2 && !json ? atoi(mode) : 0;
        fflush(f);
        int r = debug == 0 && !json ? ts_profile_write(name, fd, 0)
                                    : ts__write_report(f, name, debug, json);
        if (r)
            fprintf(f, "error: %s\n", strerror(r));
    } else {
        fprintf(f, "error: unknown request \"%s\" (want: dump, dump json, "
                   "profile NAME [DEBUG|json])\n", req);
    }
}

static void serve_one(void)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    /* A client that stops reading must not hold the writers (and the
     * SIGQUIT dump) for more than a few seconds. */
    struct timeval tmo = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
    char req[256];
    struct ts__fd_stream out;
    FILE *f = NULL;
    if (!peer_allowed(fd)) {
        static const char msg[] = "error: permission denied (not the same user)\n";
        if (write(fd, msg, sizeof msg - 1) < 0) {
            /* the client went away */
        }
    } else if (read_request(fd, req, sizeof req) &&
               (f = ts__fd_stream_open(&out, fd))) {
        answer(f, fd, req);
        ts__fd_stream_close(&out, f); /* a client gone is not our error */
    }
    close(fd);
}

static int open_socket(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "taskscope.%d",
                       (int)getpid());
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
    if (bind(fd, (struct sockaddr *)&a, alen) != 0 || listen(fd, 8) != 0) {
        fprintf(stderr, "taskscope: agent: cannot listen on @taskscope.%d: %s\n",
                (int)getpid(), strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void *agent_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = quit_pipe[0], .events = POLLIN},
                              {.fd = listen_fd, .events = POLLIN}};
        if (poll(p, listen_fd >= 0 ? 2 : 1, -1) < 0)
            continue;
        if (p[0].revents & (POLLIN | POLLNVAL | POLLHUP | POLLERR))
            quit_dump();
        if (listen_fd >= 0 && (p[1].revents & POLLIN))
            serve_one();
    }
    return NULL;
}

static bool take_sigquit(void)
{
    struct sigaction old;
    if (sigaction(SIGQUIT, NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
        (old.sa_flags & SA_SIGINFO))
        return false;
    struct sigaction sa = {.sa_handler = on_sigquit, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGQUIT, &sa, NULL) == 0;
}

static void start_once(void)
{
    const char *agent = getenv("TASKSCOPE_AGENT");
    agent_pid = getpid();
    struct stat st;
    if (pipe2(quit_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || fstat(quit_pipe[0], &st) != 0)
        return;
    quit_ino = st.st_ino;
    if (agent && strcmp(agent, "1") == 0)
        listen_fd = open_socket();
    if (ts__start_helper_thread(agent_main, NULL) == 0)
        take_sigquit();
}

void ts__agent_start(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_once);
}
