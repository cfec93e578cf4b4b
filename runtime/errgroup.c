/* taskscope — ts_errgroup_t: golang.org/x/sync/errgroup on the sync
 * primitives (WaitGroup, Once, weighted semaphore) and a context.
 *
 * Invariants:
 *   - wg counts the group's tasks that have not returned: go adds 1 before
 *     starting the task (after taking a slot), the task's last act is the
 *     matching done. So when wg's Wait returns, every fn has returned.
 *   - err is written at most once, inside err_once, by the first fn that
 *     failed; read only after wg's Wait returned (which orders it after
 *     that write), as Go's Wait does.
 *   - With a limit, a task holds one unit of sem from before it starts
 *     until just before its done; `active` counts the units held (a unit
 *     stays counted until its release has returned), and a task that took
 *     none (started without a limit) gives none back. set_limit
 *     re-initialises sem only while active == 0 (else it panics), so every
 *     unit goes back to the semaphore it came from.
 *   - ctx/cancel: the group holds the creator's reference (cancel) and one
 *     more (retained), so ctx stays valid for the caller after the cancel
 *     in wait; free drops both.
 *
 * Ownership: immutable after creation except err (err_once), sem, limited
 * (set_limit, which the caller must not run concurrently with go) and
 * active (atomic).
 *
 * Rejected: recovering a panic in fn and raising it again in Wait (x/sync
 * did so for a few months in 2025, then reverted it: golang/go#53757): a
 * panic surfaced only at Wait, possibly much later, hid bugs Go's crash
 * showed at once. Recover in fn (ts_pcall) to make a panic an error.
 *
 * ThreadSanitizer: nothing of our own. ts_go publishes go -> start, the
 * WaitGroup publishes done -> Wait, the context publishes its cancel. */
#include <stdlib.h>
#include <taskscope/errgroup.h>
#include <taskscope/panic.h>
#include <taskscope/sync.h>
#include <taskscope/task.h>

struct ts_errgroup {
    ts_waitgroup_t wg;   /* tasks that have not returned */
    ts_once_t err_once;  /* guards err's one write */
    int err;             /* the first error, 0 if none */
    ts_ctx_t *ctx;       /* with_context: one reference of ours, or NULL */
    ts_cancel_t *cancel; /* with_context: the creator's reference */
    ts_sem_t sem;        /* the limit's slots, when limited */
    bool limited;        /* set_limit(n >= 0) */
    int active;          /* atomic: units of sem held by tasks */
};

/* One started task: freed by the task. */
struct call {
    ts_errgroup_t *g;
    int (*fn)(void *arg);
    void *arg;
    bool took;           /* holds a unit of g->sem */
};

ts_errgroup_t *ts_errgroup_new(void)
{
    return calloc(1, sizeof(struct ts_errgroup));
}

/* The context comes first: a NULL parent panics before anything is
 * allocated. */
ts_errgroup_t *ts_errgroup_with_context(ts_ctx_t *parent, ts_ctx_t **ctx)
{
    ts_cancel_t *cancel;
    ts_ctx_t *c = ts_ctx_with_cancel(parent, &cancel);
    ts_errgroup_t *g = c ? ts_errgroup_new() : NULL;
    *ctx = NULL;
    if (!g) {
        ts_cancel(cancel);
        return NULL;
    }
    g->cancel = cancel;
    g->ctx = ts_ctx_retain(c);
    *ctx = c;
    return g;
}

struct failure {
    ts_errgroup_t *g;
    int err;
};

static void record_error(void *arg)
{
    struct failure *f = arg;
    f->g->err = f->err;
    if (f->g->cancel)
        ts_cancel_cause(f->g->cancel, f->err);
}

/* release_slot: the unit goes back before active drops, so set_limit,
 * once it reads 0, never re-initialises a semaphore a release still uses. */
static void release_slot(ts_errgroup_t *g)
{
    ts_sem_release(&g->sem, 1);
    __atomic_sub_fetch(&g->active, 1, __ATOMIC_RELEASE);
}

static void run(void *arg)
{
    struct call c = *(struct call *)arg;
    free(arg);
    int err = c.fn(c.arg);
    if (err != 0) {
        struct failure f = {c.g, err};
        ts_once_do(&c.g->err_once, record_error, &f);
    }
    if (c.took)
        release_slot(c.g);
    ts_waitgroup_done(&c.g->wg);
}

/* start: run fn in a new task; the slot (if took) is already held.
 * ENOMEM gives the slot back. */
static int start(ts_errgroup_t *g, int (*fn)(void *), void *arg, bool took)
{
    struct call *c = malloc(sizeof *c);
    if (c) {
        *c = (struct call){g, fn, arg, took};
        ts_waitgroup_add(&g->wg, 1);
        if (ts_go(run, c) != 0)
            return 0;
        ts_waitgroup_done(&g->wg);
        free(c);
    }
    if (took)
        release_slot(g);
    return ENOMEM;
}

int ts_errgroup_go(ts_errgroup_t *g, int (*fn)(void *arg), void *arg)
{
    if (g->limited) {
        ts_sem_acquire(&g->sem, 1);
        __atomic_add_fetch(&g->active, 1, __ATOMIC_RELAXED);
    }
    return start(g, fn, arg, g->limited);
}

bool ts_errgroup_try_go(ts_errgroup_t *g, int (*fn)(void *arg), void *arg)
{
    if (g->limited) {
        if (!ts_sem_try_acquire(&g->sem, 1))
            return false;
        __atomic_add_fetch(&g->active, 1, __ATOMIC_RELAXED);
    }
    return start(g, fn, arg, g->limited) == 0;
}

/* As Go, removing the limit never panics; tasks holding units of the old
 * semaphore still give them back to it (Go drops them), so a new limit
 * waits for them too. */
void ts_errgroup_set_limit(ts_errgroup_t *g, int n)
{
    if (n < 0) {
        g->limited = false;
        return;
    }
    int active = __atomic_load_n(&g->active, __ATOMIC_ACQUIRE);
    if (active != 0)
        ts_panic_code(TS_PANIC_MISUSE,
                      "errgroup: modify limit while %d goroutines in the "
                      "group are still active", active);
    ts_sem_init(&g->sem, n);
    g->limited = true;
}

int ts_errgroup_wait(ts_errgroup_t *g)
{
    ts_waitgroup_wait(&g->wg);
    if (g->cancel)
        ts_cancel_cause(g->cancel, g->err);
    return g->err;
}

void ts_errgroup_free(ts_errgroup_t *g)
{
    if (!g)
        return;
    ts_cancel(g->cancel);
    ts_ctx_release(g->ctx);
    free(g);
}
