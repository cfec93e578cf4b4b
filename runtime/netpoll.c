/* taskscope — the netpoller: tasks block on file descriptors by parking.
 *
 * Design:
 *   - One epoll set and one poller thread (started on the first task that
 *     must wait) blocked in epoll_wait(-1). For each event it readies the
 *     tasks waiting for it through ts__ready, as a timer or a channel
 *     would: from a plain thread, so they go to the global run queue and
 *     an idle M is woken. Cost: one extra thread, and each wakeup crosses
 *     two threads (poller, then an M) where Go's idle Ms poll themselves
 *     (bench/README.md has the figure). Idle Ms keep sleeping on their
 *     futex: sched.c is unchanged but for the deadlock check's veto.
 *   - One-shot registration, re-armed at each park: EPOLL_CTL_MOD with
 *     EPOLLONESHOT and the waiters' events, EPOLL_CTL_ADD when the kernel
 *     does not know the fd. One epoll_ctl per would-block, but no readiness
 *     state to lose: arming is level-triggered, so data that arrived before
 *     the arm still fires, and an fd closed with close(2) and reused is
 *     simply registered again (the kernel dropped it on close).
 *   - Per-fd state (struct pdesc) in a table indexed by fd: 4096 chunks of
 *     1024, each allocated under np.grow on first use and never freed, so
 *     readers index it without a lock.
 *
 * Invariants:
 *   - a waiter (struct iowait, on its task's stack) is on its pdesc's list
 *     exactly while queued is true; both change only under pd->lock;
 *   - it is woken exactly once, by whoever wins the CAS on its task's
 *     select_done (the chan_internal.h protocol): the poller or
 *     ts_fd_close (task->param = the waiter, got/err set) or the deadline
 *     timer (param NULL; the task then unlinks itself if still queued);
 *   - pd->seq changes only in ts_fd_close, under pd->lock. An epoll event
 *     carries the seq it was armed with and is ignored once it is stale; a
 *     call that read seq before a close fails with -EBADF instead of
 *     parking, and so does one that arrives while closing is set.
 *   - np.waiting counts the tasks parked here: while it is non-zero the
 *     deadlock check does not fire (a file descriptor may wake them).
 *   - errno is read only inside the sys_* wrappers (and ctl), in the frame
 *     of the system call, and never set: errors travel as -errno values,
 *     since a task may resume on another thread (see sys_ppoll).
 *
 * Locks: pd->lock is held while arming (epoll_ctl) and across the park
 * until the unlock function has armed the deadline timer: pd->lock >
 * timer->lock. Tasks are readied only after pd->lock is released.
 *
 * ThreadSanitizer: Go's syscall ioSync: writes and connects release
 * np.race_io, successful reads, accepts and waits acquire it. A task
 * parking releases &pd->closing and ts_fd_close acquires it (the
 * parked call's syscalls happen before the close, as Go's fdMutex orders
 * them); ts_fd_close releases the pdesc and the calls it fails acquire
 * it. */
#include <taskscope/io.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "profiler/threadcreate.h"
#include "runtime/chan_internal.h"
#include "runtime/race.h"
#include "runtime/sched.h"

#define CHUNK_SHIFT 10
#define CHUNK_FDS (1 << CHUNK_SHIFT)
#define NCHUNKS 4096
#define MAX_FD (NCHUNKS * CHUNK_FDS)
#define READ_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define WRITE_EVENTS (EPOLLOUT | EPOLLHUP | EPOLLERR)

/* A task parked on an fd (Go's pollDesc rg/wg, as a list). */
struct iowait {
    struct ts_task *task;
    struct iowait *next;    /* pd->lock; after removal: the woken list */
    struct iowait *prev;
    uint32_t want;          /* EPOLLIN, EPOLLOUT or both */
    uint32_t got;           /* set by the winning waker: ready among want */
    int err;                /* set by ts_fd_close: EBADF */
    bool queued;            /* pd->lock */
};

struct pdesc {
    ts__lock_t lock;        /* guards everything below but nonblock */
    uint32_t seq;           /* atomic reads; written under lock */
    bool closing;           /* ts_fd_close is between its bump and close */
    uint8_t nonblock;       /* atomic: the fd is known O_NONBLOCK */
    struct iowait *first;
    struct iowait *last;
};

