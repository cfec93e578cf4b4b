/* taskscope probe — the lock-acquisition graph: lock-order inversions
 * (potential deadlocks) found even when the run did not deadlock, as
 * ThreadSanitizer's and Helgrind's detectors find them.
 *
 * Each thread keeps the locks it holds (with the return address of the
 * call that took each). Acquiring B while holding A is an edge A -> B,
 * learned when the blocking call starts (so a run that then deadlocks on
 * B has learned it too, and the work stays out of the critical section);
 * the first time an edge is seen, its stack is interned and the graph is
 * searched for a path B -> ... -> A: such a cycle means two threads taking
 * the locks in those orders at the same time can deadlock. It is reported
 * at once on stderr and again in lockorder.txt at exit, each edge with the
 * stack that acquired its second lock and the place the first was taken.
 *
 * Invariants:
 *   - the per-acquisition cost is one lock-free lookup per lock held
 *     (usually none or one); only a new edge takes graph_lock, captures a
 *     stack and searches (breadth-first, each lock expanded once, at most
 *     MAX_VISIT), so each edge is examined once and each cycle is reported
 *     once (by the edge that closed it);
 *   - trylocks are held but add no edges: a trylock cannot wait, so it
 *     cannot close a deadlock (TSan does the same);
 *   - an unlock forgets the most recent hold of that lock; an unlock of a
 *     lock this thread does not hold (another thread's, or beyond
 *     MAX_HELD) is ignored;
 *   - tables are fixed and mmap'd; a full one stops learning (counted),
 *     it never grows or blocks. */
#include "probe/probe.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "profiler/record.h"
#include "profiler/stackid.h"
#include "profiler/text.h"
#include "profiler/write.h"

#define MAX_HELD 32
#define EDGE_LOG2 14
#define EDGE_SLOTS (1u << EDGE_LOG2)
#define MAX_CYCLE 8
#define MAX_CYCLES 64
#define MAX_VISIT 512

struct held {
    const void *lock;
    uintptr_t pc;
};

struct edge {
    uintptr_t from, to; /* atomic; from == 0 while free */
    uintptr_t from_pc;  /* where from was taken */
    uint32_t stack;     /* the acquisition of to */
    pid_t tid;
};

static __thread struct held held[MAX_HELD] __attribute__((tls_model("initial-exec")));
static __thread int nheld __attribute__((tls_model("initial-exec")));

static struct edge *edges;
static pthread_mutex_t graph_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t cycles[MAX_CYCLES][MAX_CYCLE]; /* edge indices, under graph_lock */
static int cycle_len[MAX_CYCLES];
static int ncycles;
static uint64_t full; /* atomic: edges not learnt, table full */

void ts__probe_lockgraph_init(void)
{
    void *p = mmap(NULL, EDGE_SLOTS * sizeof(struct edge), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED)
        edges = p;
}

static size_t edge_slot(uintptr_t from, uintptr_t to)
{
    uint64_t h = (from * 0x9E3779B97F4A7C15ull) ^ (to * 0xC2B2AE3D27D4EB4Full);
    return (size_t)(h >> (64 - EDGE_LOG2));
}

/* find: the index of edge from -> to, or of the free slot where it would
 * go (*found false), or -1 when the probe sequence is full. */
static long find(uintptr_t from, uintptr_t to, bool *found)
{
    size_t i = edge_slot(from, to);
    for (size_t n = 0; n < EDGE_SLOTS; n++, i = (i + 1) & (EDGE_SLOTS - 1)) {
        uintptr_t f = __atomic_load_n(&edges[i].from, __ATOMIC_ACQUIRE);
        *found = f == from && __atomic_load_n(&edges[i].to, __ATOMIC_RELAXED) == to;
        if (f == 0 || *found)
            return (long)i;
    }
    return -1;
}

/* path: breadth-first search for a path start -> ... -> goal over at most
 * MAX_VISIT locks, each expanded once; its edge indices go to out (at most
 * MAX_CYCLE - 1), in order. Under graph_lock. */
static int path(uintptr_t start, uintptr_t goal, uint32_t *out)
{
    static uintptr_t node[MAX_VISIT];
    static int from[MAX_VISIT];      /* the node it was reached from */
    static uint32_t via[MAX_VISIT];  /* by which edge */
    int n = 1, hit = -1;
    node[0] = start;
    from[0] = -1;
    for (int k = 0; k < n && hit < 0; k++) {
        for (size_t i = 0; i < EDGE_SLOTS && hit < 0; i++) {
            uintptr_t to = edges[i].to;
            if (edges[i].from != node[k] || to == 0)
                continue;
            int seen = 0;
            while (seen < n && node[seen] != to)
                seen++;
            if (seen < n || n == MAX_VISIT)
                continue;
            node[n] = to, from[n] = k, via[n] = (uint32_t)i;
            if (to == goal)
                hit = n;
            n++;
        }
    }
    int len = 0;
    for (int k = hit; k > 0; k = from[k])
        len++;
    if (hit < 0 || len > MAX_CYCLE - 1)
        return -1;
    for (int k = hit, i = len; k > 0; k = from[k])
        out[--i] = via[k];
    return len;
}

