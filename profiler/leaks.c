/* taskscope — goroutine-leak detection (see leaks.h).
 *
 * A task waiting on channels (a receive, a send, a select) can only be
 * woken by someone who can still reach one of them. Roots are every
 * writable mapping of the process (data/bss, heap, thread stacks, running
 * and runnable tasks' stacks) minus the stacks of the waiting tasks; a
 * waiting task whose channel is reached becomes live, its stack a root,
 * and the scan repeats until nothing changes (Go 1.26's fixpoint). Tasks
 * still not live are leaked; a task waiting on a nil channel always is.
 * A task waiting on a sync primitive (introspect.h, ts__sync_wait) is a
 * candidate like a channel's only when the primitive begins a malloc'd
 * block (sync_target): the target is then the whole block, so a pointer
 * to any field of the object holding it reaches it. Anywhere else (a
 * static, named by code and never by a stored pointer; a stack; a field
 * after the start of its object) its reachability cannot be decided and
 * the task is live. Deadlock mode (ts__leaks_deadlock_cycles, when no
 * task can run again): every sync waiter is a candidate that stays dead,
 * so the global deadlock report shows lock cycles through statics too.
 *
 * Invariants (no false positive is the first rule):
 *   - the scan (profiler/reach.c) runs on one dedicated scanner thread
 *     whose stack is excluded; every copy of a channel address this file
 *     makes lives on that stack or in ts__reach_alloc memory, and the
 *     snapshot's own copies (in malloc'd memory) are scrubbed before the
 *     scan; the profiler's rings, which record wait objects, are excluded;
 *   - a task is reported only if it was found leaked, waiting since the
 *     same moment, by two passes 10 ms apart;
 *   - anything unknown (a select whose cases are on the heap, a stack read
 *     torn by a wake-up, a sync primitive outside a malloc'd block of its
 *     own, a semaphore acquire that may have a deadline) makes the task
 *     live, never leaked;
 *   - below the stack pointer of a thread blocked in a system call, and in
 *     pooled stacks (their tasks returned), lie only dead frames: both are
 *     excluded, as their stale copies would hide leaks; a pass during
 *     which a pooled stack began hosting a task reports nothing.
 * Wait-for cycles (cycles.c): after the second pass's fixpoint, when two
 * candidates or more are still not live, the live part of each one's
 * stack (from its saved stack pointer up) is scanned on its own for the
 * channels (ts__reach_refs), giving who holds which channel (a lock's
 * partner is instead the holder it recorded, read then); the leak
 * scan itself does no more work. The cycles found among the confirmed
 * leaks are kept, addresses complemented, for the snapshot they belong to
 * until taken (ts__leaks_take_cycles) or replaced by the next detection:
 * cycles_lock guards them.
 * What it cannot see is in docs/profiler.md (registers of running
 * threads, disguised pointers; stale copies in freed memory hide leaks). */
#include "profiler/leaks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiler/cycles.h"
#include "profiler/reach.h"
#include "profiler/ring.h"
#include "profiler/tasks.h"
#include "profiler/threadcreate.h"
#include "runtime/chan_internal.h"
#include "runtime/introspect.h"
#include "runtime/sched.h"

/* Per-task bookkeeping of one pass, in ts__reach_alloc memory. */
struct cand {
    size_t task;       /* index in the snapshot */
    uint32_t first;    /* its channels: chans[first .. first + n) */
    uint32_t n;
    uint32_t excl;     /* its stack's entry in the exclusion list */
    bool live;
    bool stuck;        /* deadlock mode, a sync wait: never live */
};

/* Whether malloc is glibc's, whose chunk headers sync_target reads: not
 * under the sanitizers, which bring their own allocators. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GLIBC_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GLIBC_MALLOC 0
#endif
#endif
#ifndef GLIBC_MALLOC
#define GLIBC_MALLOC 1
#endif

#define MAX_HEAPS 256
#define HEAP_MAX_SIZE ((uintptr_t)64 << 20) /* glibc's non-main heaps */
#define MAX_BLOCK ((size_t)64 << 20)

