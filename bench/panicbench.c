/* panicbench — what a protected frame costs (issue: panic/defer/recover).
 *
 *   panicbench plain|pcall|panic [n]
 *
 *   plain  a call through a function pointer to a function that returns
 *   pcall  ts_pcall of that function, which registers one ts_defer
 *          (the deferred call runs at the frame's end): Go's
 *          "func f() { defer g() }"
 *   panic  ts_pcall of a function that defers a recovering call and
 *          panics: Go's panic + recover
 * Prints "<name> <ns/op> ns/op", as tsbench and bench/go_defer do; runs on
 * the main thread (a plain thread: no task switch can be measured). */
#include <taskscope/taskscope.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile long sink;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void deferred(void *arg) { sink += (long)arg; }

static void body_plain(void *arg) { sink += (long)arg; }

static void body_defer(void *arg)
{
    ts_defer(deferred, arg);
    sink += (long)arg;
}

static void recovering(void *arg)
{
    (void)arg;
    if (ts_recover())
        sink++;
}

static void body_panic(void *arg)
{
    ts_defer(recovering, arg);
    ts_panic("bench");
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "pcall";
    long n = argc > 2 ? atol(argv[2]) : 20000000;
    void (*volatile plain)(void *) = body_plain;
    int64_t t0 = now_ns();
    if (strcmp(w, "plain") == 0) {
        for (long i = 0; i < n; i++)
            plain((void *)i);
    } else if (strcmp(w, "pcall") == 0) {
        for (long i = 0; i < n; i++)
            ts_pcall(body_defer, (void *)i, NULL);
    } else if (strcmp(w, "panic") == 0) {
        for (long i = 0; i < n; i++)
            ts_pcall(body_panic, (void *)i, NULL);
    } else {
        fprintf(stderr, "usage: panicbench plain|pcall|panic [n]\n");
        return 2;
    }
    printf("%s %.1f ns/op\n", w, (double)(now_ns() - t0) / (double)n);
    return 0;
}
