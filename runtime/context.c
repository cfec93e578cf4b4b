/* taskscope — contexts: Go's context package (cancelCtx, timerCtx,
 * valueCtx) in one reference-counted node type.
 *
 * Every context is a struct ts_ctx. A cancellable one (with_cancel,
 * with_deadline) owns a done channel and is its own `canceller`; a value
 * context and the roots own none and point `canceller` at the nearest
 * cancellable ancestor (NULL under a bare root), so done/err/cause are one
 * pointer away, as Go's parentCancelCtx lookup finds them.
 *
 * Invariants:
 *   - err goes from 0 to non-zero once, under lock; cause is written just
 *     before it and never after. Done is closed exactly once, by the call
 *     that set err, after setting it (so Err is set once Done is closed).
 *   - A cancellable context is on the children list of its parent's
 *     canceller (its registrar) from birth until it is cancelled, unless it
 *     was born cancelled. Whoever cancels a registrar detaches the whole
 *     list under the registrar's lock, taking a reference to each child.
 *   - References: the creator's (dropped once, by ts_cancel, after
 *     cancelling; ts_ctx_release for value contexts), one per retain, one
 *     per child (on its parent), one held by a deadline timer until its
 *     function has run or it was stopped. So a cancellable context is
 *     always cancelled, unregistered and timer-free before it is freed, and
 *     every cancel path holds a reference while it works: a registrar's
 *     list holds none, but a child on it cannot lose its creator's
 *     reference before it leaves the list, which takes the registrar's lock.
 *
 * Locks: c->lock guards c->children, c->timer and, for each child on
 * c->children, its prev/next/in_registrar. It is a leaf: no other lock is
 * taken while holding it (the done channel is closed, the timer made,
 * stopped and freed, outside it). A detached child's next links the
 * canceller's private work list.
 *
 * Rejected: Go's recursive cancel, holding the parent's lock while
 * cancelling each child in turn. With a chain of nested contexts it
 * recurses (and nests locks) as deep as the chain, on a 256 KiB task stack;
 * the work list makes it a loop and keeps every lock a leaf. A done channel
 * made lazily on the first ts_ctx_done (Go) would need a lock on that
 * path; eager costs one channel per cancellable context.
 *
 * ThreadSanitizer (race.h): the cancelling call releases the context's
 * address before publishing err; ts_ctx_err/ts_ctx_cause acquire it when
 * they see err set; a child born cancelled acquires its registrar's. Done's
 * close gives its receivers the channel's own edge. */
#include <stdlib.h>
#include <taskscope/context.h>
#include <taskscope/panic.h>
#include <taskscope/time.h>

#include "runtime/lock.h"
#include "runtime/race.h"

struct ts_ctx {
    /* immutable after creation */
    struct ts_ctx *parent;    /* holds a reference; NULL for the roots */
    struct ts_ctx *canceller; /* self if cancellable, else the nearest
                                 cancellable ancestor; NULL: never done */
    ts_chan_t *done;          /* cancellable only: closed on cancel */
    const void *key;          /* value contexts: key, NULL for the others */
    void *val;                /* its value */
    int64_t deadline;         /* valid when has_deadline */
    bool has_deadline;        /* own timer's, or inherited */
    bool is_static;           /* background/todo: never counted nor freed */

    /* atomics */
    uint32_t refs;            /* references, see the invariants */
    bool creator_dropped;     /* ts_cancel dropped the creator's reference */
    int err;                  /* 0, ECANCELED or ETIMEDOUT; set under lock
                                 with release, read with acquire */
    int cause;                /* written once, before err is published */

    ts__lock_t lock;
    /* guarded by lock */
    struct ts_ctx *children;  /* registered cancellable descendants */
    ts_timer_t *timer;        /* deadline timer, NULL if none or taken */
    /* guarded by the registrar's (parent->canceller's) lock */
    struct ts_ctx *prev;      /* siblings on the registrar's children */
    struct ts_ctx *next;      /* (after detaching: the work list) */
    bool in_registrar;        /* on the registrar's children list */
};

static struct ts_ctx background = {.is_static = true};
static struct ts_ctx todo = {.is_static = true};

ts_ctx_t *ts_ctx_background(void)
{
    return &background;
}

ts_ctx_t *ts_ctx_todo(void)
{
    return &todo;
}

/* ------------------------------------------------------------------------
 * References. */

ts_ctx_t *ts_ctx_retain(ts_ctx_t *ctx)
{
    if (ctx && !ctx->is_static)
        __atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
    return ctx;
}

/* The last reference frees the context and drops its parent's reference:
 * a loop, not a recursion, for long chains. */
