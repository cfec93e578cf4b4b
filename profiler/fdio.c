/* taskscope — report output to file descriptors (see fdio.h).
 *
 * Invariants: SIGPIPE is blocked only on the calling thread and only for
 * the duration of one write(2); the program's own pending SIGPIPE, if any,
 * is never consumed. */
#include "profiler/fdio.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* Was SIGPIPE pending on this thread or the process? */
static bool sigpipe_pending(void)
{
    sigset_t pending;
    return sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

/* write(2) with SIGPIPE held off: a vanished reader gives EPIPE instead of
 * killing the process. A SIGPIPE this write raised is consumed; one that
 * was pending before is left for the program. */
static ssize_t write_nosigpipe(int fd, const void *b, size_t n)
{
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    bool was_pending = sigpipe_pending();
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t w = write(fd, b, n);
    int e = errno;
    if (w < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

int ts__write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *b = buf;
    while (n > 0) {
        ssize_t w = write_nosigpipe(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t fd_write(void *cookie, const char *buf, size_t n)
{
    struct ts__fd_stream *s = cookie;
    int r = s->err ? s->err : ts__write_all(s->fd, buf, n);
    if (r) {
        s->err = r;
        errno = r;
        return 0;
    }
    return (ssize_t)n;
}

FILE *ts__fd_stream_open(struct ts__fd_stream *s, int fd)
{
    cookie_io_functions_t io = {.write = fd_write};
    s->fd = fd;
    s->err = 0;
    return fopencookie(s, "w", io);
}

int ts__fd_stream_close(struct ts__fd_stream *s, FILE *f)
{
    int r = fclose(f) != 0 && !s->err ? (errno ? errno : EIO) : 0;
    return s->err ? s->err : r;
}


void ts__flush_stdout_if_free(void)
{
    if (ftrylockfile(stdout) == 0) {
        fflush_unlocked(stdout);
        funlockfile(stdout);
    }
}
