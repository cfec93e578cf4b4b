/* ts_read, ts_write, ts_accept, ts_connect, ts_fd_wait, ts_fd_close
 * (include/taskscope/io.h): data through pipes, socketpairs and loopback
 * TCP between tasks and threads, deadlines, close waking parked tasks, the
 * goroutine dump's [IO wait], parked tasks leaving their Ms free, no false
 * deadlock report, and the errors. */
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <taskscope/profile.h>

#include "tt.h"

/* ---- helpers ---------------------------------------------------------- */

static void make_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
}

static void make_socketpair(int fds[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
}

static int64_t in_ms(int64_t ms)
{
    return ts_now() + ms * TS_MILLISECOND;
}

/* read_full: ts_read until n bytes arrived; the count (short at EOF or
 * on an error). */
static size_t read_full(int fd, void *buf, size_t n, int64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = ts_read(fd, (char *)buf + got, n - got, deadline);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* A reader parked on fd, and what its call returned. */
struct reader {
    int fd;
    int64_t deadline;
    ssize_t rc;
    int err;
    int64_t end;        /* ts_now() when the call returned */
    char buf[64];
    ts_chan_t *done;
};

static void reader_task(void *arg)
{
    struct reader *r = arg;
    r->rc = ts_read(r->fd, r->buf, sizeof r->buf, r->deadline);
    r->err = r->rc < 0 ? (int)-r->rc : 0;
    r->end = ts_now();
    tt_signal(r->done);
}

/* byte_reader_task: the same, reading a single byte (many share an fd). */
static void byte_reader_task(void *arg)
{
    struct reader *r = arg;
    r->rc = ts_read(r->fd, r->buf, 1, r->deadline);
    r->err = r->rc < 0 ? (int)-r->rc : 0;
    tt_signal(r->done);
}

static void *reader_thread(void *arg)
{
    reader_task(arg);
    return NULL;
}

/* ---- data between tasks ----------------------------------------------- */

struct echo {
    int fd;
    int rounds;
    ts_chan_t *done;
};

static void echo_task(void *arg)
{
    struct echo *e = arg;
    char buf[256];
    for (int i = 0; i < e->rounds; i++) {
        size_t n = read_full(e->fd, buf, sizeof buf, TS_NO_DEADLINE);
        TT_CHECK_EQ(n, sizeof buf);
        TT_CHECK_EQ(ts_write(e->fd, buf, n, TS_NO_DEADLINE), (ssize_t)n);
    }
    tt_signal(e->done);
}

static void pinger_task(void *arg)
{
    struct echo *e = arg;
    char out[256], in[256];
    for (int i = 0; i < e->rounds; i++) {
        for (size_t k = 0; k < sizeof out; k++)
            out[k] = (char)(i * 31 + (int)k);
        TT_CHECK_EQ(ts_write(e->fd, out, sizeof out, TS_NO_DEADLINE),
                    (ssize_t)sizeof out);
        TT_CHECK_EQ(read_full(e->fd, in, sizeof in, TS_NO_DEADLINE),
                    sizeof in);
        TT_CHECK(memcmp(in, out, sizeof in) == 0);
    }
    tt_signal(e->done);
}

static void test_io_ping_pong_over_socketpair(void **state)
{
    (void)state;
    int sv[2];
    make_socketpair(sv);
    ts_chan_t *done = ts_chan_make(0, 2);
    int rounds = (int)tt_scaled(2000, 100);
    struct echo a = {sv[0], rounds, done}, b = {sv[1], rounds, done};
    tt_go(echo_task, &b);
    tt_go(pinger_task, &a);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);
    /* first use made them non-blocking (io.h) */
    assert_true(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(sv[1], F_GETFL) & O_NONBLOCK);
    assert_int_equal(ts_fd_close(sv[0]), 0);
    assert_int_equal(ts_fd_close(sv[1]), 0);
    ts_chan_release(done);
    tt_end(0);
}

/* Many writers share a few pipes (several park on one fd at once when the
 * pipe is full); one reader per pipe sums what arrives. Records are 8
 * bytes (< PIPE_BUF: each write is atomic). Nothing lost or duplicated. */
enum { NPIPES = 8 };

struct conserve {
    int fds[NPIPES][2];
    int per_writer;
    long writers_per_pipe;
    atomic_llong sent;
    atomic_llong received;
    ts_chan_t *done;
};

struct writer_arg {
    struct conserve *c;
    int pipe;
    uint64_t base;
};

static void conserve_writer(void *arg)
{
    struct writer_arg *w = arg;
    for (int i = 0; i < w->c->per_writer; i++) {
        uint64_t v = w->base + (uint64_t)i;
        TT_CHECK_EQ(ts_write(w->c->fds[w->pipe][1], &v, sizeof v,
                             ts_now() + TT_SOON),
                    (ssize_t)sizeof v);
        atomic_fetch_add(&w->c->sent, (long long)v);
    }
    tt_signal(w->c->done);
}

struct reader_arg {
    struct conserve *c;
    int pipe;
};

static void conserve_reader(void *arg)
{
    struct reader_arg *r = arg;
    long records = r->c->writers_per_pipe * r->c->per_writer;
    for (long i = 0; i < records; i++) {
        uint64_t v;
        TT_REQUIRE_V(read_full(r->c->fds[r->pipe][0], &v, sizeof v,
                               ts_now() + TT_SOON) == sizeof v);
        atomic_fetch_add(&r->c->received, (long long)v);
    }
    tt_signal(r->c->done);
}

static void test_io_thousand_tasks_conserve_messages(void **state)
{
    (void)state;
    struct conserve c = {.per_writer = 20};
    long ntasks = tt_scaled(1000, 80);
    c.writers_per_pipe = ntasks / NPIPES;
    c.done = ts_chan_make(0, 64);
    for (int p = 0; p < NPIPES; p++)
        make_pipe(c.fds[p]);
    long nwriters = c.writers_per_pipe * NPIPES;
    struct writer_arg *w = calloc((size_t)nwriters, sizeof *w);
    struct reader_arg r[NPIPES];
    assert_non_null(w);
    for (long i = 0; i < nwriters; i++) {
        w[i] = (struct writer_arg){&c, (int)(i % NPIPES),
                                   (uint64_t)i * 1000003u};
        tt_go(conserve_writer, &w[i]);
    }
    for (int p = 0; p < NPIPES; p++) {
        r[p] = (struct reader_arg){&c, p};
        tt_go(conserve_reader, &r[p]);
    }
    assert_int_equal(tt_wait_done(c.done, nwriters + NPIPES, 2 * TT_SOON),
                     nwriters + NPIPES);
    assert_int_equal(atomic_load(&c.sent), atomic_load(&c.received));
    for (int p = 0; p < NPIPES; p++) {
        assert_int_equal(ts_fd_close(c.fds[p][0]), 0);
        assert_int_equal(ts_fd_close(c.fds[p][1]), 0);
    }
    free(w);
    ts_chan_release(c.done);
    tt_end(0);
}

/* Memory written before a ts_write is visible after the ts_read that gets
 * its bytes (the tsan build reports a race otherwise). */
struct handoff {
    int fds[2];
    int payload[16]; /* plain memory, no other synchronisation */
    ts_chan_t *done;
};

static void handoff_writer(void *arg)
{
    struct handoff *h = arg;
    ts_sleep(TS_MILLISECOND); /* the reader parks first, usually */
    for (int i = 0; i < 16; i++)
        h->payload[i] = i * i;
    TT_CHECK_EQ(ts_write(h->fds[1], "k", 1, TS_NO_DEADLINE), 1);
    tt_signal(h->done);
}

static void handoff_reader(void *arg)
{
    struct handoff *h = arg;
    char c;
    TT_CHECK_EQ(ts_read(h->fds[0], &c, 1, ts_now() + TT_SOON), 1);
    for (int i = 0; i < 16; i++)
        TT_CHECK_EQ(h->payload[i], i * i);
    tt_signal(h->done);
}

static void test_io_write_happens_before_read(void **state)
{
    (void)state;
    struct handoff h = {.done = ts_chan_make(0, 2)};
    make_socketpair(h.fds);
    tt_go(handoff_reader, &h);
    tt_go(handoff_writer, &h);
    assert_int_equal(tt_wait_done(h.done, 2, TT_SOON), 2);
    ts_fd_close(h.fds[0]);
    ts_fd_close(h.fds[1]);
    ts_chan_release(h.done);
    tt_end(0);
}

/* ---- deadlines -------------------------------------------------------- */

/* The read timed out, not before its deadline, and within 5 s of it. */
static void check_timed_out(const struct reader *r)
{
    assert_int_equal(r->rc, -ETIMEDOUT);
    assert_true(r->end >= r->deadline);
    assert_true(r->end < r->deadline + 5 * TS_SECOND);
}

static void test_io_read_deadline_times_out_on_time(void **state)
{
    (void)state;
    int fds[2];
    make_pipe(fds);
    ts_chan_t *done = ts_chan_make(0, 1);
    struct reader r = {.fd = fds[0], .deadline = in_ms(50), .done = done};
    tt_go(reader_task, &r);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    check_timed_out(&r);
    /* the same from a plain thread (ppoll) */
    r.deadline = in_ms(50);
    pthread_t t = tt_thread(reader_thread, &r);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    tt_join(t);
    check_timed_out(&r);
    /* the fd still works after the timeouts */
    assert_int_equal(ts_write(fds[1], "x", 1, TS_NO_DEADLINE), 1);
    char c;
    assert_int_equal(ts_read(fds[0], &c, 1, in_ms(5000)), 1);
    ts_fd_close(fds[0]);
    ts_fd_close(fds[1]);
    ts_chan_release(done);
    tt_end(0);
}

/* A deadline already past fails at once, even with data waiting (Go). */
static void test_io_past_deadline_fails_at_once(void **state)
{
    (void)state;
    int fds[2];
    make_pipe(fds);
    assert_int_equal(write(fds[1], "ab", 2), 2);
    char buf[2];
    assert_int_equal(ts_read(fds[0], buf, 2, ts_now() - 1), -ETIMEDOUT);
    assert_int_equal(ts_fd_wait(fds[0], TS_FD_READ, ts_now() - 1),
                     -ETIMEDOUT);
    assert_int_equal(ts_read(fds[0], buf, 2, TS_NO_DEADLINE), 2);
    ts_fd_close(fds[0]);
    ts_fd_close(fds[1]);
    tt_end(0);
}

/* A writer blocked on a full pipe times out with the short count. */
struct filler {
    int fd;
    ssize_t rc;
    ts_chan_t *done;
};

static void filler_task(void *arg)
{
    struct filler *f = arg;
    static char big[1 << 20];
    f->rc = ts_write(f->fd, big, sizeof big, in_ms(50));
    tt_signal(f->done);
}

static void test_io_write_deadline_returns_short_count(void **state)
{
    (void)state;
    int fds[2];
    make_pipe(fds);
    ts_chan_t *done = ts_chan_make(0, 1);
    struct filler f = {.fd = fds[1], .done = done};
    tt_go(filler_task, &f);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(f.rc, -ETIMEDOUT);
    char c;
    assert_int_equal(ts_read(fds[0], &c, 1, TS_NO_DEADLINE), 1); /* some went */
    ts_fd_close(fds[0]);
    ts_fd_close(fds[1]);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- close ------------------------------------------------------------ */

static void test_io_close_wakes_parked_reader(void **state)
{
    (void)state;
    int fds[2];
    make_socketpair(fds);
    ts_chan_t *done = ts_chan_make(0, 1);
    struct reader r = {.fd = fds[0], .deadline = TS_NO_DEADLINE,
                       .done = done};
    uint64_t id = tt_go(reader_task, &r);
    assert_true(tt_wait_parked(id, TS_WAIT_IO, TT_SOON, NULL));
    assert_int_equal(ts_fd_close(fds[0]), 0);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(r.rc, -EBADF);
    /* ...and a reader and a writer of one fd, both parked */
    make_socketpair(fds + 0); /* reuses the closed number, likely */
    int big = 1 << 16;
    assert_int_equal(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &big,
                                sizeof big), 0);
    struct reader r2 = {.fd = fds[0], .deadline = TS_NO_DEADLINE,
                        .done = done};
    struct filler f = {.fd = fds[0], .done = done};
    ts_chan_t *done2 = ts_chan_make(0, 2);
    r2.done = done2;
    f.done = done2;
    uint64_t rid = tt_go(reader_task, &r2);
    uint64_t wid = tt_go(filler_task, &f);
    assert_true(tt_wait_parked(rid, TS_WAIT_IO, TT_SOON, NULL));
    assert_true(tt_wait_parked(wid, TS_WAIT_IO, TT_SOON, NULL));
    assert_int_equal(ts_fd_close(fds[0]), 0);
    assert_int_equal(tt_wait_done(done2, 2, TT_SOON), 2);
    assert_int_equal(r2.err, EBADF);
    assert_int_equal(f.rc, -EBADF);
    ts_fd_close(fds[1]);
    ts_chan_release(done);
    ts_chan_release(done2);
    tt_end(0);
}

/* ---- TCP -------------------------------------------------------------- */

static int listen_loopback(struct sockaddr_in *addr)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    *addr = (struct sockaddr_in){.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(l, (struct sockaddr *)addr, sizeof *addr), 0);
    socklen_t len = sizeof *addr;
    assert_int_equal(getsockname(l, (struct sockaddr *)addr, &len), 0);
    return l;
}