static struct {
    pthread_once_t once;
    int epfd;               /* atomic: -1 until the poller started */
    int start_err;          /* errno of a failed start, else 0 */
    int32_t waiting;        /* atomic: tasks parked in IO wait */
    ts__lock_t grow;        /* guards chunk allocation */
    struct pdesc *chunks[NCHUNKS]; /* atomic: published once, never freed */
    char race_io;           /* TSan sync address (Go's ioSync) */
} np = {.once = PTHREAD_ONCE_INIT, .epfd = -1};

/* ------------------------------------------------------------------------
 * The per-fd table. */

/* pd_find: fd's state if its chunk exists, else NULL (no allocation). */
static struct pdesc *pd_find(int fd)
{
    if (fd < 0 || fd >= MAX_FD)
        return NULL;
    struct pdesc *c = __atomic_load_n(&np.chunks[fd >> CHUNK_SHIFT],
                                      __ATOMIC_ACQUIRE);
    return c ? &c[fd & (CHUNK_FDS - 1)] : NULL;
}

/* pd_get: fd's state in *out, allocating its chunk; 0, or -EBADF (fd <
 * 0), -EMFILE (beyond the table), -ENOMEM. */
static int pd_get(int fd, struct pdesc **out)
{
    if (fd < 0 || fd >= MAX_FD)
        return fd < 0 ? -EBADF : -EMFILE;
    if ((*out = pd_find(fd)))
        return 0;
    struct pdesc **slot = &np.chunks[fd >> CHUNK_SHIFT];
    ts__lock(&np.grow);
    struct pdesc *c = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!c && (c = calloc(CHUNK_FDS, sizeof *c)))
        __atomic_store_n(slot, c, __ATOMIC_RELEASE);
    ts__unlock(&np.grow);
    if (!c)
        return -ENOMEM;
    *out = &c[fd & (CHUNK_FDS - 1)];
    return 0;
}

/* ------------------------------------------------------------------------
 * Waiter lists and wakeups (pd->lock held). */

static void enqueue(struct pdesc *pd, struct iowait *w)
{
    w->next = NULL;
    w->prev = pd->last;
    if (pd->last)
        pd->last->next = w;
    else
        pd->first = w;
    pd->last = w;
    w->queued = true;
}

static void dequeue(struct pdesc *pd, struct iowait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        pd->first = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        pd->last = w->prev;
    w->queued = false;
}

/* ready_bits: which of EPOLLIN/EPOLLOUT epoll's events satisfy. */
static uint32_t ready_bits(uint32_t events)
{
    return (events & READ_EVENTS ? EPOLLIN : 0) |
           (events & WRITE_EVENTS ? EPOLLOUT : 0);
}

/* take: unlink the waiters wanting any of bits; the ones whose wakeup we
 * win (not their deadline) get got/err and are returned, linked by next,
 * to be readied once pd->lock is released. */
static struct iowait *take(struct pdesc *pd, uint32_t bits, int err)
{
    struct iowait *woken = NULL;
    for (struct iowait *w = pd->first, *next; w; w = next) {
        next = w->next;
        if (!(w->want & bits))
            continue;
        dequeue(pd, w);
        uint32_t zero = 0;
        if (!__atomic_compare_exchange_n(&w->task->select_done, &zero, 1,
                                         false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED))
            continue; /* its deadline won; it finds itself unlinked */
        w->got = w->want & bits;
        w->err = err;
        w->task->param = w;
        w->next = woken;
        woken = w;
    }
    return woken;
}

static void ready_all(struct iowait *w)
{
    while (w) {
        struct iowait *next = w->next; /* w vanishes once readied */
        ts__ready(w->task);
        w = next;
    }
}

/* ctl: epoll_ctl, 0 or -errno (read in its own frame: see sys_ppoll). */
__attribute__((noinline)) static int ctl(int op, int fd,
                                         struct epoll_event *ev)
{
    int epfd = __atomic_load_n(&np.epfd, __ATOMIC_ACQUIRE);
    return epoll_ctl(epfd, op, fd, ev) == 0 ? 0 : -errno;
}

/* arm: (re)register fd one-shot for what its waiters want; 0 or -errno. */
static int arm(int fd, struct pdesc *pd)
{
    uint32_t want = 0;
    for (struct iowait *w = pd->first; w; w = w->next)
        want |= w->want;
    struct epoll_event ev = {
        .events = want | (want & EPOLLIN ? EPOLLRDHUP : 0) | EPOLLONESHOT,
        .data.u64 = (uint64_t)pd->seq << 32 | (uint32_t)fd,
    };
    int r = ctl(EPOLL_CTL_MOD, fd, &ev);
    return r == -ENOENT ? ctl(EPOLL_CTL_ADD, fd, &ev) : r;
}

