/* aarch64_smoke.c — the runtime cross-compiled for aarch64 and run under
 * qemu-aarch64 (run_aarch64_qemu.sh, CTest arch.aarch64_qemu): does
 * switch_aarch64.S switch tasks without losing state?
 *
 * The parent never starts the runtime (it starts on the first ts_* call and
 * reads TASKSCOPE_PROCS once): it forks one child per configuration and one
 * for the stack overflow, checks each exit status, and prints "aarch64 ok"
 * last. A child runs every scenario below on 2, then on 4 worker threads:
 *   - ping-pong: 10,000 tasks, pairs over unbuffered and buffered channels;
 *   - select with a deadline: a timeout, and a send that beats the deadline;
 *   - ts_sleep, a channel timer, ts_after, ts_after_func, stop, a ticker;
 *   - tasks that yield in a loop, keeping integer and double counters;
 *   - callee-saved state: a recursive function with ten integers and eight
 *     doubles live across ts_yield calls (the compiler keeps them in x19-x28
 *     and d8-d15), run by many tasks at once so that each one's registers are
 *     clobbered by the others between switches, checked against the same
 *     computation without yields;
 *   - deep recursion (about 160 KiB of the 256 KiB stack) with yields, each
 *     frame checking its own stack bytes after every switch.
 * Two more children must die with status 2: a stack overflow (Go's "fatal
 * error: stack overflow"), and a panic, whose frame-pointer trace must end
 * at ts__trampoline (x29 == 0 there).
 * Checks print file:line and end the child with status 1. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <taskscope/taskscope.h>
#include <unistd.h>

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
            fflush(NULL);                                                  \
            _exit(1);                                                      \
        }                                                                  \
    } while (0)

static void send_u64(ts_chan_t *ch, uint64_t v)
{
    CHECK(ts_chan_send(ch, &v) == 0);
}

static uint64_t recv_u64(ts_chan_t *ch)
{
    uint64_t v = 0;
    bool ok = false;
    CHECK(ts_chan_recv(ch, &v, &ok) == 0 && ok);
    return v;
}

/* ---- ping-pong: 10,000 tasks ------------------------------------------- */

#define PAIRS 5000 /* a ping and a pong task each */
#define ROUNDS 20
#define BURST 4 /* buffered pairs: capacity and messages in flight */

struct pair {
    ts_chan_t *to, *back; /* both unbuffered, or both of capacity BURST */
    ts_chan_t *done;      /* the ping's checksum, to the main task */
    ts_chan_t *pong_done; /* the pong's count: it is done with to and back */
    int burst;            /* messages sent before the replies are read */
};

/* pong: answers 2x+1 until the channel closes, then reports how many. */
static void pong_task(void *arg)
{
    struct pair *p = arg;
    uint64_t x, n = 0;
    bool ok;
    while (ts_chan_recv(p->to, &x, &ok) == 0 && ok) {
        send_u64(p->back, 2 * x + 1);
        n++;
    }
    send_u64(p->pong_done, n);
}

static void ping_task(void *arg)
{
    struct pair *p = arg;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ROUNDS; i += (uint64_t)p->burst) {
        for (int k = 0; k < p->burst; k++)
            send_u64(p->to, i + (uint64_t)k);
        for (int k = 0; k < p->burst; k++) {
            uint64_t r = recv_u64(p->back);
            CHECK(r == 2 * (i + (uint64_t)k) + 1); /* in order, intact */
            sum += r;
        }
    }
    ts_chan_close(p->to);
    send_u64(p->done, sum);
}

static void scenario_pingpong(void)
{
    static struct pair pairs[PAIRS];
    ts_chan_t *done = ts_chan_make(sizeof(uint64_t), PAIRS);
    ts_chan_t *pong_done = ts_chan_make(sizeof(uint64_t), PAIRS);
    CHECK(done && pong_done);
    for (int i = 0; i < PAIRS; i++) {
        struct pair *p = &pairs[i];
        size_t cap = i % 2 ? BURST : 0;
        p->to = ts_chan_make(sizeof(uint64_t), cap);
        p->back = ts_chan_make(sizeof(uint64_t), cap);
        CHECK(p->to && p->back);
        p->done = done;
        p->pong_done = pong_done;
        p->burst = cap ? BURST : 1;
        CHECK(ts_go(pong_task, p) != 0);
        CHECK(ts_go(ping_task, p) != 0);
    }
    uint64_t want = (uint64_t)ROUNDS * ROUNDS; /* sum of 2i+1, i < ROUNDS */
    for (int i = 0; i < PAIRS; i++)
        CHECK(recv_u64(done) == want);
    /* Only once the pongs have left recv (woken by close) may the pair's
     * channels be freed. */
    for (int i = 0; i < PAIRS; i++)
        CHECK(recv_u64(pong_done) == ROUNDS);
    for (int i = 0; i < PAIRS; i++) {
        ts_chan_release(pairs[i].to);
        ts_chan_release(pairs[i].back);
    }
    ts_chan_release(done);
    ts_chan_release(pong_done);
    printf("  ping-pong: %d tasks, unbuffered and buffered: ok\n", 2 * PAIRS);
}