struct server {
    int listener;
    int accepted_flags;
    ts_chan_t *done;
};

static void server_task(void *arg)
{
    struct server *s = arg;
    int c = ts_accept(s->listener, NULL, NULL, ts_now() + TT_SOON);
    TT_REQUIRE_V(c >= 0);
    s->accepted_flags = fcntl(c, F_GETFL) & O_NONBLOCK ? 1 : 0;
    s->accepted_flags |= fcntl(c, F_GETFD) & FD_CLOEXEC ? 2 : 0;
    char buf[5];
    TT_CHECK_EQ(read_full(c, buf, 5, ts_now() + TT_SOON), 5);
    TT_CHECK(memcmp(buf, "hello", 5) == 0);
    TT_CHECK_EQ(ts_write(c, "world", 5, ts_now() + TT_SOON), 5);
    ts_fd_close(c);
    tt_signal(s->done);
}

struct client {
    struct sockaddr_in addr;
    int rc;
    int err;
    ts_chan_t *done;
};

static void client_task(void *arg)
{
    struct client *cl = arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    TT_REQUIRE_V(s >= 0);
    cl->rc = ts_connect(s, (struct sockaddr *)&cl->addr, sizeof cl->addr,
                        ts_now() + TT_SOON);
    cl->err = cl->rc < 0 ? -cl->rc : 0;
    if (cl->rc == 0) {
        TT_CHECK_EQ(ts_write(s, "hello", 5, ts_now() + TT_SOON), 5);
        char buf[6] = {0};
        TT_CHECK_EQ(read_full(s, buf, 5, ts_now() + TT_SOON), 5);
        TT_CHECK(strcmp(buf, "world") == 0);
        char more;
        TT_CHECK_EQ(ts_read(s, &more, 1, ts_now() + TT_SOON), 0); /* EOF */
    }
    ts_fd_close(s);
    tt_signal(cl->done);
}

