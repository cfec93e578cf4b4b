/* taskscope — Go's sync package: Mutex, WaitGroup, Once, RWMutex, Cond,
 * and the weighted semaphore of golang.org/x/sync/semaphore.
 *
 * Every type lives in the caller's memory (a struct member, a static, a
 * local that outlives its users); its fields are private. A zero-filled
 * value is ready to use, as in Go, except ts_cond_t (needs its mutex) and
 * ts_sem_t (needs its size). None may be copied once used. There is
 * nothing to destroy.
 *
 * Every call works from tasks (a blocked task parks; the goroutine dump
 * shows Go's wait reason, "sync.Mutex.Lock" and so on) and from plain
 * threads (the thread sleeps on a futex). A contended ts_mutex_t appears
 * in the block profile (the waiters) and in the mutex profile (the
 * unlocker, charged with the waiters' delay); docs/sync.md has the rest.
 *
 * Misuse Go panics on panics here too, with Go's message, recoverable
 * (ts_pcall / ts_recover; code TS_PANIC_MISUSE): unlock of an unlocked
 * mutex, a negative WaitGroup counter, and so on. Go makes the mutex cases
 * fatal; taskscope leaves the primitive as it was before the bad call.
 *
 * Memory model (Go's, announced to ThreadSanitizer in the tsan build):
 * the n-th unlock happens before the (n+1)-th lock returns; an RUnlock
 * happens before the Lock it lets in, and an Unlock before the RLocks it
 * lets in; every Done happens before the Wait it releases returns; the
 * once function's return happens before every ts_once_do returns; a
 * signal or broadcast happens before the waits it wakes return; a release
 * happens before the acquire it satisfies returns. */
#ifndef TASKSCOPE_SYNC_H
#define TASKSCOPE_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

/* The static initializers below: all zero (C's {0}, C++'s {}). */
#ifdef __cplusplus
#define TS_SYNC_ZERO {}
#else
#define TS_SYNC_ZERO {0}
#endif

/* ---- Mutex -------------------------------------------------------------
 * Go's sync.Mutex: not reentrant, not owned (any task or thread may unlock
 * a locked mutex). Normal mode: woken waiters compete with arriving
 * lockers (who usually win: they are already running). A waiter that has
 * waited over 1 ms switches the mutex to starvation mode: each unlock then
 * hands the mutex directly to the waiter at the head of the FIFO queue,
 * and arrivals queue at the tail. It switches back when a waiter that got
 * the mutex is the last one or waited less than 1 ms. */
typedef struct ts_mutex {
    int32_t state_;     /* private: locked, woken, starving, waiters */
    uint32_t sema_;     /* private: wake-ups granted, not yet taken */
    uint32_t lock_[2];  /* private: guards the wait queue */
    uint32_t nwait_;    /* private: queued waiters */
    void *queue_[2];    /* private: FIFO of waiting tasks and threads */
    uint64_t owner_;    /* private: holder's task id, for diagnostics */
} ts_mutex_t;

#define TS_MUTEX_INIT TS_SYNC_ZERO

/* ts_mutex_lock: lock m, blocking while another holds it. */
TS_EXPORT void ts_mutex_lock(ts_mutex_t *m);

/* ts_mutex_trylock: lock m if it is free and not in starvation mode, at
 * once; true if locked. */
TS_EXPORT bool ts_mutex_trylock(ts_mutex_t *m);

/* ts_mutex_unlock: unlock m. Panics (misuse) with "sync: unlock of
 * unlocked mutex" when m is not locked; m is left unlocked. */
TS_EXPORT void ts_mutex_unlock(ts_mutex_t *m);

/* ---- WaitGroup ---------------------------------------------------------
 * Go's sync.WaitGroup: a counter; Wait blocks until it is zero. Call Add
 * with a positive delta before starting what will call Done, and before
 * Wait. */
typedef struct ts_waitgroup {
    uint64_t state_;    /* private: counter << 32 | waiters */
    uint32_t sema_;     /* private */
    uint32_t lock_[2];  /* private */
    void *queue_[2];    /* private */
} ts_waitgroup_t;

#define TS_WAITGROUP_INIT TS_SYNC_ZERO

/* ts_waitgroup_add: add delta (may be negative) to the counter; at zero,
 * every Wait returns. Panics (misuse) with "sync: negative WaitGroup
 * counter" (the counter is left as it was), or "sync: WaitGroup misuse:
 * Add called concurrently with Wait" when that is detected. */
TS_EXPORT void ts_waitgroup_add(ts_waitgroup_t *wg, int delta);

/* ts_waitgroup_done: ts_waitgroup_add(wg, -1). */
TS_EXPORT void ts_waitgroup_done(ts_waitgroup_t *wg);

/* ts_waitgroup_wait: block until the counter is zero. Panics (misuse) with
 * "sync: WaitGroup is reused before previous Wait has returned" when Add
 * raised the counter again before every waiter of the last zero left. */
TS_EXPORT void ts_waitgroup_wait(ts_waitgroup_t *wg);

/* ---- Once --------------------------------------------------------------
 * Go's sync.Once and sync.OnceValue. */
typedef struct ts_once {
    uint32_t done_;     /* private: 1 once the function has returned */
    int result_;        /* private: ts_once_do_result's value */
    void *panic_;       /* private: ts_once_do_result: the first panic */
    ts_mutex_t mu_;     /* private: held while the function runs */
} ts_once_t;

#define TS_ONCE_INIT TS_SYNC_ZERO

/* ts_once_do: call fn(arg) if no ts_once_do (or ts_once_do_result) call on
 * o has called its function yet. Every call returns only after that one
 * call has returned. If fn panics, the panic goes on and o counts as done
 * (later calls return at once). fn must not call ts_once_do on o: that
 * deadlocks, as in Go. */
