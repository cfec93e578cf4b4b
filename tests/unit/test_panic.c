/* Panic, defer and recover (include/taskscope/panic.h): Go's rules for
 * deferred calls, recover, nested frames and panics while panicking;
 * faults as runtime panics in tasks and threads; the unrecovered report.
 *
 * Linked with the shared library: a fault is recoverable only in the
 * program's own code, which in a static link shares its module with the
 * runtime (sigpanic.c). Tests that fault, or end the process, run as
 * scenarios in a child (tt.h), where cmocka has not replaced the runtime's
 * fault handlers with its own. */
#include <sys/resource.h>

#include "tt.h"

#define MAXLOG 256

/* Under a sanitizer its own SIGSEGV handler was there first: the faults
 * the runtime passes on go to it, and it reports them (exit 66 for TSan). */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZER 1
#endif
#endif
#ifndef SANITIZER
#define SANITIZER 0
#endif

/* passed_on: the child ended the way a fault the runtime passed on ends:
 * killed by SIGSEGV, or reported by the sanitizer. */
static bool passed_on(const struct tt_child *c)
{
    if (SANITIZER)
        return tt_child_exit(c) != 0 && strstr(c->err, "Sanitizer: SEGV");
    return tt_child_exit(c) == -SIGSEGV;
}

/* ---- a log of what ran, in order -------------------------------------- */

struct log {
    int n;
    int v[MAXLOG];
};

static void log_add(struct log *l, int v)
{
    if (l->n < MAXLOG)
        l->v[l->n++] = v;
}

struct mark {
    struct log *log;
    int v;
};

static void defer_mark(void *arg)
{
    struct mark *m = arg;
    log_add(m->log, m->v);
}

struct rec {
    struct log *log;
    int v;
    const ts_panic_value_t *got;
    char msg[TS_PANIC_MESSAGE_MAX];
};

static void defer_recover(void *arg)
{
    struct rec *r = arg;
    log_add(r->log, r->v);
    r->got = ts_recover();
    if (r->got)
        snprintf(r->msg, sizeof r->msg, "%s", r->got->message);
}

/* ---- normal return -------------------------------------------------- */

struct three {
    struct log log;
    struct mark m[3];
};

static void defer_three(void *arg)
{
    struct three *t = arg;
    for (int i = 0; i < 3; i++) {
        t->m[i] = (struct mark){&t->log, i + 1};
        ts_defer(defer_mark, &t->m[i]);
    }
    log_add(&t->log, 0);
}

/* Deferred calls run last in, first out after the function returns, and
 * ts_pcall returns 0 leaving the value empty. */
static void test_defers_run_lifo_on_return(void **state)
{
    (void)state;
    struct three t = {0};
    ts_panic_value_t v;
    memset(&v, 0x5a, sizeof v);
    assert_int_equal(0, ts_pcall(defer_three, &t, &v));
    assert_int_equal(4, t.log.n);
    int want[] = {0, 3, 2, 1};
    for (int i = 0; i < 4; i++)
        assert_int_equal(want[i], t.log.v[i]);
    assert_int_equal('\0', v.message[0]);
    assert_int_equal(0, v.nframes);
    tt_end(0);
}

struct many {
    struct log log;
    struct mark m[100];
    bool panic;
};

static void defer_many(void *arg)
{
    struct many *t = arg;
    for (int i = 0; i < 100; i++) {
        t->m[i] = (struct mark){&t->log, i};
        ts_defer(defer_mark, &t->m[i]);
    }
    if (t->panic)
        ts_panic("after 100 defers");
}

struct outer_many {
    struct many inner;
    struct rec rec;
    int r;
};

static void pcall_many_recovering(void *arg)
{
    struct outer_many *o = arg;
    o->rec = (struct rec){&o->inner.log, -1, NULL, ""};
    ts_defer(defer_recover, &o->rec);
    o->r = ts_pcall(defer_many, &o->inner, NULL);
}

