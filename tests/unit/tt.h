/* tests/unit/tt.h — helpers shared by the cmocka suites (header only: every
 * tests/unit/test_*.c is its own executable).
 *
 * What is here and why:
 *   - TT_CHECK*: assertions usable inside tasks and plain threads. cmocka's
 *     assert_* longjmp to the test's jmp_buf on failure, which is only legal
 *     on the cmocka thread; a task or helper thread records the failure
 *     instead (first message kept, every one printed), and the test body
 *     calls tt_end(), which fails the test on the cmocka thread.
 *   - tt_setup/tt_teardown: per-test fixture. Records the live-task baseline
 *     and arms an alarm so a hang fails the suite with a message instead of
 *     waiting for ctest's 120 s kill.
 *   - tt_end(blocked): the closing check of every test: no recorded failure,
 *     and ts_num_tasks() back to the baseline plus the tasks the test left
 *     blocked forever on purpose.
 *   - tt_recv_within / tt_wait_*: bounded waits, so a runtime bug fails a
 *     test instead of hanging it.
 *   - introspection lookups (state, wait reason, wait object of a task).
 *   - scenarios: behaviours that end the process (panics, fatal errors) or
 *     need per-process settings (TASKSCOPE_PROCS, TASKSCOPE_STACK) run in a
 *     child: the test binary re-executes itself as
 *     `<exe> --scenario <name>` with extra environment, and the parent
 *     matches exit status and output (Go's crash_test.go / testprog).
 *   - tt_scale(): TASKSCOPE_TEST_SCALE (float, default 1.0) scales the
 *     iteration counts of stress tests (the TSan pass uses 0.2).
 */
#ifndef TS_TESTS_UNIT_TT_H
#define TS_TESTS_UNIT_TT_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <taskscope/taskscope.h>

#include "runtime/introspect.h"
#include "runtime/waitreason.h"

#define TT_UNUSED __attribute__((unused))

/* Generous bound for anything that must happen "soon": long enough that a
 * loaded CI machine or a TSan build never hits it, short enough that a bug
 * fails the suite inside ctest's timeout. */
#define TT_SOON (20 * TS_SECOND)
/* Per-test alarm, seconds. */
#define TT_ALARM_SECONDS 100

extern char **environ;

/* ---- scale ------------------------------------------------------------ */

static TT_UNUSED double tt_scale(void)
{
    static double scale = -1.0;
    if (scale < 0) {
        const char *s = getenv("TASKSCOPE_TEST_SCALE");
        double v = s ? strtod(s, NULL) : 1.0;
        scale = (v > 0) ? v : 1.0;
    }
    return scale;
}

/* n scaled by TASKSCOPE_TEST_SCALE, never below min. */
static TT_UNUSED long tt_scaled(long n, long min)
{
    long v = (long)((double)n * tt_scale());
    return v < min ? min : v;
}

/* ---- failures recorded off the cmocka thread -------------------------- */

static atomic_int tt_failures;
static atomic_flag tt_first_taken = ATOMIC_FLAG_INIT;
static char tt_first_msg[512];

static TT_UNUSED void tt_failf(const char *file, int line, const char *fmt,
                               ...) __attribute__((format(printf, 3, 4)));
static TT_UNUSED void tt_failf(const char *file, int line, const char *fmt,
                               ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: check failed (task %llu): %s\n", file, line,
            (unsigned long long)ts_self(), msg);
    if (!atomic_flag_test_and_set(&tt_first_taken))
        snprintf(tt_first_msg, sizeof tt_first_msg, "%s:%d: %s", file, line,
                 msg);
    atomic_fetch_add(&tt_failures, 1);
}

