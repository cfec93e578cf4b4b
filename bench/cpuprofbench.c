/* cpuprofbench — what the CPU profiler (ts_cpu_profile_start, 100 Hz)
 * costs a CPU-bound program.
 *
 * One task per P burns a fixed loop for the whole run. The process
 * alternates phases with the profiler off and on (ROUNDS of each, PHASE_MS
 * long). A phase's figure is the work done per CPU-second of the burning
 * tasks, each read on its own thread's CPU clock: the SIGPROF handler and
 * the signal delivery are charged to that clock, while other programs
 * competing for the CPUs are not, so the ratio holds on a loaded machine
 * where wall-clock times do not. Writing the profile (at stop) happens
 * between phases, outside the figures.
 *
 *   cpuprofbench [phase_ms] [rounds]      (default 500 10)
 *
 * Prints the median work per CPU-µs off and on, and on/off. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <taskscope/profile.h>
#include <taskscope/taskscope.h>

#define MAX_TASKS 256

struct burner {
    _Alignas(64) atomic_llong work; /* loop chunks done */
    atomic_llong cpu;               /* its thread's CPU ns since it began */
};

static struct burner burners[MAX_TASKS];
static atomic_int stop;

static int64_t thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* burn: a task that never blocks, so it keeps its worker (and its CPU
 * clock measures it alone). */
static void burn(void *arg)
{
    struct burner *b = arg;
    int64_t t0 = thread_cpu();
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        volatile uint64_t x = 0;
        for (int i = 0; i < 10000; i++)
            x = x * 2862933555777941757ull + 3037000493ull;
        atomic_fetch_add_explicit(&b->work, 1, memory_order_relaxed);
        atomic_store_explicit(&b->cpu, thread_cpu() - t0,
                              memory_order_relaxed);
    }
}

static void totals(int n, int64_t *work, int64_t *cpu)
{
    *work = *cpu = 0;
    for (int i = 0; i < n; i++) {
        *work += atomic_load(&burners[i].work);
        *cpu += atomic_load(&burners[i].cpu);
    }
}

/* phase: chunks per CPU-µs over phase_ms of wall time. */
static double phase(int n, int phase_ms)
{
    int64_t w0, c0, w1, c1;
    totals(n, &w0, &c0);
    ts_sleep((int64_t)phase_ms * TS_MILLISECOND);
    totals(n, &w1, &c1);
    return c1 > c0 ? (double)(w1 - w0) * 1000.0 / (double)(c1 - c0) : 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int phase_ms = argc > 1 ? atoi(argv[1]) : 500;
    int rounds = argc > 2 ? atoi(argv[2]) : 10;
    if (phase_ms <= 0 || rounds <= 0 || rounds > 1000) {
        fprintf(stderr, "usage: cpuprofbench [phase_ms] [rounds<=1000]\n");
        return 2;
    }
    int n = ts_procs() < MAX_TASKS ? ts_procs() : MAX_TASKS;
    for (int i = 0; i < n; i++)
        ts_go(burn, &burners[i]);
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    double off[1000], on[1000];
    phase(n, phase_ms); /* warm-up */
    for (int r = 0; r < rounds; r++) {
        off[r] = phase(n, phase_ms);
        if (ts_cpu_profile_start(fd) != 0) {
            fprintf(stderr, "cpuprofbench: ts_cpu_profile_start failed\n");
            return 1;
        }
        on[r] = phase(n, phase_ms);
        if (ts_cpu_profile_stop() != 0) {
            fprintf(stderr, "cpuprofbench: ts_cpu_profile_stop failed\n");
            return 1;
        }
    }
    atomic_store(&stop, 1);
    double mo = median(off, rounds), mn = median(on, rounds);
    printf("cpuprof_off %.1f work/cpu-ms\ncpuprof_on %.1f work/cpu-ms\n"
           "cpuprof_ratio %.4f (on/off, %d tasks, %d x %d ms)\n",
           mo * 1000, mn * 1000, mn / mo, n, rounds, phase_ms);
    close(fd);
    return 0;
}