/* More deferred calls than the frame holds inline: all run, in order, on a
 * normal return and on a panic that an outer frame recovers. */
static void test_many_defers_in_order(void **state)
{
    (void)state;
    for (int p = 0; p < 2; p++) {
        struct outer_many o = {0};
        o.inner.panic = p;
        assert_int_equal(p ? TS_PANIC_RECOVERED : 0,
                         ts_pcall(pcall_many_recovering, &o, NULL));
        assert_int_equal(101, o.inner.log.n);
        for (int i = 0; i < 100; i++)
            assert_int_equal(99 - i, o.inner.log.v[i]);
        assert_int_equal(-1, o.inner.log.v[100]);
        if (p)
            assert_string_equal("after 100 defers", o.rec.msg);
        else
            assert_null(o.rec.got);
    }
    tt_end(0);
}

/* ---- recover ------------------------------------------------------------ */

struct recov {
    struct log log;
    struct mark before, after;
    struct rec rec;
};

static void __attribute__((noinline)) deep(int n, int code)
{
    if (n == 0)
        ts_panic_code(code, "deep panic %d", code);
    if (n > 0) /* (never negative: a way out the compiler sees) */
        deep(n - 1, code);
    __asm__ volatile("");
}

static void recovering(void *arg)
{
    struct recov *r = arg;
    r->before = (struct mark){&r->log, 1};
    ts_defer(defer_mark, &r->before);
    r->rec = (struct rec){&r->log, 2, NULL, ""};
    ts_defer(defer_recover, &r->rec);
    r->after = (struct mark){&r->log, 3};
    ts_defer(defer_mark, &r->after);
    deep(5, 42);
    log_add(&r->log, 99); /* never */
}

/* A panic several C frames down runs the frame's deferred calls; the one
 * that recovers stops it, the ones registered before it still run, the
 * function's code after the panic does not, and ts_pcall returns
 * TS_PANIC_RECOVERED with the value, its code and its stack. */
static void test_recover_stops_panic(void **state)
{
    (void)state;
    struct recov r = {0};
    ts_panic_value_t v;
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(recovering, &r, &v));
    assert_int_equal(3, r.log.n);
    assert_int_equal(3, r.log.v[0]);
    assert_int_equal(2, r.log.v[1]);
    assert_int_equal(1, r.log.v[2]);
    assert_string_equal("deep panic 42", r.rec.msg);
    assert_string_equal("deep panic 42", v.message);
    assert_int_equal(42, v.code);
    assert_int_equal(0, v.signo);
    assert_true(v.nframes >= 7); /* deep x6, recovering, ... */
    assert_true(v.pc == v.frames[0]);
    tt_end(0);
}

static void recover_in_body(void *arg)
{
    const ts_panic_value_t **got = arg;
    *got = ts_recover();
}

struct no_panic {
    struct log log;
    struct rec rec;
};

static void recover_without_panic(void *arg)
{
    struct no_panic *n = arg;
    n->rec = (struct rec){&n->log, 1, (void *)1, ""};
    ts_defer(defer_recover, &n->rec);
}

/* recover returns NULL outside a panic: in the function body, and in a
 * deferred call run by a normal return. */
static void test_recover_null_without_panic(void **state)
{
    (void)state;
    const ts_panic_value_t *got = (void *)1;
    assert_int_equal(0, ts_pcall(recover_in_body, &got, NULL));
    assert_null(got);
    assert_null(ts_recover());
    struct no_panic n = {0};
    assert_int_equal(0, ts_pcall(recover_without_panic, &n, NULL));
    assert_int_equal(1, n.log.n);
    assert_null(n.rec.got);
    tt_end(0);
}

struct indirect {
    struct log log;
    const ts_panic_value_t *inner_got;
    struct rec outer;
};

static void try_recover_inside(void *arg)
{
    struct indirect *d = arg;
    d->inner_got = ts_recover();
}

