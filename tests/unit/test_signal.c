/* test_signal.c — ts_signal_notify / ts_signal_stop: the behaviours of Go's
 * os/signal tests that apply, in C.
 *
 * Signals are raised from the cmocka thread (a plain thread with every
 * signal unblocked) or sent to the process with kill(); the runtime's
 * workers block asynchronous signals, so a signal sent to the process lands
 * on the cmocka thread, or on the thread sleeping in ts_run. Every wait is
 * bounded (tt_recv_within, TT_SOON). Under ThreadSanitizer a signal reaches
 * its handler only at the thread's next intercepted call and two raises of
 * one signal can merge, so the tests that count deliveries raise one signal
 * at a time and wait for it to arrive before the next. Each test stops
 * every channel it registered: the dispositions are back to SIG_DFL when
 * the next test starts. */
#include "tt.h"

/* ---- helpers ------------------------------------------------------------ */

static ts_chan_t *int_chan(size_t cap)
{
    ts_chan_t *ch = ts_chan_make(sizeof(int), cap);
    assert_non_null(ch);
    return ch;
}

/* The next signal number on ch, within TT_SOON; -1 on timeout. */
static int next_signal(ts_chan_t *ch)
{
    int v = -1;
    bool ok = false;
    if (tt_recv_within(ch, &v, &ok, TT_SOON) != 0 || !ok)
        return -1;
    return v;
}

/* Nothing buffered on ch right now. */
static bool empty_now(ts_chan_t *ch)
{
    int v;
    bool ok;
    return ts_chan_try_recv(ch, &v, &ok) == TS_EWOULDBLOCK;
}

static void *handler_of(int sig)
{
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction
                                      : (void *)sa.sa_handler;
}

static atomic_int prev_handler_runs;

static void prev_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&prev_handler_runs, 1);
}

/* ---- delivery ----------------------------------------------------------- */

static void *pthread_kill_main(void *arg)
{
    (void)arg;
    pthread_kill(pthread_self(), SIGUSR1);
    return NULL;
}

/* raise, kill and pthread_kill (on this thread and on another plain
 * thread) each arrive as the signal's number. */
