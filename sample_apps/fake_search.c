/* fake_search.c — Google search with fake back ends: concurrency, a global
 * timeout, and replicated requests where the first answer wins.
 *
 * Ported from 004_981443292b25e44f.txt, "11. 超时控制" (timeout control):
 * fakeSearch(kind) returns a Search that sleeps rand.Intn(100) ms and
 * returns "<kind> result for \"<query>\""; Google(query) runs Web, Image and
 * Video concurrently, each in its own task sending on one channel c, and
 * collects results in a select loop against time.After(80ms), printing
 * "timed out" and returning what it has when the timeout fires. The
 * replicated version is from the same program in the Go talk "Go
 * Concurrency Patterns" (Google Search 3.0): First(query, replicas...) asks
 * every replica and returns the first answer.
 *
 * Runs:
 *   1. Google 2.1 with fixed latencies (web 10ms, image 20ms, video 1000ms)
 *      and a 200 ms timeout: web and image arrive, video times out.
 *   2. Google 2.1 exactly as in the seed: random 0-99 ms latencies, 80 ms
 *      timeout. The outcome varies from run to run; the program checks
 *      that it either got all three results or timed out.
 *   3. First with replicas web1 (500ms) and web2 (10ms): web2 wins.
 *   4. Google 3.0: every kind asked of two replicas, one of them fast; all
 *      three results arrive before the timeout although a replica of each
 *      kind is slow — replication cuts tail latency.
 * The fixed-latency runs use a 200 ms timeout instead of the seed's 80 ms,
 * so their margins hold on a loaded machine. Results are printed sorted by
 * kind (web, image, video) so the output does not depend on which arrives
 * first.
 *
 * Difference from the seed: c is buffered (one slot per sender). With the
 * seed's unbuffered c, the searches that lose the race against the timeout
 * (and First's slower replicas) block forever on `c <- ...`: leaked
 * goroutines, which Go tolerates until exit but C must not.
 *
 * Run: build/sample_apps/fake_search (~1.1 s). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

typedef struct result {
    int slot; /* 0 web, 1 image, 2 video: for sorted printing */
    char text[56];
} result_t;

/* A Search: Go's func(query string) Result made by fakeSearch(kind). */
typedef struct search {
    const char *kind;
    int slot;
    int64_t latency; /* < 0: rand.Intn(100) milliseconds, as in the seed */
} search_t;

/* rand.Intn(100), safe from many tasks: splitmix64 over an atomic counter */
static _Atomic uint64_t rand_counter;

