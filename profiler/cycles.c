/* taskscope — wait-for cycles among leaked tasks (see cycles.h).
 *
 * The leak detector (leaks.c) knows which blocked tasks nothing live can
 * wake. This file says why, when the answer is "each other": task T waits
 * for task S when T waits on an object S alone could act on. The graph:
 *   - nodes: the tasks the leak detector found blocked for good in its
 *     last pass (leaks.c adds each with all its waits: one per channel of
 *     a channel operation or of a select without a deadline, one for the
 *     sync primitive of a sync wait);
 *   - partners of a wait on a lock (a ts_mutex_t, or an RWMutex read lock
 *     waiting for the writer): the holder the lock recorded
 *     (runtime/mutex.c: its task id, or TS__MUTEX_THREAD for a plain
 *     thread, which is no node: an edge leaving the graph);
 *   - partners of a wait on channel c (or on another sync primitive: a
 *     WaitGroup, a Cond, a writer waiting for readers, kind SYNC): the
 *     other nodes whose live stack (from the saved stack pointer up, and
 *     the task struct) references c,
 *     directly or through the buffers of other unreachable channels
 *     (ts__reach_refs). A task that itself waits on c is not a partner
 *     for c: two tasks blocked on one channel are blocked the same way
 *     (else they would have met), and counting the references their own
 *     waits hold would turn every group of tasks abandoned on one channel
 *     (workers whose producer returned) into a "cycle";
 *   - edge T -> S for every partner S of every wait of T.
 * A cycle is a strongly connected component (Tarjan's algorithm,
 * iterative: there may be thousands of nodes) that
 *   - has at least two members,
 *   - has no edge leaving it: every partner of every wait of a member is a
 *     member (so a member's channels are held by members' stacks only),
 *   - holds only tasks ts marks leaked (confirmed by both leak passes).
 * Invariants:
 *   - no false cycle on a correct program: every member is a task the leak
 *     detector reports anyway, and its objects are unreachable from every
 *     root, so nothing outside the cycle can release it (in the deadlock
 *     report's mode, every task is stuck anyway); an unknown
 *     (partner outside the graph, out of memory) drops the cycle, never
 *     adds one;
 *   - no copy of an object address in memory a leak scan reads: the graph
 *     stores them complemented (a kernel-half value, never a user address)
 *     and the writers print them digit by digit from that value;
 *   - the result names tasks by id, so it can be printed against any
 *     snapshot: a cycle whose members are not all there, or not all shown
 *     by the report's filter, is not printed;
 *   - no shared state here: a graph and a result belong to their caller
 *     (leaks.c keeps the last result under its cycles_lock).
 * A lock's holder that is not in the graph (running, runnable, asleep, a
 * plain thread) is an edge leaving it, so no cycle is reported through
 * it. A holder read while the lock changes hands may be stale; a lock
 * whose waiter is leaked cannot change hands (nothing live reaches it),
 * so within a reported cycle it is exact. Locks the leak detector cannot
 * decide (leaks.c, sync_target) are live, hence never in a cycle, except
 * in the global deadlock report, where every task is stuck.
 * Rejected: a cycle search over every blocked task (not only leaked ones):
 * a task blocked on a reachable channel may still be woken by a live task,
 * so its "cycle" could be a false positive. */
#include "profiler/cycles.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/json.h"
#include "profiler/tasks.h"
#include "runtime/waitreason.h"

/* ---- building the graph ------------------------------------------------ */

/* grow: room for one more element in *v (count used, *cap capacity). */
static bool grow(void **v, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return true;
    size_t n = *cap ? 2 * *cap : 16;
    void *p = realloc(*v, n * size);
    if (!p)
        return false;
    *v = p;
    *cap = n;
    return true;
}

bool ts__waitgraph_add_wait(struct ts__waitgraph *g, uint64_t task, int kind,
                            uintptr_t object)
{
    if (g->oom || !grow((void **)&g->waits, &g->cap_waits, g->nwaits,
                        sizeof *g->waits)) {
        g->oom = true;
        return false;
    }
    g->waits[g->nwaits++] = (struct ts__wait){
        .task = task, .object_x = ~object, .kind = kind,
        .first = g->npartners, .n = 0};
    return true;
}

