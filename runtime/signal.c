/* taskscope — OS signals delivered to channels (Go's os/signal).
 *
 * Three parties, as in Go's runtime:
 *   - the handler (on_signal) runs on whichever thread the kernel picks and
 *     does only async-signal-safe work: if wanted[sig] is set it writes the
 *     signal number, one byte, to a self-pipe whose write end is
 *     non-blocking, and it preserves errno. A full pipe drops the signal;
 *   - the helper thread, started once with every signal blocked, reads the
 *     pipe and, for each channel registered for that signal, tries a
 *     non-blocking send (ts_chan_try_send): a full channel drops it;
 *   - ts_signal_notify / ts_signal_stop edit the registration table.
 *
 * Invariants:
 *   - sig.mu guards the table, installed[] and old[]. The handler never
 *     takes it; the helper holds it while it sends, so when ts_signal_stop
 *     returns no delivery to the stopped channel is in progress;
 *   - installed[s] iff some registration wants s; then our handler is s's
 *     action and old[s] is the action it replaced;
 *   - wanted[s] (atomic, the handler's only view of the table) is set
 *     before our handler is installed and cleared after the old action is
 *     back: a handler run that sees it clear drops the signal, which can
 *     only happen in the moments a registration changes;
 *   - the pipe's descriptors never change once created (a forked child
 *     gets a new pipe under the same numbers, see at_fork_child);
 *   - each registered channel holds one reference taken by
 *     ts_signal_notify and dropped by ts_signal_stop.
 *
 * Signal numbers fit in a byte and a 64-bit mask (NSIG is 65 on Linux). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/signal.h>
#include <unistd.h>

#include "profiler/threadcreate.h"

_Static_assert(NSIG <= 65, "signal numbers must fit a 64-bit mask");

struct registration {
    ts_chan_t *ch;
    uint64_t mask; /* bit s-1 for signal s */
};

static struct {
    pthread_mutex_t mu;
    struct registration *regs; /* mu */
    size_t nregs, cap;         /* mu */
    bool installed[NSIG];      /* mu */
    struct sigaction old[NSIG]; /* mu */
    bool helper_running;        /* mu */
    int wanted[NSIG];           /* atomic; read by the handler */
    int pipe_rd, pipe_wr;       /* set once (pipe_once) */
    int pipe_err;               /* pipe_once's result, an errno or 0 */
} sig = {.mu = PTHREAD_MUTEX_INITIALIZER, .pipe_rd = -1, .pipe_wr = -1};

static pthread_once_t pipe_once = PTHREAD_ONCE_INIT;

static uint64_t bit(int s)
{
    return (uint64_t)1 << (s - 1);
}

/* ------------------------------------------------------------------------
 * The handler and the helper thread. */

static void on_signal(int s, siginfo_t *info, void *uctx)
{
    (void)info;
    (void)uctx;
    if (!__atomic_load_n(&sig.wanted[s], __ATOMIC_ACQUIRE))
        return;
    int saved = errno;
    unsigned char b = (unsigned char)s;
    ssize_t r = write(sig.pipe_wr, &b, 1); /* EAGAIN: pipe full, dropped */
    (void)r;
    errno = saved;
}

static void deliver(int s)
{
    pthread_mutex_lock(&sig.mu);
    for (size_t i = 0; i < sig.nregs; i++)
        if (sig.regs[i].mask & bit(s))
            ts_chan_try_send(sig.regs[i].ch, &s); /* full: dropped */
    pthread_mutex_unlock(&sig.mu);
}

/* helper_main: until end of file on the pipe, which never comes (the write
 * end stays open for the life of the process), or until the pipe is gone
 * (a program that closes every descriptor, as daemons do): then it says
 * so once and stops, rather than spin on the error. */
static void *helper_main(void *arg)
{
    (void)arg;
    unsigned char buf[64];
    for (;;) {
        ssize_t n = read(sig.pipe_rd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            static const char msg[] = "taskscope: the signal pipe was closed; "
                                      "ts_signal_notify delivers no more signals\n";
            if (write(2, msg, sizeof msg - 1) < 0) {
                /* nowhere to say it */
            }
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            deliver(buf[i]);
    }
    return NULL;
}

/* start_helper: the helper thread, once per process (sig.mu held). It
 * blocks every signal, so it never runs the handler itself. */
static int start_helper(void)
{
    if (sig.helper_running)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int r = pthread_create(&t, &attr, helper_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return r;
    ts__record_thread_create();
    sig.helper_running = true;
    return 0;
}

/* ------------------------------------------------------------------------
 * The self-pipe, and fork. */

/* make_pipe: read end blocking (the helper sleeps in read), write end
 * non-blocking (the handler must never wait); both close on exec. */
static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return errno;
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) & ~O_NONBLOCK);
    return 0;
}

static void at_fork_prepare(void)
{
    pthread_mutex_lock(&sig.mu); /* the helper is not mid-delivery */
}

static void at_fork_parent(void)
{
    pthread_mutex_unlock(&sig.mu);
}