static int rand_intn(int n)
{
    uint64_t z = atomic_fetch_add(&rand_counter, 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (int)(z % (uint64_t)n);
}

static result_t search_run(const search_t *s, const char *query)
{
    int64_t d = s->latency >= 0 ? s->latency
                                : rand_intn(100) * TS_MILLISECOND;
    /* time.Sleep(time.Duration(rand.Intn(100)) * time.Millisecond) */
    ts_sleep(d);
    result_t r = {.slot = s->slot};
    snprintf(r.text, sizeof r.text, "%s result for \"%s\"", s->kind, query);
    return r;
}

/* ---- First: replicated request, the first answer wins ------------------- */

struct replica_args {
    const search_t *replica;
    const char *query;
    ts_chan_t *c;
};

static void search_replica(void *p) /* searchReplica := func(i int) */
{
    struct replica_args *a = p;
    result_t r = search_run(a->replica, a->query);
    ts_chan_send(a->c, &r); /* c <- replicas[i](query): never blocks, c
                               has room for every replica */
    ts_chan_release(a->c);
    free(a);
}

static result_t First(const char *query, const search_t *replicas, size_t n)
{
    ts_chan_t *c = xchan(sizeof(result_t), n);
    for (size_t i = 0; i < n; i++) {
        struct replica_args *a = xmalloc(sizeof *a);
        a->replica = &replicas[i];
        a->query = query;
        a->c = ts_chan_retain(c);
        sample_go(search_replica, a);
    }
    result_t r;
    ts_chan_recv(c, &r, NULL); /* return <-c */
    ts_chan_release(c);
    return r;
}

/* ---- Google ------------------------------------------------------------- */

/* One kind of search (web, image or video), asked of 1 or more replicas. */
typedef struct kind {
    const search_t *replicas;
    size_t n;
} kind_t;

struct kind_args {
    const kind_t *kind;
    const char *query;
    ts_chan_t *c;
};

static void search_kind(void *p) /* go func() { c <- Web(query) }() */
{
    struct kind_args *a = p;
    result_t r = a->kind->n == 1 ? search_run(&a->kind->replicas[0], a->query)
                                 : First(a->query, a->kind->replicas,
                                         a->kind->n);
    ts_chan_send(a->c, &r);
    ts_chan_release(a->c);
    free(a);
}

/* Google: fills results (up to 3), returns how many; *timed_out set when the
 * timeout fired first. */
static size_t Google(const char *query, const kind_t kinds[3], int64_t timeout,
                     result_t results[3], bool *timed_out)
{
    ts_chan_t *c = xchan(sizeof(result_t), 3); /* see the top comment */
    for (int k = 0; k < 3; k++) {
        struct kind_args *a = xmalloc(sizeof *a);
        a->kind = &kinds[k];
        a->query = query;
        a->c = ts_chan_retain(c);
        sample_go(search_kind, a);
    }

    ts_chan_t *to = ts_after(timeout); /* timeout := time.After(80 * ms) */
    size_t n = 0;
    *timed_out = false;
    for (int i = 0; i < 3; i++) {
        result_t result;
        ts_select_case_t cases[] = {TS_RECV_CASE(c, &result),
                                    TS_RECV_CASE(to, NULL)};
        if (ts_select(cases, 2, 0) == 0) {
            results[n++] = result; /* results = append(results, result) */
        } else {
            printf("timed out\n");
            *timed_out = true;
            break;
        }
    }
    ts_chan_release(to);
    ts_chan_release(c);
    return n;
}

static int cmp_result(const void *x, const void *y)
{
    return ((const result_t *)x)->slot - ((const result_t *)y)->slot;
}

static void print_results(result_t *results, size_t n)
{
    qsort(results, n, sizeof results[0], cmp_result);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", results[i].text);
}

static int main_task(void *arg)
{
    (void)arg;
    int failed = 0;
    const char *query = "golang";
    result_t results[3];
    bool timed_out;
    atomic_store(&rand_counter, (uint64_t)ts_now());

    /* 1. fixed latencies: video too slow for the timeout */
    printf("Google 2.1: web 10ms, image 20ms, video 1000ms; timeout 200ms\n");
    static const search_t Web = {"web", 0, 10 * TS_MILLISECOND};
    static const search_t Image = {"image", 1, 20 * TS_MILLISECOND};
    static const search_t SlowVideo = {"video", 2, 1000 * TS_MILLISECOND};
    const kind_t kinds1[3] = {{&Web, 1}, {&Image, 1}, {&SlowVideo, 1}};
    int64_t start = ts_now();
    size_t n = Google(query, kinds1, 200 * TS_MILLISECOND, results, &timed_out);
    bool early = ts_now() - start < 1000 * TS_MILLISECOND;
    print_results(results, n);
    printf("returned at the timeout, before the video search finished: %s\n",
           timed_out && early ? "yes" : "NO");
    failed |= !(n == 2 && timed_out && early && results[0].slot == 0 &&
                results[1].slot == 1);

    /* 2. the seed as is: random latencies, 80 ms timeout */
    printf("Google 2.1 as in the seed: latencies rand.Intn(100) ms; "
           "timeout 80ms\n");
    static const search_t RandWeb = {"web", 0, -1};
    static const search_t RandImage = {"image", 1, -1};
    static const search_t RandVideo = {"video", 2, -1};
    const kind_t kinds2[3] = {{&RandWeb, 1}, {&RandImage, 1}, {&RandVideo, 1}};
    n = Google(query, kinds2, 80 * TS_MILLISECOND, results, &timed_out);
    print_results(results, n);
    printf("%zu result(s)%s\n", n, timed_out ? ", timed out" : "");
    printf("all three results or a timeout: %s\n",
           n == 3 || timed_out ? "yes" : "NO");
    failed |= !(n == 3 || timed_out);

    /* 3. First */
    printf("First(\"golang\", web1 500ms, web2 10ms)\n");
    static const search_t webs[2] = {{"web1", 0, 500 * TS_MILLISECOND},
                                     {"web2", 0, 10 * TS_MILLISECOND}};
    result_t first = First(query, webs, 2);
    printf("%s\n", first.text);
    failed |= strncmp(first.text, "web2 ", 5) != 0;

    /* 4. Google 3.0 */
    printf("Google 3.0: web1 500ms/web2 10ms, image1 15ms/image2 500ms, "
           "video1 1000ms/video2 20ms; timeout 200ms\n");
    static const search_t images[2] = {{"image1", 1, 15 * TS_MILLISECOND},
                                       {"image2", 1, 500 * TS_MILLISECOND}};
    static const search_t videos[2] = {{"video1", 2, 1000 * TS_MILLISECOND},
                                       {"video2", 2, 20 * TS_MILLISECOND}};
    const kind_t kinds3[3] = {{webs, 2}, {images, 2}, {videos, 2}};
    n = Google(query, kinds3, 200 * TS_MILLISECOND, results, &timed_out);
    print_results(results, n);
    printf("all three results before the timeout: %s\n",
           n == 3 && !timed_out ? "yes" : "NO");
    failed |= !(n == 3 && !timed_out);

    /* the slow searches and replicas finish into their buffered channels */
    if (sample_wait_tasks() != 0)
        return 1;
    return failed;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
