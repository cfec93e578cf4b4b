/* leak_request_handler.c — a request handler with a timeout that leaks one
 * task per timed-out request, found by `taskscope leaks`.
 *
 * Ported from 004_981443292b25e44f.txt, "11. 超时控制" (timeout control):
 * Google(query) makes an unbuffered c, runs the search in a goroutine that
 * sends its result on c (`go func() { c <- Web(query) }()`), and selects
 * between c and time.After(timeout). When the timeout wins, Google returns
 * and nothing will ever receive from c: the search goroutine blocks forever
 * on its send — a goroutine leak, the one fake_search.c avoids with a
 * buffered c. (Seed 002, "Preventing Goroutine Leaks", describes the same
 * leak: "a goroutine blocked on attempting to write a value to a channel".)
 *
 * Here the handler, handleSearch(query), serves three requests one after
 * another with a 100 ms timeout against a fake back end whose latency
 * depends on the query: "golang" 10 ms, "taskscope" 20 ms, "slow query"
 * 300 ms. The third times out. main then waits until the late search has
 * reached its send (the `sending` counter) and gives it 50 ms to park.
 *
 *   leak_request_handler          c unbuffered, as in the seed: the third
 *                                 search task stays blocked on `c <- result`
 *                                 until the process exits.
 *   leak_request_handler --fixed  c buffered with room for the one result:
 *                                 the send completes, the task exits, and
 *                                 main joins every search task.
 *
 * Nothing references the leaked task's channel but the task itself: the
 * handler released its reference when it returned, the channel is in no
 * global and no live structure. That is what the goroutineleak profile
 * detects (the channel is unreachable from outside the blocked tasks), so
 *
 *     taskscope leaks build/sample_apps/leak_request_handler
 *
 * prints the program's output, then the leaked task as
 *
 *     goroutine 4 [chan send (leaked)]:
 *     ...
 *     search_task(...)
 *             .../sample_apps/leak_request_handler.c:LINE +0x..
 *     created by handleSearch in goroutine 1
 *     ...
 *
 * and exits 1; with --fixed it finds nothing and exits 0 (the program's
 * status). The plain program exits 0 either way: like the Go original it
 * does not know it leaks.
 *
 * Conservative scan: taskscope cannot know C's types, so the leak detector
 * treats any word in live memory that holds the channel's address as a
 * reference — including a freed heap block that still holds it. The search
 * task's argument block carries c; the task takes c out and clears the
 * field before freeing the block, so the only copy left is the task's own.
 *
 * The program frees what it creates, except what the leaked task holds (its
 * channel and nothing else); the leaked task goes away with the process.
 * Tasks are started with ts_go itself (not sample.h's sample_go) so that
 * the report's "created by" line names handleSearch.
 *
 * Tests: sample.leak_request_handler (stdout, expected/
 * leak_request_handler.txt); sample.leak_request_handler.leaks and
 * sample.leak_request_handler.fixed run it under `taskscope leaks` and
 * check the report (expected/leak_request_handler.{leaks,fixed}.report),
 * down to the source lines marked [line:NAME] below.
 *
 * Run: build/sample_apps/leak_request_handler [--fixed] (~0.4 s). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

typedef struct result {
    char text[64];
} result_t;

static const int64_t handler_timeout = 100 * TS_MILLISECOND;

/* The fake back end (fakeSearch("web")): its latency depends on the query,
 * so the run is reproducible (the seed sleeps rand.Intn(100) ms). */
static int64_t latency_of(const char *query)
{
    if (strcmp(query, "golang") == 0)
        return 10 * TS_MILLISECOND;
    if (strcmp(query, "taskscope") == 0)
        return 20 * TS_MILLISECOND;
    return 300 * TS_MILLISECOND; /* "slow query": slower than the timeout */
}

static result_t Web(const char *query)
{
    ts_sleep(latency_of(query));
    result_t r;
    snprintf(r.text, sizeof r.text, "web result for \"%s\"", query);
    return r;
}

static atomic_int sending;     /* search tasks that reached their send */
static atomic_int live_search; /* search tasks started and not returned */

/* ---- the request handler ------------------------------------------------- */

struct search_args {
    const char *query;
    ts_chan_t *c; /* the task's reference to the result channel */
};

/* go func() { c <- Web(query) }() */
static void search_task(void *p)
{
    struct search_args *a = p;
    const char *query = a->query;
    ts_chan_t *c = a->c;
    *(ts_chan_t *volatile *)&a->c = NULL; /* no stale copy in the heap */
    free(a);

    result_t r = Web(query);
    atomic_fetch_add(&sending, 1);
    ts_chan_send(c, &r); /* [line:send] blocks forever when nobody listens */
    ts_chan_release(c);
    atomic_fetch_sub(&live_search, 1);
}

/* handleSearch: the seed's Google(query) with one search. Prints the
 * answer, or "timed out"; returns false on a timeout. */
static bool handleSearch(const char *query, bool fixed)
{
    /* c := make(chan Result); the fix gives it room for the one result */
    ts_chan_t *c = xchan(sizeof(result_t), fixed ? 1 : 0);
    struct search_args *a = xmalloc(sizeof *a);
    a->query = query;
    a->c = ts_chan_retain(c);
    atomic_fetch_add(&live_search, 1);
    ts_go(search_task, a); /* [line:go_search] */

    ts_chan_t *timeout = ts_after(handler_timeout); /* time.After(100 ms) */
    result_t result;
    ts_select_case_t cases[] = {TS_RECV_CASE(c, &result),
                                TS_RECV_CASE(timeout, NULL)};
    bool answered = ts_select(cases, 2, 0) == 0;
    if (answered)
        printf("request \"%s\": %s\n", query, result.text);
    else
        printf("request \"%s\": timed out\n", query);
    ts_chan_release(timeout);
    ts_chan_release(c); /* the handler is done with c; only the task keeps it */
    return answered;
}

static int main_task(void *arg)
{
    bool fixed = *(bool *)arg;
    printf("result channel: %s\n",
           fixed ? "buffered, capacity 1 (--fixed)" : "unbuffered (the seed's)");

    static const char *const requests[] = {"golang", "taskscope", "slow query"};
    int timed_out = 0;
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        timed_out += !handleSearch(requests[i], fixed);
    printf("served 3 requests, %d timed out\n", timed_out);

    /* Let the late search finish searching and reach its send. */
    int64_t deadline = ts_now() + 10 * TS_SECOND;
    while (atomic_load(&sending) < 3 && ts_now() < deadline)
        ts_sleep(TS_MILLISECOND);
    ts_sleep(50 * TS_MILLISECOND); /* ... and park there (or finish) */
    if (atomic_load(&sending) < 3) {
        fprintf(stderr, "a search task never reached its send\n");
        return 1;
    }

    if (fixed) {
        /* every search task can finish: join them */
        while (atomic_load(&live_search) > 0 && ts_now() < deadline)
            ts_sleep(TS_MILLISECOND);
        printf("search tasks still running: %d\n", atomic_load(&live_search));
        return atomic_load(&live_search) == 0 ? 0 : 1;
    }
    /* the seed's version: the late search task can never finish */
    printf("search tasks still running: %d\n", atomic_load(&live_search));
    return atomic_load(&live_search) == timed_out ? 0 : 1;
}

int main(int argc, char **argv)
{
    bool fixed = sample_flag(argc, argv, "--fixed");
    return ts_run(main_task, &fixed);
}
