/* taskscope — ts_atomic_value_t: Go's atomic.Value for C pointers, with
 * reference counts that tell when an old pointer may be destroyed.
 *
 * Each stored pointer gets a node {ptr, refs}; the value points at the
 * current node and keeps a list of the nodes not yet freed:
 *
 *   current_ --> [B refs=1+2] --> [A refs=1] --> [Z refs=0] --> NULL
 *   nodes_   ----^  current        retired,        dead: freed by the
 *                                  one reader      next writer
 *
 * Scheme: per-pointer reference counts, made safe to take by two reader
 * counters in the style of SRCU (Linux's sleepable RCU, and userspace
 * RCU's two-phase grace period). A load increments active_[phase], reads
 * current_, increments that node's refs, and decrements the counter. A
 * writer publishes the new node, then waits for a grace period: it flips
 * phase and waits until the old phase's counter reads zero, twice, so
 * each counter has been seen at zero after the publication. Every loader
 * that may have read the old node has then taken its count, so the old
 * node's refs can only go down from there: the writer drops the node's
 * "current" count, and whoever takes refs to zero runs the destructor.
 *
 * Why this and not the alternatives: a count is what C needs, since a
 * reader may keep the object across parks and migrate between threads,
 * which rules out plain epoch-based reclamation (its read sections are
 * per thread and would stall writers for as long as a reader holds on).
 * A split (pointer + local count) word needs a 128-bit CAS or spare
 * pointer bits; hazard pointers need a slot per reader, and readers here
 * are unbounded (tasks). The grace period costs the writer, which Go's
 * use of atomic.Value (read-mostly configuration) can afford; the reader
 * pays three atomic increments and three decrements, never a lock.
 *
 * Invariants:
 *   - refs = references held by loaders and swappers + 1 while the node is
 *     current or retired without a grace period since;
 *   - a node with refs == 0 is never current and no count is ever taken
 *     on it again: the destructor has run (or is running) on its ptr;
 *   - a live pointer is in one node only (a store of the current pointer
 *     does nothing; the caller may not store a pointer it handed over
 *     until its destructor ran), so release can find the node by ptr;
 *   - nodes leave the list only under writer_, and are freed one grace
 *     period after they left it: a release walking the list (inside a
 *     reader section) never reads a freed node.
 *
 * Locks: writer_ (a ts_mutex_t) serialises store, swap, compare-and-swap
 * and the list's unlinks; it is never held while the destructor runs.
 * The grace period spins (sched_yield) while holding it: a reader section
 * is a few instructions and never parks.
 *
 * ThreadSanitizer: a store releases v before publishing; a load acquires
 * v. A release releases the node; whoever takes refs to zero acquires the
 * node before the destructor, while the node is still allocated. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <taskscope/atomic_value.h>
#include <taskscope/panic.h>

#include "runtime/race.h"

struct node {
    void *ptr;          /* immutable */
    uint64_t refs;      /* atomic */
    struct node *next;  /* atomic; written under writer_, never again
                           once the node is off the list */
    struct node *dead_next; /* writer_: the unlinked nodes to free */
};

void ts_atomic_value_init(ts_atomic_value_t *v,
                          void (*destroy)(void *ptr, void *arg), void *arg)
{
    *v = (ts_atomic_value_t)TS_ATOMIC_VALUE_INIT(destroy, arg);
}

/* ---- reader sections and grace periods ---------------------------------- */

static uint32_t enter(ts_atomic_value_t *v)
{
    uint32_t ph = __atomic_load_n(&v->phase_, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&v->active_[ph], 1, __ATOMIC_SEQ_CST);
    return ph;
}

static void leave(ts_atomic_value_t *v, uint32_t ph)
{
    __atomic_sub_fetch(&v->active_[ph], 1, __ATOMIC_SEQ_CST);
}

/* synchronize: wait until every reader section that began before the call
 * has ended. Called with writer_ held. */
static void synchronize(ts_atomic_value_t *v)
{
    for (int round = 0; round < 2; round++) {
        uint32_t ph = __atomic_load_n(&v->phase_, __ATOMIC_SEQ_CST);
        __atomic_store_n(&v->phase_, ph ^ 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&v->active_[ph], __ATOMIC_SEQ_CST) != 0)
            sched_yield();
    }
}

/* ---- counts --------------------------------------------------------------- */

/* drop_ref: give back one count on n; returns n's ptr when it was the
 * last (the caller runs the destructor), else NULL. n must stay allocated
 * during the call (reader section or writer_). */
