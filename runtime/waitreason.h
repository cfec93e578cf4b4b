/* taskscope — wait reasons: why a task is parked, in Go's words.
 *
 * One table generates the enum and the user-visible strings (the goroutine
 * dump prints them between brackets). Entries are appended, never
 * repurposed, so a recorded reason keeps its meaning. */
#ifndef TASKSCOPE_RUNTIME_WAITREASON_H
#define TASKSCOPE_RUNTIME_WAITREASON_H

#define TS_WAIT_REASON_MAP(X)                                \
    X(TS_WAIT_NONE, "")                                      \
    X(TS_WAIT_CHAN_RECV, "chan receive")                     \
    X(TS_WAIT_CHAN_SEND, "chan send")                        \
    X(TS_WAIT_SELECT, "select")                              \
    X(TS_WAIT_SELECT_NO_CASES, "select (no cases)")          \
    X(TS_WAIT_CHAN_RECV_NIL, "chan receive (nil chan)")      \
    X(TS_WAIT_CHAN_SEND_NIL, "chan send (nil chan)")         \
    X(TS_WAIT_SLEEP, "sleep")                                \
    X(TS_WAIT_MUTEX, "sync.Mutex.Lock")                      \
    X(TS_WAIT_RWMUTEX_RLOCK, "sync.RWMutex.RLock")           \
    X(TS_WAIT_RWMUTEX_LOCK, "sync.RWMutex.Lock")             \
    X(TS_WAIT_WAITGROUP, "sync.WaitGroup.Wait")              \
    X(TS_WAIT_COND, "sync.Cond.Wait")                        \
    X(TS_WAIT_SEMACQUIRE, "semacquire")                      \
    X(TS_WAIT_IO, "IO wait")                                 \
    /* the probe's pthread waits (probe/), named by their call */ \
    X(TS_WAIT_PTHREAD_MUTEX, "pthread_mutex_lock")           \
    X(TS_WAIT_PTHREAD_RDLOCK, "pthread_rwlock_rdlock")       \
    X(TS_WAIT_PTHREAD_WRLOCK, "pthread_rwlock_wrlock")       \
    X(TS_WAIT_PTHREAD_COND, "pthread_cond_wait")             \
    X(TS_WAIT_PTHREAD_JOIN, "pthread_join")                  \
    X(TS_WAIT_PTHREAD_BARRIER, "pthread_barrier_wait")       \
    X(TS_WAIT_SEM, "sem_wait")

enum ts_wait_reason {
#define TS_WAIT_ENUM(name, text) name,
    TS_WAIT_REASON_MAP(TS_WAIT_ENUM)
#undef TS_WAIT_ENUM
    TS_WAIT_REASON_COUNT
};

/* ts__wait_text: Go's string for a reason; "" for TS_WAIT_NONE or out of
 * range. */
const char *ts__wait_text(int reason);

#endif
