/* taskscope probe — bootstrap: resolving the real functions, the static
 * arena that serves dlsym's own allocations, the constructor that starts
 * recording, and the process events (fork, _exit) that stop it.
 *
 * Invariants:
 *   - every real function is resolved before recording is switched on:
 *     the constructor resolves them all, before the program's main and
 *     before any thread of the program exists (an interposer that runs
 *     earlier, from another library's constructor, resolves them itself);
 *   - while the resolving thread is inside dlsym, its allocations come from
 *     a static arena (dlsym calls calloc for its error state); arena blocks
 *     are never freed and never handed to the real free;
 *   - pthread_cond_wait and friends are resolved at version GLIBC_2.3.2
 *     (the current condvar ABI; the unversioned lookup can find the 2.2.5
 *     compatibility one);
 *   - a forked child stops recording at once (ts__probe_on = 0 in the
 *     atfork child handler, before any other code of the child runs): it
 *     takes none of the probe's or profiler's locks, which another thread
 *     of the parent may have held at the fork, and writes nothing; the
 *     parent's output stays the parent's;
 *   - LD_PRELOAD is removed from the environment at start, so programs
 *     this one execs run untraced, unless TASKSCOPE_FOLLOW=1 (then each
 *     writes its own output, named by its own pid);
 *   - a program that carries the taskscope runtime itself (libtaskscope)
 *     has its own profiler; the probe then stands aside, says so once, and
 *     only forwards calls. */
#include "probe/probe.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/contention.h"

struct ts__probe_real ts__real;
int ts__probe_on;
__thread int ts__probe_depth __attribute__((tls_model("initial-exec")));

/* ---- bootstrap arena --------------------------------------------------- */

#define BOOT_BYTES (256 * 1024)
#define BOOT_ALIGN 16

static _Alignas(64) unsigned char boot[BOOT_BYTES];
static size_t boot_used; /* atomic */