TS_EXPORT void ts_once_do(ts_once_t *o, void (*fn)(void *), void *arg);

/* ts_once_do_result: as ts_once_do, and return the result of the one call
 * of fn to every caller (Go's OnceValue). If fn panicked, every call
 * panics with the same value (a copy kept for the life of the program). */
TS_EXPORT int ts_once_do_result(ts_once_t *o, int (*fn)(void *), void *arg);

/* ---- RWMutex -----------------------------------------------------------
 * Go's sync.RWMutex: many readers or one writer. A writer blocked in Lock
 * stops new readers, so readers cannot starve it (and a reader must not
 * RLock again while it holds a read lock: a writer in between deadlocks
 * both, as in Go). */
typedef struct ts_rwmutex {
    ts_mutex_t w_;          /* private: held by the writer */
    int32_t readers_;       /* private: readers; negative: writer pending */
    int32_t departing_;     /* private: readers the writer waits for */
    uint32_t reader_sema_;  /* private */
    uint32_t writer_sema_;  /* private */
    uint32_t lock_[2];      /* private */
    void *readers_queue_[2]; /* private */
    void *writer_queue_[2];  /* private */
} ts_rwmutex_t;

#define TS_RWMUTEX_INIT TS_SYNC_ZERO

/* ts_rwmutex_rlock: lock for reading; blocks while a writer holds or waits
 * for the lock. */
TS_EXPORT void ts_rwmutex_rlock(ts_rwmutex_t *rw);

/* ts_rwmutex_tryrlock: ts_rwmutex_rlock without blocking; true if locked. */
TS_EXPORT bool ts_rwmutex_tryrlock(ts_rwmutex_t *rw);

/* ts_rwmutex_runlock: undo one rlock. Panics (misuse) with "sync: RUnlock
 * of unlocked RWMutex" when no reader holds it. */
TS_EXPORT void ts_rwmutex_runlock(ts_rwmutex_t *rw);

/* ts_rwmutex_lock: lock for writing; blocks while anyone holds it. */
TS_EXPORT void ts_rwmutex_lock(ts_rwmutex_t *rw);

/* ts_rwmutex_trylock: ts_rwmutex_lock without blocking; true if locked. */
TS_EXPORT bool ts_rwmutex_trylock(ts_rwmutex_t *rw);

/* ts_rwmutex_unlock: unlock for writing. Panics (misuse) with "sync:
 * Unlock of unlocked RWMutex" when no writer holds it. */
TS_EXPORT void ts_rwmutex_unlock(ts_rwmutex_t *rw);

/* ---- Cond --------------------------------------------------------------
 * Go's sync.Cond over a ts_mutex_t. */
typedef struct ts_cond {
    ts_mutex_t *l_;     /* private: the mutex Wait releases */
    uint32_t wait_;     /* private: tickets handed to waiters */
    uint32_t notify_;   /* private: tickets signalled */
    uint32_t lock_[2];  /* private */
    void *queue_[2];    /* private */
} ts_cond_t;

/* ts_cond_init: c waits with m (Go's sync.NewCond(m)). */
TS_EXPORT void ts_cond_init(ts_cond_t *c, ts_mutex_t *m);

/* ts_cond_wait: with c's mutex locked by the caller: unlock it, block until
 * a signal or broadcast, lock it again. Wake-ups come only from signal and
 * broadcast, but the condition may have changed again since: wait in a
 * loop that re-checks it. */
TS_EXPORT void ts_cond_wait(ts_cond_t *c);

/* ts_cond_signal: wake the longest waiting Wait, if any. */
TS_EXPORT void ts_cond_signal(ts_cond_t *c);

/* ts_cond_broadcast: wake every Wait. */
TS_EXPORT void ts_cond_broadcast(ts_cond_t *c);

/* ---- Weighted semaphore ------------------------------------------------
 * golang.org/x/sync/semaphore.Weighted: size units; acquire(n) takes n,
 * release(n) gives them back. Waiters are served first come, first
 * served: a large request at the head holds back smaller ones behind it. */
typedef struct ts_sem {
    int64_t size_;      /* private */
    int64_t cur_;       /* private: units held */
    uint32_t lock_[2];  /* private */
    void *queue_[2];    /* private */
} ts_sem_t;

#define TS_SEM_INIT(size) {(size), 0, {0, 0}, {0, 0}}

/* ts_sem_init: a semaphore of size units, all free. */
TS_EXPORT void ts_sem_init(ts_sem_t *s, int64_t size);

/* ts_sem_acquire: take n units, blocking until they are free and every
 * earlier waiter was served. n > size blocks forever, as in Go. Returns
 * 0. */
TS_EXPORT int ts_sem_acquire(ts_sem_t *s, int64_t n);

/* ts_sem_acquire_deadline: the same, giving up at deadline (ts_now()'s
 * clock, ns): 0 when acquired, ETIMEDOUT when the deadline passed first
 * (nothing held then). */
TS_EXPORT int ts_sem_acquire_deadline(ts_sem_t *s, int64_t n,
                                      int64_t deadline);

/* ts_sem_try_acquire: take n units without blocking; true if taken (never
 * while others wait). */
TS_EXPORT bool ts_sem_try_acquire(ts_sem_t *s, int64_t n);

/* ts_sem_release: give back n units and serve the waiters that now fit.
 * Panics (misuse) with "semaphore: released more than held". */
TS_EXPORT void ts_sem_release(ts_sem_t *s, int64_t n);

TS_END_DECLS

#endif