struct work {
    struct cand *cands;
    size_t ncands;
    uintptr_t *chans;               /* every candidate's channels */
    size_t nchans;
    struct ts__reach_target *targets; /* one per channel occurrence */
    struct ts__range *excl;
    size_t nexcl, cap_excl;
    struct ts__range *src;          /* attribution: blocked tasks' live */
    uint32_t *src_cand;             /*   stacks, and their candidates */
    size_t nsrc;
    const void **idle;              /* pooled mappings excluded */
    size_t nidle, cap_idle;
    size_t bytes;                   /* the one ts__reach_alloc block */
    void *block;
    bool stuck;                     /* deadlock mode (see detect) */
    struct ts__range heaps[MAX_HEAPS]; /* malloc's memory (sync_target) */
    size_t nheaps;
};

static bool candidate(const struct ts__tsnap *s)
{
    return s->state == TS_TASK_WAITING && s->nchans >= 0 &&
           s->wait_reason != TS_WAIT_SELECT_NO_CASES;
}

static void add_idle(const void *mapping, uintptr_t lo, uintptr_t hi,
                     void *arg)
{
    struct work *w = arg;
    if (w->nidle < w->cap_idle && w->nexcl < w->cap_excl) {
        w->idle[w->nidle++] = mapping;
        w->excl[w->nexcl++] = (struct ts__range){lo, hi};
    }
}

/* on_idle_stack: sp lies in a pooled task stack (excluded already). */
static bool on_idle_stack(const struct work *w, uintptr_t sp)
{
    for (size_t i = 0; i < w->nexcl; i++)
        if (sp >= w->excl[i].lo && sp < w->excl[i].hi)
            return true;
    return false;
}

/* idle_unchanged: every pooled mapping the pass excluded is still pooled
 * (none began hosting a task whose stack would have been a root). */
static bool idle_unchanged(const struct work *w)
{
    for (size_t i = 0; i < w->nidle; i++)
        if (!ts__introspect_still_idle(w->idle[i]))
            return false;
    return true;
}

/* add_ring: exclude a ring. Its size is read with peek: ring.c publishes
 * a new ring with atomics in code TSan does not instrument, so a plain
 * read here would be reported as racing with the ring's mmap. */
static void add_ring(struct ts__ring *r, void *arg)
{
    struct work *w = arg;
    size_t size = 0;
    if (w->nexcl < w->cap_excl &&
        ts__reach_peek(&size, (uintptr_t)&r->map_size, sizeof size))
        w->excl[w->nexcl++] = (struct ts__range){(uintptr_t)r,
                                                 (uintptr_t)r + size};
}

/* ---- dead frames of blocked threads ------------------------------------ */

#define MAX_THREADS 1024

/* thread_sps: the stack pointers of the threads blocked in a system call
 * (/proc/self/task/TID/syscall: number, six arguments, sp, pc). */
static size_t thread_sps(uintptr_t *sps, size_t max)
{
    DIR *d = opendir("/proc/self/task");
    size_t n = 0;
    for (struct dirent *e; d && n < max && (e = readdir(d)) != NULL;) {
        char path[320], line[256];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, line, sizeof line - 1) : -1;
        if (fd >= 0)
            close(fd);
        unsigned long long v[9];
        if (len <= 0)
            continue;
        line[len] = '\0';
        if (sscanf(line, "%llu %llx %llx %llx %llx %llx %llx %llx %llx", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9)
            sps[n++] = (uintptr_t)v[7];
    }
    if (d)
        closedir(d);
    return n;
}

/* task_stack_of: the snapshot task whose stack mapping holds sp, or NULL. */
static const struct ts__tsnap *task_stack_of(const struct ts__tasks *ts,
                                             uintptr_t sp)
{
    for (size_t i = 0; i < ts->n; i++)
        if (sp >= ts->v[i].stack_lo &&
            sp < ts->v[i].stack_hi + sizeof(struct ts_task))
            return &ts->v[i];
    return NULL;
}