bool ts__waitgraph_add_partner(struct ts__waitgraph *g, uint64_t partner)
{
    if (g->oom || g->nwaits == 0 ||
        !grow((void **)&g->partners, &g->cap_partners, g->npartners,
              sizeof *g->partners)) {
        g->oom = true;
        return false;
    }
    g->partners[g->npartners++] = partner;
    g->waits[g->nwaits - 1].n++;
    return true;
}

void ts__waitgraph_free(struct ts__waitgraph *g)
{
    free(g->waits);
    free(g->partners);
    memset(g, 0, sizeof *g);
}

/* ---- the result ---------------------------------------------------------- */

/* A task of the graph and its waits: g.waits[wfirst .. wfirst + nw). */
struct node {
    uint64_t id;
    size_t wfirst;
    size_t nw;
};

struct ts__cycles {
    struct ts__waitgraph g; /* partners filtered to the acting ones */
    struct node *members;   /* grouped by cycle, ascending ids within */
    size_t *start;          /* cycle k: members[start[k] .. start[k + 1]) */
    size_t ncycles;
};

size_t ts__cycles_count(const struct ts__cycles *cy)
{
    return cy ? cy->ncycles : 0;
}

void ts__cycles_free(struct ts__cycles *cy)
{
    if (!cy)
        return;
    ts__waitgraph_free(&cy->g);
    free(cy->members);
    free(cy->start);
    free(cy);
}

/* ---- finding the cycles -------------------------------------------------- */

#define NONE SIZE_MAX

/* Working state of one search, every array one entry per node unless
 * said otherwise. */
struct find {
    struct ts__waitgraph *g;
    struct node *nodes;
    size_t n;
    size_t *adj_start;   /* n + 1 entries: node v's edges */
    size_t *adj;         /* adj[adj_start[v] .. adj_start[v + 1]) */
    bool *escapes;       /* a partner outside the graph */
    size_t *index, *low; /* Tarjan's */
    bool *on_stack;
    size_t *stack, *frame_v, *frame_pos;
    size_t *comp;        /* component of each node */
    size_t ncomp;
};

static size_t node_of(const struct find *fd, uint64_t id)
{
    size_t lo = 0, hi = fd->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fd->nodes[mid].id == id)
            return mid;
        if (fd->nodes[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NONE;
}

/* waits_on: node v itself waits on w's object. */
static bool waits_on(const struct find *fd, size_t v, const struct ts__wait *w)
{
    const struct node *nd = &fd->nodes[v];
    for (size_t k = nd->wfirst; k < nd->wfirst + nd->nw; k++)
        if (fd->g->waits[k].kind == w->kind &&
            fd->g->waits[k].object_x == w->object_x)
            return true;
    return false;
}

/* make_nodes: one node per run of waits of one task. */
static size_t make_nodes(struct ts__waitgraph *g, struct node *nodes)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nwaits; i++) {
        if (n == 0 || nodes[n - 1].id != g->waits[i].task)
            nodes[n++] = (struct node){g->waits[i].task, i, 0};
        nodes[n - 1].nw++;
    }
    return n;
}

/* filter_partners: keep, in place, the partners that could act: another
 * task, not waiting on the same object itself. A partner outside the
 * graph is kept and marks its node as escaping. */
static void filter_partners(struct find *fd, size_t v)
{
    struct ts__waitgraph *g = fd->g;
    const struct node *nd = &fd->nodes[v];
    for (size_t k = nd->wfirst; k < nd->wfirst + nd->nw; k++) {
        struct ts__wait *w = &g->waits[k];
        size_t kept = 0;
        for (size_t j = 0; j < w->n; j++) {
            uint64_t p = g->partners[w->first + j];
            size_t pv = node_of(fd, p);
            if (p == nd->id || (pv != NONE && waits_on(fd, pv, w)))
                continue;
            fd->escapes[v] |= pv == NONE;
            g->partners[w->first + kept++] = p;
        }
        w->n = kept;
    }
}

/* make_edges: the adjacency lists, from the filtered partners. */
static void make_edges(struct find *fd)
{
    size_t e = 0;
    for (size_t v = 0; v < fd->n; v++) {
        fd->adj_start[v] = e;
        const struct node *nd = &fd->nodes[v];
        for (size_t k = nd->wfirst; k < nd->wfirst + nd->nw; k++) {
            const struct ts__wait *w = &fd->g->waits[k];
            for (size_t j = 0; j < w->n; j++) {
                size_t pv = node_of(fd, fd->g->partners[w->first + j]);
                if (pv != NONE)
                    fd->adj[e++] = pv;
            }
        }
    }
    fd->adj_start[fd->n] = e;
}

