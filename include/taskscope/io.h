/* taskscope — I/O on file descriptors that parks tasks, not threads (Go's
 * netpoll under net.Conn and os.File).
 *
 * A task whose read, write, accept or connect would block parks (wait
 * reason "IO wait", as in Go's goroutine dump) until the runtime's epoll
 * poller reports the fd ready, or until the call's deadline: its M runs
 * other tasks meanwhile. From a plain thread the same calls wait in
 * ppoll(2) with the deadline. docs/io.md has the design and its costs.
 *
 * Conventions, for every call below:
 *   - a failure returns a negative errno value (-EBADF, -ETIMEDOUT, ...),
 *     as the kernel and io_uring do, and errno is left alone: errno is
 *     thread-local and a task may resume on another thread than the one
 *     it parked on, while C compilers keep errno's address across calls
 *     (__errno_location is a const function), so a task could read the
 *     wrong thread's errno after any call that parks;
 *   - deadline is an absolute ts_now() instant (ns; TS_NO_DEADLINE for
 *     none). A call whose deadline passes fails with -ETIMEDOUT (Go's
 *     os.ErrDeadlineExceeded); a deadline already past fails at once,
 *     without trying the operation, as in Go;
 *   - ts_read, ts_write, ts_accept and ts_connect put the fd in
 *     non-blocking mode (O_NONBLOCK) on first use, as Go's netpoll
 *     requires; the flag belongs to the open file description, so a dup
 *     of the fd (or a process sharing it) sees it too. ts_fd_wait leaves
 *     the flags alone;
 *   - close an fd these calls used with ts_fd_close: it wakes every task
 *     parked on the fd with -EBADF before closing it (Go's "use of closed
 *     file"). A task that is not yet parked when the fd is closed fails
 *     with -EBADF too. A plain close(2) does not wake a parked task (it
 *     stays parked). A plain thread waiting in ppoll is not
 *     woken by it (the kernel does not interrupt a poll on close).
 *
 * Memory model (Go's syscall ioSync, announced to ThreadSanitizer in the
 * tsan build): a ts_write or ts_connect happens before every ts_read,
 * ts_accept or ts_fd_wait that returns after it; ts_fd_close happens
 * before the calls it fails return. */
#ifndef TASKSCOPE_IO_H
#define TASKSCOPE_IO_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

/* No deadline: wait as long as it takes. */
#define TS_NO_DEADLINE INT64_MAX

/* ts_fd_wait's events. */
#define TS_FD_READ 1
#define TS_FD_WRITE 2

/* ts_read: read up to n bytes, waiting until the fd is readable. Returns
 * the bytes read (0 at end of file), or -errno. */
TS_EXPORT ssize_t ts_read(int fd, void *buf, size_t n, int64_t deadline);

/* ts_write: write all n bytes, waiting whenever the fd is not writable
 * (Go's Write loops the same way). Returns n, or -errno; after a failure
 * or -ETIMEDOUT some of the bytes may have gone out. A broken pipe raises
 * SIGPIPE, as write(2) does, unless the program ignores it. */
TS_EXPORT ssize_t ts_write(int fd, const void *buf, size_t n,
                           int64_t deadline);

/* ts_accept: accept a connection on a listening socket, waiting for one;
 * the new fd or -errno. It is non-blocking and close-on-exec (accept4 with
 * SOCK_NONBLOCK | SOCK_CLOEXEC); a connection aborted before it was
 * accepted is skipped. addr and addrlen as accept(2) (may be NULL). */
TS_EXPORT int ts_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                        int64_t deadline);

/* ts_connect: connect a socket, waiting for the handshake: non-blocking
 * connect, wait writable, then the socket's SO_ERROR. 0, or -errno
 * (-ECONNREFUSED, -ETIMEDOUT, ...). After a failure or a timeout the
 * socket's state is unspecified: close it. */
TS_EXPORT int ts_connect(int fd, const struct sockaddr *addr,
                         socklen_t addrlen, int64_t deadline);

/* ts_fd_wait: wait until the fd is ready for events (TS_FD_READ,
 * TS_FD_WRITE or both). Returns the ready ones among them (an error or
 * hang-up on the fd counts as all of them: the next call reports it), or
 * -errno (-EINVAL for bad events, -ETIMEDOUT, -EBADF). Like any poll, a
 * readiness may be spurious: the next call may still find nothing. An fd epoll
 * cannot watch (a regular file) is always ready. */
TS_EXPORT int ts_fd_wait(int fd, int events, int64_t deadline);

/* ts_fd_close: wake every task parked on fd (their calls fail with
 * -EBADF), forget the runtime's state for it, and close(2) it. 0 or
 * -errno. */
TS_EXPORT int ts_fd_close(int fd);

TS_END_DECLS

#endif
