/*
 * dump.c — `taskscope dump PID`: asks the in-process agent of a running
 * program for its goroutine (task) dump and copies it to stdout.
 *
 * Protocol (docs/cli.md; the agent side lives in the runtime): the agent
 * listens on the ABSTRACT unix stream socket "taskscope.<pid>" (sun_path[0]
 * is '\0', the name follows, no trailing NUL: the address length is
 * offsetof(sun_path) + 1 + strlen(name)). The client connects, sends one
 * request line, "dump\n" or "dump json\n", and reads until the agent closes
 * the connection. A reply starting with "error: " is the agent refusing;
 * anything else is the report.
 *
 * Invariants: the whole exchange (connect, send, every read) finishes by
 * one deadline, --timeout seconds (default 10) after the start, so a stuck
 * agent cannot hang the CLI; the reply is buffered whole before anything
 * is printed, so an error reply or a timeout never leaves half a report on
 * stdout.
 * Rejected: ptrace attach (py-spy, eu-stack) — it needs ptrace_scope 0 or
 * CAP_SYS_PTRACE and cannot see task stacks the runtime owns; a signal
 * (Go's SIGQUIT) — it cannot carry a request or a reply channel.
 * Abstract sockets belong to a network namespace: a process in another
 * one (a container) looks as if it had no agent.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DUMP_DEFAULT_TIMEOUT 10 /* seconds */
#define DUMP_MAX_REPLY ((size_t)256 << 20)

struct dump_opts {
    long pid;
    long timeout; /* seconds */
    bool json;
};

/* The reply as read so far. */
struct reply {
    char *data;
    size_t len, cap;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timed_out(const struct dump_opts *o)
{
    cli_error("dump", "process %ld: agent did not answer within %ld s", o->pid, o->timeout);
}

/* Connects fd to the agent of o->pid; 0 or CLI_EXIT_ERROR after a message. */
static int dump_connect(int fd, const struct dump_opts *o)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int len = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "taskscope.%ld", o->pid);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    /* connect blocks while the agent's backlog is full: bound it too */
    struct timeval tv = {.tv_sec = o->timeout};
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
        cli_error("dump", "setsockopt(SO_SNDTIMEO): %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    if (connect(fd, (struct sockaddr *)&addr, alen) == 0)
        return 0;
    if (errno == ECONNREFUSED || errno == ENOENT)
        cli_error("dump", "process %ld has no taskscope agent (start it with "
                  "TASKSCOPE_AGENT=1, or under taskscope run)", o->pid);
    else if (errno == EAGAIN || errno == EINPROGRESS)
        timed_out(o);
    else
        cli_error("dump", "process %ld: connecting to its agent: %s", o->pid, strerror(errno));
    return CLI_EXIT_ERROR;
}

/* Sends the request line; 0 or CLI_EXIT_ERROR after a message. */
static int dump_send(int fd, const struct dump_opts *o)
{
    const char *req = o->json ? "dump json\n" : "dump\n";
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno == EAGAIN)
                timed_out(o);
            else
                cli_error("dump", "process %ld: sending the request: %s", o->pid, strerror(errno));
            return CLI_EXIT_ERROR;
        }
        off += (size_t)n;
    }
    return 0;
}

/* Reads until EOF or the deadline; 0 or CLI_EXIT_ERROR after a message. */
static int dump_receive(int fd, const struct dump_opts *o, int64_t deadline, struct reply *r)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0) {
            cli_error("dump", "poll: %s", strerror(errno));
            return CLI_EXIT_ERROR;
        }
        if (ready == 0) {
            timed_out(o);
            return CLI_EXIT_ERROR;
        }
        if (r->len == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 64 * 1024;
            char *d = cap <= DUMP_MAX_REPLY ? realloc(r->data, cap) : NULL;
            if (!d) {
                cli_error("dump", "process %ld: reply too large", o->pid);
                return CLI_EXIT_ERROR;
            }
            r->data = d;
            r->cap = cap;
        }
        ssize_t n = recv(fd, r->data + r->len, r->cap - r->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("dump", "process %ld: reading the reply: %s", o->pid, strerror(errno));
            return CLI_EXIT_ERROR;
        }
        if (n == 0)
            return 0;
        r->len += (size_t)n;
    }
}

/* Prints the reply (or the agent's error); the exit code. */
static int dump_print(const struct reply *r, const struct dump_opts *o)
{
    static const char err[] = "error: ";
    if (r->len == 0) {
        cli_error("dump", "process %ld: agent closed the connection without a reply", o->pid);
        return CLI_EXIT_ERROR;
    }
    if (r->len >= sizeof err - 1 && memcmp(r->data, err, sizeof err - 1) == 0) {
        int n = (int)r->len;
        while (n > 0 && (r->data[n - 1] == '\n' || r->data[n - 1] == '\r'))
            n--;
        cli_error("dump", "%.*s", n, r->data);
        return CLI_EXIT_ERROR;
    }
    if (fwrite(r->data, 1, r->len, stdout) != r->len) {
        cli_error("dump", "writing standard output: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    return cli_finish("dump", CLI_EXIT_CLEAN);
}

static int dump_run(const struct dump_opts *o)
{
    if (kill((pid_t)o->pid, 0) != 0 && errno == ESRCH) {
        cli_error("dump", "no process with PID %ld", o->pid);
        return CLI_EXIT_ERROR;
    }
    int64_t deadline = now_ms() + o->timeout * 1000;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        cli_error("dump", "socket: %s", strerror(errno));
        return CLI_EXIT_ERROR;
    }
    struct reply r = {0};
    int rc = dump_connect(fd, o);
    if (rc == 0)
        rc = dump_send(fd, o);
    if (rc == 0)
        rc = dump_receive(fd, o, deadline, &r);
    close(fd);
    if (rc == 0)
        rc = dump_print(&r, o);
    free(r.data);
    return rc;
}

static int dump_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct dump_opts o = {.timeout = DUMP_DEFAULT_TIMEOUT};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o.json = true; break;
        case 'h': cli_print_usage(&cli_dump, stdout); return cli_finish("dump", 0);
        case 't':
            if (cli_parse_long(optarg, 1, 3600, &o.timeout))
                return cli_usage_error(&cli_dump, "--timeout wants 1..3600 seconds, not '%s'", optarg);
            break;
        case ':': return cli_usage_error(&cli_dump, "%s needs an argument", argv[optind - 1]);
        default: return cli_unknown_option(&cli_dump, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(&cli_dump, optind == argc ? "no PID given" : "exactly one PID, please");
    if (cli_parse_long(argv[optind], 1, INT_MAX, &o.pid))
        return cli_usage_error(&cli_dump, "PID must be a positive integer, not '%s'", argv[optind]);
    return dump_run(&o);
}

const struct cli_command cli_dump = {
    .name = "dump",
    .summary = "print the task (goroutine) dump of a running program",
    .usage =
        "usage: taskscope dump PID [--json] [--timeout=SECONDS]\n"
        "\n"
        "Asks the taskscope agent inside process PID for its task dump (Go's\n"
        "goroutine dump format) and prints it. The program must run with the\n"
        "agent enabled (TASKSCOPE_AGENT=1, or under taskscope run).\n"
        "\n"
        "  --json               ask for the dump as JSON\n"
        "  --timeout=SECONDS    give up when the agent has not answered after\n"
        "                       SECONDS (default 10)\n"
        "  -h, --help           print this help\n"
        "\n"
        "Exit status: 0 dump printed, 2 usage error, no such process, no agent,\n"
        "agent error or timeout.\n",
    .run = dump_main,
};