/* at_fork_child: the child shares the parent's pipe but has no helper. So
 * that the parent never receives the child's signals, a new pipe takes the
 * old descriptor numbers (the handler keeps writing to sig.pipe_wr). The
 * child's helper starts at its next ts_signal_notify; what arrives before
 * waits in the pipe. Only async-signal-safe calls here. */
static void at_fork_child(void)
{
    int fds[2];
    if (make_pipe(fds) == 0) {
        dup3(fds[0], sig.pipe_rd, O_CLOEXEC);
        dup3(fds[1], sig.pipe_wr, O_CLOEXEC);
        close(fds[0]);
        close(fds[1]);
    }
    sig.helper_running = false;
    pthread_mutex_unlock(&sig.mu);
}

static void init_pipe(void)
{
    int fds[2];
    sig.pipe_err = make_pipe(fds);
    if (sig.pipe_err != 0)
        return;
    sig.pipe_rd = fds[0];
    sig.pipe_wr = fds[1];
    pthread_atfork(at_fork_prepare, at_fork_parent, at_fork_child);
}

/* ------------------------------------------------------------------------
 * Registration (sig.mu held). */

static struct registration *find(ts_chan_t *ch)
{
    for (size_t i = 0; i < sig.nregs; i++)
        if (sig.regs[i].ch == ch)
            return &sig.regs[i];
    return NULL;
}

static struct registration *find_or_add(ts_chan_t *ch)
{
    struct registration *r = find(ch);
    if (r)
        return r;
    if (sig.nregs == sig.cap) {
        size_t cap = sig.cap ? 2 * sig.cap : 4;
        struct registration *regs = realloc(sig.regs, cap * sizeof *regs);
        if (!regs)
            return NULL;
        sig.regs = regs;
        sig.cap = cap;
    }
    r = &sig.regs[sig.nregs++];
    r->ch = ts_chan_retain(ch);
    r->mask = 0;
    return r;
}

static uint64_t wanted_mask(void)
{
    uint64_t m = 0;
    for (size_t i = 0; i < sig.nregs; i++)
        m |= sig.regs[i].mask;
    return m;
}

static int install(int s)
{
    if (sig.installed[s])
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    __atomic_store_n(&sig.wanted[s], 1, __ATOMIC_RELEASE);
    if (sigaction(s, &sa, &sig.old[s]) != 0) {
        __atomic_store_n(&sig.wanted[s], 0, __ATOMIC_RELEASE);
        return errno;
    }
    sig.installed[s] = true;
    return 0;
}

static void uninstall(int s)
{
    sigaction(s, &sig.old[s], NULL);
    __atomic_store_n(&sig.wanted[s], 0, __ATOMIC_RELEASE);
    sig.installed[s] = false;
}

/* drop: remove r, restore what nobody wants any more, release r's
 * channel. */
static void drop(struct registration *r)
{
    ts_chan_t *ch = r->ch;
    *r = sig.regs[--sig.nregs];
    uint64_t still = wanted_mask();
    for (int s = 1; s < NSIG; s++)
        if (sig.installed[s] && !(still & bit(s)))
            uninstall(s);
    ts_chan_release(ch);
}

/* ------------------------------------------------------------------------
 * API. */

/* allowed: catchable and not the runtime's (the faults are its panics). */
static bool allowed(int s)
{
    if (s < 1 || s >= NSIG || (s > 31 && s < SIGRTMIN))
        return false;
    switch (s) {
    case SIGKILL: case SIGSTOP:
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL:
        return false;
    default:
        return true;
    }
}

/* collect: the mask of a 0-ended list, or 0 if a signal is not allowed. */
static uint64_t collect(int first, va_list ap)
{
    uint64_t m = 0;
    for (int s = first; s != 0; s = va_arg(ap, int)) {
        if (!allowed(s))
            return 0;
        m |= bit(s);
    }
    return m;
}

static int add_signals(ts_chan_t *ch, uint64_t mask)
{
    int err = start_helper();
    struct registration *r = err ? NULL : find_or_add(ch);
    if (!r)
        return err ? err : ENOMEM;
    for (int s = 1; s < NSIG && !err; s++) {
        if (!(mask & bit(s)))
            continue;
        if ((err = install(s)) == 0)
            r->mask |= bit(s);
    }
    if (r->mask == 0)
        drop(r); /* a new registration whose first signal failed */
    return err;
}

int ts_signal_notify(ts_chan_t *ch, int first, ...)
{
    va_list ap;
    va_start(ap, first);
    uint64_t mask = collect(first, ap);
    va_end(ap);
    if (!ch || ts_chan_elem_size(ch) != sizeof(int) || mask == 0)
        return EINVAL;
    pthread_once(&pipe_once, init_pipe);
    if (sig.pipe_err != 0)
        return sig.pipe_err;
    pthread_mutex_lock(&sig.mu);
    int err = add_signals(ch, mask);
    pthread_mutex_unlock(&sig.mu);
    return err;
}

void ts_signal_stop(ts_chan_t *ch)
{
    pthread_mutex_lock(&sig.mu);
    struct registration *r = ch ? find(ch) : NULL;
    if (r)
        drop(r);
    pthread_mutex_unlock(&sig.mu);
}