#define TT_CHECK(cond)                                                     \
    do {                                                                   \
        if (!(cond))                                                       \
            tt_failf(__FILE__, __LINE__, "%s", #cond);                     \
    } while (0)

#define TT_CHECK_EQ(a, b)                                                  \
    do {                                                                   \
        long long tt_a_ = (long long)(a), tt_b_ = (long long)(b);          \
        if (tt_a_ != tt_b_)                                                \
            tt_failf(__FILE__, __LINE__, "%s == %s (%lld != %lld)", #a, #b, \
                     tt_a_, tt_b_);                                        \
    } while (0)

/* Record and return `ret` from the enclosing function (use `(void)0`-less
 * TT_REQUIRE_V in void functions). */
#define TT_REQUIRE(cond, ret)                                              \
    do {                                                                   \
        if (!(cond)) {                                                     \
            tt_failf(__FILE__, __LINE__, "%s", #cond);                     \
            return ret;                                                    \
        }                                                                  \
    } while (0)
#define TT_REQUIRE_V(cond)                                                 \
    do {                                                                   \
        if (!(cond)) {                                                     \
            tt_failf(__FILE__, __LINE__, "%s", #cond);                     \
            return;                                                        \
        }                                                                  \
    } while (0)

/* ---- fixture ---------------------------------------------------------- */

static int64_t tt_baseline;

static TT_UNUSED void tt_on_alarm(int sig)
{
    static const char msg[] =
        "\n*** test timed out (TT_ALARM_SECONDS); a blocking call never "
        "returned ***\n";
    (void)sig;
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(3);
}

static TT_UNUSED int tt_setup(void **state)
{
    (void)state;
    atomic_store(&tt_failures, 0);
    atomic_flag_clear(&tt_first_taken);
    tt_first_msg[0] = '\0';
    signal(SIGALRM, tt_on_alarm);
    alarm(TT_ALARM_SECONDS);
    tt_baseline = ts_num_tasks();
    return 0;
}

static TT_UNUSED int tt_teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

#define TT_TEST(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)

/* Waits (bounded) until ts_num_tasks() == want; returns the last count. */
static TT_UNUSED int64_t tt_wait_num_tasks(int64_t want, int64_t timeout)
{
    int64_t deadline = ts_now() + timeout;
    int64_t n;
    while ((n = ts_num_tasks()) != want && ts_now() < deadline)
        ts_sleep(TS_MILLISECOND);
    return n;
}

/* The closing check of a test, on the cmocka thread: nothing failed in a
 * task or thread, and every task the test created has returned except the
 * `blocked` ones it left blocked forever on purpose. */
static TT_UNUSED void tt_end(int64_t blocked)
{
    if (atomic_load(&tt_failures) != 0)
        fail_msg("%d check(s) failed off the test thread; first: %s",
                 atomic_load(&tt_failures), tt_first_msg);
    int64_t n = tt_wait_num_tasks(tt_baseline + blocked, TT_SOON);
    if (n != tt_baseline + blocked)
        fail_msg("task leak: ts_num_tasks() = %lld, expected baseline %lld "
                 "+ %lld blocked forever",
                 (long long)n, (long long)tt_baseline, (long long)blocked);
}

/* ---- bounded channel waits ------------------------------------------ */

/* Receive within timeout: 0, or ETIMEDOUT. */
static TT_UNUSED int tt_recv_within(ts_chan_t *ch, void *out, bool *ok,
                                    int64_t timeout)
{
    ts_select_case_t c = TS_RECV_CASE(ch, out);
    int r = ts_select_deadline(&c, 1, 0, ts_now() + timeout);
    if (r == TS_SELECT_TIMEOUT)
        return ETIMEDOUT;
    if (r != 0)
        return EINVAL;
    if (ok)
        *ok = c.ok;
    return 0;
}

/* Send within timeout: 0, or ETIMEDOUT. */
static TT_UNUSED int tt_send_within(ts_chan_t *ch, const void *elem,
                                    int64_t timeout)
{
    ts_select_case_t c = TS_SEND_CASE(ch, elem);
    int r = ts_select_deadline(&c, 1, 0, ts_now() + timeout);
    if (r == TS_SELECT_TIMEOUT)
        return ETIMEDOUT;
    return r == 0 ? 0 : EINVAL;
}

/* Receive n signals from a zero-size "done" channel before one shared
 * deadline; returns how many arrived. */
static TT_UNUSED long tt_wait_done(ts_chan_t *done, long n, int64_t timeout)
{
    int64_t deadline = ts_now() + timeout;
    long got = 0;
    while (got < n) {
        ts_select_case_t c = TS_RECV_CASE(done, NULL);
        int r = ts_select_deadline(&c, 1, 0, deadline);
        if (r != 0 || !c.ok)
            break;
        got++;
    }
    return got;
}

/* Signal a zero-size "done" channel. */
static TT_UNUSED void tt_signal(ts_chan_t *done)
{
    char unused = 0;
    int r = ts_chan_send(done, &unused);
    if (r != 0)
        tt_failf(__FILE__, __LINE__, "ts_chan_send(done) = %d", r);
}

/* ---- introspection ---------------------------------------------------- */

struct tt_find {
    uint64_t id;
    struct ts_task_info info;
};

static TT_UNUSED int tt_find_cb(const struct ts_task_info *info, void *arg)
{
    struct tt_find *f = arg;
    if (info->id != f->id)
        return 0;
    f->info = *info;
    return 1;
}

/* Snapshot of task id; false when no such live task. */
static TT_UNUSED bool tt_task_info(uint64_t id, struct ts_task_info *out)
{
    struct tt_find f = {.id = id};
    if (ts_introspect_tasks(tt_find_cb, &f) != 1)
        return false;
    if (out)
        *out = f.info;
    return true;
}

/* Waits (bounded) until task id is WAITING with the given reason (any
 * reason when reason < 0); fills *out with the snapshot that matched. */
static TT_UNUSED bool tt_wait_parked(uint64_t id, int reason, int64_t timeout,
                                     struct ts_task_info *out)
{
    int64_t deadline = ts_now() + timeout;
    struct ts_task_info info;
    for (;;) {
        if (tt_task_info(id, &info) && info.state == TS_TASK_WAITING &&
            (reason < 0 || info.wait_reason == reason)) {
            if (out)
                *out = info;
            return true;
        }
        if (ts_now() >= deadline)
            return false;
        ts_sleep(TS_MILLISECOND / 2);
    }
}

struct tt_count_on {
    const void *obj;
    int reason;
    int n;
};

static TT_UNUSED int tt_count_on_cb(const struct ts_task_info *info,
                                    void *arg)
{
    struct tt_count_on *c = arg;
    if (info->state == TS_TASK_WAITING && info->wait_object == c->obj &&
        (c->reason < 0 || info->wait_reason == c->reason))
        c->n++;
    return 0;
}

/* Tasks parked on obj with the reason (any when reason < 0). */
static TT_UNUSED int tt_count_parked_on(const void *obj, int reason)
{
    struct tt_count_on c = {.obj = obj, .reason = reason};
    ts_introspect_tasks(tt_count_on_cb, &c);
    return c.n;
}

/* Waits (bounded) until at least n tasks are parked on obj. */
static TT_UNUSED bool tt_wait_parked_on(const void *obj, int reason, int n,
                                        int64_t timeout)
{
    int64_t deadline = ts_now() + timeout;
    while (tt_count_parked_on(obj, reason) < n) {
        if (ts_now() >= deadline)
            return false;
        ts_sleep(TS_MILLISECOND / 2);
    }
    return true;
}

/* ---- plain threads ---------------------------------------------------- */

static TT_UNUSED pthread_t tt_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int r = pthread_create(&t, NULL, fn, arg);
    if (r != 0)
        fail_msg("pthread_create: %s", strerror(r));
    return t;
}

static TT_UNUSED void tt_join(pthread_t t)
{
    int r = pthread_join(t, NULL);
    if (r != 0)
        fail_msg("pthread_join: %s", strerror(r));
}

/* ---- child scenarios -------------------------------------------------- */

struct tt_scenario {
    const char *name;
    int (*fn)(void); /* its return value is the child's exit status */
};

struct tt_child {
    int status;     /* from waitpid */
    bool timed_out; /* killed by the parent after the timeout */
    char out[16384];
    size_t out_len;
    char err[65536];
    size_t err_len;
};

/* Child side: run the named scenario if argv asks for one. Returns -1 when
 * argv is not `--scenario NAME` (run the cmocka suite then). */
static TT_UNUSED int tt_scenario_main(int argc, char **argv,
                                      const struct tt_scenario *sc, size_t n)
{
    if (argc != 3 || strcmp(argv[1], "--scenario") != 0)
        return -1;
    alarm(60); /* a hung scenario dies; the parent also times out */
    setvbuf(stdout, NULL, _IONBF, 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(sc[i].name, argv[2]) == 0)
            return sc[i].fn();
    fprintf(stderr, "unknown scenario %s\n", argv[2]);
    return 100;
}

static TT_UNUSED void tt_append(char *buf, size_t cap, size_t *len,
                                const char *data, size_t n)
{
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(buf + *len, data, n);
    *len += n;
    buf[*len] = '\0';
}

/* Parent side: run `<self> --scenario name` with env_add (NULL-terminated
 * "NAME=value" strings overriding the environment), capture stdout and
 * stderr, kill it after timeout. Returns 0, or an errno from the spawn. */
static TT_UNUSED int tt_run_child(const char *name,
                                  const char *const *env_add,
                                  int64_t timeout, struct tt_child *c)
{
    memset(c, 0, sizeof *c);
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0)
        return errno;
    exe[el] = '\0';

    /* environment: ours minus the overridden names, plus env_add */
    size_t nenv = 0, nadd = 0;
    while (environ[nenv])
        nenv++;
    while (env_add && env_add[nadd])
        nadd++;
    char **envp = calloc(nenv + nadd + 1, sizeof *envp);
    if (!envp)
        return ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool overridden = false;
        for (size_t j = 0; j < nadd; j++) {
            size_t l = strcspn(env_add[j], "=");
            if (strncmp(environ[i], env_add[j], l) == 0 &&
                environ[i][l] == '=')
                overridden = true;
        }
        if (!overridden)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nadd; j++)
        envp[k++] = (char *)env_add[j];
    envp[k] = NULL;

    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0) {
        free(envp);
        return errno;
    }
    if (pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        free(envp);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    char *argv[] = {exe, "--scenario", (char *)name, NULL};
    pid_t pid;
    int r = posix_spawn(&pid, exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(po[1]);
    close(pe[1]);
    if (r != 0) {
        close(po[0]);
        close(pe[0]);
        return r;
    }

    int64_t deadline = ts_now() + timeout;
    struct pollfd pfd[2] = {{.fd = po[0], .events = POLLIN},
                            {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        int64_t left = deadline - ts_now();
        if (left <= 0) {
            c->timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        int pr = poll(pfd, 2, (int)(left / TS_MILLISECOND) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP |
                                                     POLLERR)))
                continue;
            char buf[4096];
            ssize_t n = read(pfd[i].fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    tt_append(c->out, sizeof c->out, &c->out_len, buf,
                              (size_t)n);
                else
                    tt_append(c->err, sizeof c->err, &c->err_len, buf,
                              (size_t)n);
            } else if (n == 0 || (n < 0 && errno != EINTR)) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

/* Run a scenario and fail the test (with its output) unless it ran to an
 * end within the timeout. */
static TT_UNUSED void tt_child(const char *name, const char *const *env_add,
                               struct tt_child *c)
{
    int r = tt_run_child(name, env_add, 30 * TS_SECOND, c);
    if (r != 0)
        fail_msg("spawning scenario %s: %s", name, strerror(r));
    if (c->timed_out)
        fail_msg("scenario %s timed out\nstdout:\n%s\nstderr:\n%s", name,
                 c->out, c->err);
}

/* Exit status, or -signal when killed by a signal. */
static TT_UNUSED int tt_child_exit(const struct tt_child *c)
{
    if (WIFEXITED(c->status))
        return WEXITSTATUS(c->status);
    if (WIFSIGNALED(c->status))
        return -WTERMSIG(c->status);
    return -1000;
}

/* Fail unless the child exited with status 0; shows its output. */
static TT_UNUSED void tt_expect_child_ok(const char *name,
                                         const struct tt_child *c)
{
    if (tt_child_exit(c) != 0)
        fail_msg("scenario %s: exit %d\nstdout:\n%s\nstderr:\n%s", name,
                 tt_child_exit(c), c->out, c->err);
}

/* Run scenario in a child with TASKSCOPE_PROCS=procs (a per-process
 * setting) and fail unless it exits 0. */
static TT_UNUSED void tt_expect_scenario_ok(const char *scenario, int procs)
{
    char procs_env[32], name[160];
    snprintf(procs_env, sizeof procs_env, "TASKSCOPE_PROCS=%d", procs);
    snprintf(name, sizeof name, "%s (%s)", scenario, procs_env);
    const char *const env[] = {procs_env, NULL};
    struct tt_child c;
    tt_child(scenario, env, &c);
    tt_expect_child_ok(name, &c);
}

/* The unrecovered-panic contract of panic.h: "panic: <msg>" on stderr and
 * exit status 2, and the scenario did not go on after the panicking call
 * (it prints "UNREACHED" if it does). */
static TT_UNUSED void tt_expect_panic(const char *scenario, const char *msg)
{
    struct tt_child c;
    tt_child(scenario, NULL, &c);
    char want[256];
    snprintf(want, sizeof want, "panic: %s", msg);
    if (tt_child_exit(&c) != 2 || strstr(c.err, want) == NULL ||
        strstr(c.out, "UNREACHED") != NULL)
        fail_msg("scenario %s: want exit 2 and \"%s\" on stderr; got exit "
                 "%d\nstdout:\n%s\nstderr:\n%s",
                 scenario, want, tt_child_exit(&c), c.out, c.err);
}

/* ---- panics ----------------------------------------------------------- */

/* tt_recover_quiet: a deferred call that stops any panic. */
static TT_UNUSED void tt_recover_quiet(void *arg)
{
    (void)arg;
    (void)ts_recover();
}

struct tt_call {
    void (*op)(void *);
    void *arg;
};

static TT_UNUSED void tt_recovering_body(void *arg)
{
    struct tt_call *c = arg;
    ts_defer(tt_recover_quiet, NULL);
    c->op(c->arg);
}

/* tt_panic_of: run op(arg) in a protected call that recovers; true when it
 * panicked, with the value in *v. */
static TT_UNUSED bool tt_panic_of(void (*op)(void *), void *arg,
                                  ts_panic_value_t *v)
{
    struct tt_call c = {op, arg};
    return ts_pcall(tt_recovering_body, &c, v) == TS_PANIC_RECOVERED;
}

/* tt_misuse_panic: op(arg) raised the misuse panic msg (TS_PANIC_MISUSE);
 * says on stderr what it raised otherwise. */
static TT_UNUSED bool tt_misuse_panic(void (*op)(void *), void *arg,
                                      const char *msg)
{
    ts_panic_value_t v;
    if (!tt_panic_of(op, arg, &v))
        return false;
    if (v.code != TS_PANIC_MISUSE || strcmp(v.message, msg) != 0) {
        fprintf(stderr, "panic %d \"%s\", want \"%s\"\n", v.code, v.message,
                msg);
        return false;
    }
    return true;
}

/* ---- misc ------------------------------------------------------------- */

/* xorshift64*: deterministic pseudo-random numbers for test inputs. */
static TT_UNUSED uint64_t tt_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Start a task; fail the test (cmocka thread) if no id came back. */
static TT_UNUSED uint64_t tt_go(void (*fn)(void *), void *arg)
{
    uint64_t id = ts_go(fn, arg);
    if (id == 0)
        tt_failf(__FILE__, __LINE__, "ts_go returned 0");
    return id;
}

#endif