static void defer_recover_through_pcall(void *arg)
{
    struct indirect *d = arg;
    log_add(&d->log, 1);
    ts_pcall(try_recover_inside, d, NULL);
}

static void panics_with_indirect_recover(void *arg)
{
    ts_defer(defer_recover_through_pcall, arg);
    ts_panic("not recovered here");
}

static void outer_of_indirect(void *arg)
{
    struct indirect *d = arg;
    d->outer = (struct rec){&d->log, 2, NULL, ""};
    ts_defer(defer_recover, &d->outer);
    ts_pcall(panics_with_indirect_recover, d, NULL);
    log_add(&d->log, 99); /* never: the panic went on */
}

/* recover only works called by the deferred call itself: through another
 * ts_pcall it returns NULL, and the panic goes on to the outer frame. */
static void test_recover_only_directly_in_deferred_call(void **state)
{
    (void)state;
    struct indirect d = {0};
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(outer_of_indirect, &d, NULL));
    assert_null(d.inner_got);
    assert_int_equal(2, d.log.n);
    assert_int_equal(1, d.log.v[0]);
    assert_int_equal(2, d.log.v[1]);
    assert_string_equal("not recovered here", d.outer.msg);
    tt_end(0);
}

static void defer_recover_twice(void *arg)
{
    const ts_panic_value_t **got = arg;
    got[0] = ts_recover();
    got[1] = ts_recover();
}

static void panics_recover_twice(void *arg)
{
    ts_defer(defer_recover_twice, arg);
    ts_panic("once");
}

/* A panic is recovered once: a second ts_recover returns NULL. */
static void test_recover_once(void **state)
{
    (void)state;
    const ts_panic_value_t *got[2] = {NULL, (void *)1};
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(panics_recover_twice, got, NULL));
    assert_non_null(got[0]);
    assert_null(got[1]);
    tt_end(0);
}

/* ---- nested frames and panics while panicking ---------------------------- */

struct nest {
    struct log log;
    struct mark inner_mark;
    struct rec outer_rec;
    int inner_r;
};

static void inner_no_recover(void *arg)
{
    struct nest *n = arg;
    n->inner_mark = (struct mark){&n->log, 1};
    ts_defer(defer_mark, &n->inner_mark);
    ts_panic("from inner");
}

static void outer_recovers(void *arg)
{
    struct nest *n = arg;
    n->outer_rec = (struct rec){&n->log, 2, NULL, ""};
    ts_defer(defer_recover, &n->outer_rec);
    n->inner_r = ts_pcall(inner_no_recover, n, NULL);
    log_add(&n->log, 99); /* never */
}

/* A panic the inner frame does not recover runs the inner deferred calls,
 * then the outer ones; the inner ts_pcall never returns. */
static void test_panic_crosses_frames(void **state)
{
    (void)state;
    struct nest n = {.inner_r = -7};
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(outer_recovers, &n, NULL));
    assert_int_equal(-7, n.inner_r);
    assert_int_equal(2, n.log.n);
    assert_int_equal(1, n.log.v[0]);
    assert_int_equal(2, n.log.v[1]);
    assert_string_equal("from inner", n.outer_rec.msg);
    tt_end(0);
}

static void inner_recovers(void *arg)
{
    struct nest *n = arg;
    n->outer_rec = (struct rec){&n->log, 1, NULL, ""};
    ts_defer(defer_recover, &n->outer_rec);
    ts_panic("caught inside");
}

static void outer_goes_on(void *arg)
{
    struct nest *n = arg;
    n->inner_mark = (struct mark){&n->log, 3};
    ts_defer(defer_mark, &n->inner_mark);
    n->inner_r = ts_pcall(inner_recovers, n, NULL);
    log_add(&n->log, 2);
}

/* A panic recovered by the inner frame leaves the outer one running
 * normally. */
