/* probe_app — an ordinary pthread program (no taskscope headers) that the
 * probe tests run under libtaskscope_probe.so; argv[1] picks the scenario:
 *   contend  four workers contend on one mutex (hold_lock), a waiter sits
 *            in pthread_cond_wait, main joins, takes two locks in both
 *            orders (ab, ba) and leaks one allocation (leak_some); then
 *            a reader and main meet at a rwlock, a semaphore and a barrier
 *            (others_wait);
 *   block    a thread blocks on a mutex main holds (blocker), for 30 s at
 *            most, so that a dump can be taken;
 *   dlsym    a constructor that calls dlsym and calloc before main;
 *   forks    8 threads lock and allocate while main forks 200 children
 *            that allocate and lock too;
 *   deadlock two threads take lock_a and lock_b in opposite orders, with a
 *            pause between, and deadlock (main waits 30 s, then exits 3);
 *   ordered  28 mutexes always taken in one order, and a recursive mutex
 *            taken again while other locks are held: no inversion;
 *   exec     prints, from an exec'd shell, the LD_PRELOAD it got;
 *   status   exits with status 7. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int ready;
static void *volatile sink;

__attribute__((noinline)) static void hold_lock(void)
{
    pthread_mutex_lock(&mu);
    usleep(2000);
    counter++;
    pthread_mutex_unlock(&mu);
}

static void *worker(void *arg)
{
    for (int i = 0; i < 50; i++)
        hold_lock();
    return arg;
}

static void *waiter(void *arg)
{
    pthread_mutex_lock(&mu);
    while (!ready)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return arg;
}

__attribute__((noinline)) static void ab(void)
{
    pthread_mutex_lock(&lock_a);
    pthread_mutex_lock(&lock_b);
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
}

__attribute__((noinline)) static void ba(void)
{
    pthread_mutex_lock(&lock_b);
    pthread_mutex_lock(&lock_a);
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
}

__attribute__((noinline)) static void leak_some(void)
{
    sink = malloc(3 << 20);
    memset(sink, 1, 64);
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t barrier;
static sem_t sem;

__attribute__((noinline)) static void *other_waiter(void *arg)
{
    pthread_rwlock_rdlock(&rw); /* main holds it for writing */
    pthread_rwlock_unlock(&rw);
    sem_wait(&sem);             /* main posts after a pause */
    pthread_barrier_wait(&barrier);
    return arg;
}

__attribute__((noinline)) static void others_wait(void)
{
    pthread_t t;
    sem_init(&sem, 0, 0);
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_rwlock_wrlock(&rw);
    pthread_create(&t, NULL, other_waiter, NULL);
    usleep(50000);
    pthread_rwlock_unlock(&rw);
    usleep(50000);
    sem_post(&sem);
    usleep(20000);
    pthread_barrier_wait(&barrier);
    pthread_join(t, NULL);
}

static int contend(void)
{
    pthread_t t[4], w;
    pthread_create(&w, NULL, waiter, NULL);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ab();
    ba();
    pthread_mutex_lock(&mu);
    ready = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(w, NULL);
    leak_some();
    others_wait();
    printf("counter %ld\n", counter);
    return counter == 200 ? 0 : 1;
}

__attribute__((noinline)) static void *blocker(void *arg)
{
    pthread_mutex_lock(&mu);
    pthread_mutex_unlock(&mu);
    return arg;
}

static int block(void)
{
    pthread_t t;
    pthread_mutex_lock(&mu);
    pthread_create(&t, NULL, blocker, NULL);
    printf("ready\n");
    fflush(stdout);
    sleep(30);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    return 0;
}

__attribute__((noinline)) static void *take_a_then_b(void *arg)
{
    pthread_mutex_lock(&lock_a);
    usleep(100000);
    pthread_mutex_lock(&lock_b);
    return arg;
}

__attribute__((noinline)) static void *take_b_then_a(void *arg)
{
    pthread_mutex_lock(&lock_b);
    usleep(100000);
    pthread_mutex_lock(&lock_a);
    return arg;
}

static int deadlock(void)
{
    pthread_t t1, t2;
    pthread_create(&t1, NULL, take_a_then_b, NULL);
    pthread_create(&t2, NULL, take_b_then_a, NULL);
    printf("started\n");
    fflush(stdout);
    sleep(30);
    return 3;
}

static int ordered(void)
{
    enum { N = 28 };
    static pthread_mutex_t m[N];
    pthread_mutex_t rec;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &a);
    for (int i = 0; i < N; i++)
        pthread_mutex_init(&m[i], NULL);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            pthread_mutex_lock(&m[i]);
            pthread_mutex_lock(&m[j]);
            pthread_mutex_unlock(&m[j]);
            pthread_mutex_unlock(&m[i]);
        }
    pthread_mutex_lock(&rec);
    pthread_mutex_lock(&m[0]);
    pthread_mutex_lock(&rec); /* again, while m[0] is held */
    pthread_mutex_unlock(&rec);
    pthread_mutex_unlock(&m[0]);
    pthread_mutex_unlock(&rec);
    printf("ordered ok\n");
    return 0;
}

static int early_ok;

__attribute__((constructor)) static void early(void)
{
    void *fn = dlsym(RTLD_DEFAULT, "printf");
    void *p = calloc(4, 1024);
    early_ok = fn && p;
    free(p);
}

static void *churn(void *arg)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&mu);
        void *p = malloc(64 + (size_t)i);
        pthread_mutex_unlock(&mu);
        free(p);
    }
    return arg;
}

static int forks(void)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    for (int i = 0; i < 200; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* not mu: a churn thread of the parent may have held it at the
             * fork, and nobody in the child would unlock it */
            static pthread_mutex_t child_mu = PTHREAD_MUTEX_INITIALIZER;
            pthread_mutex_lock(&child_mu);
            free(malloc(100));
            pthread_mutex_unlock(&child_mu);
            _exit(0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
            return 1;
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    printf("forked 200\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "contend"))
        return contend();
    if (!strcmp(mode, "block"))
        return block();
    if (!strcmp(mode, "deadlock"))
        return deadlock();
    if (!strcmp(mode, "ordered"))
        return ordered();
    if (!strcmp(mode, "dlsym"))
        return early_ok ? (printf("dlsym ok\n"), 0) : 1;
    if (!strcmp(mode, "forks"))
        return forks();
    if (!strcmp(mode, "exec"))
        return execl("/bin/sh", "sh", "-c", "echo \"child LD_PRELOAD=[$LD_PRELOAD]\"",
                     (char *)NULL);
    if (!strcmp(mode, "status"))
        return 7;
    fprintf(stderr, "probe_app: unknown scenario '%s'\n", mode);
    return 2;
}
