/* taskscope probe — pthread mutexes and read-write locks: contention for
 * the mutex and block profiles, waits for the blocked-thread dump, and
 * the acquisitions the lock-order graph learns from (lockgraph.c).
 *
 * Every lock is tried first; only a lock that is busy takes the slow path,
 * which times the wait, marks the thread as waiting, and counts itself in
 * the lock's entry of a small open-addressing table (keyed by address).
 *
 * Mutex profile, Go's rule: the value is the waiters' delay and the stack
 * is the holder's unlock. An unlocker sees waiters (their count in the
 * lock's entry) and interns its own stack into the entry; the waiter that
 * then acquires takes that stack and records its measured delay with it.
 * The handover is exact for the lock it concerns: between the unlock and
 * the waiter's acquisition nobody else can unlock this lock. An unlock
 * whose waiter had not counted itself in yet, or was still spinning (an
 * adaptive mutex) rather than sleeping, leaves no stack; that wait stays
 * in the block profile only.
 *
 * Cost model: an uncontended lock is a trylock instead of the lock; a
 * held mutex goes to the real lock without a trylock; a mutex unlock,
 * one load of the mutex's own lock word (the table is looked at only when
 * a sleeper may wait), a rwlock unlock one table probe; no malloc, no
 * lock, no syscall of the probe's own on any path. */
#include "probe/probe.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#include "profiler/record.h"
#include "profiler/stackid.h"
#include "runtime/waitreason.h"

#define TABLE_LOG2 14
#define TABLE_SIZE (1u << TABLE_LOG2)
#define MAX_PROBE 32

struct entry {
    uintptr_t lock;  /* atomic: the lock's address, 0 while free */
    int waiters;     /* atomic: threads in its slow path */
    uint32_t stack;  /* atomic: the last unlocker's stack while waiters > 0 */
};

static struct entry *table;
static uint64_t overflow; /* atomic: slow paths that found no entry */

void ts__probe_locks_init(void)
{
    void *p = mmap(NULL, TABLE_SIZE * sizeof(struct entry), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        fputs("taskscope probe: no memory for the lock table; the mutex profile "
              "stays empty\n", stderr);
    else
        table = p;
}

static size_t slot_of(const void *lock)
{
    uint64_t h = (uint64_t)(uintptr_t)lock * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> (64 - TABLE_LOG2));
}

/* entry_of: the lock's entry; with add, claimed when missing. NULL when
 * missing (or the table is full: counted). */