static void test_inner_recovery_outer_continues(void **state)
{
    (void)state;
    struct nest n = {0};
    assert_int_equal(0, ts_pcall(outer_goes_on, &n, NULL));
    assert_int_equal(TS_PANIC_RECOVERED, n.inner_r);
    assert_int_equal(3, n.log.n);
    for (int i = 0; i < 3; i++)
        assert_int_equal(i + 1, n.log.v[i]);
    tt_end(0);
}

static void defer_panics(void *arg)
{
    (void)arg;
    ts_panic("second");
}

static void panic_then_defer_panics(void *arg)
{
    struct nest *n = arg;
    n->inner_mark = (struct mark){&n->log, 1};
    ts_defer(defer_mark, &n->inner_mark); /* runs, under the second panic */
    ts_defer(defer_panics, NULL);
    ts_panic("first");
}

static void outer_of_double(void *arg)
{
    struct nest *n = arg;
    n->outer_rec = (struct rec){&n->log, 2, NULL, ""};
    ts_defer(defer_recover, &n->outer_rec);
    ts_pcall(panic_then_defer_panics, n, NULL);
}

/* A deferred call that panics while a panic runs it: the new panic takes
 * over, the remaining deferred calls run, and recover returns the newest. */
static void test_panic_in_deferred_call_replaces(void **state)
{
    (void)state;
    struct nest n = {0};
    ts_panic_value_t v;
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(outer_of_double, &n, &v));
    assert_string_equal("second", v.message);
    assert_int_equal(2, n.log.n);
    assert_int_equal(1, n.log.v[0]);
    assert_int_equal(2, n.log.v[1]);
    tt_end(0);
}

static void defer_recover_and_repanic(void *arg)
{
    (void)arg;
    const ts_panic_value_t *v = ts_recover();
    if (v)
        ts_repanic(v);
}

static void repanicking(void *arg)
{
    (void)arg;
    ts_defer(defer_recover_and_repanic, NULL);
    ts_panic_code(7, "again");
}

static void outer_of_repanic(void *arg)
{
    (void)arg;
    ts_defer(tt_recover_quiet, NULL);
    ts_pcall(repanicking, NULL, NULL);
}

/* ts_repanic raises a recovered value again, out of the frame that
 * recovered it: the outer frame gets the same message and code. */
static void test_repanic(void **state)
{
    (void)state;
    ts_panic_value_t v;
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(outer_of_repanic, NULL, &v));
    assert_string_equal("again", v.message);
    assert_int_equal(7, v.code);
    tt_end(0);
}

/* ---- misuse panics --------------------------------------------------------- */

static void close_twice(void *arg)
{
    ts_chan_t *ch = arg;
    ts_chan_close(ch);
    ts_chan_close(ch);
}

static void close_twice_recovering(void *arg)
{
    ts_defer(tt_recover_quiet, NULL);
    close_twice(arg);
}

/* The runtime's misuse panics are ordinary panics: recoverable, with Go's
 * message and TS_PANIC_MISUSE; the channel stays usable (closed). */
static void test_misuse_panic_is_recoverable(void **state)
{
    (void)state;
    ts_chan_t *ch = ts_chan_make(sizeof(int), 1);
    ts_panic_value_t v;
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(close_twice_recovering, ch, &v));
    assert_string_equal("close of closed channel", v.message);
    assert_int_equal(TS_PANIC_MISUSE, v.code);
    int x;
    bool ok = true;
    assert_int_equal(0, ts_chan_recv(ch, &x, &ok));
    assert_false(ok);
    ts_chan_release(ch);
    tt_end(0);
}

/* ts_panic_print writes Go's shape: the message, then the panicking task's
 * header and frames. */
static void test_panic_print(void **state)
{
    (void)state;
    struct recov r = {0};
    ts_panic_value_t v;
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(recovering, &r, &v));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    ts_panic_print(&v, f);
    fclose(f);
    if (strncmp(buf, "panic: deep panic 42\n\n", 22) != 0 ||
        !strstr(buf, " [running]:\n") || !strstr(buf, "deep(") ||
        !strstr(buf, "recovering(") || !strstr(buf, "test_panic.c:"))
        fail_msg("unexpected ts_panic_print output:\n%s", buf);
    free(buf);
    tt_end(0);
}