/* ------------------------------------------------------------------------
 * The poller thread. */

static void dispatch(const struct epoll_event *ev)
{
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t seq = (uint32_t)(ev->data.u64 >> 32);
    struct pdesc *pd = pd_find(fd);
    if (!pd)
        return;
    ts__lock(&pd->lock);
    struct iowait *woken = NULL;
    if (pd->seq == seq && !pd->closing) {
        woken = take(pd, ready_bits(ev->events), 0);
        if (pd->first)
            arm(fd, pd); /* the others still wait; failure: fd closed */
    }
    ts__unlock(&pd->lock);
    ready_all(woken);
}

static void *poller_main(void *arg)
{
    (void)arg;
    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(np.epfd, evs, 128, -1);
        if (n < 0 && errno != EINTR)
            ts__fatal("taskscope: netpoll: epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            dispatch(&evs[i]);
    }
    return NULL;
}

static void poller_start(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        np.start_err = errno;
        return;
    }
    __atomic_store_n(&np.epfd, epfd, __ATOMIC_RELEASE);
    int r = ts__start_helper_thread(poller_main, NULL);
    if (r != 0) {
        __atomic_store_n(&np.epfd, -1, __ATOMIC_RELEASE);
        close(epfd);
        np.start_err = r;
    }
}

/* ------------------------------------------------------------------------
 * Waiting: a task parks, a plain thread polls. */

/* One call's view of its fd. */
struct io {
    int fd;
    struct pdesc *pd;
    uint32_t seq;        /* pd->seq when the call began */
    int64_t deadline;    /* INT64_MAX: none */
};

struct parked {
    struct pdesc *pd;
    struct ts_task *task;
    int64_t deadline;
};

/* park_unlock: the task is off its stack: arm its deadline, unlock. */
static void park_unlock(void *arg)
{
    struct parked *p = arg;
    if (p->deadline != INT64_MAX) {
        ts__timer_init(&p->task->sleep_timer, ts__deadline_fire, p->task);
        ts__timer_arm(&p->task->sleep_timer, p->deadline, 0);
    }
    ts__unlock(&p->pd->lock);
}

/* woken: what the park ended with: the events, or -errno. */
static int woken(struct io *io, struct iowait *w)
{
    if (w->task->param == NULL) {
        ts__lock(&io->pd->lock);
        if (w->queued)
            dequeue(io->pd, w);
        ts__unlock(&io->pd->lock);
        return -ETIMEDOUT;
    }
    if (w->err) {
        ts__race_acquire(io->pd);
        return -w->err;
    }
    return (int)w->got;
}

/* wait_task: park t until fd is ready for want (EPOLLIN/EPOLLOUT bits),
 * closed or past the deadline; the ready bits or -errno. */
static int wait_task(struct io *io, struct ts_task *t, uint32_t want)
{
    pthread_once(&np.once, poller_start);
    if (np.start_err)
        return -np.start_err;
    struct iowait w = {.task = t, .want = want};
    __atomic_store_n(&t->select_done, 0, __ATOMIC_RELAXED);
    t->param = NULL;
    ts__lock(&io->pd->lock);
    if (io->pd->closing ||
        __atomic_load_n(&io->pd->seq, __ATOMIC_RELAXED) != io->seq) {
        ts__unlock(&io->pd->lock);
        return -EBADF;
    }
    enqueue(io->pd, &w);
    int r = arm(io->fd, io->pd);
    if (r != 0) {
        dequeue(io->pd, &w);
        ts__unlock(&io->pd->lock);
        /* not pollable (a regular file): always ready */
        return r == -EPERM ? (int)want : r;
    }
    __atomic_add_fetch(&np.waiting, 1, __ATOMIC_SEQ_CST);
    ts__race_release(&io->pd->closing); /* our syscalls -> ts_fd_close's */
    struct parked p = {io->pd, t, io->deadline};
    ts__park(TS_WAIT_IO, io->pd, park_unlock, &p);
    __atomic_sub_fetch(&np.waiting, 1, __ATOMIC_SEQ_CST);
    if (io->deadline != INT64_MAX)
        ts__timer_disarm(&t->sleep_timer);
    return woken(io, &w);
}

static short poll_events(uint32_t want)
{
    return (short)((want & EPOLLIN ? POLLIN : 0) |
                   (want & EPOLLOUT ? POLLOUT : 0));
}

/* poll_bits: ppoll's revents as EPOLLIN/EPOLLOUT bits among want, or
 * -EBADF. */
