/* rate_limited_client.c — a client throttled by token buckets: one
 * limiter, then seed 002's multiLimiter (per-second and per-minute).
 *
 * Ported from 002_4afb6b829636c6ad.txt, "Rate Limiting":
 *   - Open() returns an APIConnection whose ReadFile and ResolveAddress
 *     each call rateLimiter.Wait(ctx) first; main starts 10 goroutines of
 *     each, a WaitGroup waits for all 20. First with rate.NewLimiter(
 *     rate.Limit(1), 1) (one event a second), then with
 *     MultiLimiter(secondLimit, minuteLimit), secondLimit = Per(2,
 *     time.Second) burst 1, minuteLimit = Per(10, time.Minute) burst 10,
 *     sorted by Limit() so that the most restrictive waits first.
 *
 * Differences from the seed:
 *   - part 1's one event a second becomes one every 20 ms (the 20 calls
 *     take ~0.4 s, not ~19 s); the program checks they took at least 19
 *     intervals (a limiter never lets a call through early);
 *   - part 2 keeps the seed's real limits, which would take minutes for 20
 *     calls; instead every call carries a context with a deadline 1.45 s
 *     away (a client timeout). Wait gives up at once when the deadline
 *     comes before the tokens would (Go's "would exceed context
 *     deadline"), so exactly 10 calls pass the per-minute bucket, of which
 *     the per-second one lets 3 through (at 0, 0.5 and 1.0 s; 1.5 s is too
 *     late) and 7 fail: 3 served, 17 rejected. The counts depend on no
 *     timing but a 0.45 s margin on each side;
 *   - the seed logs each call with log.Printf and a time; here main counts
 *     outcomes and prints counts, not times (per kind in part 1 only: in
 *     part 2 which callers get the 3 tokens depends on scheduling).
 *
 * Run: build/sample_apps/rate_limited_client (~1.5 s). */
#include <stdatomic.h>
#include <stdio.h>

#include <taskscope/taskscope.h>

#include "sample.h"

#define MS TS_MILLISECOND

/* Go's rate.Every-style helper of the seed: Per(n, d). */
static double per(int n, int64_t d)
{
    return ts_rate_every(d / n);
}

/* ---- APIConnection ------------------------------------------------------ */

struct api_connection {
    ts_limiter_t *single;      /* part 1: the only limiter */
    ts_multi_limiter_t *multi; /* part 2: per-second and per-minute */
};

static int limiter_wait(struct api_connection *a, ts_ctx_t *ctx)
{
    if (a->multi)
        return ts_multi_limiter_wait(a->multi, ctx);
    return ts_limiter_wait(a->single, ctx);
}

static int read_file(struct api_connection *a, ts_ctx_t *ctx)
{
    return limiter_wait(a, ctx);
}

static int resolve_address(struct api_connection *a, ts_ctx_t *ctx)
{
    return limiter_wait(a, ctx);
}

/* ---- the 20 callers ------------------------------------------------------ */

struct tally {
    atomic_int served[2];   /* ReadFile, ResolveAddress */
    atomic_int rejected[2];
    atomic_int other;       /* any other error: a bug */
};

struct caller {
    struct api_connection *api;
    ts_ctx_t *ctx;
    int kind;               /* 0: ReadFile, 1: ResolveAddress */
    struct tally *tally;
    ts_waitgroup_t *wg;
};

static void call(void *arg)
{
    struct caller *c = arg;
    int err = c->kind == 0 ? read_file(c->api, c->ctx)
                           : resolve_address(c->api, c->ctx);
    if (err == 0)
        atomic_fetch_add(&c->tally->served[c->kind], 1);
    else if (err == ETIMEDOUT)
        atomic_fetch_add(&c->tally->rejected[c->kind], 1);
    else
        atomic_fetch_add(&c->tally->other, 1);
    ts_waitgroup_done(c->wg);
}

/* run_callers: 10 ReadFile and 10 ResolveAddress tasks, all with ctx;
 * returns when all 20 returned. */
static void run_callers(struct api_connection *api, ts_ctx_t *ctx,
                        struct tally *t)
{
    static struct caller callers[20];
    ts_waitgroup_t wg = TS_WAITGROUP_INIT;
    ts_waitgroup_add(&wg, 20);
    for (int i = 0; i < 20; i++) {
        callers[i] = (struct caller){api, ctx, i / 10, t, &wg};
        sample_go(call, &callers[i]);
    }
    ts_waitgroup_wait(&wg);
}

static void print_tally(const struct tally *t)
{
    static const char *names[] = {"ReadFile", "ResolveAddress"};
    for (int k = 0; k < 2; k++)
        printf("  %-15s served %2d, rejected %2d\n", names[k],
               atomic_load(&t->served[k]), atomic_load(&t->rejected[k]));
}

/* ---- part 1: Open() with one limiter -------------------------------------- */

static bool part1(void)
{
    const int64_t interval = 20 * MS;
    struct api_connection api = {.single = ts_limiter_new(
                                     ts_rate_every(interval), 1)};
    struct tally t = {0};
    if (!api.single)
        exit(1);
    printf("Part 1: one limiter, 1 event per interval, burst 1\n");
    int64_t start = ts_now();
    run_callers(&api, ts_ctx_background(), &t);
    bool slow_enough = ts_now() - start >= 19 * interval - MS;
    print_tally(&t);
    printf("20 calls took at least 19 intervals: %s\n",
           slow_enough ? "yes" : "no");
    ts_limiter_free(api.single);
    return slow_enough && atomic_load(&t.other) == 0 &&
           t.served[0] + t.served[1] == 20;
}

/* ---- part 2: Open() with the multiLimiter ------------------------------- */

static bool part2(void)
{
    ts_limiter_t *second = ts_limiter_new(per(2, TS_SECOND), 1);
    ts_limiter_t *minute = ts_limiter_new(per(10, TS_MINUTE), 10);
    ts_limiter_t *ls[] = {second, minute};
    struct api_connection api = {.multi = ts_multi_limiter_new(ls, 2)};
    if (!second || !minute || !api.multi)
        exit(1);
    bool strictest = ts_multi_limiter_limit(api.multi) ==
                     ts_limiter_limit(minute);
    printf("Part 2: MultiLimiter(2 per second burst 1, 10 per minute burst "
           "10)\n");
    printf("Limit() is the per-minute limit: %s\n", strictest ? "yes" : "no");
    ts_cancel_t *cancel;
    ts_ctx_t *ctx = ts_ctx_with_timeout(ts_ctx_background(), 1450 * MS,
                                        &cancel);
    struct tally t = {0};
    run_callers(&api, ctx, &t);
    ts_cancel(cancel);
    int served = t.served[0] + t.served[1];
    int rejected = t.rejected[0] + t.rejected[1];
    printf("  all calls       served %2d, rejected %2d (deadline before the "
           "tokens)\n", served, rejected);
    ts_multi_limiter_free(api.multi);
    ts_limiter_free(second);
    ts_limiter_free(minute);
    return strictest && served == 3 && rejected == 17 &&
           atomic_load(&t.other) == 0;
}

static int main_task(void *arg)
{
    (void)arg;
    bool ok = part1();
    ok = part2() && ok;
    if (sample_wait_tasks() != 0)
        return 1;
    printf("Done\n");
    return ok ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