/* add_dead_frames: below the stack pointer of a thread blocked in a
 * system call lie only dead frames, whose stale copies of channel
 * addresses (a scheduler's last park, say) would hide leaks: exclude them,
 * keeping the red zone, from that one stack. A task's stack is bounded by
 * the snapshot (task stacks may share one /proc/self/maps line: guard
 * regions do not split it); a thread's by its maps line (glibc's guard
 * page does split). An sp on a pooled task stack, or nowhere known, is
 * left alone. */
static void add_dead_frames(struct work *w, const struct ts__tasks *ts)
{
    uintptr_t sps[MAX_THREADS];
    size_t n = thread_sps(sps, MAX_THREADS);
    FILE *maps = NULL;
    for (size_t i = 0; i < n && w->nexcl < w->cap_excl; i++) {
        const struct ts__tsnap *t = task_stack_of(ts, sps[i]);
        if (t) {
            if (sps[i] - t->stack_lo > 128)
                w->excl[w->nexcl++] = (struct ts__range){t->stack_lo, sps[i] - 128};
            sps[i] = 0; /* done */
        }
    }
    maps = fopen("/proc/self/maps", "re");
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx", &lo, &hi) != 2)
            continue;
        for (size_t i = 0; i < n && w->nexcl < w->cap_excl; i++)
            if (sps[i] >= lo && sps[i] < hi && sps[i] - lo > 128 &&
                !on_idle_stack(w, sps[i]))
                w->excl[w->nexcl++] = (struct ts__range){(uintptr_t)lo,
                                                         sps[i] - 128};
    }
    if (maps)
        fclose(maps);
}

void ts__leaks_scrub(struct ts__tasks *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        struct ts__tsnap *s = &ts->v[i];
        memset(ts->pcs + s->chans, 0,
               (size_t)(s->nchans > 0 ? s->nchans : 0) * sizeof *ts->pcs);
        s->wait_object = NULL;
    }
}

__attribute__((noinline)) void ts__leaks_scrub_stack(void)
{
    char below[8192];
    explicit_bzero(below, sizeof below);
}

/* ---- scan targets -------------------------------------------------------- */

/* chan_bytes: the allocation size of the channel at addr, or 0. */
static size_t chan_bytes(uintptr_t addr)
{
    struct ts_chan ch;
    return ts__reach_peek(&ch, addr, sizeof ch) ? ts__chan_bytes(&ch) : 0;
}

/* find_heaps: the mappings malloc's blocks live in: [heap] (the main
 * arena) and the anonymous rw mappings holding a HEAP_MAX_SIZE-aligned
 * address (glibc maps each other arena's heaps so aligned; named
 * "[anon:glibc: malloc arena]" when glibc decorates its mappings). */
static void find_heaps(struct work *w)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    char line[512];
    w->nheaps = 0;
    while (maps && w->nheaps < MAX_HEAPS && fgets(line, sizeof line, maps)) {
        unsigned long long lo, hi;
        char perms[8];
        int name = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &lo, &hi, perms,
                   &name) < 3 || strncmp(perms, "rw-p", 4) != 0)
            continue;
        uintptr_t aligned = ((uintptr_t)lo + HEAP_MAX_SIZE - 1) &
                            ~(HEAP_MAX_SIZE - 1);
        bool anon = name == 0 || line[name] == '\n' || line[name] == '\0' ||
                    strncmp(line + name, "[anon:glibc: malloc", 19) == 0;
        if (strstr(line, "[heap]") || (anon && aligned < hi))
            w->heaps[w->nheaps++] = (struct ts__range){lo, hi};
    }
    if (maps)
        fclose(maps);
}

/* heap_block_end: the end of the glibc malloc block that m begins, or 0.
 * The chunk header before m gives its size (flags: not mmapped); the next
 * chunk's header must say this one is in use. */
static uintptr_t heap_block_end(uintptr_t m, uintptr_t map_hi)
{
    uint64_t size, next;
    if (m % 16 || !ts__reach_peek(&size, m - 8, sizeof size) || (size & 2))
        return 0;
    size &= ~(uint64_t)7;
    uintptr_t chunk = m - 16;
    if (size < 32 || size % 16 || size > MAX_BLOCK ||
        chunk + size + 16 > map_hi ||
        !ts__reach_peek(&next, chunk + size + 8, sizeof next) || !(next & 1))
        return 0;
    return chunk + size + 8; /* the next chunk's first word is ours */
}

