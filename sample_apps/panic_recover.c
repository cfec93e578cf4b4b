/* panic_recover.c — runtime errors and explicit panics inside tasks, each
 * stopped by a deferred call that recovers it; and why deferred calls are
 * the only cleanup a panic gets.
 *
 * Ported from 000_ba33576b914601bb.txt, "panic" (panic internals): a panic
 * is raised either by the program (a call to panic) or behind its back —
 * by code the compiler adds (divzero's `c := a/b` with b == 0 ends in
 * runtime.panicdivide) or by the kernel (a nil pointer access faults, the
 * kernel sends SIGSEGV, and Go's signal handler turns it into a panic via
 * sigpanic → panicmem). Either way the panic record is attached to the
 * goroutine, the goroutine's deferred calls run one after another, and
 * either one of them recovers — execution goes on after the frame that
 * deferred it — or none does and the process prints the stack and exits.
 *
 * In taskscope a C compiler adds no checks, so both runtime errors come
 * from the CPU: SIGFPE for the division, SIGSEGV for the nil dereference.
 * The runtime's fault handler redirects the faulting task into a panic
 * (runtime/sigpanic.c), which is recoverable inside a protected call like
 * any other. The Go shapes map as follows:
 *
 *     func f() {                          static void f_body(void *arg)
 *         defer func() {                  {
 *             if r := recover(); ...          ts_defer(print_recovered, ...);
 *         }()                                 ...
 *         ...                             }
 *     }                                   ts_pcall(f_body, arg, &value);
 *
 * Scenarios, each in a task of its own, run one after another so that the
 * output is deterministic:
 *   1. divzero(10, 0): "runtime error: integer divide by zero" (SIGFPE);
 *   2. a field read through a nil pointer: "runtime error: invalid memory
 *      address or nil pointer dereference" (SIGSEGV);
 *   3. ts_panic with a formatted message (Go's panic(fmt.Sprintf(...)));
 *   4. unwinding releases nothing by itself: a function that takes a lock
 *      and allocates a buffer, then panics. With deferred calls for the
 *      unlock and the free, both are released; without them (the outer
 *      frame recovers), the lock stays held and the buffer stays allocated
 *      after the recovery, and main has to clean up by hand.
 * The divisor and the nil pointer are volatile so that the compiler keeps
 * the faulting instructions instead of reasoning about the undefined
 * behaviour.
 *
 * The lock is a channel with one slot (sync.Mutex is not in the runtime
 * yet): lock = send, unlock = receive, "held" = one value in the buffer.
 *
 * Run: build/sample_apps/panic_recover (~0.01 s). */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskscope/taskscope.h>

#include "sample.h"

static volatile int zero;           /* the divisor: 0, read at run time */
struct point {
    int x, y;
};
static struct point *volatile nil_point; /* NULL, read at run time */

/* print_recovered: the deferred handler of every scenario; stops the panic
 * and prints what it was. */
static void print_recovered(void *arg)
{
    (void)arg;
    const ts_panic_value_t *r = ts_recover();
    if (r != NULL)
        printf("  recovered: %s\n", r->message);
}

/* describe: what ts_pcall returned and what the value says. */
static void describe(int rc, const ts_panic_value_t *v)
{
    if (rc != TS_PANIC_RECOVERED) {
        printf("  ts_pcall returned %d: no panic\n", rc);
        return;
    }
    const char *kind = v->code == TS_PANIC_DIVIDE      ? "TS_PANIC_DIVIDE"
                       : v->code == TS_PANIC_NIL_DEREF ? "TS_PANIC_NIL_DEREF"
                       : v->code == TS_PANIC_USER      ? "TS_PANIC_USER"
                                                       : "other";
    const char *sig = v->signo == SIGFPE    ? "SIGFPE"
                      : v->signo == SIGSEGV ? "SIGSEGV"
                      : v->signo == SIGBUS  ? "SIGBUS"
                      : v->signo == 0       ? "none"
                                            : "other";
    printf("  ts_pcall returned TS_PANIC_RECOVERED: code %s, signal %s\n",
           kind, sig);
}

/* ---- 1. integer divide by zero ------------------------------------------ */

/* func divzero(a, b int) int { c := a/b; return c } */
static __attribute__((noinline)) int divzero(int a, int b)
{
    int c = a / b; /* SIGFPE when b == 0 */
    return c;
}

static void divide_body(void *arg)
{
    (void)arg;
    ts_defer(print_recovered, NULL);
    int c = divzero(10, zero);
    printf("  10 / 0 = %d (not reached)\n", c);
}

/* ---- 2. nil pointer dereference ------------------------------------------ */

static __attribute__((noinline)) int point_x(const struct point *p)
{
    return p->x; /* SIGSEGV when p == NULL */
}

static void nil_body(void *arg)
{
    (void)arg;
    ts_defer(print_recovered, NULL);
    int x = point_x(nil_point);
    printf("  p.x = %d (not reached)\n", x);
}

/* ---- 3. an explicit panic ------------------------------------------------- */