static void *client_thread(void *arg)
{
    client_task(arg);
    return NULL;
}

static void test_io_accept_connect_loopback(void **state)
{
    (void)state;
    ts_chan_t *done = ts_chan_make(0, 2);
    struct client cl = {.done = done};
    int l = listen_loopback(&cl.addr);
    assert_int_equal(listen(l, 16), 0);
    struct server s = {.listener = l, .done = done};
    tt_go(server_task, &s);
    tt_go(client_task, &cl);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);
    assert_int_equal(cl.rc, 0);
    assert_int_equal(s.accepted_flags, 3);
    /* again with the client on a plain thread */
    tt_go(server_task, &s);
    pthread_t t = tt_thread(client_thread, &cl);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);
    tt_join(t);
    assert_int_equal(cl.rc, 0);
    assert_int_equal(ts_fd_close(l), 0);
    ts_chan_release(done);
    tt_end(0);
}

/* A port bound but not listening refuses. */
static void test_io_connect_refused(void **state)
{
    (void)state;
    ts_chan_t *done = ts_chan_make(0, 1);
    struct client cl = {.done = done};
    int l = listen_loopback(&cl.addr);
    tt_go(client_task, &cl);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(cl.rc, -ECONNREFUSED);
    pthread_t t = tt_thread(client_thread, &cl);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    tt_join(t);
    assert_int_equal(cl.err, ECONNREFUSED);
    ts_fd_close(l);
    ts_chan_release(done);
    tt_end(0);
}

