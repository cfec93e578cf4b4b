/* taskscope probe — output on deadly signals: a program stopped with
 * Ctrl-C or `kill`, or one that crashes, still leaves its profiles.
 *
 * For each signal below whose action is the default one when the probe
 * starts, the probe installs a handler that only writes the signal number
 * to a pipe and waits (poll, at most WAIT_MS) for a helper thread to write
 * the output; it then lets the default action happen (the handler was
 * installed with SA_RESETHAND: re-raised, or, for a fault, re-executed).
 * A program that installs its own handler replaces ours, as it expects.
 *
 * Invariants:
 *   - the handler calls only write, poll, read and raise (async-signal-
 *     safe): no malloc, no stdio, no lock;
 *   - the helper runs with every signal blocked and writes through the
 *     normal exit path (ts__probe_output_write: once, owner pid only);
 *   - after a fault the heap may be damaged: writing is best effort, and
 *     the wait is bounded, so the process always ends as the signal says. */
#include "probe/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "profiler/threadcreate.h"

#define WAIT_MS 10000

static const int deadly[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS,
                             SIGFPE, SIGILL, SIGABRT};
static int request[2] = {-1, -1}, done[2] = {-1, -1};

static void on_deadly(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    /* off in a forked child: nobody there would write, do not wait */
    if (__atomic_load_n(&ts__probe_on, __ATOMIC_RELAXED) &&
        write(request[1], &b, 1) == 1) {
        struct pollfd p = {.fd = done[0], .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) == 1)
            (void)!read(done[0], &b, 1);
    }
    errno = saved;
    /* SA_RESETHAND restored the default action: an asynchronous signal is
     * raised again (blocked until we return), a fault re-executes. */
    if (sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE && sig != SIGILL)
        raise(sig);
}

static void *writer(void *arg)
{
    (void)arg;
    unsigned char b;
    while (read(request[0], &b, 1) != 1)
        ;
    ts__probe_output_write();
    (void)!write(done[1], &b, 1);
    return NULL;
}

void ts__probe_signals_init(void)
{
    if (pipe2(request, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0 ||
        ts__start_helper_thread(writer, NULL) != 0) {
        fputs("taskscope probe: no output on deadly signals (no pipe or thread)\n",
              stderr);
        return;
    }
    struct sigaction sa = {.sa_handler = on_deadly, .sa_flags = SA_RESETHAND | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof deadly / sizeof *deadly; i++) {
        struct sigaction old;
        if (sigaction(deadly[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO))
            sigaction(deadly[i], &sa, NULL);
    }
}