/* ---- select with a deadline -------------------------------------------- */

struct later {
    ts_chan_t *ch;
    int64_t delay;
};

static void send_later_task(void *arg)
{
    struct later *l = arg;
    ts_sleep(l->delay);
    send_u64(l->ch, 42);
}

static void scenario_select(void)
{
    ts_chan_t *ch = ts_chan_make(sizeof(uint64_t), 0);
    CHECK(ch);
    uint64_t v = 0;
    ts_select_case_t c[1] = {TS_RECV_CASE(ch, &v)};

    int64_t t0 = ts_now();
    CHECK(ts_select_deadline(c, 1, 0, t0 + 20 * TS_MILLISECOND) ==
          TS_SELECT_TIMEOUT);
    CHECK(ts_now() - t0 >= 20 * TS_MILLISECOND);

    struct later l = {ch, 5 * TS_MILLISECOND};
    CHECK(ts_go(send_later_task, &l) != 0);
    CHECK(ts_select_deadline(c, 1, 0, ts_now() + 30 * TS_SECOND) == 0);
    CHECK(c[0].ok && v == 42);
    ts_chan_release(ch);
    printf("  select with a deadline: timeout and ready case: ok\n");
}

/* ---- sleep and timers -------------------------------------------------- */

static void after_func(void *arg)
{
    CHECK(ts_self() != 0); /* runs in a task of its own */
    send_u64(arg, ts_self());
}

static void scenario_timers(void)
{
    int64_t t0 = ts_now();
    ts_sleep(15 * TS_MILLISECOND);
    CHECK(ts_now() - t0 >= 15 * TS_MILLISECOND);

    t0 = ts_now();
    ts_timer_t *t = ts_timer_new(10 * TS_MILLISECOND);
    CHECK(t);
    int64_t fired = 0;
    CHECK(ts_chan_recv(ts_timer_chan(t), &fired, NULL) == 0);
    CHECK(fired - t0 >= 10 * TS_MILLISECOND);
    ts_timer_free(t);

    ts_chan_t *after = ts_after(TS_MILLISECOND);
    CHECK(after);
    CHECK(ts_chan_recv(after, &fired, NULL) == 0 && fired > t0);
    ts_chan_release(after);

    ts_chan_t *ran = ts_chan_make(sizeof(uint64_t), 1);
    CHECK(ran);
    ts_timer_t *f = ts_after_func(2 * TS_MILLISECOND, after_func, ran);
    CHECK(f);
    CHECK(recv_u64(ran) != ts_self());
    ts_timer_free(f);
    ts_chan_release(ran);

    ts_timer_t *never = ts_timer_new(TS_HOUR);
    CHECK(never);
    CHECK(ts_timer_stop(never));
    ts_timer_free(never);

    ts_ticker_t *tk = ts_ticker_new(2 * TS_MILLISECOND);
    CHECK(tk);
    int64_t prev = 0;
    for (int i = 0; i < 3; i++) {
        int64_t tick = 0;
        CHECK(ts_chan_recv(ts_ticker_chan(tk), &tick, NULL) == 0);
        CHECK(tick > prev);
        prev = tick;
    }
    ts_ticker_free(tk);
    printf("  sleep, timer, after, after_func, stop, ticker: ok\n");
}

/* ---- yield loops ------------------------------------------------------- */

#define YIELDERS 16
#define YIELDS 2000

/* step: out of line, so both loops below round exactly alike. */
static __attribute__((noinline)) double step(double x)
{
    return x * 1.0001 + 0.5;
}

static void yield_task(void *arg)
{
    ts_chan_t *done = arg;
    uint64_t n = 0;
    double x = 1.0;
    for (int i = 0; i < YIELDS; i++) {
        n += (uint64_t)i;
        x = step(x);
        ts_yield();
    }
    double want = 1.0;
    for (int i = 0; i < YIELDS; i++)
        want = step(want);
    CHECK(n == (uint64_t)YIELDS * (YIELDS - 1) / 2);
    CHECK(x == want);
    send_u64(done, n);
}

static void scenario_yield(void)
{
    ts_chan_t *done = ts_chan_make(sizeof(uint64_t), YIELDERS);
    CHECK(done);
    for (int i = 0; i < YIELDERS; i++)
        CHECK(ts_go(yield_task, done) != 0);
    for (int i = 0; i < YIELDERS; i++)
        CHECK(recv_u64(done) == (uint64_t)YIELDS * (YIELDS - 1) / 2);
    ts_chan_release(done);
    printf("  %d tasks x %d yields: ok\n", YIELDERS, YIELDS);
}