/* sync_target: the target of a wait on the sync primitive at m: the whole
 * malloc block it begins, so that a pointer to any field of the object
 * holding it reaches it; false when m begins no malloc block found in a
 * heap mapping (a static, a stack, a field after the start of its
 * object): the primitive may then be reachable by name or through its
 * object, which the scan cannot see, and the task is live (always, when
 * malloc is not glibc's). In deadlock mode every task is stuck anyway:
 * the primitive itself. */
static bool sync_target(const struct work *w, const struct ts__tasks *ts,
                        uintptr_t m, size_t size, struct ts__reach_target *t)
{
    *t = (struct ts__reach_target){m, m + size, false};
    if (w->stuck)
        return true;
    for (size_t i = 0; GLIBC_MALLOC && i < w->nheaps; i++) {
        const struct ts__range *h = &w->heaps[i];
        if (m < h->lo + 16 || m >= h->hi)
            continue;
        t->hi = task_stack_of(ts, m) ? 0 : heap_block_end(m, h->hi);
        return t->hi >= m + size;
    }
    return false;
}

/* targets_of: the scan targets of s's waits into t (s->nchans of them);
 * false when one cannot be decided (then s is no candidate). *sync: s
 * waits on a sync primitive. */
static bool targets_of(const struct work *w, const struct ts__tasks *ts,
                       const struct ts__tsnap *s, struct ts__reach_target *t,
                       bool *sync)
{
    const uint64_t *chans = ts__tasks_chans(ts, s);
    size_t size;
    long holder;
    *sync = ts__sync_wait(s->wait_reason, &size, &holder);
    if (*sync)
        return sync_target(w, ts, chans[0], size, t);
    for (int k = 0; k < s->nchans; k++) {
        size_t bytes = chan_bytes(chans[k]);
        /* Unreadable: the channel is gone; a stale 1-byte target is
         * harmless (its task's wait was torn and it will not be leaked
         * unless both passes agree on the same wait). */
        t[k] = (struct ts__reach_target){
            chans[k], chans[k] + (bytes ? bytes : 1), false};
    }
    return true;
}

/* add_cand: s as a candidate, when its targets can be decided. */
static void add_cand(struct work *w, const struct ts__tasks *ts, size_t i)
{
    const struct ts__tsnap *s = &ts->v[i];
    bool sync;
    if (!targets_of(w, ts, s, w->targets + w->nchans, &sync))
        return;
    struct cand *c = &w->cands[w->ncands++];
    *c = (struct cand){.task = i, .first = (uint32_t)w->nchans,
                       .n = (uint32_t)s->nchans, .excl = (uint32_t)w->nexcl,
                       .stuck = w->stuck && sync};
    w->excl[w->nexcl++] = (struct ts__range){
        s->stack_lo, s->stack_hi + sizeof(struct ts_task)};
    const uint64_t *chans = ts__tasks_chans(ts, s);
    for (int k = 0; k < s->nchans; k++)
        w->chans[w->nchans++] = chans[k];
}

/* plan: size and fill the work block from the snapshot, scrubbing the
 * snapshot's copies of channel addresses. false when out of memory. */