static int poll_bits(short revents, uint32_t want)
{
    if (revents & POLLNVAL)
        return -EBADF;
    if (revents & (POLLERR | POLLHUP))
        return (int)want;
    return (int)(want & ((revents & POLLIN ? EPOLLIN : 0) |
                         (revents & POLLOUT ? EPOLLOUT : 0)));
}

/* sys_ppoll: ppoll(2) on one fd: its revents bits (0: timed out), or
 * -errno. Like every sys_ wrapper, it reads errno in the frame of the
 * call: errno is thread-local, its address (__errno_location, a const
 * function) may be kept across calls, and a task resumes on any M. */
__attribute__((noinline)) static int sys_ppoll(int fd, uint32_t want,
                                               const struct timespec *ts)
{
    struct pollfd p = {.fd = fd, .events = poll_events(want)};
    int n = ppoll(&p, 1, ts, NULL);
    if (n < 0)
        return -errno;
    return n ? poll_bits(p.revents, want) : 0;
}

/* wait_thread: a plain thread's wait: ppoll(2) until the deadline. */
static int wait_thread(struct io *io, uint32_t want)
{
    for (;;) {
        struct timespec ts, *tsp = NULL;
        if (io->deadline != INT64_MAX) {
            int64_t left = io->deadline - ts__nanotime();
            if (left <= 0)
                return -ETIMEDOUT;
            ts = (struct timespec){left / 1000000000, left % 1000000000};
            tsp = &ts;
        }
        int r = sys_ppoll(io->fd, want, tsp);
        if (r != 0 && r != -EINTR)
            return r;
    }
}

/* io_wait: wait until fd may be ready for want; the ready bits, or
 * -errno. */
static int io_wait(struct io *io, uint32_t want)
{
    struct ts_task *t = ts__current_task();
    return t ? wait_task(io, t, want) : wait_thread(io, want);
}

/* io_begin: fd's state for one call; 0, or -errno (a deadline already
 * past fails at once, as Go's prepareRead does). */
static int io_begin(struct io *io, int fd, int64_t deadline)
{
    io->fd = fd;
    io->deadline = deadline;
    int r = pd_get(fd, &io->pd);
    if (r != 0)
        return r;
    io->seq = __atomic_load_n(&io->pd->seq, __ATOMIC_ACQUIRE);
    if (deadline != INT64_MAX && deadline <= ts__nanotime())
        return -ETIMEDOUT;
    return 0;
}

/* sys_set_nonblock: O_NONBLOCK on fd; 0 or -errno. */
__attribute__((noinline)) static int sys_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 ||
        (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    return 0;
}

/* io_start: io_begin, then non-blocking mode, once per fd (until
 * ts_fd_close). */
static int io_start(struct io *io, int fd, int64_t deadline)
{
    int r = io_begin(io, fd, deadline);
    if (r != 0 || __atomic_load_n(&io->pd->nonblock, __ATOMIC_RELAXED))
        return r;
    if ((r = sys_set_nonblock(fd)) == 0)
        __atomic_store_n(&io->pd->nonblock, 1, __ATOMIC_RELAXED);
    return r;
}

/* retry: after a failed call returning r (-errno): -EINTR means call
 * again; would-block means wait for want first. 0 to call again, else
 * the call's result. */
static int retry(struct io *io, long r, uint32_t want)
{
    if (r == -EINTR)
        return 0;
    if (r != -EAGAIN && r != -EWOULDBLOCK)
        return (int)r;
    int w = io_wait(io, want);
    return w < 0 ? w : 0;
}

/* ------------------------------------------------------------------------
 * The calls. */

__attribute__((noinline)) static ssize_t sys_read(int fd, void *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    return r < 0 ? -errno : r;
}

__attribute__((noinline)) static ssize_t sys_write(int fd, const void *buf,
                                                   size_t n)
{
    ssize_t r = write(fd, buf, n);
    return r < 0 ? -errno : r;
}

__attribute__((noinline)) static int sys_accept(int fd, struct sockaddr *addr,
                                                socklen_t *len)
{
    int r = accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return r < 0 ? -errno : r;
}

__attribute__((noinline)) static int
sys_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return connect(fd, addr, len) == 0 ? 0 : -errno;
}

__attribute__((noinline)) static int sys_close(int fd)
{
    return close(fd) == 0 ? 0 : -errno;
}