/* ts_accept with a deadline and nobody connecting. */
static void accept_timeout_task(void *arg)
{
    struct server *s = arg;
    TT_CHECK_EQ(ts_accept(s->listener, NULL, NULL, in_ms(20)), -ETIMEDOUT);
    tt_signal(s->done);
}

static void test_io_accept_deadline(void **state)
{
    (void)state;
    struct sockaddr_in addr;
    int l = listen_loopback(&addr);
    assert_int_equal(listen(l, 1), 0);
    struct server s = {.listener = l, .done = ts_chan_make(0, 1)};
    tt_go(accept_timeout_task, &s);
    assert_int_equal(tt_wait_done(s.done, 1, TT_SOON), 1);
    ts_fd_close(l);
    ts_chan_release(s.done);
    tt_end(0);
}

/* ---- ts_fd_wait ------------------------------------------------------- */

struct waiter {
    int fd;
    int events;
    int64_t deadline;
    int rc;
    int err;
    ts_chan_t *done;
};

static void fd_wait_task(void *arg)
{
    struct waiter *w = arg;
    w->rc = ts_fd_wait(w->fd, w->events, w->deadline);
    w->err = w->rc < 0 ? -w->rc : 0;
    tt_signal(w->done);
}

static void *fd_wait_thread(void *arg)
{
    fd_wait_task(arg);
    return NULL;
}