/* ---- callee-saved registers across switches ---------------------------- */

#define CHURNERS 12
#define CHURN_DEPTH 300

/* churn: ten integers and eight doubles, all derived from s, stay live
 * across the recursive call and the yields around it, so the compiler holds
 * them in callee-saved registers (x19-x28, d8-d15) and only ts__switch
 * keeps them while other tasks run the same code with other values. */
static __attribute__((noinline)) uint64_t churn(int depth, uint64_t s,
                                                bool yields)
{
    uint64_t a = s * 0x9e3779b97f4a7c15u, b = a ^ (a >> 29), c = b * 31 + s;
    uint64_t d = c ^ (b << 7), e = d + a * 5, f = e ^ (c >> 3);
    uint64_t g = f * 17 + d, h = g ^ (e << 11), i = h + f * 3;
    uint64_t j = i ^ (g >> 5);
    double f0 = (double)(s & 0xffff) * 1.25, f1 = f0 * 0.75 + 3.0;
    double f2 = f1 * 1.5 - f0, f3 = f2 * 0.625 + f1, f4 = f3 * 1.125 - 2.0;
    double f5 = f4 * 0.875 + f2, f6 = f5 * 1.375 - f3, f7 = f6 * 0.5 + f4;
    if (yields)
        ts_yield();
    uint64_t r = depth > 0 ? churn(depth - 1, a + j, yields) : 0;
    if (yields && depth % 3 == 0)
        ts_yield();
    /* Chained through r, so nothing can be combined before the call. */
    r = (((r * 3 + a) ^ b) * 5 + c) ^ d;
    r = (((r + e) ^ f) * 7 + g) ^ h;
    r = ((r + i) ^ j) * 9;
    double x = (double)(r & 0xfff);
    x = ((x * f0 + f1) * 0.5 + f2) * 0.25 + f3;
    x = ((x * f4 - f5) * 0.125 + f6) * 0.0625 + f7;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return r + bits;
}

struct churn_job {
    uint64_t seed;
    ts_chan_t *done;
};

static void churn_task(void *arg)
{
    struct churn_job *j = arg;
    send_u64(j->done, churn(CHURN_DEPTH, j->seed, true));
}

static void scenario_callee_saved(void)
{
    static struct churn_job jobs[CHURNERS];
    ts_chan_t *done[CHURNERS];
    for (int i = 0; i < CHURNERS; i++) {
        done[i] = ts_chan_make(sizeof(uint64_t), 1);
        CHECK(done[i]);
        jobs[i] = (struct churn_job){.seed = 1000003u * (uint64_t)(i + 1),
                                     .done = done[i]};
        CHECK(ts_go(churn_task, &jobs[i]) != 0);
    }
    for (int i = 0; i < CHURNERS; i++) {
        CHECK(recv_u64(done[i]) == churn(CHURN_DEPTH, jobs[i].seed, false));
        ts_chan_release(done[i]);
    }
    printf("  x19-x28 and d8-d15 across %d switching tasks: ok\n", CHURNERS);
}

/* ---- deep recursion ---------------------------------------------------- */

#define DEEP_LEVELS 150 /* about 1.1 KiB each: 160 KiB of 256 KiB */

/* deep: fills its frame's pad with its depth, yields now and then, and
 * checks after every switch that its stack bytes are still its own. */
static __attribute__((noinline)) uint64_t deep(uint64_t depth)
{
    volatile unsigned char pad[1024];
    for (size_t k = 0; k < sizeof pad; k += 64)
        pad[k] = (unsigned char)(depth + k);
    if (depth % 10 == 0)
        ts_yield();
    uint64_t below = depth < DEEP_LEVELS ? deep(depth + 1) : 0;
    if (depth % 7 == 0)
        ts_yield();
    for (size_t k = 0; k < sizeof pad; k += 64)
        CHECK(pad[k] == (unsigned char)(depth + k));
    return below + depth;
}

static void deep_task(void *arg)
{
    send_u64(arg, deep(0));
}

static void scenario_deep(void)
{
    ts_chan_t *done = ts_chan_make(sizeof(uint64_t), 4);
    CHECK(done);
    for (int i = 0; i < 4; i++)
        CHECK(ts_go(deep_task, done) != 0);
    for (int i = 0; i < 4; i++)
        CHECK(recv_u64(done) == (uint64_t)DEEP_LEVELS * (DEEP_LEVELS + 1) / 2);
    ts_chan_release(done);
    printf("  deep recursion (%d KiB) with yields: ok\n",
           DEEP_LEVELS * 1100 / 1024);
}

/* ---- children ---------------------------------------------------------- */