static void *drop_ref(struct node *n)
{
    ts__race_release(n);
    if (__atomic_sub_fetch(&n->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return NULL;
    ts__race_acquire(n);
    return n->ptr;
}

static void run_destroy(ts_atomic_value_t *v, void *ptr)
{
    if (ptr && v->destroy)
        v->destroy(ptr, v->arg);
}

/* find: the node holding a live ptr. In a reader section or writer_. */
static struct node *find(ts_atomic_value_t *v, void *ptr)
{
    struct node *n = __atomic_load_n((struct node **)&v->nodes_,
                                     __ATOMIC_ACQUIRE);
    for (; n; n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE))
        if (n->ptr == ptr && __atomic_load_n(&n->refs, __ATOMIC_ACQUIRE) > 0)
            return n;
    return NULL;
}

void *ts_atomic_value_load(ts_atomic_value_t *v)
{
    uint32_t ph = enter(v);
    struct node *n = __atomic_load_n((struct node **)&v->current_,
                                     __ATOMIC_SEQ_CST);
    if (n)
        __atomic_add_fetch(&n->refs, 1, __ATOMIC_SEQ_CST);
    leave(v, ph);
    ts__race_acquire(v);
    return n ? n->ptr : NULL;
}

void ts_atomic_value_release(ts_atomic_value_t *v, void *ptr)
{
    if (!ptr)
        return;
    uint32_t ph = enter(v);
    struct node *n = find(v, ptr);
    void *dead = n ? drop_ref(n) : NULL;
    leave(v, ph);
    if (!n)
        ts_panic_code(TS_PANIC_MISUSE, "sync/atomic: release of a pointer "
                                       "not loaded from Value");
    run_destroy(v, dead);
}

/* ---- writers (writer_ held) ----------------------------------------------- */

/* unlink_dead: take the nodes with no count off the list; returns them,
 * linked by next, to free after a grace period. */
static struct node *unlink_dead(ts_atomic_value_t *v)
{
    struct node *dead = NULL;
    struct node **link = (struct node **)&v->nodes_;
    struct node *n;
    while ((n = *link) != NULL) {
        if (__atomic_load_n(&n->refs, __ATOMIC_ACQUIRE) == 0) {
            __atomic_store_n(link, n->next, __ATOMIC_RELEASE);
            n->dead_next = dead; /* n->next stays: readers on n go on */
            dead = n;
        } else {
            link = &n->next;
        }
    }
    return dead;
}

static void free_nodes(struct node *n)
{
    while (n) {
        struct node *next = n->dead_next;
        free(n);
        n = next;
    }
}

static void writer_lock(ts_atomic_value_t *v) { ts_mutex_lock(&v->writer_); }

/* publish: make a new node for ptr current, wait for a grace period, free
 * the dead nodes; returns the old current node (its "current" count is
 * now the caller's), or NULL. Unlocks writer_ and panics when out of
 * memory. */
static struct node *publish(ts_atomic_value_t *v, void *ptr)
{
    struct node *n = malloc(sizeof *n);
    if (!n) {
        ts_mutex_unlock(&v->writer_);
        ts_panic_code(ENOMEM, "sync/atomic: out of memory");
    }
    struct node *dead = unlink_dead(v);
    *n = (struct node){.ptr = ptr, .refs = 1, .next = v->nodes_};
    __atomic_store_n((struct node **)&v->nodes_, n, __ATOMIC_RELEASE);
    ts__race_release(v);
    struct node *old = __atomic_exchange_n((struct node **)&v->current_, n,
                                           __ATOMIC_SEQ_CST);
    synchronize(v);
    free_nodes(dead);
    return old;
}

static void *current_ptr(ts_atomic_value_t *v)
{
    struct node *n = v->current_; /* only writers change it: writer_ */
    return n ? n->ptr : NULL;
}

static void nil_panic(const char *op)
{
    ts_panic_code(TS_PANIC_MISUSE, "sync/atomic: %s of nil value into Value",
                  op);
}

void ts_atomic_value_store(ts_atomic_value_t *v, void *ptr)
{
    if (!ptr)
        nil_panic("store");
    writer_lock(v);
    struct node *old = current_ptr(v) == ptr ? NULL : publish(v, ptr);
    void *dead = old ? drop_ref(old) : NULL;
    ts_mutex_unlock(&v->writer_);
    run_destroy(v, dead);
}

void *ts_atomic_value_swap(ts_atomic_value_t *v, void *ptr)
{
    if (!ptr)
        nil_panic("swap");
    writer_lock(v);
    void *ret;
    if (current_ptr(v) == ptr) {
        struct node *n = v->current_;
        __atomic_add_fetch(&n->refs, 1, __ATOMIC_SEQ_CST);
        ret = ptr;
    } else {
        struct node *old = publish(v, ptr);
        ret = old ? old->ptr : NULL; /* its current count is the caller's */
    }
    ts_mutex_unlock(&v->writer_);
    ts__race_acquire(v);
    return ret;
}

bool ts_atomic_value_compare_and_swap(ts_atomic_value_t *v, void *old,
                                      void *new_ptr)
{
    if (!new_ptr)
        nil_panic("compare and swap");
    writer_lock(v);
    void *cur = current_ptr(v);
    bool swapped = cur == old;
    struct node *prev = swapped && cur != new_ptr ? publish(v, new_ptr) : NULL;
    void *dead = prev ? drop_ref(prev) : NULL;
    ts_mutex_unlock(&v->writer_);
    run_destroy(v, dead);
    return swapped;
}

void ts_atomic_value_destroy(ts_atomic_value_t *v)
{
    struct node *cur = v->current_;
    for (struct node *n = v->nodes_; n; n = n->next)
        if (n->refs != (n == cur))
            ts_panic_code(TS_PANIC_MISUSE, "sync/atomic: destroy of a Value "
                                           "with references held");
    void *ptr = cur ? drop_ref(cur) : NULL;
    for (struct node *n = v->nodes_; n; n = n->next)
        n->dead_next = n->next;
    free_nodes(v->nodes_);
    v->current_ = NULL;
    v->nodes_ = NULL;
    run_destroy(v, ptr);
}