ssize_t ts_read(int fd, void *buf, size_t n, int64_t deadline)
{
    struct io io;
    int r = io_start(&io, fd, deadline);
    while (r == 0) {
        ssize_t got = sys_read(fd, buf, n);
        if (got >= 0) {
            ts__race_acquire(&np.race_io);
            return got;
        }
        r = retry(&io, got, EPOLLIN);
    }
    return r;
}

ssize_t ts_write(int fd, const void *buf, size_t n, int64_t deadline)
{
    struct io io;
    int r = io_start(&io, fd, deadline);
    if (r != 0)
        return r;
    ts__race_release(&np.race_io);
    size_t done = 0;
    while (done < n && r == 0) {
        ssize_t put = sys_write(fd, (const char *)buf + done, n - done);
        if (put >= 0)
            done += (size_t)put;
        else
            r = retry(&io, put, EPOLLOUT);
    }
    return r ? r : (ssize_t)done;
}

/* fresh: an fd accept4 just made non-blocking: skip the fcntl. */
static void fresh(int fd)
{
    struct pdesc *pd;
    if (pd_get(fd, &pd) == 0)
        __atomic_store_n(&pd->nonblock, 1, __ATOMIC_RELAXED);
}

int ts_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
              int64_t deadline)
{
    struct io io;
    int r = io_start(&io, fd, deadline);
    while (r == 0) {
        int c = sys_accept(fd, addr, addrlen);
        if (c >= 0) {
            fresh(c);
            ts__race_acquire(&np.race_io);
            return c;
        }
        r = c == -ECONNABORTED ? 0 : retry(&io, c, EPOLLIN);
    }
    return r;
}

/* sys_connected: after a writable wakeup, the handshake's outcome as Go's
 * connect reads it: 1 done, 0 still in progress, or -errno. */
__attribute__((noinline)) static int sys_connected(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    switch (err) {
    case EINPROGRESS:
    case EALREADY:
    case EINTR:
        return 0;
    case EISCONN:
        return 1;
    case 0: {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        return getpeername(fd, (struct sockaddr *)&peer, &plen) == 0;
    }
    default:
        return -err;
    }
}

int ts_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
               int64_t deadline)
{
    struct io io;
    int r = io_start(&io, fd, deadline);
    if (r != 0)
        return r;
    ts__race_release(&np.race_io);
    r = sys_connect(fd, addr, addrlen);
    if (r != -EINPROGRESS && r != -EALREADY && r != -EINTR)
        return r;
    for (;;) {
        int w = io_wait(&io, EPOLLOUT);
        if (w < 0)
            return w;
        int c = sys_connected(fd);
        if (c != 0)
            return c > 0 ? 0 : c;
    }
}

static const struct timespec zero_wait;

int ts_fd_wait(int fd, int events, int64_t deadline)
{
    if (events <= 0 || (events & ~(TS_FD_READ | TS_FD_WRITE)))
        return -EINVAL;
    uint32_t want = (events & TS_FD_READ ? EPOLLIN : 0) |
                    (events & TS_FD_WRITE ? EPOLLOUT : 0);
    struct io io;
    int got = io_begin(&io, fd, deadline);
    if (got == 0) /* ready now? */
        while ((got = sys_ppoll(fd, want, &zero_wait)) == -EINTR)
            ;
    while (got == 0)
        got = io_wait(&io, want);
    if (got < 0)
        return got;
    ts__race_acquire(&np.race_io);
    return (got & EPOLLIN ? TS_FD_READ : 0) | (got & EPOLLOUT ? TS_FD_WRITE : 0);
}

int ts_fd_close(int fd)
{
    struct pdesc *pd = pd_find(fd);
    if (!pd)
        return fd < 0 ? -EBADF : sys_close(fd);
    ts__race_acquire(&pd->closing);
    ts__race_release(pd);
    ts__lock(&pd->lock);
    pd->closing = true;
    __atomic_store_n(&pd->seq, pd->seq + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&pd->nonblock, 0, __ATOMIC_RELAXED);
    struct iowait *woken = take(pd, EPOLLIN | EPOLLOUT, EBADF);
    if (__atomic_load_n(&np.epfd, __ATOMIC_ACQUIRE) >= 0)
        ctl(EPOLL_CTL_DEL, fd, NULL); /* -ENOENT: never armed */
    ts__unlock(&pd->lock);
    int r = sys_close(fd);
    ts__lock(&pd->lock);
    pd->closing = false;
    ts__unlock(&pd->lock);
    ready_all(woken);
    return r;
}

int ts__netpoll_waiting(void)
{
    return __atomic_load_n(&np.waiting, __ATOMIC_SEQ_CST);
}