static bool plan(struct ts__tasks *ts, struct work *w, bool stuck)
{
    size_t nc = 0, nch = 0;
    for (size_t i = 0; i < ts->n; i++)
        if (candidate(&ts->v[i]))
            nc++, nch += (size_t)ts->v[i].nchans;
    w->cap_idle = ts->n + 4096; /* pooled mappings: bounded by the trim */
    w->cap_excl = nc + w->cap_idle + 256 + MAX_THREADS; /* stacks, pooled
                                      stacks, rings, threads' dead frames */
    w->bytes = nc * (sizeof *w->cands + sizeof *w->src + sizeof *w->src_cand) +
               nch * (sizeof *w->chans + sizeof *w->targets) +
               w->cap_excl * sizeof *w->excl + w->cap_idle * sizeof *w->idle + 64;
    w->block = ts__reach_alloc(w->bytes);
    if (!w->block)
        return false;
    w->cands = w->block;
    w->chans = (uintptr_t *)(w->cands + nc);
    w->targets = (struct ts__reach_target *)(w->chans + nch);
    w->excl = (struct ts__range *)(w->targets + nch);
    w->src = (struct ts__range *)(w->excl + w->cap_excl);
    w->idle = (const void **)(w->src + nc);
    w->src_cand = (uint32_t *)(w->idle + w->cap_idle);
    w->ncands = w->nchans = w->nexcl = w->nidle = w->nsrc = 0;
    w->stuck = stuck;
    find_heaps(w);
    for (size_t i = 0; i < ts->n; i++)
        if (candidate(&ts->v[i]))
            add_cand(w, ts, i);
    ts__leaks_scrub(ts);
    ts__ring_foreach(add_ring, w);
    ts__introspect_idle_stacks(add_idle, w);
    add_dead_frames(w, ts);
    return true;
}

/* scan_once: one reachability pass; marks candidates live; true when any
 * changed. */
static int scan_once(struct work *w, bool *changed)
{
    int r = ts__reach_scan(w->targets, w->nchans, w->excl, w->nexcl);
    *changed = false;
    for (size_t i = 0; !r && i < w->ncands; i++) {
        struct cand *c = &w->cands[i];
        for (uint32_t k = 0; !c->live && !c->stuck && k < c->n; k++)
            c->live = w->targets[c->first + k].reached;
        if (c->live && w->excl[c->excl].hi != 0) {
            w->excl[c->excl] = (struct ts__range){0, 0};
            *changed = true;
        }
    }
    return r;
}

/* ---- attribution, for the wait-for cycles (cycles.c) ------------------- */

/* live_stack: what of a parked task's stack mapping is live: from its
 * saved stack pointer (read from its task struct, atop the stack) to the
 * end of the task struct. Below lie dead frames, whose stale copies are
 * nobody's references. The whole mapping when the sp cannot be read. */
static struct ts__range live_stack(const struct ts__tsnap *s)
{
    uintptr_t sp = 0;
    if (!ts__reach_peek(&sp, s->stack_hi + offsetof(struct ts_task, sp), sizeof sp) ||
        sp < s->stack_lo || sp >= s->stack_hi)
        sp = s->stack_lo;
    return (struct ts__range){sp, s->stack_hi + sizeof(struct ts_task)};
}

/* The (source, target) pairs ts__reach_refs found: indices only, so they
 * may live in malloc'd memory. */
struct refs {
    size_t (*v)[2];
    size_t n, cap;
    bool oom;
};

static void add_ref(size_t src, size_t tgt, void *arg)
{
    struct refs *r = arg;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        void *p = realloc(r->v, cap * sizeof *r->v);
        if (!p) {
            r->oom = true;
            return;
        }
        r->v = p;
        r->cap = cap;
    }
    r->v[r->n][0] = src;
    r->v[r->n++][1] = tgt;
}

/* by_target: the sources referencing each channel occurrence t are
 * srcs[start[t] .. start[t + 1]) (a counting sort of the pairs). */
static bool by_target(const struct refs *refs, size_t nchans, size_t **start,
                      size_t **srcs)
{
    *start = calloc(nchans + 2, sizeof **start);
    *srcs = malloc((refs->n + 1) * sizeof **srcs);
    if (!*start || !*srcs)
        return false;
    for (size_t i = 0; i < refs->n; i++)
        (*start)[refs->v[i][1] + 2]++;
    for (size_t t = 0; t < nchans; t++)
        (*start)[t + 2] += (*start)[t + 1];
    for (size_t i = 0; i < refs->n; i++) /* start[t + 1] is t's fill point */
        (*srcs)[(*start)[refs->v[i][1] + 1]++] = refs->v[i][0];
    return true;
}

/* add_holder: a wait on a lock: its one partner is the holder the lock
 * recorded (runtime/mutex.c), a task id or TS__MUTEX_THREAD (no task of
 * the graph: no cycle through it); none while it reads unlocked. */