static void test_io_fd_wait(void **state)
{
    (void)state;
    int fds[2];
    make_pipe(fds);
    ts_chan_t *done = ts_chan_make(0, 1);
    /* an empty pipe is writable at once, not readable */
    struct waiter w = {fds[1], TS_FD_WRITE, in_ms(5000), 0, 0, done};
    tt_go(fd_wait_task, &w);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(w.rc, TS_FD_WRITE);
    assert_false(fcntl(fds[1], F_GETFL) & O_NONBLOCK); /* flags untouched */
    w = (struct waiter){fds[0], TS_FD_READ, in_ms(20), 0, 0, done};
    tt_go(fd_wait_task, &w);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(w.rc, -ETIMEDOUT);
    /* parked until a write makes it readable */
    w = (struct waiter){fds[0], TS_FD_READ | TS_FD_WRITE, TS_NO_DEADLINE, 0,
                        0, done};
    uint64_t id = tt_go(fd_wait_task, &w);
    assert_true(tt_wait_parked(id, TS_WAIT_IO, TT_SOON, NULL));
    assert_int_equal(write(fds[1], "z", 1), 1);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(w.rc, TS_FD_READ);
    /* a plain thread: ready at once, and the hang-up of the other end */
    pthread_t t = tt_thread(fd_wait_thread, &w);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    tt_join(t);
    assert_int_equal(w.rc, TS_FD_READ);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(ts_fd_close(fds[1]), 0);
    w = (struct waiter){fds[0], TS_FD_READ, in_ms(5000), 0, 0, done};
    tt_go(fd_wait_task, &w);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(w.rc, TS_FD_READ);
    assert_int_equal(ts_fd_wait(fds[0], 0, TS_NO_DEADLINE), -EINVAL);
    assert_int_equal(ts_fd_wait(fds[0], 4, TS_NO_DEADLINE), -EINVAL);
    ts_fd_close(fds[0]);
    ts_chan_release(done);
    tt_end(0);
}

