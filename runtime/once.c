/* taskscope — ts_once_t: Go's sync.Once and sync.OnceValue.
 *
 * Invariants:
 *   - done goes 0 -> 1 once, with release order, after the function
 *     returned or panicked (and, for the result variant, after result and
 *     panic were stored): a caller that reads done == 1 with acquire order
 *     sees them;
 *   - the function runs under mu; every caller that finds done == 0 takes
 *     mu, so it waits (parked: "sync.Mutex.Lock") for the first call.
 *
 * Panics: the function runs in a protected frame (ts_pcall) whose deferred
 * call marks the once done and unlocks mu, so a panic leaves both right and
 * goes on unchanged (Go's Once). The result variant instead recovers the
 * panic, keeps a copy (malloc'd, for the life of the program) and raises
 * it again in the first and every later call (Go's OnceValue); if that
 * copy cannot be allocated, later calls return 0 instead.
 *
 * ThreadSanitizer: the function's return releases o; every call acquires
 * it before returning. */
#include <stdlib.h>
#include <taskscope/panic.h>
#include <taskscope/sync.h>

#include "runtime/race.h"

struct call {
    ts_once_t *o;
    void (*fn)(void *);
    int (*fn_result)(void *);
    void *arg;
};

static bool is_done(ts_once_t *o)
{
    return __atomic_load_n(&o->done_, __ATOMIC_ACQUIRE) != 0;
}

static void mark_done(ts_once_t *o)
{
    ts__race_release(o);
    __atomic_store_n(&o->done_, 1, __ATOMIC_RELEASE);
}

/* finish: deferred, runs whether fn returned or panicked. */
static void finish(void *arg)
{
    ts_once_t *o = arg;
    mark_done(o);
    ts_mutex_unlock(&o->mu_);
}

static void run(void *arg)
{
    struct call *c = arg;
    ts_defer(finish, c->o);
    c->fn(c->arg);
}

void ts_once_do(ts_once_t *o, void (*fn)(void *), void *arg)
{
    if (!is_done(o)) {
        ts_mutex_lock(&o->mu_);
        if (is_done(o)) {
            ts_mutex_unlock(&o->mu_);
        } else {
            struct call c = {.o = o, .fn = fn, .arg = arg};
            (void)ts_pcall(run, &c, NULL); /* finish unlocks mu */
        }
    }
    ts__race_acquire(o);
}

/* ------------------------------------------------------------------------
 * The result variant. */

static void recover_cb(void *arg)
{
    (void)arg;
    (void)ts_recover();
}

static void run_result(void *arg)
{
    struct call *c = arg;
    ts_defer(recover_cb, NULL);
    c->o->result_ = c->fn_result(c->arg);
}

/* first_call: run fn under mu (held), store its result or a copy of its
 * panic, mark done, unlock; re-raise the panic if there was one. */
static void first_call(ts_once_t *o, int (*fn)(void *), void *arg)
{
    struct call c = {.o = o, .fn_result = fn, .arg = arg};
    ts_panic_value_t v;
    bool panicked = ts_pcall(run_result, &c, &v) == TS_PANIC_RECOVERED;
    if (panicked) {
        ts_panic_value_t *keep = malloc(sizeof *keep);
        if (keep)
            *keep = v;
        o->panic_ = keep;
    }
    mark_done(o);
    ts_mutex_unlock(&o->mu_);
    if (panicked)
        ts_repanic(&v);
}

int ts_once_do_result(ts_once_t *o, int (*fn)(void *), void *arg)
{
    if (!is_done(o)) {
        ts_mutex_lock(&o->mu_);
        if (is_done(o))
            ts_mutex_unlock(&o->mu_);
        else
            first_call(o, fn, arg);
    }
    ts__race_acquire(o);
    if (o->panic_)
        ts_repanic(o->panic_);
    return o->result_;
}