static int smoke_main(void *arg)
{
    (void)arg;
    CHECK(ts_self() != 0);
    scenario_pingpong();
    scenario_select();
    scenario_timers();
    scenario_yield();
    scenario_callee_saved();
    scenario_deep();
    return 0;
}

/* Recursion without a reachable limit: must hit the guard page below the
 * stack. The volatile pad read after the call keeps it a real recursion. */
static __attribute__((noinline)) uint64_t overflow(uint64_t depth,
                                                   uint64_t limit)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    if (depth >= limit)
        return 0;
    return overflow(depth + 1, limit) + (uint64_t)pad[0];
}

static void overflow_task(void *arg)
{
    (void)arg;
    (void)overflow(0, UINT64_MAX);
    printf("UNREACHED: overflow returned\n");
}

static int overflow_main(void *arg)
{
    (void)arg;
    CHECK(ts_go(overflow_task, NULL) != 0);
    ts_chan_recv(NULL, NULL, NULL); /* blocks forever; the process dies */
    return 0;
}

/* A panic's frame-pointer walk: from ts_panic up through panic_deep and
 * panic_task (as many frames as the compiler left) to ts__task_main, whose
 * frame record holds x29 == 0 from ts__trampoline: the walk ends there. */
void ts__trampoline(void); /* switch_aarch64.S */

static __attribute__((noinline)) void panic_deep(int n)
{
    if (n == 0)
        ts_panic("boom from a task");
    panic_deep(n - 1);
    __asm__ __volatile__("" ::: "memory"); /* not a tail call: keep frames */
}

static void panic_task(void *arg)
{
    (void)arg;
    panic_deep(3);
}

static int panic_main(void *arg)
{
    (void)arg;
    CHECK(ts_go(panic_task, NULL) != 0);
    ts_chan_recv(NULL, NULL, NULL); /* blocks forever; the process dies */
    return 0;
}

/* panic_trace_ok: the trace (before "created by") has a few frames and
 * the last returns into ts__trampoline. Without libdw and dladdr (static)
 * each frame prints as "? pc=0x...". */
static bool panic_trace_ok(const char *err)
{
    const char *end = strstr(err, "created by ");
    if (!strstr(err, "panic: boom from a task\n") ||
        !strstr(err, "\ngoroutine ") || !end)
        return false;
    int frames = 0;
    uintptr_t last = 0;
    for (const char *p = err; (p = strstr(p, "pc=0x")) && p < end; p++) {
        last = (uintptr_t)strtoull(p + 5, NULL, 16);
        frames++;
    }
    return frames >= 4 && frames < 16 && last > (uintptr_t)ts__trampoline &&
           last <= (uintptr_t)ts__trampoline + 20;
}

/* run_child: fork, run main_fn under ts_run with TASKSCOPE_PROCS=procs, and
 * return the child's wait status; its stderr goes to err (NUL-terminated)
 * when err is given, else to ours. */
static int run_child(int (*main_fn)(void *), const char *procs, char *err,
                     size_t errsize)
{
    int fds[2];
    CHECK(!err || pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (err) {
            dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
        }
        setenv("TASKSCOPE_PROCS", procs, 1);
        int rc = ts_run(main_fn, NULL);
        fflush(NULL);
        _exit(rc);
    }
    if (err) {
        close(fds[1]);
        size_t n = 0;
        ssize_t r;
        while ((r = read(fds[0], err + n, errsize - 1 - n)) > 0)
            n += (size_t)r;
        err[n] = 0;
        close(fds[0]);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return status;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *procs[] = {"2", "4"};
    for (size_t i = 0; i < sizeof procs / sizeof *procs; i++) {
        printf("TASKSCOPE_PROCS=%s\n", procs[i]);
        int st = run_child(smoke_main, procs[i], NULL, 0);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            fprintf(stderr, "child with TASKSCOPE_PROCS=%s: status 0x%x\n",
                    procs[i], st);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }

    static char err[16384];
    int st = run_child(overflow_main, "2", err, sizeof err);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
          strstr(err, "fatal error: stack overflow\n")))
        fprintf(stderr, "overflow child: status 0x%x, stderr:\n%s\n", st,
                err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(strstr(err, "fatal error: stack overflow\n") != NULL);
    printf("stack overflow in a child: \"fatal error: stack overflow\", "
           "exit 2: ok\n");

    st = run_child(panic_main, "2", err, sizeof err);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 2 && panic_trace_ok(err)))
        fprintf(stderr, "panic child: status 0x%x, ts__trampoline at %p, "
                "stderr:\n%s\n", st, (void *)ts__trampoline, err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(panic_trace_ok(err));
    printf("panic in a task: trace ends at ts__trampoline, exit 2: ok\n");

    printf("aarch64 ok\n");
    return 0;
}