/* A regular file is not pollable: always ready. */
static void test_io_regular_file_is_always_ready(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    int fd = fileno(f);
    ts_chan_t *done = ts_chan_make(0, 1);
    struct waiter w = {fd, TS_FD_READ, in_ms(5000), 0, 0, done};
    tt_go(fd_wait_task, &w);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(w.rc, TS_FD_READ);
    assert_int_equal(ts_write(fd, "abc", 3, TS_NO_DEADLINE), 3);
    fclose(f);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- plain threads ---------------------------------------------------- */

struct sender {
    int fd;
    ts_chan_t *done;
};

static void delayed_sender(void *arg)
{
    struct sender *s = arg;
    ts_sleep(5 * TS_MILLISECOND);
    TT_CHECK_EQ(ts_write(s->fd, "thread", 6, TS_NO_DEADLINE), 6);
    tt_signal(s->done);
}

static void test_io_plain_thread_reads_from_task(void **state)
{
    (void)state;
    int fds[2];
    make_socketpair(fds);
    ts_chan_t *done = ts_chan_make(0, 2);
    struct reader r = {.fd = fds[0], .deadline = ts_now() + TT_SOON,
                       .done = done};
    pthread_t t = tt_thread(reader_thread, &r);
    struct sender s = {fds[1], done};
    tt_go(delayed_sender, &s);
    assert_int_equal(tt_wait_done(done, 2, TT_SOON), 2);
    tt_join(t);
    assert_int_equal(r.rc, 6);
    assert_memory_equal(r.buf, "thread", 6);
    ts_fd_close(fds[0]);
    ts_fd_close(fds[1]);
    ts_chan_release(done);
    tt_end(0);
}

/* ---- diagnostics ------------------------------------------------------ */

/* dump: the debug=2 goroutine dump, malloc'd. */
static char *dump(void)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(ts_profile_write("goroutine", fileno(f), 2), 0);
    long n = lseek(fileno(f), 0, SEEK_END);
    char *s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(pread(fileno(f), s, (size_t)n, 0), n);
    fclose(f);
    return s;
}

static void test_io_goroutine_dump_shows_io_wait(void **state)
{
    (void)state;
    int fds[2];
    make_pipe(fds);
    ts_chan_t *done = ts_chan_make(0, 1);
    struct reader r = {.fd = fds[0], .deadline = TS_NO_DEADLINE,
                       .done = done};
    uint64_t id = tt_go(reader_task, &r);
    assert_true(tt_wait_parked(id, TS_WAIT_IO, TT_SOON, NULL));
    char *d = dump(), hdr[64];
    snprintf(hdr, sizeof hdr, "goroutine %llu [IO wait]:\n",
             (unsigned long long)id);
    if (!strstr(d, hdr))
        fail_msg("no \"%s\" in the dump:\n%s", hdr, d);
    free(d);
    assert_int_equal(write(fds[1], "q", 1), 1);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    assert_int_equal(r.rc, 1);
    ts_fd_close(fds[0]);
    ts_fd_close(fds[1]);
    ts_chan_release(done);
    tt_end(0);
}

/* On 2 Ps, 100 tasks parked on reads leave both Ms free: another task
 * still runs, and a thread's channel ping-pong with it completes. */
enum { PARKED = 100 };

static int count_cb(const struct ts_task_info *info, void *arg)
{
    *(int *)arg += info->state == TS_TASK_WAITING &&
                   info->wait_reason == TS_WAIT_IO;
    return 0;
}

static int count_in_io_wait(void)
{
    int n = 0;
    ts_introspect_tasks(count_cb, &n);
    return n;
}

/* pong_task: answers each int v on ch with v + 1. */
static void pong_task(void *arg)
{
    ts_chan_t *ch = arg;
    int v;
    bool ok;
    while (ts_chan_recv(ch, &v, &ok) == 0 && ok) {
        v++;
        ts_chan_send(ch, &v);
    }
}

