/* taskscope — ts_pool_t: Go's sync.Pool, with its victim cache.
 *
 * Layout: a pool's caches are one array of nprocs + 1 locals, made on
 * first use: local i belongs to P i, the last one to plain threads.
 *
 *   locals_ -> | P0 | P1 | ... | Pn-1 | threads |   (a cache line each)
 *   local:      private   one object, taken and given by atomic exchange
 *               shared    LIFO stack of objects put on this P
 *               victim    LIFO stack of objects that survived a cleanup
 *
 * Invariants:
 *   - every pooled object is in exactly one place: some local's private
 *     slot, shared stack or victim stack. Moves are an exchange on private
 *     or a change under the local's lock, so no object is lost or handed
 *     out twice;
 *   - a get takes, in order: its own private slot, its own shared stack,
 *     the other locals' shared stacks, then their private slots (stealing;
 *     Go leaves other Ps' private slots alone because it reads them
 *     without atomics, here an exchange makes it safe), the victim stacks;
 *     only then does it call new_fn. Put fills its own private slot if empty,
 *     else pushes on its own shared stack. A thread's local has no private
 *     slot in use;
 *   - a cleanup of a local drops its victim stack, makes the shared stack
 *     the victim and moves the private object onto it: an object put
 *     before two cleanups (and not taken) has been dropped after them.
 *
 * Ownership and locks: a local's private slot is atomic; its lock guards
 * shared and victim (len is also stored atomically, so a stealer can skip
 * an empty stack without locking it). The lock is a runtime spin-futex
 * lock held for a push or a pop (and a realloc when a stack grows), never
 * across user code: new_fn and free_fn run with no lock held, except
 * pools_mu below. pools_mu (a ts_mutex_t: it may be held while free_fn
 * runs and parks) guards the list of pools and is held by
 * ts_pool_cleanup for its whole run and by the first use and destroy of a
 * pool. Order: pools_mu > local lock.
 *
 * Which local: a task uses its M's P (ts__getm()->p). Tasks are
 * cooperative, so nothing runs on that P between reading its id and using
 * its local; correctness does not depend on it anyway (exchanges and the
 * lock), only locality does.
 *
 * Rejected: Go's lock-free poolChain (owner pushes and pops at the head,
 * stealers pop at the tail) is needed there because Get/Put run with
 * preemption disabled and must never block; here an uncontended lock is
 * one CAS and one exchange, and stealing is rare. A global cleanup under
 * stop-the-world as Go's GC does is not available: cleanup runs
 * concurrently with get and put, which the per-local locks allow.
 *
 * ThreadSanitizer: put releases the object's address before publishing
 * it; get and the drop acquire it after taking it. */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/pool.h>
#include <taskscope/sync.h>

#include "runtime/race.h"
#include "runtime/sched.h"

struct stack {
    void **items;       /* lock; malloc'd, NULL while cap == 0 */
    uint32_t len;       /* lock; atomic stores, read unlocked as a hint */
    uint32_t cap;       /* lock */
};

struct local {
    alignas(64) void *private; /* atomic: one object or NULL */
    ts__lock_t lock;            /* guards shared and victim */
    struct stack shared;
    struct stack victim;
};

struct locals {
    int n;                      /* nprocs + 1: the last is for threads */
    struct local l[];
};

static ts_mutex_t pools_mu = TS_MUTEX_INIT; /* guards pools, next_ links */
static ts_pool_t *pools;                    /* every pool with locals */

void ts_pool_init(ts_pool_t *p, void *(*new_fn)(void *arg), void *arg)
{
    memset(p, 0, sizeof *p);
    p->new_fn = new_fn;
    p->arg = arg;
}

/* ---- stacks (called with the local's lock held) ------------------------ */

/* push: x on s, one of l's stacks. TSan sees realloc and free (their
 * interceptors) but not l's lock around them: the acquire and release on
 * l tell it that the allocations of l's stacks are ordered (race.h). */
static bool push(struct local *l, struct stack *s, void *x)
{
    if (s->len == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 8;
        ts__race_acquire(l);
        void **items = realloc(s->items, cap * sizeof *items);
        ts__race_release(l);
        if (!items)
            return false;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->len] = x;
    __atomic_store_n(&s->len, s->len + 1, __ATOMIC_RELAXED);
    return true;
}

static void *pop(struct stack *s)
{
    if (s->len == 0)
        return NULL;
    __atomic_store_n(&s->len, s->len - 1, __ATOMIC_RELAXED);
    return s->items[s->len];
}

/* take_from: pop the shared (or victim) stack of l, NULL when empty. */
static void *take_from(struct local *l, bool victim)
{
    struct stack *s = victim ? &l->victim : &l->shared;
    if (__atomic_load_n(&s->len, __ATOMIC_RELAXED) == 0)
        return NULL;
    ts__lock(&l->lock);
    void *x = pop(s);
    ts__unlock(&l->lock);
    return x;
}

/* ---- dropping ------------------------------------------------------------ */

static void drop(ts_pool_t *p, void *x)
{
    ts__race_acquire(x);
    if (p->free_fn)
        p->free_fn(x, p->arg);
}

/* drop_all: drop the items of a stack detached from its local; free it. */
static void drop_all(ts_pool_t *p, struct stack *s)
{
    for (uint32_t i = 0; i < s->len; i++)
        drop(p, s->items[i]);
    free(s->items);
}

/* cleanup_local: Go's poolCleanup for one local: drop the victim stack,
 * the shared stack and the private object become the victim. */