static void test_signal_arrives_from_raise_kill_and_pthread_kill(void **state)
{
    (void)state;
    ts_chan_t *ch = int_chan(1);
    assert_int_equal(ts_signal_notify(ch, SIGUSR1, 0), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(next_signal(ch), SIGUSR1);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_int_equal(next_signal(ch), SIGUSR1);
    assert_int_equal(pthread_kill(pthread_self(), SIGUSR1), 0);
    assert_int_equal(next_signal(ch), SIGUSR1);
    tt_join(tt_thread(pthread_kill_main, NULL));
    assert_int_equal(next_signal(ch), SIGUSR1);
    ts_signal_stop(ch);
    ts_chan_release(ch);
    tt_end(0);
}

/* Two channels registered for one signal each get their own copy. */
static void test_signal_every_registered_channel_gets_it(void **state)
{
    (void)state;
    ts_chan_t *a = int_chan(1), *b = int_chan(1);
    assert_int_equal(ts_signal_notify(a, SIGUSR1, 0), 0);
    assert_int_equal(ts_signal_notify(b, SIGUSR1, 0), 0);
    raise(SIGUSR1);
    assert_int_equal(next_signal(a), SIGUSR1);
    assert_int_equal(next_signal(b), SIGUSR1);
    ts_signal_stop(a);
    ts_signal_stop(b);
    ts_chan_release(a);
    ts_chan_release(b);
    tt_end(0);
}

/* One channel for two signals, the second added by a later call; only the
 * registered signals reach it. */
static void test_signal_one_channel_several_signals(void **state)
{
    (void)state;
    ts_chan_t *ch = int_chan(2), *other = int_chan(1);
    assert_int_equal(ts_signal_notify(ch, SIGUSR1, 0), 0);
    assert_int_equal(ts_signal_notify(other, SIGHUP, 0), 0);
    raise(SIGHUP); /* not ch's */
    assert_int_equal(next_signal(other), SIGHUP);
    assert_int_equal(ts_signal_notify(ch, SIGUSR2, 0), 0);
    raise(SIGUSR2);
    assert_int_equal(next_signal(ch), SIGUSR2);
    raise(SIGUSR1);
    assert_int_equal(next_signal(ch), SIGUSR1);
    assert_true(empty_now(ch));
    ts_signal_stop(ch);
    ts_signal_stop(other);
    ts_chan_release(ch);
    ts_chan_release(other);
    tt_end(0);
}

/* A full channel loses the signal and the raiser is not held up: with a
 * roomy witness channel to know when each signal was handled, five raises
 * leave exactly the first in a channel of capacity 1. */
static void test_signal_full_channel_drops_without_blocking(void **state)
{
    (void)state;
    ts_chan_t *full = int_chan(1), *witness = int_chan(8);
    assert_int_equal(ts_signal_notify(full, SIGUSR1, 0), 0);
    assert_int_equal(ts_signal_notify(witness, SIGUSR1, 0), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(raise(SIGUSR1), 0);
        assert_int_equal(next_signal(witness), SIGUSR1);
    }
    assert_int_equal(ts_chan_len(full), 1);
    assert_int_equal(next_signal(full), SIGUSR1);
    assert_true(empty_now(full));
    ts_signal_stop(full);
    ts_signal_stop(witness);
    ts_chan_release(full);
    ts_chan_release(witness);
    tt_end(0);
}

struct waiter {
    ts_chan_t *ch, *done;
    int got;
};

static void recv_signal_task(void *arg)
{
    struct waiter *w = arg;
    bool ok = false;
    TT_CHECK_EQ(ts_chan_recv(w->ch, &w->got, &ok), 0);
    TT_CHECK(ok);
    tt_signal(w->done);
}

static int blocked_task_main(void *arg)
{
    struct waiter *w = arg;
    uint64_t id = tt_go(recv_signal_task, w);
    TT_REQUIRE(tt_wait_parked(id, TS_WAIT_CHAN_RECV, TT_SOON, NULL), 1);
    TT_CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    TT_CHECK_EQ(tt_wait_done(w->done, 1, TT_SOON), 1);
    return 0;
}

/* A task parked in ts_chan_recv is woken by the signal, even on an
 * unbuffered channel: the helper's non-blocking send finds the receiver. */
static void test_signal_wakes_task_blocked_in_recv(void **state)
{
    (void)state;
    struct waiter w = {.ch = int_chan(0), .done = ts_chan_make(0, 1)};
    assert_non_null(w.done);
    assert_int_equal(ts_signal_notify(w.ch, SIGUSR1, 0), 0);
    assert_int_equal(ts_run(blocked_task_main, &w), 0);
    assert_int_equal(w.got, SIGUSR1);
    ts_signal_stop(w.ch);
    ts_chan_release(w.ch);
    ts_chan_release(w.done);
    tt_end(0);
}

/* ---- stop --------------------------------------------------------------- */

/* Stop puts the previous handler back only when the last channel wanting
 * the signal stops, and a stopped channel gets nothing more. */
static void test_signal_stop_restores_previous_handler(void **state)
{
    (void)state;
    struct sigaction sa, saved;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prev_handler;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR2, &sa, &saved), 0);
    atomic_store(&prev_handler_runs, 0);

    ts_chan_t *a = int_chan(1), *b = int_chan(1);
    assert_int_equal(ts_signal_notify(a, SIGUSR2, 0), 0);
    assert_int_equal(ts_signal_notify(b, SIGUSR2, 0), 0);
    assert_ptr_not_equal(handler_of(SIGUSR2), (void *)prev_handler);
    ts_signal_stop(a);
    assert_ptr_not_equal(handler_of(SIGUSR2), (void *)prev_handler);
    raise(SIGUSR2);
    assert_int_equal(next_signal(b), SIGUSR2);
    assert_true(empty_now(a));
    assert_int_equal(atomic_load(&prev_handler_runs), 0);

    ts_signal_stop(b);
    assert_ptr_equal(handler_of(SIGUSR2), (void *)prev_handler);
    raise(SIGUSR2);
    for (int64_t end = ts_now() + TT_SOON;
         atomic_load(&prev_handler_runs) == 0 && ts_now() < end;)
        ts_sleep(TS_MILLISECOND);
    assert_int_equal(atomic_load(&prev_handler_runs), 1);
    assert_true(empty_now(a));
    assert_true(empty_now(b));

    ts_signal_stop(b); /* twice, and never registered: no effect */
    ts_signal_stop(NULL);
    assert_int_equal(sigaction(SIGUSR2, &saved, NULL), 0);
    ts_chan_release(a);
    ts_chan_release(b);
    tt_end(0);
}

/* With no handler before, stop brings back SIG_DFL. */
static void test_signal_stop_restores_default(void **state)
{
    (void)state;
    assert_ptr_equal(handler_of(SIGUSR1), (void *)SIG_DFL);
    ts_chan_t *ch = int_chan(1);
    assert_int_equal(ts_signal_notify(ch, SIGUSR1, SIGUSR2, 0), 0);
    assert_ptr_not_equal(handler_of(SIGUSR1), (void *)SIG_DFL);
    ts_signal_stop(ch);
    assert_ptr_equal(handler_of(SIGUSR1), (void *)SIG_DFL);
    assert_ptr_equal(handler_of(SIGUSR2), (void *)SIG_DFL);
    ts_chan_release(ch);
    tt_end(0);
}

/* ---- bad arguments ------------------------------------------------------ */

/* Each bad call returns EINVAL and installs nothing, even when the list
 * starts with a good signal. */