static int scenario_parked_tasks_free_ms(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return 10;
    ts_chan_t *done = ts_chan_make(0, PARKED);
    static struct reader r[PARKED];
    for (int i = 0; i < PARKED; i++) {
        r[i] = (struct reader){.fd = fds[0], .deadline = TS_NO_DEADLINE,
                               .done = done};
        ts_go(byte_reader_task, &r[i]);
    }
    int64_t deadline = ts_now() + TT_SOON;
    int parked = 0;
    while ((parked = count_in_io_wait()) < PARKED &&
           ts_now() < deadline)
        ts_sleep(TS_MILLISECOND);
    if (parked < PARKED) {
        fprintf(stderr, "only %d readers parked\n", parked);
        return 1;
    }
    ts_chan_t *ping = ts_chan_make(sizeof(int), 0);
    ts_go(pong_task, ping);
    for (int i = 0; i < 100; i++) {
        int v = i;
        if (tt_send_within(ping, &v, TT_SOON) != 0 ||
            tt_recv_within(ping, &v, NULL, TT_SOON) != 0 || v != i + 1) {
            fprintf(stderr, "ping-pong stuck at %d\n", i);
            return 2;
        }
    }
    ts_chan_close(ping);
    char bytes[PARKED];
    memset(bytes, 'b', sizeof bytes);
    if (write(fds[1], bytes, sizeof bytes) != PARKED)
        return 3;
    if (tt_wait_done(done, PARKED, TT_SOON) != PARKED)
        return 4;
    for (int i = 0; i < PARKED; i++)
        if (r[i].rc != 1)
            return 5;
    return 0;
}

static void test_io_parked_tasks_leave_ms_free(void **state)
{
    (void)state;
    tt_expect_scenario_ok("parked_tasks_free_ms", 2);
}

/* The only task waits on a pipe that a signal handler writes 1.5 s
 * later: no "all goroutines are asleep" (a file descriptor can wake it). */
static int alarm_fd = -1;

static void on_alarm_write(int sig)
{
    (void)sig;
    ssize_t r = write(alarm_fd, "!", 1);
    (void)r;
}

static int io_main(void *arg)
{
    int fd = *(int *)arg;
    char c;
    ssize_t r = ts_read(fd, &c, 1, TS_NO_DEADLINE);
    printf(r == 1 ? "WOKEN\n" : "READ FAILED\n");
    return r == 1 ? 0 : 1;
}

static int scenario_io_wait_is_no_deadlock(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return 10;
    alarm_fd = fds[1];
    signal(SIGALRM, on_alarm_write);
    struct itimerval it = {.it_value = {1, 500000}};
    setitimer(ITIMER_REAL, &it, NULL);
    return ts_run(io_main, &fds[0]);
}

static void test_io_wait_is_no_deadlock(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("io_wait_is_no_deadlock", NULL, &c);
    if (tt_child_exit(&c) != 0 || !strstr(c.out, "WOKEN") ||
        strstr(c.err, "deadlock"))
        fail_msg("exit %d\nstdout:\n%s\nstderr:\n%s", tt_child_exit(&c),
                 c.out, c.err);
}

/* Once the poller thread runs, a real deadlock is still reported (the
 * thread is one the runtime started, and nobody waits in IO). */