static void pcall_null(void *arg)
{
    (void)arg;
    ts_defer(tt_recover_quiet, NULL);
    ts_pcall(NULL, NULL, NULL);
}

/* ts_pcall of a NULL function is a misuse panic, not a jump to 0. */
static void test_pcall_null_is_misuse(void **state)
{
    (void)state;
    ts_panic_value_t v;
    assert_int_equal(TS_PANIC_RECOVERED, ts_pcall(pcall_null, NULL, &v));
    assert_int_equal(TS_PANIC_MISUSE, v.code);
    assert_string_equal("ts_pcall of a NULL function", v.message);
    tt_end(0);
}

struct handoff {
    ts_chan_t *done;
    ts_panic_value_t v;
    uint64_t id;
};

static void task_recovers_into(void *arg)
{
    struct handoff *h = arg;
    struct recov r = {0};
    h->id = ts_self();
    ts_pcall(recovering, &r, &h->v);
    tt_signal(h->done);
}

/* A value printed by another thread than the panicking task's still names
 * that task. */
static void test_panic_print_names_panicking_task(void **state)
{
    (void)state;
    struct handoff h = {.done = ts_chan_make(0, 1)};
    tt_go(task_recovers_into, &h);
    assert_int_equal(1, tt_wait_done(h.done, 1, TT_SOON));
    ts_chan_release(h.done);
    assert_int_equal(h.id, h.v.task);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ts_panic_print(&h.v, f);
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "\ngoroutine %llu [running]:\ndeep(", (unsigned long long)h.id);
    if (!strstr(buf, want))
        fail_msg("want \"%s\" in:\n%s", want, buf);
    free(buf);
    tt_end(0);
}

/* ---- tasks and threads ------------------------------------------------------ */

struct counter {
    ts_chan_t *done;
    atomic_long recovered;
};

static void task_panics_and_recovers(void *arg)
{
    struct counter *c = arg;
    ts_panic_value_t v;
    const ts_panic_value_t *got[2] = {NULL, NULL};
    if (ts_pcall(panics_recover_twice, got, &v) == TS_PANIC_RECOVERED &&
        got[0] && strcmp(v.message, "once") == 0)
        atomic_fetch_add(&c->recovered, 1);
    tt_signal(c->done);
}

/* Panics in many concurrent tasks are each recovered in their own task. */
static void test_panics_in_many_tasks(void **state)
{
    (void)state;
    long n = tt_scaled(10000, 500);
    struct counter c = {ts_chan_make(0, (size_t)n), 0};
    for (long i = 0; i < n; i++)
        tt_go(task_panics_and_recovers, &c);
    assert_int_equal(n, tt_wait_done(c.done, n, TT_SOON));
    assert_int_equal(n, atomic_load(&c.recovered));
    ts_chan_release(c.done);
    tt_end(0);
}

static void *thread_panics(void *arg)
{
    ts_panic_value_t *v = arg;
    struct recov r = {0};
    if (ts_pcall(recovering, &r, v) != TS_PANIC_RECOVERED)
        v->message[0] = '\0';
    return NULL;
}

/* A plain thread has its own frames: a panic there is recovered there. */
static void test_panic_in_plain_thread(void **state)
{
    (void)state;
    ts_panic_value_t v = {0};
    tt_join(tt_thread(thread_panics, &v));
    assert_string_equal("deep panic 42", v.message);
    tt_end(0);
}

/* ---- scenarios: faults, and what ends the process --------------------------- */

static volatile int zero;
static int *volatile nil;

static void divide(void *arg)
{
    *(int *)arg = 10 / zero;
}

static void dereference(void *arg)
{
    *(int *)arg = *nil;
}