static struct entry *entry_of(const void *lock, bool add)
{
    if (!table)
        return NULL;
    uintptr_t key = (uintptr_t)lock;
    size_t i = slot_of(lock);
    for (int n = 0; n < MAX_PROBE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
        uintptr_t cur = __atomic_load_n(&table[i].lock, __ATOMIC_ACQUIRE);
        if (cur == 0 && add &&
            __atomic_compare_exchange_n(&table[i].lock, &cur, key, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return &table[i];
        if (cur == key)
            return &table[i];
        if (cur == 0)
            break;
    }
    if (add)
        __atomic_add_fetch(&overflow, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* ---- the two halves of a contended handover ---------------------------- */

static struct entry *wait_enter(const void *lock)
{
    struct entry *e = entry_of(lock, true);
    if (e)
        __atomic_add_fetch(&e->waiters, 1, __ATOMIC_ACQ_REL);
    return e;
}

static void wait_leave(struct entry *e, bool acquired, uint64_t delay)
{
    if (!e)
        return;
    __atomic_sub_fetch(&e->waiters, 1, __ATOMIC_RELEASE);
    uint32_t stack = acquired ? __atomic_exchange_n(&e->stack, 0, __ATOMIC_ACQ_REL) : 0;
    if (stack != TS__STACKID_NONE)
        ts__record_mutex_at(stack, delay);
}

/* note_unlock: called by the unlock interposers; the stack it interns
 * starts at the interposer's call (not at a PC inside this function, which
 * symbolizes as an inlined frame). */
__attribute__((noinline)) static void note_unlock(const void *lock)
{
    struct entry *e = entry_of(lock, false);
    if (!e || !__atomic_load_n(&e->waiters, __ATOMIC_ACQUIRE))
        return;
    uint64_t pcs[TS__STACK_MAX_DEPTH];
    size_t n = ts__capture_current(pcs, TS__STACK_MAX_DEPTH, 1);
    __atomic_store_n(&e->stack, ts__stackid_intern(pcs, n), __ATOMIC_RELEASE);
    __asm__ __volatile__("" ::: "memory"); /* keep this frame: skip counts it */
}

/* contended: the slow path of every blocking lock call. Inlined, so the
 * stacks it captures start at the interposer. */
#define CONTENDED(reason, lock, call)                                        \
    ({                                                                      \
        struct entry *e_ = wait_enter(lock);                                \
        uint64_t t0_ = ts__probe_wait_begin(reason, lock);                  \
        int r_ = (call);                                                    \
        wait_leave(e_, r_ == 0 || r_ == EOWNERDEAD,                         \
                   ts__probe_wait_end(reason, lock, t0_));                  \
        r_;                                                                 \
    })

/* The return address of the interposer: where the program took the lock. */
#define RET_PC ((uintptr_t)__builtin_return_address(0))

/* A blocking lock call. The lock-order graph learns the acquisition
 * before the call (and forgets it if the call fails): that work is done
 * before the lock is held, not inside the program's critical section. A
 * lock that looks free (BUSY false) is tried first, one that looks held
 * goes straight to CONTENDED without a failing atomic on its cache line.
 * PARAMS are the interposer's parameters (the lock is always l), ARGS the
 * real call's. */
#define DEFINE_LOCK(NAME, REAL, TRY, BUSY, REASON, PARAMS, ARGS)            \
    int NAME PARAMS                                                         \
    {                                                                       \
        TS__PROBE_ENTER_OR_FORWARD(REAL, ARGS);                             \
        ts__probe_lock_acquired(l, RET_PC);                                 \
        int r = BUSY(l) ? EBUSY : ts__real.TRY(l);                          \
        if (r == EBUSY)                                                     \
            r = CONTENDED(REASON, l, ts__real.REAL ARGS);                   \
        if (r != 0 && r != EOWNERDEAD) /* EOWNERDEAD: held all the same */ \
            ts__probe_lock_released(l);                                     \
        ts__probe_leave();                                                  \
        return r;                                                           \
    }

/* A trylock: held when it succeeds, never waits. */
#define DEFINE_TRYLOCK(NAME, REAL, TYPE)                                    \
    int NAME(TYPE *l)                                                       \
    {                                                                       \
        TS__PROBE_ENTER_OR_FORWARD(REAL, (l));                              \
        int r = ts__real.REAL(l);                                           \
        if (r == 0 || r == EOWNERDEAD)                                      \
            ts__probe_lock_tried(l, RET_PC);                                \
        ts__probe_leave();                                                  \
        return r;                                                           \
    }

/* mutex_quiet: a held glibc mutex whose lock word says nobody sleeps on
 * it (1; a sleeper sets 2, a PI or robust mutex keeps the owner's tid
 * there, which only costs a table lookup). Read from the mutex the caller
 * holds, so no shared counter bounces between cores. mutex_busy: the same
 * word is not 0, so a trylock would fail (a guess: CONTENDED's real lock
 * call is right either way). */
static inline bool mutex_quiet(pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 1;
}

static inline bool mutex_busy(pthread_mutex_t *m)
{
    /* plain normal and adaptive kinds only (no robust, PI or PP bits,
     * 0x10-0x40; elision flags above 0x7f do not matter): a recursive or
     * error-checking mutex's owner may lock it again without waiting */
    int kind = __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) & 0x7f;
    return (kind == PTHREAD_MUTEX_TIMED_NP || kind == PTHREAD_MUTEX_ADAPTIVE_NP) &&
           __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) != 0;
}

/* A rwlock has no such words: the table says who waits, trylock who holds. */
static inline bool rwlock_quiet(pthread_rwlock_t *l)
{
    (void)l;
    return false;
}

static inline bool rwlock_busy(pthread_rwlock_t *l)
{
    (void)l;
    return false;
}

/* An unlock: the holder's stack for a waiter, the real unlock, then the
 * held list (after: the critical section ends as early as it can). */
#define DEFINE_UNLOCK(NAME, REAL, TYPE, QUIET)                              \
    int NAME(TYPE *l)                                                       \
    {                                                                       \
        TS__PROBE_ENTER_OR_FORWARD(REAL, (l));                              \
        if (!QUIET(l))                                                      \
            note_unlock(l);                                                 \
        int r = ts__real.REAL(l);                                           \
        if (r == 0)                                                         \
            ts__probe_lock_released(l);                                     \
        ts__probe_leave();                                                  \
        return r;                                                           \
    }

#define TIMED(T) (T *l, const struct timespec *deadline)

DEFINE_LOCK(pthread_mutex_lock, mutex_lock, mutex_trylock, mutex_busy,
            TS_WAIT_PTHREAD_MUTEX, (pthread_mutex_t *l), (l))
DEFINE_LOCK(pthread_mutex_timedlock, mutex_timedlock, mutex_trylock, mutex_busy,
            TS_WAIT_PTHREAD_MUTEX, TIMED(pthread_mutex_t), (l, deadline))
DEFINE_TRYLOCK(pthread_mutex_trylock, mutex_trylock, pthread_mutex_t)
DEFINE_UNLOCK(pthread_mutex_unlock, mutex_unlock, pthread_mutex_t, mutex_quiet)

DEFINE_LOCK(pthread_rwlock_rdlock, rdlock, tryrdlock, rwlock_busy,
            TS_WAIT_PTHREAD_RDLOCK, (pthread_rwlock_t *l), (l))
DEFINE_LOCK(pthread_rwlock_timedrdlock, timedrdlock, tryrdlock, rwlock_busy,
            TS_WAIT_PTHREAD_RDLOCK, TIMED(pthread_rwlock_t), (l, deadline))
DEFINE_LOCK(pthread_rwlock_wrlock, wrlock, trywrlock, rwlock_busy,
            TS_WAIT_PTHREAD_WRLOCK, (pthread_rwlock_t *l), (l))
DEFINE_LOCK(pthread_rwlock_timedwrlock, timedwrlock, trywrlock, rwlock_busy,
            TS_WAIT_PTHREAD_WRLOCK, TIMED(pthread_rwlock_t), (l, deadline))
DEFINE_TRYLOCK(pthread_rwlock_tryrdlock, tryrdlock, pthread_rwlock_t)
DEFINE_TRYLOCK(pthread_rwlock_trywrlock, trywrlock, pthread_rwlock_t)
DEFINE_UNLOCK(pthread_rwlock_unlock, rwlock_unlock, pthread_rwlock_t, rwlock_quiet)