static int deadlock_after_io_main(void *arg)
{
    (void)arg;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return 10;
    char c;
    if (ts_read(fds[0], &c, 1, ts_now() + 10 * TS_MILLISECOND) != -ETIMEDOUT)
        return 11;
    ts_chan_t *ch = ts_chan_make(0, 0);
    printf("BLOCKING\n");
    ts_chan_recv(ch, NULL, NULL);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_deadlock_after_io(void)
{
    return ts_run(deadlock_after_io_main, NULL);
}

static void test_io_deadlock_still_detected(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("deadlock_after_io", NULL, &c);
    if (tt_child_exit(&c) != 2 ||
        !strstr(c.err, "all goroutines are asleep - deadlock!") ||
        strstr(c.out, "UNREACHED"))
        fail_msg("exit %d\nstdout:\n%s\nstderr:\n%s", tt_child_exit(&c),
                 c.out, c.err);
}

/* ---- errors ----------------------------------------------------------- */

static void errors_body(void *arg)
{
    (void)arg;
    int fds[2];
    char buf[4];
    TT_REQUIRE_V(pipe2(fds, O_CLOEXEC) == 0);
    TT_REQUIRE_V(ts_fd_close(fds[0]) == 0);
    TT_CHECK_EQ(ts_read(fds[0], buf, 4, TS_NO_DEADLINE), -EBADF);
    TT_CHECK_EQ(ts_read(-1, buf, 4, TS_NO_DEADLINE), -EBADF);
    TT_CHECK_EQ(ts_write(-1, buf, 4, TS_NO_DEADLINE), -EBADF);
    TT_CHECK_EQ(ts_fd_wait(-1, TS_FD_READ, TS_NO_DEADLINE), -EBADF);
    TT_CHECK_EQ(ts_fd_wait(fds[0], TS_FD_READ, TS_NO_DEADLINE), -EBADF);
    TT_CHECK_EQ(ts_fd_close(fds[0]), -EBADF);
    TT_CHECK_EQ(ts_fd_close(-1), -EBADF);
    TT_CHECK_EQ(ts_read(1 << 23, buf, 4, TS_NO_DEADLINE), -EMFILE);
    /* the read end is gone: EPIPE (SIGPIPE is ignored by main) */
    TT_CHECK_EQ(ts_write(fds[1], "abc", 3, TS_NO_DEADLINE), -EPIPE);
    TT_CHECK_EQ(ts_accept(fds[1], NULL, NULL, TS_NO_DEADLINE), -ENOTSOCK);
    struct sockaddr_in a = {.sin_family = AF_INET};
    TT_CHECK_EQ(ts_connect(fds[1], (struct sockaddr *)&a, sizeof a,
                           TS_NO_DEADLINE), -ENOTSOCK);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    TT_CHECK_EQ(ts_accept(s, NULL, NULL, TS_NO_DEADLINE), -EINVAL); /* no listen */
    ts_fd_close(s);
    ts_fd_close(fds[1]);
}

static void errors_task(void *arg)
{
    errors_body(NULL);
    tt_signal(arg);
}

static void *errors_thread(void *arg)
{
    errors_body(arg);
    return NULL;
}

static void test_io_errors(void **state)
{
    (void)state;
    ts_chan_t *done = ts_chan_make(0, 1);
    tt_go(errors_task, done);
    assert_int_equal(tt_wait_done(done, 1, TT_SOON), 1);
    tt_join(tt_thread(errors_thread, NULL));
    ts_chan_release(done);
    tt_end(0);
}

static const struct tt_scenario scenarios[] = {
    {"parked_tasks_free_ms", scenario_parked_tasks_free_ms},
    {"io_wait_is_no_deadlock", scenario_io_wait_is_no_deadlock},
    {"deadlock_after_io", scenario_deadlock_after_io},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_io_ping_pong_over_socketpair),
        TT_TEST(test_io_thousand_tasks_conserve_messages),
        TT_TEST(test_io_write_happens_before_read),
        TT_TEST(test_io_read_deadline_times_out_on_time),
        TT_TEST(test_io_past_deadline_fails_at_once),
        TT_TEST(test_io_write_deadline_returns_short_count),
        TT_TEST(test_io_close_wakes_parked_reader),
        TT_TEST(test_io_accept_connect_loopback),
        TT_TEST(test_io_connect_refused),
        TT_TEST(test_io_accept_deadline),
        TT_TEST(test_io_fd_wait),
        TT_TEST(test_io_regular_file_is_always_ready),
        TT_TEST(test_io_plain_thread_reads_from_task),
        TT_TEST(test_io_goroutine_dump_shows_io_wait),
        TT_TEST(test_io_parked_tasks_leave_ms_free),
        TT_TEST(test_io_wait_is_no_deadlock),
        TT_TEST(test_io_deadlock_still_detected),
        TT_TEST(test_io_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