static void fault_recovering(void *arg)
{
    ts_defer(tt_recover_quiet, NULL);
    void (**fn)(void *) = arg;
    int out;
    (*fn)(&out);
}

/* check_fault: fn faults inside a protected call; the panic is recovered
 * with Go's message. Prints what went wrong; true when right. */
static bool check_fault(void (*fn)(void *), const char *msg, int sig, int code)
{
    ts_panic_value_t v;
    int r = ts_pcall(fault_recovering, &fn, &v);
    if (r != TS_PANIC_RECOVERED || strcmp(v.message, msg) != 0 ||
        v.signo != sig || v.code != code) {
        printf("want \"%s\" (signal %d), got r=%d \"%s\" (signal %d)\n", msg,
               sig, r, r ? v.message : "", r ? v.signo : 0);
        return false;
    }
    /* the stack starts at the faulting function */
    uintptr_t at = v.nframes ? v.frames[0] - 1 : 0;
    if (at < (uintptr_t)fn || at - (uintptr_t)fn > 64) { /* fn is small */
        printf("stack of \"%s\" does not start at the faulting function\n", msg);
        return false;
    }
    return true;
}

static bool check_both_faults(void)
{
    return check_fault(divide, "runtime error: integer divide by zero", SIGFPE,
                       TS_PANIC_DIVIDE) &&
           check_fault(dereference,
                       "runtime error: invalid memory address or nil pointer "
                       "dereference",
                       SIGSEGV, TS_PANIC_NIL_DEREF);
}

static void *faults_thread(void *arg)
{
    *(bool *)arg = check_both_faults();
    return NULL;
}

struct stolen {
    ts_chan_t *done;
    atomic_int ok, moved;
};

/* Works and sleeps until it runs on another thread than the one it
 * started on (the other P took it), then faults. */
static void stolen_task(void *arg)
{
    struct stolen *s = arg;
    /* gettid, not pthread_self: that one is declared const, and the
     * compiler may read it once for the whole function */
    pid_t first = gettid();
    for (int i = 0; i < 500 && first == gettid(); i++) {
        for (volatile int spin = 0; spin < 100000; spin++)
            ;
        ts_sleep(100 * TS_MICROSECOND);
    }
    if (first != gettid())
        atomic_fetch_add(&s->moved, 1);
    if (check_both_faults())
        atomic_fetch_add(&s->ok, 1);
    tt_signal(s->done);
}

static int faults_main(void *arg)
{
    (void)arg;
    if (!check_both_faults())
        return 1;
    enum { N = 64 };
    struct stolen s = {ts_chan_make(0, N), 0, 0};
    for (int i = 0; i < N; i++)
        ts_go(stolen_task, &s);
    long done = tt_wait_done(s.done, N, TT_SOON);
    if (done == N)
        ts_chan_release(s.done);
    if (done != N || atomic_load(&s.ok) != N) {
        printf("tasks: %d of %d recovered\n", atomic_load(&s.ok), N);
        return 1;
    }
    if (atomic_load(&s.moved) == 0) {
        printf("no task moved to another thread\n");
        return 1;
    }
    return 0;
}

static int scenario_faults(void)
{
    bool main_ok = check_both_faults();
    bool thread_ok = false;
    pthread_t t;
    pthread_create(&t, NULL, faults_thread, &thread_ok);
    pthread_join(t, NULL);
    if (!main_ok || !thread_ok)
        return 1;
    return ts_run(faults_main, NULL);
}

/* Faults in the program's code become recoverable panics: on the main
 * thread, in a plain thread, in a task, and in tasks that work stealing
 * moved to another thread; the recovered stack starts at the faulting
 * function. */
static void test_faults_are_recoverable_panics(void **state)
{
    (void)state;
    tt_expect_scenario_ok("faults", 2);
    tt_end(0);
}

static void __attribute__((noinline)) panicking_task(void *arg)
{
    (void)arg;
    ts_panic("boom in a task");
}

