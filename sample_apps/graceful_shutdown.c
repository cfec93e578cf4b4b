/* graceful_shutdown.c — a server that stops on SIGTERM or SIGINT: it stops
 * accepting requests, lets its workers finish what they accepted, and
 * exits 0.
 *
 * Ported from 004_981443292b25e44f.txt, "3. 信号与唤醒：信号" (signals and
 * wake-ups): main starts the business logic, makes termChan, calls
 * signal.Notify(termChan, SIGINT, SIGTERM) and blocks on <-termChan; then
 * it closes `closing`, starts a goroutine that exits gracefully and closes
 * `closed`, and selects on <-closed against time.After(1s), printing
 * "timeout" if the graceful exit takes longer.
 *
 * The seed's business logic is a comment; here it is a small server: an
 * acceptor task hands numbered requests to three workers over an
 * unbuffered channel until `closing` closes, then closes the request
 * channel; each worker handles what it took (5 ms each) and returns; the
 * graceful-exit task waits for the three workers and closes `closed`.
 *
 * So that the test can run it, the program sends itself SIGTERM (kill) once
 * the workers have handled a few requests. With --wait it does not: it
 * serves until you press Ctrl+C or `kill` it. How many requests were
 * accepted depends on timing; the program prints whether every accepted
 * request was handled, so the output is the same on every run.
 *
 * C notes: the seed's termChan is unbuffered; Go's vet flags that
 * ("misuse of unbuffered os.Signal channel"), because signal.Notify never
 * blocks and a signal that arrives before main waits is lost. Here it has
 * capacity 1. ts_signal_stop undoes the registration before exit.
 *
 * Run: build/sample_apps/graceful_shutdown [--wait] (~0.1 s). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define WORKERS 3
#define WORK_TIME (5 * TS_MILLISECOND)
#define SIGNAL_AFTER 6 /* requests handled before the self-sent SIGTERM */

static atomic_int accepted, handled;

struct server {
    ts_chan_t *closing, *requests, *finished;
};

/* acceptor: Go's `for { select { case <-closing: return; case requests <-
 * id: } }`, closing the request channel on the way out. */
static void acceptor_task(void *arg)
{
    struct server *s = arg;
    bool ok;
    for (int id = 1;; id++) {
        if (ts_chan_try_recv(s->closing, NULL, &ok) == 0)
            break; /* closing was closed: accept nothing more */
        ts_select_case_t c[] = {TS_RECV_CASE(s->closing, NULL),
                                TS_SEND_CASE(s->requests, &id)};
        if (ts_select(c, 2, 0) == 0)
            break;
        atomic_fetch_add(&accepted, 1);
    }
    printf("acceptor: closing, no new requests\n");
    ts_chan_close(s->requests);
}

static void worker_task(void *arg)
{
    struct server *s = arg;
    int id;
    bool ok;
    while (ts_chan_recv(s->requests, &id, &ok), ok) {
        ts_sleep(WORK_TIME); /* handle the request */
        atomic_fetch_add(&handled, 1);
    }
    ts_chan_send(s->finished, NULL); /* wg.Done() */
}

struct graceful_args {
    struct server *s;
    ts_chan_t *closed;
};

/* The seed's graceful-exit goroutine: wg.Wait(), then close(closed). */
static void graceful_exit_task(void *arg)
{
    struct graceful_args *g = arg;
    for (int i = 0; i < WORKERS; i++)
        ts_chan_recv(g->s->finished, NULL, NULL);
    printf("shutdown: all %d workers finished\n", WORKERS);
    ts_chan_close(g->closed);
}

/* Stands in for the operator: SIGTERM once some work was done. */
static void self_signal_task(void *arg)
{
    (void)arg;
    int64_t give_up = ts_now() + 5 * TS_SECOND;
    while (atomic_load(&handled) < SIGNAL_AFTER && ts_now() < give_up)
        ts_sleep(TS_MILLISECOND);
    printf("operator: kill -TERM <pid>\n");
    kill(getpid(), SIGTERM);
}

static const char *signal_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "?";
}

static void start_server(struct server *s)
{
    sample_go(acceptor_task, s);
    for (int i = 0; i < WORKERS; i++)
        sample_go(worker_task, s);
    printf("server: %d workers, accepting requests\n", WORKERS);
}

static int main_task(void *arg)
{
    bool wait_for_operator = *(bool *)arg;
    struct server s = {.closing = xchan(0, 0),
                       .requests = xchan(sizeof(int), 0),
                       .finished = xchan(0, WORKERS)};
    ts_chan_t *closed = xchan(0, 0);
    start_server(&s);

    ts_chan_t *termChan = xchan(sizeof(int), 1);
    if (ts_signal_notify(termChan, SIGINT, SIGTERM, 0) != 0) {
        fprintf(stderr, "ts_signal_notify failed\n");
        return 1;
    }
    printf("main: waiting for SIGINT or SIGTERM\n");
    if (!wait_for_operator)
        sample_go(self_signal_task, NULL);
    int sig;
    ts_chan_recv(termChan, &sig, NULL); /* <-termChan */
    printf("main: received %s\n", signal_name(sig));

    ts_chan_close(s.closing);
    struct graceful_args g = {.s = &s, .closed = closed};
    sample_go(graceful_exit_task, &g);
    ts_chan_t *timeout = ts_after(TS_SECOND);
    ts_select_case_t c[] = {TS_RECV_CASE(closed, NULL),
                            TS_RECV_CASE(timeout, NULL)};
    bool timed_out = ts_select(c, 2, 0) == 1;
    if (timed_out)
        printf("timeout\n");

    int failed = sample_wait_tasks() != 0 || timed_out;
    bool all = atomic_load(&accepted) == atomic_load(&handled);
    printf("shutdown: every accepted request handled: %s\n", all ? "yes" : "NO");
    failed |= !all;
    ts_signal_stop(termChan);
    ts_chan_release(termChan);
    ts_chan_release(timeout);
    ts_chan_release(closed);
    ts_chan_release(s.closing);
    ts_chan_release(s.requests);
    ts_chan_release(s.finished);
    printf("main: exit %d\n", failed);
    return failed;
}

int main(int argc, char **argv)
{
    bool wait_for_operator = sample_flag(argc, argv, "--wait");
    return ts_run(main_task, &wait_for_operator);
}