static void add_holder(struct ts__waitgraph *g, uint64_t task, uintptr_t m,
                       long holder_off)
{
    uint64_t holder = 0;
    ts__waitgraph_add_wait(g, task, TS__WAIT_MUTEX, m);
    if (ts__reach_peek(&holder, m + (uintptr_t)holder_off, sizeof holder) &&
        holder != 0)
        ts__waitgraph_add_partner(g, holder);
}

/* add_wait: wait k of candidate c into g: a lock's with its holder, any
 * other with the candidates whose live stacks reference the object. */
static void add_wait(const struct ts__tasks *ts, const struct work *w,
                     const struct cand *c, uint32_t k, const size_t *start,
                     const size_t *srcs, struct ts__waitgraph *g)
{
    const struct ts__tsnap *s = &ts->v[c->task];
    size_t size;
    long holder_off = -1;
    bool sync = ts__sync_wait(s->wait_reason, &size, &holder_off);
    if (holder_off >= 0) {
        add_holder(g, s->id, w->chans[k], holder_off);
        return;
    }
    ts__waitgraph_add_wait(g, s->id, sync ? TS__WAIT_SYNC : TS__WAIT_CHAN,
                           w->chans[k]);
    for (size_t j = start[k]; j < start[k + 1]; j++) {
        const struct cand *p = &w->cands[w->src_cand[srcs[j]]];
        ts__waitgraph_add_partner(g, ts->v[p->task].id);
    }
}

/* add_waits: the waits of every candidate still dead into g. */
static void add_waits(const struct ts__tasks *ts, const struct work *w,
                      const struct refs *refs, struct ts__waitgraph *g)
{
    size_t *start = NULL, *srcs = NULL;
    if (refs->oom || !by_target(refs, w->nchans, &start, &srcs))
        g->oom = true;
    for (size_t i = 0; !g->oom && i < w->ncands; i++) {
        const struct cand *c = &w->cands[i];
        for (uint32_t k = c->first; !c->live && k < c->first + c->n; k++)
            if (w->chans[k] != 0)
                add_wait(ts, w, c, k, start, srcs, g);
    }
    free(start);
    free(srcs);
}

/* attribute: which dead candidates' live stacks reference which channel,
 * into g. Only when two candidates or more are dead: a cycle needs two. */
static int attribute(const struct ts__tasks *ts, struct work *w,
                     struct ts__waitgraph *g)
{
    for (size_t i = 0; i < w->ncands; i++) {
        if (!w->cands[i].live && w->cands[i].n > 0) {
            w->src_cand[w->nsrc] = (uint32_t)i;
            w->src[w->nsrc++] = live_stack(&ts->v[w->cands[i].task]);
        }
    }
    if (w->nsrc < 2)
        return 0;
    struct refs refs = {0};
    int r = ts__reach_refs(w->targets, w->nchans, w->src, w->nsrc, add_ref,
                           &refs);
    if (!r)
        add_waits(ts, w, &refs, g);
    free(refs.v);
    return r;
}

/* pass: snapshot and mark leaked tasks; with g, also the wait-for graph
 * of the tasks it found leaked. */
static int pass(struct ts__tasks *ts, struct ts__waitgraph *g, bool stuck)
{
    int r = ts__tasks_collect_private(ts, true);
    struct work w;
    if (r || !plan(ts, &w, stuck))
        return r ? r : ENOMEM;
    bool changed = true;
    while (!r && changed)
        r = scan_once(&w, &changed);
    bool valid = idle_unchanged(&w); /* else: report nothing this time */
    for (size_t i = 0; !r && valid && i < w.ncands; i++)
        ts->v[w.cands[i].task].leaked = !w.cands[i].live;
    if (!r && valid && g && attribute(ts, &w, g) != 0)
        g->oom = true; /* no cycles, the leaks stand */
    ts__reach_free(w.block, w.bytes);
    return r;
}

/* confirm: keep leaked only the tasks of b leaked in a too, same wait. */
static void confirm(struct ts__tasks *b, const struct ts__tasks *a)
{
    size_t j = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct ts__tsnap *s = &b->v[i];
        while (j < a->n && a->v[j].id < s->id)
            j++;
        s->leaked = s->leaked && j < a->n && a->v[j].id == s->id &&
                    a->v[j].leaked && a->v[j].wait_since == s->wait_since;
    }
}

