/* probebench — what the LD_PRELOAD probe costs a plain pthread program:
 * ns per operation of the calls it interposes, run once without and once
 * with the probe preloaded (bench/probe.sh). No taskscope code in it.
 *   lock        uncontended pthread_mutex_lock + unlock
 *   nested      lock a, lock b, unlock b, unlock a (the lock graph's path)
 *   malloc      malloc(64) + free
 *   contended   2 threads x N lock/increment/unlock of one mutex */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER, mu2 = PTHREAD_MUTEX_INITIALIZER;
static void *volatile sink;
static long shared;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *contend(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        shared++;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "lock";
    long n = argc > 2 ? atol(argv[2]) : 10000000;
    double t0 = now();
    if (!strcmp(w, "lock")) {
        for (long i = 0; i < n; i++) {
            pthread_mutex_lock(&mu);
            pthread_mutex_unlock(&mu);
        }
    } else if (!strcmp(w, "nested")) {
        for (long i = 0; i < n; i++) {
            pthread_mutex_lock(&mu);
            pthread_mutex_lock(&mu2);
            pthread_mutex_unlock(&mu2);
            pthread_mutex_unlock(&mu);
        }
    } else if (!strcmp(w, "malloc")) {
        for (long i = 0; i < n; i++) {
            sink = malloc(64);
            free(sink);
        }
    } else if (!strcmp(w, "contended")) {
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, contend, &n);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
    } else {
        fprintf(stderr, "probebench: unknown workload %s\n", w);
        return 2;
    }
    printf("%s %.1f ns/op\n", w, (now() - t0) / (double)n);
    return 0;
}