/* Each block is preceded by its size (16 bytes, to keep the alignment). */
void *ts__probe_boot_alloc(size_t size, size_t align)
{
    if (align < BOOT_ALIGN)
        align = BOOT_ALIGN;
    size_t need = ((size + BOOT_ALIGN - 1) & ~(size_t)(BOOT_ALIGN - 1)) + align;
    size_t at = __atomic_fetch_add(&boot_used, need, __ATOMIC_RELAXED);
    if (size > BOOT_BYTES || at + need > BOOT_BYTES) {
        static const char msg[] = "taskscope probe: bootstrap arena exhausted\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    uintptr_t p = ((uintptr_t)boot + at + BOOT_ALIGN + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)p)[-1] = size;
    return (void *)p; /* zeroed: static storage, never reused */
}

bool ts__probe_boot_owns(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + BOOT_BYTES;
}

size_t ts__probe_boot_size(const void *p)
{
    return ((const size_t *)p)[-1];
}

/* ---- resolving ----------------------------------------------------------- */

static void *must(const char *name, void *fn)
{
    if (!fn) {
        fprintf(stderr, "taskscope probe: cannot find the real %s: %s\n", name,
                dlerror());
        abort();
    }
    return fn;
}

#define NEXT(field, name) (*(void **)&ts__real.field = must(name, dlsym(RTLD_NEXT, name)))
#define NEXT_V(field, name, ver) \
    (*(void **)&ts__real.field = must(name, dlvsym(RTLD_NEXT, name, ver)))

static void resolve_all(void)
{
    NEXT(calloc, "calloc");
    NEXT(free, "free");
    NEXT(realloc, "realloc");
    NEXT(posix_memalign, "posix_memalign");
    NEXT(aligned_alloc, "aligned_alloc");
    NEXT(memalign, "memalign");
    NEXT(valloc, "valloc");
    NEXT(pvalloc, "pvalloc");
    NEXT(malloc_usable_size, "malloc_usable_size");
    NEXT(create, "pthread_create");
    NEXT(join, "pthread_join");
    NEXT(mutex_lock, "pthread_mutex_lock");
    NEXT(mutex_trylock, "pthread_mutex_trylock");
    NEXT(mutex_timedlock, "pthread_mutex_timedlock");
    NEXT(mutex_unlock, "pthread_mutex_unlock");
    NEXT(rdlock, "pthread_rwlock_rdlock");
    NEXT(tryrdlock, "pthread_rwlock_tryrdlock");
    NEXT(timedrdlock, "pthread_rwlock_timedrdlock");
    NEXT(wrlock, "pthread_rwlock_wrlock");
    NEXT(trywrlock, "pthread_rwlock_trywrlock");
    NEXT(timedwrlock, "pthread_rwlock_timedwrlock");
    NEXT(rwlock_unlock, "pthread_rwlock_unlock");
    NEXT_V(cond_wait, "pthread_cond_wait", "GLIBC_2.3.2");
    NEXT_V(cond_timedwait, "pthread_cond_timedwait", "GLIBC_2.3.2");
    NEXT(sem_wait, "sem_wait");
    NEXT(sem_trywait, "sem_trywait");
    NEXT(sem_timedwait, "sem_timedwait");
    NEXT(barrier_wait, "pthread_barrier_wait");
    NEXT(fork, "fork");
    NEXT(exit_now, "_exit");
    /* malloc last: until it is set, allocations take the arena */
    void *m = must("malloc", dlsym(RTLD_NEXT, "malloc"));
    __atomic_store_n((void **)&ts__real.malloc, m, __ATOMIC_RELEASE);
}

void ts__probe_resolve(void)
{
    static int state; /* 0 not yet, 1 resolving, 2 done */
    static __thread int resolving __attribute__((tls_model("initial-exec")));
    if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == 2 || resolving)
        return;
    int expect = 0;
    if (__atomic_compare_exchange_n(&state, &expect, 1, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        resolving = 1;
        resolve_all();
        resolving = 0;
        __atomic_store_n(&state, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 2)
        sched_yield();
}

/* ---- threads of the probe ----------------------------------------------- */

void ts__probe_internal_thread(void)
{
    ts__probe_depth = 1;
}

/* ---- process events -------------------------------------------------- */

static void in_child(void)
{
    __atomic_store_n(&ts__probe_on, 0, __ATOMIC_RELAXED);
}

/* The guard stays raised across the real fork: the atfork handlers of
 * other libraries then run unrecorded in the parent, and in the child they
 * run before in_child may have, on this thread, where the inherited guard
 * keeps them off the profiler's locks. */
pid_t fork(void)
{
    if (!ts__real.fork)
        ts__probe_resolve();
    int saved = ts__probe_depth;
    ts__probe_depth = 1;
    pid_t pid = ts__real.fork();
    if (pid == 0)
        in_child();
    ts__probe_depth = saved;
    return pid;
}

void _exit(int status)
{
    if (!ts__real.exit_now)
        ts__probe_resolve();
    ts__probe_output_before_exit();
    ts__real.exit_now(status);
    __builtin_unreachable();
}

void _Exit(int status) __attribute__((alias("_exit")));

/* ---- start ------------------------------------------------------------ */

static bool runtime_present(void)
{
    return dlsym(RTLD_DEFAULT, "ts_run") != NULL;
}

static bool is_probe(const char *path, size_t len)
{
    static const char name[] = "libtaskscope_probe.so";
    const char *base = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            base = path + i + 1;
    size_t blen = len - (size_t)(base - path);
    return blen >= sizeof name - 1 && memcmp(base, name, sizeof name - 1) == 0;
}

/* untrace_children: drop this library from LD_PRELOAD (entries are
 * separated by spaces or colons; the others stay, in order). */
static void untrace_children(void)
{
    const char *v = getenv("LD_PRELOAD");
    if (!v)
        return;
    size_t n = strlen(v);
    char *out = ts__real.malloc(n + 1);
    if (!out)
        return;
    size_t o = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, " :");
        if (len && !is_probe(p, len)) {
            if (o)
                out[o++] = ':';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len + (p[len] != '\0');
    }
    out[o] = '\0';
    if (o)
        setenv("LD_PRELOAD", out, 1);
    else
        unsetenv("LD_PRELOAD");
    ts__real.free(out);
}

__attribute__((constructor)) static void probe_start(void)
{
    ts__probe_depth = 1;
    ts__probe_resolve();
    const char *follow = getenv("TASKSCOPE_FOLLOW");
    if (!follow || strcmp(follow, "1") != 0)
        untrace_children();
    if (runtime_present()) {
        fputs("taskscope probe: this program carries the taskscope runtime, "
              "whose own profiler is in charge; the probe stands aside\n", stderr);
        ts__probe_depth = 0;
        return;
    }
    pthread_atfork(NULL, NULL, in_child);
    ts__probe_threads_init();
    ts__probe_locks_init();
    ts__probe_lockgraph_init();
    ts__probe_output_init();
    ts__profiler_start_probe();
    ts__probe_deadlock_start();
    ts__probe_signals_init();
    ts__probe_thread_start();
    __atomic_store_n(&ts__probe_on, 1, __ATOMIC_RELEASE);
    ts__probe_depth = 0;
}