static int unrecovered_main(void *arg)
{
    ts_chan_t *never = ts_chan_make(0, 0);
    ts_go(panicking_task, arg);
    ts_chan_recv(never, NULL, NULL);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_unrecovered(void)
{
    return ts_run(unrecovered_main, NULL);
}

/* An unrecovered panic prints Go's report and exits 2: the message, a
 * blank line, "goroutine N [running]:", the panicking function with its
 * file and line, and where the task was created. */
static void test_unrecovered_panic_report(void **state)
{
    (void)state;
    tt_expect_panic("unrecovered", "boom in a task");
    struct tt_child c;
    tt_child("unrecovered", NULL, &c);
    const char *g = strstr(c.err, "panic: boom in a task\n\ngoroutine ");
    const char *f = g ? strstr(g, " [running]:\npanicking_task(") : NULL;
    if (!f || !strstr(f, "test_panic.c:") || !strstr(f, "created by unrecovered_main"))
        fail_msg("unexpected report:\n%s", c.err);
    tt_end(0);
}

static void defer_recover_then_panic(void *arg)
{
    (void)arg;
    ts_recover();
    ts_panic("second");
}

static void first_then_second(void *arg)
{
    (void)arg;
    ts_defer(defer_recover_then_panic, NULL);
    ts_panic("first");
}

static int scenario_chain(void)
{
    ts_pcall(first_then_second, NULL, NULL);
    printf("UNREACHED\n");
    return 0;
}

/* A panic raised by a deferred call after it recovered another prints the
 * chain, oldest first, marked as Go marks it. */
static void test_unrecovered_chain(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("chain", NULL, &c);
    if (tt_child_exit(&c) != 2 ||
        !strstr(c.err, "panic: first [recovered]\n\tpanic: second\n\nthread ") ||
        strstr(c.out, "UNREACHED"))
        fail_msg("exit %d, stderr:\n%s", tt_child_exit(&c), c.err);
    tt_end(0);
}

static int fault_unprotected_main(void *arg)
{
    (void)arg;
    int out;
    dereference(&out);
    printf("UNREACHED %d\n", out);
    return 0;
}

static int scenario_fault_unprotected(void)
{
    return ts_run(fault_unprotected_main, NULL);
}

/* A fault in a task outside any protected frame (and no handler of the
 * program's) is an unrecovered runtime panic, with Go's signal line. A
 * handler installed before the runtime's (a sanitizer's) gets it instead. */
static void test_unprotected_fault_report(void **state)
{
    (void)state;
    struct tt_child c;
    tt_child("fault_unprotected", NULL, &c);
    if (SANITIZER) { /* its handler came first and is not ours to skip */
        if (!passed_on(&c) || strstr(c.out, "UNREACHED"))
            fail_msg("exit %d, stderr:\n%s", tt_child_exit(&c), c.err);
        tt_end(0);
        return;
    }
    if (tt_child_exit(&c) != 2 ||
        !strstr(c.err, "panic: runtime error: invalid memory address or nil "
                       "pointer dereference\n[signal SIGSEGV: segmentation "
                       "violation code=0x1 addr=0x0 pc=0x") ||
        !strstr(c.err, "dereference(") || strstr(c.out, "UNREACHED"))
        fail_msg("exit %d, stderr:\n%s", tt_child_exit(&c), c.err);
    tt_end(0);
}

static void runtime_faults(void *arg)
{
    (void)arg;
    ts_defer(tt_recover_quiet, NULL);
    int x = 1;
    ts_chan_send((ts_chan_t *)(uintptr_t)0x10, &x); /* faults in the runtime */
}

static void raises_segv(void *arg)
{
    (void)arg;
    ts_defer(tt_recover_quiet, NULL);
    raise(SIGSEGV);
}

static int no_core(void)
{
    struct rlimit rl = {0, 0};
    return setrlimit(RLIMIT_CORE, &rl);
}

static int scenario_runtime_fault(void)
{
    no_core();
    ts_pcall(runtime_faults, NULL, NULL);
    printf("UNREACHED\n");
    return 0;
}

static void send_from_null(void *arg)
{
    ts_defer(tt_recover_quiet, NULL);
    ts_chan_try_send(arg, NULL); /* memcpy faults under the channel's lock */
}

static int scenario_lock_fault(void)
{
    no_core();
    ts_pcall(send_from_null, ts_chan_make(64, 4), NULL);
    printf("UNREACHED\n");
    return 0;
}

static int scenario_raised_segv(void)
{
    no_core();
    ts_pcall(raises_segv, NULL, NULL);
    printf("UNREACHED\n");
    return 0;
}

/* Never a panic: a fault inside the runtime's own code, one in a C library
 * call the runtime makes while it holds a lock (a recovery would leave the
 * channel locked), and a SIGSEGV sent by raise or kill rather than by the
 * CPU. Both take the default action
 * (or the sanitizer's handler). */
static void test_runtime_and_sent_faults_are_not_panics(void **state)
{
    (void)state;
    const char *names[] = {"runtime_fault", "lock_fault", "raised_segv"};
    for (int i = 0; i < 3; i++) {
        struct tt_child c;
        tt_child(names[i], NULL, &c);
        if (!passed_on(&c) || strstr(c.err, "panic:") ||
            strstr(c.out, "UNREACHED"))
            fail_msg("%s: exit %d, stderr:\n%s", names[i], tt_child_exit(&c),
                     c.err);
    }
    tt_end(0);
}

static int scenario_defer_outside(void)
{
    ts_defer(tt_recover_quiet, NULL);
    printf("UNREACHED\n");
    return 0;
}

/* ts_defer outside any protected call is misuse: an unrecovered panic. */
static void test_defer_outside_pcall_panics(void **state)
{
    (void)state;
    tt_expect_panic("defer_outside", "ts_defer outside a protected call (ts_pcall)");
    tt_end(0);
}

/* ---- main --------------------------------------------------------------- */

static const struct tt_scenario scenarios[] = {
    {"faults", scenario_faults},
    {"unrecovered", scenario_unrecovered},
    {"chain", scenario_chain},
    {"fault_unprotected", scenario_fault_unprotected},
    {"runtime_fault", scenario_runtime_fault},
    {"lock_fault", scenario_lock_fault},
    {"raised_segv", scenario_raised_segv},
    {"defer_outside", scenario_defer_outside},
};

int main(int argc, char **argv)
{
    int sr = tt_scenario_main(argc, argv, scenarios,
                              sizeof scenarios / sizeof scenarios[0]);
    if (sr >= 0)
        return sr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        TT_TEST(test_defers_run_lifo_on_return),
        TT_TEST(test_many_defers_in_order),
        TT_TEST(test_recover_stops_panic),
        TT_TEST(test_recover_null_without_panic),
        TT_TEST(test_recover_only_directly_in_deferred_call),
        TT_TEST(test_recover_once),
        TT_TEST(test_panic_crosses_frames),
        TT_TEST(test_inner_recovery_outer_continues),
        TT_TEST(test_panic_in_deferred_call_replaces),
        TT_TEST(test_repanic),
        TT_TEST(test_misuse_panic_is_recoverable),
        TT_TEST(test_panic_print),
        TT_TEST(test_pcall_null_is_misuse),
        TT_TEST(test_panic_print_names_panicking_task),
        TT_TEST(test_panics_in_many_tasks),
        TT_TEST(test_panic_in_plain_thread),
        TT_TEST(test_faults_are_recoverable_panics),
        TT_TEST(test_unrecovered_panic_report),
        TT_TEST(test_unrecovered_chain),
        TT_TEST(test_unprotected_fault_report),
        TT_TEST(test_runtime_and_sent_faults_are_not_panics),
        TT_TEST(test_defer_outside_pcall_panics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
