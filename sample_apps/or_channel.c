/* or_channel.c — the or-channel: one done channel that closes as soon as any
 * of its component done channels closes.
 *
 * Ported from 002_4afb6b829636c6ad.txt, "The or-channel pattern": the
 * recursive `or` (two channels: one select; more: a select over the first
 * three plus `or` of the rest and of its own orDone) and its test, which
 * combines sig(2h), sig(5m) and sig(1s) and prints "done after ~1s".
 * A second run combines five signals (the variant in "Concurrency in Go")
 * with the fastest one last, so it must travel up through the recursion.
 *
 * Shows: composing done channels with tasks and recursion. The or returns
 * when the fastest signal fires; the program reports which signal channel is
 * closed (checked with ts_chan_try_recv) and when, and how many or-tasks the
 * recursion started. Every or-task exits once its orDone is closed: the
 * inner ors also wait on the outer orDone, so none is left behind.
 *
 * Differences from the seed: in Go, sig's goroutine sleeps (2 h!) and the
 * process simply exits; C must free what it creates, so sig waits on a timer
 * or on a `quit` channel, and main closes quit at the end to stop the slow
 * signals. Go's append(channels[3:], orDone) may write into the caller's
 * array; here the tail is a fresh array.
 *
 * Run: build/sample_apps/or_channel (takes ~1.2 s). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

static atomic_int or_tasks; /* or-tasks started, to show the recursion */

struct or_args {
    ts_chan_t **channels;
    size_t n;
    ts_chan_t *orDone;
};

static ts_chan_t *or_chan(ts_chan_t *const *channels, size_t n);

static void or_task(void *p)
{
    struct or_args *a = p;
    ts_chan_t **ch = a->channels;
    if (a->n == 2) {
        ts_select_case_t c[] = {TS_RECV_CASE(ch[0], NULL),
                                TS_RECV_CASE(ch[1], NULL)};
        ts_select(c, 2, 0);
    } else {
        /* or(append(channels[3:], orDone)...) */
        size_t rest = a->n - 3;
        ts_chan_t **tail = xmalloc((rest + 1) * sizeof *tail);
        memcpy(tail, ch + 3, rest * sizeof *tail);
        tail[rest] = a->orDone;
        ts_chan_t *inner = or_chan(tail, rest + 1);
        free(tail);
        ts_select_case_t c[] = {
            TS_RECV_CASE(ch[0], NULL), TS_RECV_CASE(ch[1], NULL),
            TS_RECV_CASE(ch[2], NULL), TS_RECV_CASE(inner, NULL)};
        ts_select(c, 4, 0);
        ts_chan_release(inner);
    }
    ts_chan_close(a->orDone); /* defer close(orDone) */
    ts_chan_release(a->orDone);
    for (size_t i = 0; i < a->n; i++)
        ts_chan_release(ch[i]);
    free(ch);
    free(a);
}

/* or_chan: Go's `or`. Returns a reference the caller releases (NULL, the nil
 * channel, for no channels). */
static ts_chan_t *or_chan(ts_chan_t *const *channels, size_t n)
{
    switch (n) {
    case 0:
        return NULL;
    case 1:
        return ts_chan_retain(channels[0]);
    }
    ts_chan_t *orDone = xchan(0, 0);
    struct or_args *a = xmalloc(sizeof *a);
    a->channels = xmalloc(n * sizeof *a->channels);
    for (size_t i = 0; i < n; i++)
        a->channels[i] = ts_chan_retain(channels[i]);
    a->n = n;
    a->orDone = ts_chan_retain(orDone);
    atomic_fetch_add(&or_tasks, 1);
    sample_go(or_task, a);
    return orDone;
}

/* ---- sig: a channel closed after a delay -------------------------------- */

struct sig_args {
    ts_chan_t *c, *quit;
    int64_t after;
};

static void sig_task(void *p)
{
    struct sig_args *a = p;
    ts_timer_t *t = ts_timer_new(a->after); /* time.Sleep(after) ... */
    ts_select_case_t cases[] = {TS_RECV_CASE(ts_timer_chan(t), NULL),
                                TS_RECV_CASE(a->quit, NULL)};
    if (ts_select(cases, 2, 0) == 0)
        ts_chan_close(a->c); /* ... defer close(c) */
    ts_timer_free(t);
    ts_chan_release(a->c);
    ts_chan_release(a->quit);
    free(a);
}

static ts_chan_t *sig(ts_chan_t *quit, int64_t after)
{
    ts_chan_t *c = xchan(0, 0);
    struct sig_args *a = xmalloc(sizeof *a);
    a->c = ts_chan_retain(c);
    a->quit = ts_chan_retain(quit);
    a->after = after;
    sample_go(sig_task, a);
    return c;
}

/* run: <-or(sig(d[0]), ...), then report. Returns 0 when the fastest signal
 * was the one that fired and not before its time. */
static int run(const char *const *names, const int64_t *after, size_t n)
{
    ts_chan_t *quit = xchan(0, 0);
    ts_chan_t *sigs[8];
    size_t fastest = 0;
    for (size_t i = 0; i < n; i++) {
        sigs[i] = sig(quit, after[i]);
        if (after[i] < after[fastest])
            fastest = i;
    }
    atomic_store(&or_tasks, 0);

    int64_t start = ts_now();
    ts_chan_t *done = or_chan(sigs, n);
    ts_chan_recv(done, NULL, NULL); /* <-or(...) */
    int64_t took = ts_now() - start;
    ts_chan_release(done);

    printf("done after %.3fs\n", (double)took / (double)TS_SECOND);
    size_t fired = 0, which = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = true;
        if (ts_chan_try_recv(sigs[i], NULL, &ok) == 0 && !ok) {
            printf("fired: sig(%s)\n", names[i]);
            fired++;
            which = i;
        }
    }
    bool on_time = took >= after[fastest];
    printf("or-tasks started by the recursion: %d\n", atomic_load(&or_tasks));
    printf("only the fastest fired, not before its time: %s\n",
           fired == 1 && which == fastest && on_time ? "yes" : "NO");

    ts_chan_close(quit); /* stop the slow signals (Go just exits) */
    ts_chan_release(quit);
    for (size_t i = 0; i < n; i++)
        ts_chan_release(sigs[i]);
    if (sample_wait_tasks() != 0)
        return 1;
    printf("every or-task and signal task exited: yes\n");
    return fired == 1 && which == fastest && on_time ? 0 : 1;
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = 0;

    printf("<-or(sig(2h), sig(5m), sig(1s))  (seed 002)\n");
    static const char *const names1[] = {"2h", "5m", "1s"};
    static const int64_t after1[] = {2 * TS_HOUR, 5 * TS_MINUTE, TS_SECOND};
    failed |= run(names1, after1, 3);

    printf("<-or(sig(2h), sig(5m), sig(1h), sig(1m), sig(200ms))\n");
    static const char *const names2[] = {"2h", "5m", "1h", "1m", "200ms"};
    static const int64_t after2[] = {2 * TS_HOUR, 5 * TS_MINUTE, TS_HOUR,
                                     TS_MINUTE, 200 * TS_MILLISECOND};
    failed |= run(names2, after2, 5);
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
