/* taskscope — writing reports to file descriptors the user gives us:
 * whole writes, EINTR retried, SIGPIPE held off so a vanished reader is an
 * EPIPE error and not the end of the program. */
#ifndef TASKSCOPE_PROFILER_FDIO_H
#define TASKSCOPE_PROFILER_FDIO_H

#include <stddef.h>
#include <stdio.h>

/* ts__write_all: all n bytes of buf to fd. A SIGPIPE the write raised is
 * consumed; one pending before is left for the program. 0 or the errno
 * (EIO for a write of 0 bytes). */
int ts__write_all(int fd, const void *buf, size_t n);

/* A stdio stream over an fd, writing through ts__write_all and keeping
 * the first write error (stdio's own error reporting loses it). */
struct ts__fd_stream {
    int fd;
    int err;
};

/* ts__fd_stream_open: the stream, or NULL with errno set. fd stays the
 * caller's: closing the stream does not close it. */
FILE *ts__fd_stream_open(struct ts__fd_stream *s, int fd);

/* ts__fd_stream_close: flush and free the stream; the first write error,
 * else 0 or the error of the flush. */
int ts__fd_stream_close(struct ts__fd_stream *s, FILE *f);

/* ts__flush_stdout_if_free: flush the program's stdout before a report on
 * fd 2, unless another thread holds its lock (blocked in stdio: then the
 * report must not wait for it). */
void ts__flush_stdout_if_free(void);

#endif