/* ---- the cycles of the last detection --------------------------------- */

static pthread_mutex_t cycles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const struct ts__tsnap *v;  /* the snapshot they belong to: its array, */
    int64_t now;                /*   time and size */
    size_t n;
    struct ts__cycles *cycles;  /* owned until taken */
} last;                         /* guarded by cycles_lock */

static void keep_cycles(const struct ts__tasks *ts, struct ts__cycles *cy)
{
    pthread_mutex_lock(&cycles_lock);
    ts__cycles_free(last.cycles);
    last.v = ts->v;
    last.now = ts->now;
    last.n = ts->n;
    last.cycles = cy;
    pthread_mutex_unlock(&cycles_lock);
}

struct ts__cycles *ts__leaks_take_cycles(const struct ts__tasks *ts)
{
    struct ts__cycles *cy = NULL;
    pthread_mutex_lock(&cycles_lock);
    if (last.cycles && last.v == ts->v && last.now == ts->now &&
        last.n == ts->n) {
        cy = last.cycles;
        last.cycles = NULL;
    }
    pthread_mutex_unlock(&cycles_lock);
    return cy;
}

static int collect(struct ts__tasks *ts, bool stuck);

static struct ts__cycles *cycles_now(bool stuck)
{
    struct ts__tasks ts;
    struct ts__cycles *cy = NULL;
    if (collect(&ts, stuck) == 0)
        cy = ts__leaks_take_cycles(&ts);
    ts__tasks_free(&ts);
    return cy;
}

struct ts__cycles *ts__leaks_cycles_now(void)
{
    return cycles_now(false);
}

struct ts__cycles *ts__leaks_deadlock_cycles(void)
{
    return cycles_now(true);
}

/* detect: two passes, confirmed, and the cycles. stuck (deadlock mode:
 * no task can ever run again) makes every task waiting on a sync
 * primitive a candidate that stays dead, wherever the primitive lives:
 * its cycles are then real whatever can reach the primitive. */
static int detect(struct ts__tasks *out, bool stuck)
{
    struct ts__tasks first;
    struct ts__waitgraph g = {0};
    int r = pass(&first, NULL, stuck);
    if (!r) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
        r = pass(out, &g, stuck);
        if (!r)
            confirm(out, &first);
    }
    ts__tasks_free(&first);
    if (!r)
        keep_cycles(out, ts__cycles_find(&g, out));
    ts__waitgraph_free(&g);
    return r;
}

/* ---- the scanner thread ------------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
static struct ts__tasks *request;
static bool request_stuck;
static int result;
static bool answered;
static int start_error;

static void *scanner_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!request)
            pthread_cond_wait(&cv, &mu);
        struct ts__tasks *ts = request;
        bool stuck = request_stuck;
        pthread_mutex_unlock(&mu);
        int r = detect(ts, stuck);
        pthread_mutex_lock(&mu);
        result = r;
        request = NULL;
        answered = true;
        pthread_cond_broadcast(&cv);
    }
    return NULL;
}

static void start_scanner(void)
{
    start_error = ts__start_helper_thread(scanner_main, NULL);
}

int ts__leaks_collect(struct ts__tasks *ts)
{
    return collect(ts, false);
}

static int collect(struct ts__tasks *ts, bool stuck)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_scanner);
    memset(ts, 0, sizeof *ts);
    if (start_error)
        return start_error;
    pthread_mutex_lock(&one_at_a_time);
    pthread_mutex_lock(&mu);
    request = ts;
    request_stuck = stuck;
    answered = false;
    pthread_cond_broadcast(&cv);
    while (!answered)
        pthread_cond_wait(&cv, &mu);
    int r = result;
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&one_at_a_time);
    return r;
}

int ts__leaks_count(const struct ts__tasks *ts)
{
    int n = 0;
    for (size_t i = 0; i < ts->n; i++)
        n += ts->v[i].leaked;
    return n;
}