void ts_ctx_release(ts_ctx_t *ctx)
{
    while (ctx && !ctx->is_static &&
           __atomic_sub_fetch(&ctx->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        struct ts_ctx *parent = ctx->parent;
        ts_chan_release(ctx->done);
        free(ctx);
        ctx = parent;
    }
}

static struct ts_ctx *checked(ts_ctx_t *ctx)
{
    if (!ctx)
        ts_panic_code(TS_PANIC_MISUSE, "nil context");
    return ctx;
}

/* ctx_new: a context under parent with one reference (the caller's);
 * cancellable ones get a done channel. NULL when out of memory. */
static struct ts_ctx *ctx_new(struct ts_ctx *parent, bool cancellable)
{
    if (!parent)
        ts_panic_code(TS_PANIC_MISUSE, "cannot create context from nil parent");
    struct ts_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (cancellable && !(c->done = ts_chan_make(0, 0))) {
        free(c);
        return NULL;
    }
    c->refs = 1;
    c->parent = ts_ctx_retain(parent);
    c->canceller = cancellable ? c : parent->canceller;
    c->deadline = parent->deadline;
    c->has_deadline = parent->has_deadline;
    return c;
}

/* ------------------------------------------------------------------------
 * Cancellation. */

/* detach_children: move c's children onto *work, each with a reference.
 * Called with c->lock held. */
static void detach_children(struct ts_ctx *c, struct ts_ctx **work)
{
    struct ts_ctx *child;
    while ((child = c->children) != NULL) {
        c->children = child->next;
        child->in_registrar = false;
        ts_ctx_retain(child);
        child->next = *work;
        *work = child;
    }
}

/* cancel_one: cancel c alone with err and cause, detaching its children
 * onto *work. Returns false if c was already cancelled. The caller holds a
 * reference to c, so the timer's cannot be the last. */
static bool cancel_one(struct ts_ctx *c, int err, int cause,
                       struct ts_ctx **work)
{
    ts_timer_t *timer = NULL;
    ts__lock(&c->lock);
    bool first = c->err == 0;
    if (first) {
        c->cause = cause;
        ts__race_release(c); /* cancel -> ts_ctx_err seeing err */
        __atomic_store_n(&c->err, err, __ATOMIC_RELEASE);
        detach_children(c, work);
        timer = c->timer;
        c->timer = NULL;
    }
    ts__unlock(&c->lock);
    if (!first)
        return false;
    ts_chan_close(c->done);
    if (timer && ts_timer_stop(timer))
        ts_ctx_release(c); /* the timer's function will not run */
    ts_timer_free(timer);
    return true;
}

/* unregister: take c off its registrar's children list, if still on it. */
static void unregister(struct ts_ctx *c)
{
    struct ts_ctx *r = c->parent->canceller;
    if (!r)
        return;
    ts__lock(&r->lock);
    if (c->in_registrar) {
        if (c->prev)
            c->prev->next = c->next;
        else
            r->children = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->in_registrar = false;
    }
    ts__unlock(&r->lock);
}

/* cancel: cancel c and all its descendants (Go's cancelCtx.cancel). A
 * registrar cancelling its children passes remove == false: it has already
 * detached them. */
static void cancel(struct ts_ctx *c, bool remove, int err, int cause)
{
    struct ts_ctx *work = NULL;
    if (!cancel_one(c, err, cause, &work))
        return;
    if (remove)
        unregister(c);
    while (work) {
        struct ts_ctx *child = work;
        work = child->next;
        cancel_one(child, err, cause, &work);
        ts_ctx_release(child);
    }
}

/* propagate: register a new cancellable c with its registrar, or cancel it
 * at once if the registrar is already cancelled (Go's propagateCancel). */
static void propagate(struct ts_ctx *c)
{
    struct ts_ctx *r = c->parent->canceller;
    if (!r)
        return;
    ts__lock(&r->lock);
    int err = r->err, cause = r->cause;
    if (!err) {
        c->prev = NULL;
        c->next = r->children;
        if (c->next)
            c->next->prev = c;
        r->children = c;
        c->in_registrar = true;
    }
    ts__unlock(&r->lock);
    if (err) {
        ts__race_acquire(r); /* the parent's cancel -> this child's */
        cancel(c, false, err, cause);
    }
}

void ts_cancel_cause(ts_cancel_t *cancel_fn, int cause)
{
    struct ts_ctx *c = (struct ts_ctx *)cancel_fn;
    if (!c)
        return;
    cancel(c, true, ECANCELED, cause ? cause : ECANCELED);
    if (!__atomic_exchange_n(&c->creator_dropped, true, __ATOMIC_ACQ_REL))
        ts_ctx_release(c);
}

void ts_cancel(ts_cancel_t *cancel_fn)
{
    ts_cancel_cause(cancel_fn, 0);
}

/* ------------------------------------------------------------------------
 * Constructors. The cancel handle is the context's own address: it is
 * never dereferenced as a struct ts_cancel. */

ts_ctx_t *ts_ctx_with_cancel(ts_ctx_t *parent, ts_cancel_t **cancel_out)
{
    if (!cancel_out)
        ts_panic_code(TS_PANIC_MISUSE, "ts_ctx_with_cancel: nil cancel");
    struct ts_ctx *c = ctx_new(parent, true);
    *cancel_out = (ts_cancel_t *)c;
    if (c)
        propagate(c);
    return c;
}

/* deadline_fire: the deadline timer's function, in a task of its own; it
 * holds the timer's reference. */
static void deadline_fire(void *arg)
{
    struct ts_ctx *c = arg;
    cancel(c, true, ETIMEDOUT, ETIMEDOUT);
    ts_ctx_release(c);
}

/* arm: give c (registered, not yet returned) a timer for its deadline.
 * false when out of memory. If c is cancelled meanwhile, the cancel found
 * no timer: stop and free it here. */
static bool arm(struct ts_ctx *c)
{
    ts_ctx_retain(c); /* the timer's */
    ts_timer_t *timer = ts_after_func(c->deadline - ts_now(), deadline_fire, c);
    if (!timer) {
        ts_ctx_release(c);
        return false;
    }
    ts__lock(&c->lock);
    if (c->err == 0) {
        c->timer = timer;
        timer = NULL;
    }
    ts__unlock(&c->lock);
    if (timer && ts_timer_stop(timer))
        ts_ctx_release(c);
    ts_timer_free(timer);
    return true;
}

ts_ctx_t *ts_ctx_with_deadline(ts_ctx_t *parent, int64_t deadline,
                               ts_cancel_t **cancel_out)
{
    if (checked(parent)->has_deadline && parent->deadline <= deadline)
        return ts_ctx_with_cancel(parent, cancel_out); /* Go's rule */
    ts_ctx_t *c = ts_ctx_with_cancel(parent, cancel_out);
    if (!c)
        return NULL;
    c->deadline = deadline;
    c->has_deadline = true;
    if (deadline <= ts_now()) {
        cancel(c, true, ETIMEDOUT, ETIMEDOUT);
    } else if (!arm(c)) {
        ts_cancel(*cancel_out);
        *cancel_out = NULL;
        return NULL;
    }
    return c;
}

ts_ctx_t *ts_ctx_with_timeout(ts_ctx_t *parent, int64_t d,
                              ts_cancel_t **cancel_out)
{
    int64_t now = ts_now();
    int64_t deadline = d > INT64_MAX - now ? INT64_MAX : now + d;
    return ts_ctx_with_deadline(parent, deadline, cancel_out);
}

ts_ctx_t *ts_ctx_with_value(ts_ctx_t *parent, const void *key, void *val)
{
    if (!key)
        ts_panic_code(TS_PANIC_MISUSE, "nil key");
    struct ts_ctx *c = ctx_new(parent, false);
    if (c) {
        c->key = key;
        c->val = val;
    }
    return c;
}

/* ------------------------------------------------------------------------
 * Accessors. */

void *ts_ctx_value(ts_ctx_t *ctx, const void *key)
{
    for (struct ts_ctx *c = checked(ctx); c; c = c->parent)
        if (c->key == key) /* NULL matches a non-value ctx: val NULL */
            return c->val;
    return NULL;
}

ts_chan_t *ts_ctx_done(ts_ctx_t *ctx)
{
    struct ts_ctx *c = checked(ctx)->canceller;
    return c ? c->done : NULL;
}

/* err_of: c's canceller's error, with the cancel's happens-before edge. */
static int err_of(struct ts_ctx *c)
{
    c = checked(c)->canceller;
    int err = c ? __atomic_load_n(&c->err, __ATOMIC_ACQUIRE) : 0;
    if (err)
        ts__race_acquire(c);
    return err;
}

int ts_ctx_err(ts_ctx_t *ctx)
{
    return err_of(ctx);
}

int ts_ctx_cause(ts_ctx_t *ctx)
{
    return err_of(ctx) ? ctx->canceller->cause : 0;
}

bool ts_ctx_deadline(ts_ctx_t *ctx, int64_t *out)
{
    if (!checked(ctx)->has_deadline)
        return false;
    if (out)
        *out = ctx->deadline;
    return true;
}
