/* taskscope probe — output on deadly signals and _exit: a program stopped
 * with Ctrl-C or `kill`, or one that crashes, still leaves its profiles.
 *
 * For each signal below whose action is the default one when the probe
 * starts, the probe installs a handler. The handler asks a writer thread
 * for the output (sem_post) and waits, at most WAIT_MS, until the writer
 * says it is done (an atomic flag polled with nanosleep); then it restores
 * the default action and lets it happen (re-raised, or, for a fault,
 * re-executed). Signals that arrive meanwhile, on any thread, wait for the
 * same write. A program that installs its own handler replaces ours, as it
 * expects. _exit, which signal handlers call, takes the same path.
 *
 * Invariants:
 *   - the handler calls only sem_post, nanosleep, sigaction and raise
 *     (async-signal-safe) and touches no descriptor: a program that closes
 *     every fd cannot turn our signalling into writes to its files;
 *   - the writer runs with every signal blocked and writes through the
 *     normal path (ts__probe_output_write: once, owner pid only);
 *   - the wait is bounded, so the process always ends as the signal says;
 *     after a fault the heap may be damaged: writing is best effort;
 *   - in a forked or vforked child nothing is asked or waited for. */
#include "probe/probe.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "profiler/threadcreate.h"

#define WAIT_MS 10000

static const int deadly[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS,
                             SIGFPE, SIGILL, SIGABRT};
static sem_t request;
static int ready;   /* atomic: the writer runs */
static int asked;   /* atomic: a write was requested */
static int done;    /* atomic: the writer finished */
static pid_t owner; /* the process whose output it is (not a vfork child) */

/* ask_and_wait: the output, written by the writer thread; false when
 * there is no writer (then the caller may write itself, if it can). */
static bool ask_and_wait(void)
{
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE) ||
        !__atomic_load_n(&ts__probe_on, __ATOMIC_RELAXED) || getpid() != owner)
        return false;
    if (!__atomic_exchange_n(&asked, 1, __ATOMIC_ACQ_REL))
        sem_post(&request);
    struct timespec tick = {0, 1000000};
    for (int ms = 0; ms < WAIT_MS && !__atomic_load_n(&done, __ATOMIC_ACQUIRE); ms++)
        nanosleep(&tick, NULL);
    return true;
}

static bool is_fault(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
}

static void on_deadly(int sig)
{
    int saved = errno;
    ask_and_wait();
    signal(sig, SIG_DFL);
    errno = saved;
    /* the default action now: an asynchronous signal is raised again
     * (blocked until we return), a fault re-executes its instruction */
    if (!is_fault(sig))
        raise(sig);
}

void ts__probe_output_before_exit(void)
{
    /* the writer if there is one (safe from a signal handler); else write
     * here, but never from inside the probe (its locks may be held) */
    if (!ask_and_wait() && ts__probe_depth == 0)
        ts__probe_output_write();
}

static void *writer(void *arg)
{
    (void)arg;
    while (sem_wait(&request) != 0)
        ;
    ts__probe_output_write();
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    return NULL;
}

void ts__probe_signals_init(void)
{
    if (sem_init(&request, 0, 0) != 0 || ts__start_helper_thread(writer, NULL) != 0) {
        fputs("taskscope probe: no output on deadly signals (no writer thread)\n", stderr);
        return;
    }
    owner = getpid();
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    struct sigaction sa = {.sa_handler = on_deadly, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof deadly / sizeof *deadly; i++) {
        struct sigaction old;
        if (sigaction(deadly[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO))
            sigaction(deadly[i], &sa, NULL);
    }
}