static void test_signal_bad_arguments_change_nothing(void **state)
{
    (void)state;
    ts_chan_t *ch = int_chan(1), *longs = ts_chan_make(sizeof(long), 1),
              *empty = ts_chan_make(0, 1);
    assert_non_null(longs);
    assert_non_null(empty);
    void *segv = handler_of(SIGSEGV);
    static const int bad[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE,
                              SIGILL, -1, NSIG, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ts_signal_notify(ch, bad[i], 0), EINVAL);
        assert_int_equal(ts_signal_notify(ch, SIGUSR1, bad[i], 0), EINVAL);
    }
    if (SIGRTMIN > 32)
        assert_int_equal(ts_signal_notify(ch, 32, 0), EINVAL);
    assert_int_equal(ts_signal_notify(ch, 0), EINVAL);
    assert_int_equal(ts_signal_notify(NULL, SIGUSR1, 0), EINVAL);
    assert_int_equal(ts_signal_notify(longs, SIGUSR1, 0), EINVAL);
    assert_int_equal(ts_signal_notify(empty, SIGUSR1, 0), EINVAL);
    assert_ptr_equal(handler_of(SIGUSR1), (void *)SIG_DFL);
    assert_ptr_equal(handler_of(SIGSEGV), segv);
    ts_signal_stop(ch); /* not registered */
    ts_chan_release(ch);
    ts_chan_release(longs);
    ts_chan_release(empty);
    tt_end(0);
}

/* A real-time signal is accepted and delivered like any other. */
static void test_signal_realtime_signal(void **state)
{
    (void)state;
    ts_chan_t *ch = int_chan(1);
    assert_int_equal(ts_signal_notify(ch, SIGRTMIN + 1, 0), 0);
    raise(SIGRTMIN + 1);
    assert_int_equal(next_signal(ch), SIGRTMIN + 1);
    ts_signal_stop(ch);
    ts_chan_release(ch);
    tt_end(0);
}

/* ---- fork --------------------------------------------------------------- */

#if !defined(__has_feature)
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define TT_FORK_OK 0 /* TSan: no new threads in a forked child */
#else
#define TT_FORK_OK 1
#endif

/* Child side: registrations survive fork; the helper comes back at the
 * child's next ts_signal_notify. Polls (no timers: the child has no
 * workers). Exit 0 when its signal arrived. */
static int fork_child(ts_chan_t *ch)
{
    ts_chan_t *again = ts_chan_make(sizeof(int), 1);
    if (!again || ts_signal_notify(again, SIGUSR2, 0) != 0)
        return 10;
    raise(SIGUSR1);
    for (int i = 0; i < 20000; i++) {
        int v = 0;
        bool ok;
        if (ts_chan_try_recv(ch, &v, &ok) == 0)
            return v == SIGUSR1 ? 0 : 11;
        usleep(1000);
    }
    return 12;
}

/* A forked child's signals go to the child's channels, never into the
 * parent's pipe: the parent's first value after the child exits is its own
 * SIGUSR2, not the child's SIGUSR1. */
static void test_signal_forked_child_keeps_its_own_signals(void **state)
{
    (void)state;
    if (!TT_FORK_OK)
        skip();
    ts_chan_t *ch = int_chan(4);
    assert_int_equal(ts_signal_notify(ch, SIGUSR1, SIGUSR2, 0), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fork_child(ch));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    raise(SIGUSR2);
    assert_int_equal(next_signal(ch), SIGUSR2);
    ts_signal_stop(ch);
    ts_chan_release(ch);
    tt_end(0);
}

/* ---- scenarios (child processes) ---------------------------------------- */

/* Closing a registered channel: the next delivery panics, as Go's would. */
static int scenario_closed_channel(void)
{
    ts_chan_t *ch = ts_chan_make(sizeof(int), 1);
    if (!ch || ts_signal_notify(ch, SIGUSR1, 0) != 0)
        return 10;
    ts_chan_close(ch);
    raise(SIGUSR1);
    sleep(20); /* the helper's panic ends the process first */
    puts("UNREACHED");
    return 0;
}

static const struct tt_scenario scenarios[] = {
    {"closed_channel", scenario_closed_channel},
};

static void test_signal_closed_registered_channel_panics(void **state)
{
    (void)state;
    tt_expect_panic("closed_channel", "send on closed channel");
    tt_end(0);
}

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_signal_arrives_from_raise_kill_and_pthread_kill),
        TT_TEST(test_signal_every_registered_channel_gets_it),
        TT_TEST(test_signal_one_channel_several_signals),
        TT_TEST(test_signal_full_channel_drops_without_blocking),
        TT_TEST(test_signal_wakes_task_blocked_in_recv),
        TT_TEST(test_signal_stop_restores_previous_handler),
        TT_TEST(test_signal_stop_restores_default),
        TT_TEST(test_signal_bad_arguments_change_nothing),
        TT_TEST(test_signal_realtime_signal),
        TT_TEST(test_signal_forked_child_keeps_its_own_signals),
        TT_TEST(test_signal_closed_registered_channel_panics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