/* pop_component: the root v closes a component: pop it off the stack. */
static void pop_component(struct find *fd, size_t v, size_t *sp)
{
    size_t w;
    do {
        w = fd->stack[--*sp];
        fd->on_stack[w] = false;
        fd->comp[w] = fd->ncomp;
    } while (w != v);
    fd->ncomp++;
}

/* tarjan_from: Tarjan's strongly connected components from root r, with an
 * explicit call stack (frame_v, frame_pos). */
static void tarjan_from(struct find *fd, size_t r, size_t *counter, size_t *sp)
{
    size_t depth = 0;
    fd->index[r] = fd->low[r] = (*counter)++;
    fd->stack[(*sp)++] = r;
    fd->on_stack[r] = true;
    fd->frame_v[depth] = r;
    fd->frame_pos[depth++] = fd->adj_start[r];
    while (depth > 0) {
        size_t v = fd->frame_v[depth - 1];
        size_t pos = fd->frame_pos[depth - 1];
        if (pos < fd->adj_start[v + 1]) {
            size_t w = fd->adj[pos];
            fd->frame_pos[depth - 1]++;
            if (fd->index[w] == NONE) {
                fd->index[w] = fd->low[w] = (*counter)++;
                fd->stack[(*sp)++] = w;
                fd->on_stack[w] = true;
                fd->frame_v[depth] = w;
                fd->frame_pos[depth++] = fd->adj_start[w];
            } else if (fd->on_stack[w] && fd->index[w] < fd->low[v]) {
                fd->low[v] = fd->index[w];
            }
            continue;
        }
        depth--;
        if (fd->low[v] == fd->index[v])
            pop_component(fd, v, sp);
        if (depth > 0) {
            size_t u = fd->frame_v[depth - 1];
            if (fd->low[v] < fd->low[u])
                fd->low[u] = fd->low[v];
        }
    }
}

static void components(struct find *fd)
{
    size_t counter = 0, sp = 0;
    for (size_t v = 0; v < fd->n; v++)
        fd->index[v] = NONE;
    for (size_t v = 0; v < fd->n; v++)
        if (fd->index[v] == NONE)
            tarjan_from(fd, v, &counter, &sp);
}