static void cleanup_local(ts_pool_t *p, struct local *l)
{
    void *priv = __atomic_exchange_n(&l->private, NULL, __ATOMIC_ACQ_REL);
    ts__lock(&l->lock);
    struct stack old = l->victim;
    l->victim = l->shared;
    memset(&l->shared, 0, sizeof l->shared);
    bool kept = priv == NULL || push(l, &l->victim, priv);
    ts__race_acquire(l); /* old.items: its reallocs happen before its free */
    ts__unlock(&l->lock);
    if (!kept)
        drop(p, priv);
    drop_all(p, &old);
}

static void cleanup_pool(ts_pool_t *p, struct locals *ls)
{
    for (int i = 0; i < ls->n; i++)
        cleanup_local(p, &ls->l[i]);
}

/* maybe_cleanup: the timed cleanup of put, at most once per
 * cleanup_every (the CAS elects one caller). */
static void maybe_cleanup(ts_pool_t *p, struct locals *ls)
{
    int64_t every = p->cleanup_every;
    if (every <= 0)
        return;
    int64_t now = ts__coarse_now();
    int64_t last = __atomic_load_n(&p->last_cleanup_, __ATOMIC_RELAXED);
    if (now - last < every ||
        !__atomic_compare_exchange_n(&p->last_cleanup_, &last, now, false,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;
    cleanup_pool(p, ls);
}

/* ---- locals -------------------------------------------------------------- */

/* make_locals: allocate p's locals and register p, once (pools_mu). NULL
 * when out of memory. */
static struct locals *make_locals(ts_pool_t *p)
{
    int n = ts__nprocs() + 1;
    ts_mutex_lock(&pools_mu);
    struct locals *ls = __atomic_load_n(&p->locals_, __ATOMIC_ACQUIRE);
    if (!ls) {
        size_t size = sizeof *ls + (size_t)n * sizeof ls->l[0];
        ls = aligned_alloc(alignof(struct local), (size + 63) & ~(size_t)63);
        if (ls) {
            memset(ls, 0, size);
            ls->n = n;
            p->last_cleanup_ = ts__coarse_now();
            p->next_ = pools;
            pools = p;
            __atomic_store_n(&p->locals_, ls, __ATOMIC_RELEASE);
        }
    }
    ts_mutex_unlock(&pools_mu);
    return ls;
}

static struct locals *get_locals(ts_pool_t *p)
{
    struct locals *ls = __atomic_load_n(&p->locals_, __ATOMIC_ACQUIRE);
    return ls ? ls : make_locals(p);
}

/* my_local: the caller's P's local, or the threads' one. */
static int my_local(struct locals *ls)
{
    struct ts_m *m = ts__getm();
    return m ? m->p->id : ls->n - 1;
}

/* ---- API ----------------------------------------------------------------- */

/* take_private: l's private object, NULL when empty. */
static void *take_private(struct local *l)
{
    if (__atomic_load_n(&l->private, __ATOMIC_RELAXED) == NULL)
        return NULL;
    return __atomic_exchange_n(&l->private, NULL, __ATOMIC_ACQ_REL);
}

static void *take(struct locals *ls)
{
    int me = my_local(ls);
    void *x = take_private(&ls->l[me]);
    for (int k = 0; !x && k < ls->n; k++)
        x = take_from(&ls->l[(me + k) % ls->n], false);
    for (int k = 1; !x && k < ls->n; k++)
        x = take_private(&ls->l[(me + k) % ls->n]);
    for (int k = 0; !x && k < ls->n; k++)
        x = take_from(&ls->l[(me + k) % ls->n], true);
    return x;
}

void *ts_pool_get(ts_pool_t *p)
{
    struct locals *ls = get_locals(p);
    void *x = ls ? take(ls) : NULL;
    if (x) {
        ts__race_acquire(x);
        return x;
    }
    return p->new_fn ? p->new_fn(p->arg) : NULL;
}

void ts_pool_put(ts_pool_t *p, void *x)
{
    if (!x)
        return;
    ts__race_release(x);
    struct locals *ls = get_locals(p);
    if (!ls) {
        drop(p, x);
        return;
    }
    int me = my_local(ls);
    struct local *l = &ls->l[me];
    void *none = NULL;
    bool kept = me < ls->n - 1 &&
                __atomic_compare_exchange_n(&l->private, &none, x, false,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED);
    if (!kept) {
        ts__lock(&l->lock);
        kept = push(l, &l->shared, x);
        ts__unlock(&l->lock);
    }
    if (!kept)
        drop(p, x);
    maybe_cleanup(p, ls);
}

void ts_pool_cleanup(void)
{
    ts_mutex_lock(&pools_mu);
    for (ts_pool_t *p = pools; p; p = p->next_)
        cleanup_pool(p, p->locals_);
    ts_mutex_unlock(&pools_mu);
}

void ts_pool_destroy(ts_pool_t *p)
{
    struct locals *ls = __atomic_load_n(&p->locals_, __ATOMIC_ACQUIRE);
    if (!ls)
        return;
    ts_mutex_lock(&pools_mu);
    ts_pool_t **pp = &pools;
    while (*pp != p)
        pp = &(*pp)->next_;
    *pp = p->next_;
    ts_mutex_unlock(&pools_mu);
    cleanup_pool(p, ls); /* everything becomes victim ... */
    cleanup_pool(p, ls); /* ... and is dropped; the stacks are empty */
    free(ls);
    p->locals_ = NULL;
    p->last_cleanup_ = 0;
    p->next_ = NULL;
}
