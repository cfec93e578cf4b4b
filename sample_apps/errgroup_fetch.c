/* errgroup_fetch.c — errgroup: fetch several URLs at once, the first
 * failure cancels the rest.
 *
 * Ported from 001_f54886a91adcaa1b.txt, "3. Package sync / (5) errgroup":
 *     g, ctx := errgroup.WithContext(context.Background())
 *     g.Go(func() error { ... })      (three times)
 *     err := g.Wait()
 *     fmt.Println(err)
 *     fmt.Println(ctx.Err())
 * with the work of errgroup's own example (JustErrors: fetch a list of URLs,
 * one of which, www.somestupidname.com, cannot be resolved).
 *
 * Differences from the seed:
 *   - no network: a fetch is a task that "resolves" the host (fails at once
 *     for somestupidname.com) and then "downloads" for 5 s unless the
 *     group's context is done first; so the failure always comes first,
 *     cancels the context, and the other fetches stop within microseconds;
 *   - each fetch records its outcome in its own slot and main prints them
 *     in URL order after Wait, so the output is exact;
 *   - part 2 runs the same fetches of good URLs under g.SetLimit(2) and
 *     checks that no more than two ran at once;
 *   - C has no GC: the group owns the context (ts_errgroup_free frees
 *     both), and Go's error values are error codes (EHOSTUNREACH is "no such
 *     host"; context.Canceled is ECANCELED).
 *
 * Run: build/sample_apps/errgroup_fetch (~0.05 s). */
#include <stdatomic.h>
#include <stdio.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define MS TS_MILLISECOND
#define ERR_NO_SUCH_HOST EHOSTUNREACH

static const char *err_text(int err)
{
    switch (err) {
    case 0: return "<nil>";
    case ERR_NO_SUCH_HOST: return "no such host";
    case ECANCELED: return "context canceled";
    default: return ts_strerror(err);
    }
}

struct fetch {
    const char *url;
    ts_ctx_t *ctx;     /* the group's; NULL in part 2 */
    int err;           /* outcome, read by main after Wait */
    atomic_int *cur;   /* part 2: fetches running now */
    atomic_int *max;   /* part 2: most at once */
};

/* download: 5 s of "transfer" that gives up when ctx is done. */
static int download(ts_ctx_t *ctx, int64_t d)
{
    ts_select_case_t done = TS_RECV_CASE(ts_ctx_done(ctx), NULL);
    if (ts_select_deadline(&done, 1, 0, ts_now() + d) == TS_SELECT_TIMEOUT)
        return 0;
    return ts_ctx_err(ctx);
}

static int fetch_url(void *arg)
{
    struct fetch *f = arg;
    if (strstr(f->url, "somestupidname")) {
        ts_sleep(MS);
        f->err = ERR_NO_SUCH_HOST;
    } else {
        f->err = download(f->ctx, 5 * TS_SECOND);
    }
    return f->err;
}

static bool part1(void)
{
    static const char *urls[] = {
        "http://www.golang.org/",
        "http://www.google.com/",
        "http://www.somestupidname.com/",
        "http://www.example.com/",
    };
    enum { N = sizeof urls / sizeof urls[0] };
    struct fetch fetches[N];
    ts_ctx_t *ctx;
    ts_errgroup_t *g = ts_errgroup_with_context(ts_ctx_background(), &ctx);
    if (!g)
        exit(1);
    printf("Part 1: errgroup.WithContext, %d fetches, one bad host\n", N);
    for (int i = 0; i < N; i++) {
        fetches[i] = (struct fetch){.url = urls[i], .ctx = ctx};
        ts_errgroup_go(g, fetch_url, &fetches[i]);
    }
    int err = ts_errgroup_wait(g);
    for (int i = 0; i < N; i++)
        printf("  %-32s %s\n", fetches[i].url, err_text(fetches[i].err));
    printf("g.Wait():          %s\n", err_text(err));
    printf("ctx.Err():         %s\n", err_text(ts_ctx_err(ctx)));
    printf("context.Cause():   %s\n", err_text(ts_ctx_cause(ctx)));
    bool ok = err == ERR_NO_SUCH_HOST && ts_ctx_err(ctx) == ECANCELED;
    ts_errgroup_free(g);
    return ok;
}

static int fetch_counted(void *arg)
{
    struct fetch *f = arg;
    int cur = atomic_fetch_add(f->cur, 1) + 1;
    int max = atomic_load(f->max);
    while (cur > max && !atomic_compare_exchange_weak(f->max, &max, cur))
        ;
    ts_sleep(5 * MS);
    atomic_fetch_sub(f->cur, 1);
    f->err = 0;
    return 0;
}

static bool part2(void)
{
    enum { N = 6 };
    struct fetch fetches[N];
    atomic_int cur = 0, max = 0;
    ts_errgroup_t *g = ts_errgroup_new();
    if (!g)
        exit(1);
    ts_errgroup_set_limit(g, 2);
    printf("Part 2: g.SetLimit(2), %d good fetches\n", N);
    for (int i = 0; i < N; i++) {
        fetches[i] = (struct fetch){.err = -1, .cur = &cur, .max = &max};
        ts_errgroup_go(g, fetch_counted, &fetches[i]);
    }
    int err = ts_errgroup_wait(g);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += fetches[i].err == 0;
    printf("g.Wait():          %s\n", err_text(err));
    printf("fetched:           %d of %d\n", ok, N);
    bool capped = atomic_load(&max) <= 2;
    printf("at most 2 at once: %s\n", capped ? "yes" : "no");
    ts_errgroup_free(g);
    return err == 0 && ok == N && capped;
}

static int main_task(void *arg)
{
    (void)arg;
    bool ok = part1();
    ok = part2() && ok;
    return ok ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