static void withdraw(int account, int balance, int amount)
{
    if (amount > balance)
        ts_panic("account %d: withdrawing %d leaves the balance below zero "
                 "(%d)", account, amount, balance - amount);
    printf("  withdrew %d (not reached)\n", amount);
}

static void explicit_body(void *arg)
{
    (void)arg;
    ts_defer(print_recovered, NULL);
    withdraw(7, 50, 80);
}

/* ---- 4. deferred calls are the only cleanup ------------------------------- */

static ts_chan_t *table_lock;   /* one slot: sync.Mutex stand-in */
static atomic_int live_buffers; /* buffers allocated and not freed */
static void *last_scratch;      /* the newest buffer, for main to free */

static void lock(ts_chan_t *mu)
{
    int token = 1;
    ts_chan_send(mu, &token);
}

static void unlock(void *mu)
{
    int token;
    ts_chan_recv(mu, &token, NULL);
}

static bool held(ts_chan_t *mu)
{
    return ts_chan_len(mu) == 1;
}

static void *alloc_buffer(void)
{
    atomic_fetch_add(&live_buffers, 1);
    last_scratch = xmalloc(4096);
    return last_scratch;
}

static void free_buffer(void *buf)
{
    free(buf);
    atomic_fetch_sub(&live_buffers, 1);
}

/* The deferred forms of unlock and free_buffer, saying when they run. */
static void deferred_unlock(void *mu)
{
    printf("  deferred: unlock the table\n");
    unlock(mu);
}

static void deferred_free(void *buf)
{
    printf("  deferred: free the scratch buffer\n");
    free_buffer(buf);
}

/* update_table: lock, allocate a scratch buffer, then fail. With defer,
 * the unlock and the free are deferred as soon as each resource is taken
 * (mu.Lock(); defer mu.Unlock()), so the panic runs them. */
static void update_table(bool with_defer)
{
    lock(table_lock);
    if (with_defer)
        ts_defer(deferred_unlock, table_lock);
    void *scratch = alloc_buffer();
    if (with_defer)
        ts_defer(deferred_free, scratch);
    ts_panic("update_table: row 3 is corrupt");
    /* the normal path would unlock and free here: a panic never gets here */
}

static void cleanup_with_defer(void *arg)
{
    (void)arg;
    /* update_table's deferred calls go to this frame, the innermost one;
     * the recovering handler is deferred first, so it runs last */
    ts_defer(print_recovered, NULL);
    update_table(true);
}

static void cleanup_without_defer(void *arg)
{
    (void)arg;
    ts_defer(print_recovered, NULL);
    update_table(false);
}

static void report_resources(void)
{
    printf("  lock held: %s, buffers still allocated: %d\n",
           held(table_lock) ? "yes" : "no", atomic_load(&live_buffers));
}

/* ---- tasks ------------------------------------------------------------------ */

struct scenario {
    const char *title;
    void (*body)(void *);
    ts_chan_t *finished; /* the task's reference; it sends on it when done */
};

/* scenario_task: runs one scenario's body under ts_pcall, in a task of its
 * own, and prints what ts_pcall returned. */
static void scenario_task(void *p)
{
    struct scenario *s = p;
    ts_panic_value_t value;
    int rc = ts_pcall(s->body, NULL, &value);
    describe(rc, &value);
    printf("  the task goes on after the recovery and returns normally\n");
    int one = 1;
    ts_chan_send(s->finished, &one);
    ts_chan_release(s->finished);
    free(s);
}

/* run: start a scenario's task and wait until it is done. */
static void run(const char *title, void (*body)(void *))
{
    ts_chan_t *finished = xchan(sizeof(int), 0);
    struct scenario *s = xmalloc(sizeof *s);
    *s = (struct scenario){title, body, ts_chan_retain(finished)};
    printf("%s\n", title);
    fflush(stdout);
    sample_go(scenario_task, s);
    int one;
    ts_chan_recv(finished, &one, NULL);
    ts_chan_release(finished);
}

static int main_task(void *arg)
{
    (void)arg;
    table_lock = xchan(sizeof(int), 1);

    run("1. divzero(10, 0) in a task", divide_body);
    run("2. p.x through a nil pointer in a task", nil_body);
    run("3. panic(\"account 7: ...\") in a task", explicit_body);

    run("4a. lock + buffer, unlock and free deferred, then panic",
        cleanup_with_defer);
    report_resources();

    run("4b. lock + buffer, nothing deferred, then panic", cleanup_without_defer);
    report_resources();
    /* What 4b left behind is main's to release, by hand. */
    int ok = held(table_lock) && atomic_load(&live_buffers) == 1;
    if (held(table_lock))
        unlock(table_lock);
    if (atomic_load(&live_buffers) == 1)
        free_buffer(last_scratch);
    printf("  unwinding released nothing: %s\n", ok ? "yes" : "no");

    int leaked = sample_wait_tasks();
    ts_chan_release(table_lock);
    return ok && !leaked ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