static const struct ts__tsnap *find_task(const struct ts__tasks *ts,
                                         uint64_t id)
{
    size_t lo = 0, hi = ts->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts->v[mid].id == id)
            return &ts->v[mid];
        if (ts->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* closed: per component, whether it is a cycle to report (ok[c]): two
 * members or more, no edge leaving it, every member leaked in ts. false
 * when out of memory. */
static bool closed(const struct find *fd, const struct ts__tasks *ts,
                   bool *ok)
{
    size_t *size = calloc(fd->ncomp + 1, sizeof *size);
    if (!size)
        return false;
    for (size_t c = 0; c < fd->ncomp; c++)
        ok[c] = true;
    for (size_t v = 0; v < fd->n; v++) {
        size_t c = fd->comp[v];
        const struct ts__tsnap *s = find_task(ts, fd->nodes[v].id);
        size[c]++;
        if (fd->escapes[v] || !s || !s->leaked)
            ok[c] = false;
        for (size_t e = fd->adj_start[v]; e < fd->adj_start[v + 1]; e++)
            if (fd->comp[fd->adj[e]] != c)
                ok[c] = false;
    }
    for (size_t c = 0; c < fd->ncomp; c++)
        ok[c] = ok[c] && size[c] >= 2;
    free(size);
    return true;
}

/* collect: the members of the reported components into cy, cycles in the
 * order of their smallest member id. false when out of memory. */
static bool collect(const struct find *fd, const bool *ok,
                    struct ts__cycles *cy)
{
    size_t *num = malloc((fd->ncomp + 1) * sizeof *num);
    cy->members = malloc((fd->n + 1) * sizeof *cy->members);
    cy->start = calloc(fd->n + 2, sizeof *cy->start);
    if (!num || !cy->members || !cy->start) {
        free(num);
        return false;
    }
    for (size_t c = 0; c < fd->ncomp; c++)
        num[c] = NONE;
    for (size_t v = 0; v < fd->n; v++) {
        size_t c = fd->comp[v];
        if (ok[c] && num[c] == NONE)
            num[c] = cy->ncycles++;
        if (ok[c])
            cy->start[num[c] + 1]++;
    }
    for (size_t k = 0; k < cy->ncycles; k++)
        cy->start[k + 1] += cy->start[k];
    size_t *fill = fd->index; /* reused: Tarjan is done with it */
    for (size_t k = 0; k < cy->ncycles; k++)
        fill[k] = cy->start[k];
    for (size_t v = 0; v < fd->n; v++)
        if (ok[fd->comp[v]])
            cy->members[fill[num[fd->comp[v]]]++] = fd->nodes[v];
    free(num);
    return true;
}

/* search: the whole search on fd's arrays (allocated by the caller). */
static bool search(struct find *fd, const struct ts__tasks *ts,
                   struct ts__cycles *cy)
{
    for (size_t v = 0; v < fd->n; v++)
        filter_partners(fd, v);
    make_edges(fd);
    components(fd);
    bool *ok = malloc((fd->ncomp + 1) * sizeof *ok);
    if (!ok)
        return false;
    bool r = closed(fd, ts, ok) && collect(fd, ok, cy);
    free(ok);
    return r;
}

struct ts__cycles *ts__cycles_find(struct ts__waitgraph *g,
                                   const struct ts__tasks *ts)
{
    struct ts__cycles *cy = calloc(1, sizeof *cy);
    if (!cy || g->oom) {
        free(cy);
        ts__waitgraph_free(g);
        return NULL;
    }
    cy->g = *g;
    memset(g, 0, sizeof *g);
    size_t n = cy->g.nwaits + 1, e = cy->g.npartners + 1;
    struct find fd = {.g = &cy->g};
    fd.nodes = malloc(n * sizeof *fd.nodes);
    fd.adj_start = malloc((n + 1) * sizeof(size_t));
    fd.adj = malloc(e * sizeof(size_t));
    fd.escapes = calloc(n, sizeof(bool));
    fd.on_stack = calloc(n, sizeof(bool));
    size_t *words = malloc(6 * n * sizeof(size_t));
    bool found = false;
    if (fd.nodes && fd.adj_start && fd.adj && fd.escapes && fd.on_stack &&
        words) {
        fd.index = words, fd.low = words + n, fd.stack = words + 2 * n;
        fd.frame_v = words + 3 * n, fd.frame_pos = words + 4 * n;
        fd.comp = words + 5 * n;
        fd.n = make_nodes(&cy->g, fd.nodes);
        found = search(&fd, ts, cy);
    }
    free(fd.nodes), free(fd.adj_start), free(fd.adj);
    free(fd.escapes), free(fd.on_stack), free(words);
    if (!found) {
        ts__cycles_free(cy);
        return NULL;
    }
    return cy;
}

/* ---- writing -------------------------------------------------------------- */

static const char *const kind_names[] = {
    [TS__WAIT_CHAN] = "chan", [TS__WAIT_MUTEX] = "mutex",
    [TS__WAIT_SYNC] = "sync"};

/* digit: the hex digit at shift of the address whose complement is x. The
 * empty asm keeps the compiler from complementing x whole (it would then
 * form the address in a register, which a callee may spill to a stack
 * that a later scan reads). */
static unsigned digit(uintptr_t x, int shift)
{
    uintptr_t nibble = (x >> shift) & 15;
    __asm__("" : "+r"(nibble));
    return (unsigned)(15 - nibble);
}

/* object_hex: "0x..." for the object whose complement is x, digit by
 * digit, so that the address itself is never formed. */
static void object_hex(char out[19], uintptr_t x)
{
    char *p = out;
    *p++ = '0';
    *p++ = 'x';
    int shift = (int)sizeof x * 8 - 4;
    while (shift > 0 && digit(x, shift) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        *p++ = "0123456789abcdef"[digit(x, shift)];
    *p = '\0';
}

/* printable: every member of cycle k is in ts and shown under which. */
static bool printable(const struct ts__cycles *cy, size_t k,
                      const struct ts__tasks *ts, enum ts__gfilter which)
{
    for (size_t m = cy->start[k]; m < cy->start[k + 1]; m++) {
        const struct ts__tsnap *s = find_task(ts, cy->members[m].id);
        if (!s || !ts__goroutine_shown(s, which))
            return false;
    }
    return true;
}

static const char *reason_of(const struct ts__tasks *ts, uint64_t id)
{
    return ts__wait_text(find_task(ts, id)->wait_reason);
}

static void text_wait(FILE *f, const struct ts__cycles *cy,
                      const struct ts__tasks *ts, const struct ts__wait *w)
{
    char hex[19];
    object_hex(hex, w->object_x);
    fprintf(f, "\tgoroutine %" PRIu64 " [%s] on %s %s, ", w->task,
            reason_of(ts, w->task), kind_names[w->kind], hex);
    if (w->n == 0) {
        fputs("held by no other task\n", f);
        return;
    }
    /* a lock names its holder; a channel, the only tasks that hold it */
    fprintf(f, "held %sby goroutine%s",
            w->kind == TS__WAIT_MUTEX ? "" : "only ", w->n > 1 ? "s" : "");
    for (size_t j = 0; j < w->n; j++)
        fprintf(f, "%s%" PRIu64, j ? ", " : " ", cy->g.partners[w->first + j]);
    fputc('\n', f);
}

static void text_cycle(FILE *f, struct ts__symbolizer *sym,
                       const struct ts__cycles *cy, size_t k,
                       const struct ts__tasks *ts)
{
    fprintf(f, "\nwait-for cycle of %zu tasks:\n",
            cy->start[k + 1] - cy->start[k]);
    for (size_t m = cy->start[k]; m < cy->start[k + 1]; m++) {
        const struct node *nd = &cy->members[m];
        for (size_t i = nd->wfirst; i < nd->wfirst + nd->nw; i++)
            text_wait(f, cy, ts, &cy->g.waits[i]);
    }
    for (size_t m = cy->start[k]; m < cy->start[k + 1]; m++) {
        fputc('\n', f);
        ts__goroutine_dump_task(f, sym, ts, find_task(ts, cy->members[m].id));
    }
}

void ts__cycles_text(FILE *f, struct ts__symbolizer *sym,
                     const struct ts__tasks *ts, enum ts__gfilter which,
                     const struct ts__cycles *cy)
{
    for (size_t k = 0; k < ts__cycles_count(cy); k++)
        if (printable(cy, k, ts, which))
            text_cycle(f, sym, cy, k, ts);
}

static void json_wait(FILE *f, const struct ts__cycles *cy,
                      const struct ts__tasks *ts, const struct ts__wait *w)
{
    char hex[19];
    object_hex(hex, w->object_x);
    fprintf(f, "{\"task\":%" PRIu64 ",\"wait_reason\":", w->task);
    ts__json_str(f, reason_of(ts, w->task));
    fputs(",\"kind\":", f);
    ts__json_str(f, kind_names[w->kind]);
    fputs(",\"object\":", f);
    ts__json_str(f, hex);
    fputs(",\"held_by\":[", f);
    for (size_t j = 0; j < w->n; j++)
        fprintf(f, "%s%" PRIu64, j ? "," : "", cy->g.partners[w->first + j]);
    fputs("]}", f);
}

static void json_cycle(FILE *f, const struct ts__cycles *cy, size_t k,
                       const struct ts__tasks *ts)
{
    fputs("{\"tasks\":[", f);
    for (size_t m = cy->start[k]; m < cy->start[k + 1]; m++)
        fprintf(f, "%s%" PRIu64, m > cy->start[k] ? "," : "",
                cy->members[m].id);
    fputs("],\"waits\":[", f);
    bool first = true;
    for (size_t m = cy->start[k]; m < cy->start[k + 1]; m++) {
        const struct node *nd = &cy->members[m];
        for (size_t i = nd->wfirst; i < nd->wfirst + nd->nw; i++) {
            fputs(first ? "" : ",", f);
            first = false;
            json_wait(f, cy, ts, &cy->g.waits[i]);
        }
    }
    fputs("]}", f);
}

void ts__cycles_json(FILE *f, const struct ts__tasks *ts,
                     enum ts__gfilter which, const struct ts__cycles *cy)
{
    if (!cy)
        return;
    fputs(",\"cycles\":[", f);
    bool first = true;
    for (size_t k = 0; k < cy->ncycles; k++) {
        if (!printable(cy, k, ts, which))
            continue;
        fputs(first ? "" : ",", f);
        first = false;
        json_cycle(f, cy, k, ts);
    }
    fputc(']', f);
}
