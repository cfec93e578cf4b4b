/* taskscope — Go's sync.Pool: a cache of reusable objects.
 *
 * A pool keeps objects that are expensive to make and cheap to keep (byte
 * buffers, scratch structs) so that tasks can reuse them instead of
 * allocating. As in Go, anything in the pool may be dropped at any time
 * without notice: never keep in it what must survive (connections, state).
 *
 * Dropping: Go drops pooled objects at garbage collections, in two steps
 * (the victim cache): a collection moves what is pooled to a victim cache,
 * the next one drops what is still there. C has no collector, so here a
 * cleanup step does the same, run by
 *   - ts_pool_cleanup(): every pool in the program, like one GC, and
 *   - optionally, per pool, ts_pool_put itself, at most once every
 *     cleanup_every nanoseconds (0, the default: never).
 * No thread of its own and no timer: an idle pool keeps its objects until
 * one of these runs or ts_pool_destroy. A dropped object goes to free_fn
 * (NULL: it is simply forgotten, for objects the program owns elsewhere),
 * called by whoever runs the cleanup; it must not call ts_pool_cleanup or
 * ts_pool_destroy, or use a pool for the first time (ts_pool_cleanup
 * holds the list of pools while it runs).
 *
 * Every call works from tasks (objects are cached per P, Go's per-P
 * private slot and shared list, stolen from other Ps when the caller's are
 * empty) and from plain threads (a shared list of their own). Memory model
 * (announced to ThreadSanitizer in the tsan build): a ts_pool_put of x
 * happens before the ts_pool_get that returns x, and before free_fn(x). */
#ifndef TASKSCOPE_POOL_H
#define TASKSCOPE_POOL_H

#include <stdint.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

typedef struct ts_pool {
    /* public, set before first use (ts_pool_init, TS_POOL_INIT): */
    void *(*new_fn)(void *arg);          /* Go's New: makes an object when
                                            the pool is empty; NULL: get
                                            returns NULL then */
    void (*free_fn)(void *obj, void *arg); /* takes a dropped object */
    void *arg;                           /* passed to both */
    int64_t cleanup_every;               /* ns; > 0: put runs a cleanup of
                                            this pool when that long passed
                                            since the last one */
    /* private: */
    void *locals_;                       /* per-P caches, made on first use */
    int64_t last_cleanup_;               /* coarse clock, ns */
    struct ts_pool *next_;               /* all pools (ts_pool_cleanup) */
} ts_pool_t;

/* Static initializer; a zero-filled ts_pool_t is an empty pool too (get
 * returns NULL when empty, dropped objects are forgotten). */
#define TS_POOL_INIT(new_fn, free_fn, arg) {(new_fn), (free_fn), (arg), 0, 0, 0, 0}

/* ts_pool_init: an empty pool whose get makes objects with new_fn(arg);
 * free_fn and cleanup_every are zero (set them after, before first use). */
TS_EXPORT void ts_pool_init(ts_pool_t *p, void *(*new_fn)(void *arg),
                            void *arg);

/* ts_pool_get: take an object from the pool: the caller's P's own first,
 * then another P's, then one that survived one cleanup; when all are
 * empty, new_fn(arg) (or NULL without new_fn). The caller owns it. */
TS_EXPORT void *ts_pool_get(ts_pool_t *p);

/* ts_pool_put: give x to the pool (NULL: nothing happens). The caller must
 * not use x afterwards. When the pool cannot grow (out of memory) x is
 * dropped at once. May run the pool's timed cleanup (cleanup_every), which
 * calls free_fn from here. */
TS_EXPORT void ts_pool_put(ts_pool_t *p, void *x);

/* ts_pool_cleanup: Go's GC step for every pool in the program: drop what
 * survived the previous cleanup (free_fn), keep what is pooled now as the
 * victim cache, which get still takes from. Two calls with no put between
 * drop everything. Safe at any time, from any task or thread. */
TS_EXPORT void ts_pool_cleanup(void);

/* ts_pool_destroy: drop every object (free_fn) and free the pool's caches;
 * p is a zero-filled pool afterwards, with its public fields kept. No
 * other call on p may run concurrently (C's counterpart of the pool
 * becoming unreachable). */
TS_EXPORT void ts_pool_destroy(ts_pool_t *p);

TS_END_DECLS

#endif