static void print_cycle(FILE *f, struct ts__symbolizer *sym, void *arg)
{
    int c = *(int *)arg;
    fprintf(f, "taskscope probe: lock-order inversion (potential deadlock) "
               "among %d locks:\n", cycle_len[c]);
    for (int k = 0; k < cycle_len[c]; k++) {
        const struct edge *e = &edges[cycles[c][k]];
        const uint64_t *pcs;
        size_t n;
        fprintf(f, "\nthread %d acquired lock %#lx while holding lock %#lx:\n",
                (int)e->tid, (unsigned long)e->to, (unsigned long)e->from);
        if (ts__stackid_lookup(e->stack, &pcs, &n) == 0)
            ts__tb_stack(f, sym, pcs, n);
        fprintf(f, "lock %#lx had been acquired at:\n", (unsigned long)e->from);
        ts__tb_frame(f, sym, e->from_pc);
    }
    fputc('\n', f);
}

/* learn: the new edge h -> lock (stack interned by the caller); reports
 * the cycle it closes, if any. */
static void learn(const struct held *h, const void *lock, uint32_t stack)
{
    uintptr_t from = (uintptr_t)h->lock, to = (uintptr_t)lock;
    ts__real.mutex_lock(&graph_lock);
    bool found;
    long i = find(from, to, &found);
    if (i < 0) {
        __atomic_add_fetch(&full, 1, __ATOMIC_RELAXED);
    } else if (!found) {
        edges[i].from_pc = h->pc;
        edges[i].stack = stack;
        edges[i].tid = gettid();
        __atomic_store_n(&edges[i].to, to, __ATOMIC_RELAXED);
        __atomic_store_n(&edges[i].from, from, __ATOMIC_RELEASE);
        int c = ncycles;
        int n = c < MAX_CYCLES ? path(to, from, cycles[c]) : -1;
        if (n > 0) {
            cycles[c][n] = (uint32_t)i;
            cycle_len[c] = n + 1;
            ncycles++;
            ts__write_with_symbolizer(stderr, print_cycle, &c);
        }
    }
    ts__real.mutex_unlock(&graph_lock);
}

/* held_already: a recursive mutex or a read lock taken again. */
static bool held_already(const void *lock, int top)
{
    for (int k = 0; k < top; k++)
        if (held[k].lock == lock)
            return true;
    return false;
}

__attribute__((noinline)) void ts__probe_lock_acquired(const void *lock, uintptr_t pc)
{
    int top = nheld < MAX_HELD ? nheld : MAX_HELD;
    /* a lock taken again while held adds no order: it cannot wait for the
     * locks taken in between (TSan and Helgrind agree) */
    bool again = held_already(lock, top);
    for (int k = 0; edges && !again && k < top; k++) {
        bool found;
        if (find((uintptr_t)held[k].lock, (uintptr_t)lock, &found) < 0 || found)
            continue;
        uint64_t pcs[TS__STACK_MAX_DEPTH];
        /* skip 1: this function; the leaf is the interposed lock call */
        size_t n = ts__capture_current(pcs, TS__STACK_MAX_DEPTH, 1);
        learn(&held[k], lock, ts__stackid_intern(pcs, n));
    }
    ts__probe_lock_tried(lock, pc);
}

void ts__probe_lock_tried(const void *lock, uintptr_t pc)
{
    if (nheld < MAX_HELD)
        held[nheld] = (struct held){lock, pc};
    nheld++;
}

void ts__probe_lock_released(const void *lock)
{
    int top = nheld < MAX_HELD ? nheld : MAX_HELD;
    for (int k = top - 1; k >= 0; k--) {
        if (held[k].lock != lock)
            continue;
        for (; k + 1 < top; k++)
            held[k] = held[k + 1];
        if (nheld > MAX_HELD) /* the slot freed at the top is not a hold */
            held[top - 1] = (struct held){NULL, 0};
        nheld--;
        return;
    }
    if (nheld > MAX_HELD)
        nheld--;
}

void ts__probe_lockgraph_report(FILE *f)
{
    ts__real.mutex_lock(&graph_lock);
    uint64_t lost = __atomic_load_n(&full, __ATOMIC_RELAXED);
    if (lost)
        fprintf(f, "taskscope probe: the lock graph is full; %llu lock orders "
                   "were not checked\n\n", (unsigned long long)lost);
    for (int c = 0; c < ncycles; c++)
        ts__write_with_symbolizer(f, print_cycle, &c);
    ts__real.mutex_unlock(&graph_lock);
}

int ts__probe_lockgraph_cycles(void)
{
    return __atomic_load_n(&ncycles, __ATOMIC_RELAXED);
}
