/* iobench — the netpoller's cost: a 64-byte ping-pong over a Unix
 * socketpair (bench/go_io/main.go is the same program in Go, whose net.Conn
 * parks on its netpoller; bench/io.sh runs both side by side).
 *
 *   iobench tasks|threads [n]
 *
 *   tasks    two tasks, ts_write / ts_read: each reply parks the reader
 *            until the poller thread readies it
 *   threads  two plain threads, blocking write(2) / read(2): the baseline
 *            of a kernel wakeup per message
 * Prints "<name> <ns/op> ns/op", one op being one round trip. */
#include <taskscope/taskscope.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MSG = 64 };

static long n_ops;
static int sv[2];

static void die(const char *what)
{
    fprintf(stderr, "iobench: %s failed\n", what);
    exit(1);
}

/* ---- tasks ---------------------------------------------------------------- */

static ssize_t task_read_full(int fd, char *buf)
{
    for (size_t got = 0; got < MSG;) {
        ssize_t r = ts_read(fd, buf + got, MSG - got, TS_NO_DEADLINE);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return MSG;
}

static void task_echo(void *arg)
{
    ts_chan_t *done = arg;
    char buf[MSG];
    for (long i = 0; i < n_ops; i++)
        if (task_read_full(sv[1], buf) < 0 ||
            ts_write(sv[1], buf, MSG, TS_NO_DEADLINE) != MSG)
            die("echo");
    ts_chan_send(done, NULL);
}

static int bench_tasks(void *arg)
{
    (void)arg;
    ts_chan_t *done = ts_chan_make(0, 1);
    ts_go(task_echo, done);
    char buf[MSG] = {0};
    for (long i = 0; i < n_ops; i++)
        if (ts_write(sv[0], buf, MSG, TS_NO_DEADLINE) != MSG ||
            task_read_full(sv[0], buf) < 0)
            die("ping");
    ts_chan_recv(done, NULL, NULL);
    ts_chan_release(done);
    return 0;
}

/* ---- threads -------------------------------------------------------------- */

static void thread_read_full(int fd, char *buf)
{
    for (size_t got = 0; got < MSG;) {
        ssize_t r = read(fd, buf + got, MSG - got);
        if (r <= 0)
            die("read");
        got += (size_t)r;
    }
}

static void *thread_echo(void *arg)
{
    (void)arg;
    char buf[MSG];
    for (long i = 0; i < n_ops; i++) {
        thread_read_full(sv[1], buf);
        if (write(sv[1], buf, MSG) != MSG)
            die("write");
    }
    return NULL;
}

static int bench_threads(void *arg)
{
    (void)arg;
    pthread_t t;
    if (pthread_create(&t, NULL, thread_echo, NULL) != 0)
        die("pthread_create");
    char buf[MSG] = {0};
    for (long i = 0; i < n_ops; i++) {
        if (write(sv[0], buf, MSG) != MSG)
            die("write");
        thread_read_full(sv[0], buf);
    }
    pthread_join(t, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "tasks") && strcmp(argv[1], "threads"))) {
        fprintf(stderr, "usage: iobench tasks|threads [n]\n");
        return 2;
    }
    n_ops = argc > 2 ? atol(argv[2]) : 100000;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair");
    bool tasks = strcmp(argv[1], "tasks") == 0;
    int64_t t0 = ts_now();
    if (tasks)
        ts_run(bench_tasks, NULL);
    else
        bench_threads(NULL);
    int64_t dt = ts_now() - t0;
    printf("io_pingpong_%s %.1f ns/op\n", argv[1], (double)dt / (double)n_ops);
    return 0;
}
