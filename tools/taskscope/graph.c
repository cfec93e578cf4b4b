/*
 * graph.c — the call graph `go tool pprof -top` prints, for one sample type
 * of a profile (google/pprof internal/graph newGraph and
 * internal/report newTrimmedGraph, Go 1.19's copy), at "functions"
 * granularity:
 *   - a node is a function name; every Line of a location is its own node
 *     (inlined frames count as their own function), a location without
 *     lines (or a line without a function name) is named after its
 *     mapping's file, "[base]", or "<unknown>" without one;
 *   - a sample's value goes to the flat of its leaf node (line[0] of
 *     location_id[0]) and to the cum of every node on its stack, once per
 *     sample however often the node recurs (node.seen holds the number of
 *     the last sample that counted it);
 *   - samples whose value is 0 are skipped; total is the sum of |value|
 *     over all samples, including those without locations;
 *   - rows: nodes with a non-zero flat or cum, sorted by |flat| desc, name
 *     asc, |cum| desc; the first N are kept (shown);
 *   - the "(inline)" marks come from the edges of the graph pprof prints,
 *     rebuilt over the kept rows only (as report.newTrimmedGraph does when
 *     -nodecount drops nodes): an edge caller -> callee between kept nodes
 *     (other nodes skipped) counts a sample's value once, is inline if
 *     every sample's first traversal of it went through an inlined frame
 *     (a Line other than the last of its location), and is dropped when
 *     its |weight| is below 0.1% of the summed flat (pprof's edgefraction);
 *     a node with a remaining inline in-edge is "(inline)", also with a
 *     non-inline one "(partial-inline)".
 * Not done: pprof's node-fraction pruning (-nodefraction) — every node
 * with a value is a row.
 *
 * Invariants: node names are unique (the slots table finds a node by
 * name); loc_nodes[i][j] is the node of line j of pb->location[i] (one
 * entry for a location without lines); node.seen and edge.seen only ever
 * grow, so "counted in this sample" is seen == sample index + 1.
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

static int graph_grow_slots(struct graph *g)
{
    size_t nslots = g->nslots ? 2 * g->nslots : 1024;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < g->n; i++) {
        size_t h = hash_str(g->nodes[i].name) & (nslots - 1);
        while (slots[h])
            h = (h + 1) & (nslots - 1);
        slots[h] = i + 1;
    }
    free(g->slots);
    g->slots = slots;
    g->nslots = nslots;
    return 0;
}

/* The index of the node called NAME, created if new; -1 on ENOMEM. */
static long graph_node(struct graph *g, const char *name)
{
    if (2 * (g->n + 1) >= g->nslots && graph_grow_slots(g))
        return -1;
    size_t h = hash_str(name) & (g->nslots - 1);
    for (; g->slots[h]; h = (h + 1) & (g->nslots - 1))
        if (strcmp(g->nodes[g->slots[h] - 1].name, name) == 0)
            return (long)g->slots[h] - 1;
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 256;
        struct node *nodes = realloc(g->nodes, cap * sizeof *nodes);
        if (!nodes)
            return -1;
        g->nodes = nodes;
        g->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    g->nodes[g->n] = (struct node){.name = copy};
    g->slots[h] = ++g->n;
    return (long)g->n - 1;
}

/* The node name of a line (or of a location without lines: ln == NULL):
 * the function's name from the string table, else "[<mapping file>]"
 * formatted into buf, else "<unknown>". */
static const char *line_name(const struct pprof *p, const PbLocation *loc,
                             const Taskscope__Pprof__Line *ln, char *buf, size_t cap)
{
    const PbFunction *f = ln ? pprof_function(p, ln->function_id) : NULL;
    if (f && *pprof_string(p, f->name))
        return pprof_string(p, f->name);
    const PbMapping *m = pprof_mapping(p, loc->mapping_id);
    const char *file = m ? pprof_string(p, m->filename) : "";
    const char *base = strrchr(file, '/');
    if (!*file)
        return "<unknown>";
    snprintf(buf, cap, "[%s]", base ? base + 1 : file);
    return buf;
}

/* Fills g->loc_nodes: the node of each line, innermost first. */
static int graph_locations(struct graph *g, const struct pprof *p)
{
    size_t n = p->pb->n_location;
    g->loc_nodes = calloc(n ? n : 1, sizeof *g->loc_nodes);
    g->loc_len = calloc(n ? n : 1, sizeof *g->loc_len);
    if (!g->loc_nodes || !g->loc_len)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const PbLocation *loc = p->pb->location[i];
        size_t lines = loc->n_line ? loc->n_line : 1;
        g->loc_nodes[i] = malloc(lines * sizeof **g->loc_nodes);
        if (!g->loc_nodes[i])
            return -1;
        g->loc_len[i] = lines;
        for (size_t j = 0; j < lines; j++) {
            char buf[4096];
            long id = graph_node(g, line_name(p, loc, loc->n_line ? loc->line[j] : NULL,
                                              buf, sizeof buf));
            if (id < 0)
                return -1;
            g->loc_nodes[i][j] = (size_t)id;
        }
    }
    return 0;
}

/* Adds sample number k with value v: root to leaf, as pprof's newGraph. */
static void graph_add_sample(struct graph *g, const struct pprof *p,
                             const Taskscope__Pprof__Sample *s, size_t k, int64_t v)
{
    long parent = -1;
    for (size_t i = s->n_location_id; i-- > 0;) {
        long li = pprof_location_index(p, s->location_id[i]);
        for (size_t j = g->loc_len[li]; j-- > 0;) {
            long n = (long)g->loc_nodes[li][j];
            struct node *nd = &g->nodes[n];
            if (nd->seen != k + 1) {
                nd->seen = k + 1;
                nd->cum += v;
            }
            parent = n;
        }
    }
    if (parent >= 0) {
        g->nodes[parent].flat += v;
        g->flat_sum += v;
    }
}

void graph_free(struct graph *g, size_t nloc)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->nodes[i].name);
    for (size_t i = 0; g->loc_nodes && i < nloc; i++)
        free(g->loc_nodes[i]);
    free(g->loc_nodes);
    free(g->loc_len);
    free(g->nodes);
    free(g->slots);
    free(g->order);
    free(g->edges);
}

/* pprof's FlatNameOrder, on node indices into nodes (ctx). */
static int cmp_flat_name(const void *a, const void *b, void *ctx)
{
    const struct node *nodes = ctx;
    const struct node *x = &nodes[*(const size_t *)a], *y = &nodes[*(const size_t *)b];
    if (abs64(x->flat) != abs64(y->flat))
        return abs64(x->flat) > abs64(y->flat) ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (abs64(x->cum) < abs64(y->cum)) - (abs64(x->cum) > abs64(y->cum));
}

/* Fills g->order with the nodes that have a non-zero flat or cum, sorted;
 * marks the first `rows` (0: all) kept. 0 or -1 on ENOMEM. */
static int graph_order(struct graph *g, long rows)
{
    g->order = malloc((g->n ? g->n : 1) * sizeof *g->order);
    if (!g->order)
        return -1;
    for (size_t i = 0; i < g->n; i++)
        if (g->nodes[i].flat || g->nodes[i].cum)
            g->order[g->norder++] = i;
    qsort_r(g->order, g->norder, sizeof *g->order, cmp_flat_name, g->nodes);
    if (rows > 0 && (size_t)rows < g->norder)
        g->norder_kept = (size_t)rows;
    else
        g->norder_kept = g->norder;
    for (size_t i = 0; i < g->norder_kept; i++)
        g->nodes[g->order[i]].kept = true;
    return 0;
}

static size_t edge_slot(const struct graph *g, size_t src, size_t dst)
{
    size_t h = (src * 1000003u ^ dst) * 0x9e3779b97f4a7c15u;
    h &= g->edge_slots - 1;
    while (g->edges[h].src != SIZE_MAX && (g->edges[h].src != src || g->edges[h].dst != dst))
        h = (h + 1) & (g->edge_slots - 1);
    return h;
}

static int edges_grow(struct graph *g)
{
    size_t nslots = g->edge_slots ? 2 * g->edge_slots : 1024;
    struct edge *old = g->edges;
    size_t oldn = g->edge_slots;
    g->edges = malloc(nslots * sizeof *g->edges);
    if (!g->edges) {
        g->edges = old;
        return -1;
    }
    g->edge_slots = nslots;
    for (size_t i = 0; i < nslots; i++)
        g->edges[i].src = SIZE_MAX;
    for (size_t i = 0; i < oldn; i++)
        if (old[i].src != SIZE_MAX)
            g->edges[edge_slot(g, old[i].src, old[i].dst)] = old[i];
    free(old);
    return 0;
}

/* The edge src -> dst, created if new; NULL on ENOMEM. */
static struct edge *graph_edge(struct graph *g, size_t src, size_t dst)
{
    if (2 * (g->nedges + 1) >= g->edge_slots && edges_grow(g))
        return NULL;
    size_t h = edge_slot(g, src, dst);
    if (g->edges[h].src == SIZE_MAX) {
        g->edges[h] = (struct edge){.src = src, .dst = dst, .inline_only = true};
        g->nedges++;
    }
    return &g->edges[h];
}

/* Adds sample k's edges between kept nodes (pprof's newGraph over the kept
 * nodes: skipped nodes in between make no edge of their own). */
static int graph_add_edges(struct graph *g, const struct pprof *p,
                           const Taskscope__Pprof__Sample *s, size_t k, int64_t v)
{
    long parent = -1;
    for (size_t i = s->n_location_id; i-- > 0;) {
        long li = pprof_location_index(p, s->location_id[i]);
        for (size_t j = g->loc_len[li]; j-- > 0;) {
            long n = (long)g->loc_nodes[li][j];
            if (!g->nodes[n].kept)
                continue;
            if (parent >= 0 && parent != n) {
                struct edge *e = graph_edge(g, (size_t)parent, (size_t)n);
                if (!e)
                    return -1;
                if (e->seen != k + 1) {
                    e->seen = k + 1;
                    e->weight += v;
                    e->inline_only &= j != g->loc_len[li] - 1;
                }
            }
            parent = n;
        }
    }
    return 0;
}

/* One profile feeding the graph: its samples count sign * value of sample
 * type index; k0 keeps the sample numbers of two profiles apart (seen). */
struct graph_side {
    const struct pprof *p;
    size_t index;
    int64_t sign;
    size_t k0;
    size_t **loc_nodes; /* this profile's location -> nodes */
    size_t *loc_len;
};

/* Makes side's location table, leaving g's own in place. */
static int side_locations(struct graph *g, struct graph_side *sd)
{
    size_t **keep = g->loc_nodes, *keep_len = g->loc_len;
    g->loc_nodes = NULL;
    g->loc_len = NULL;
    int r = graph_locations(g, sd->p);
    sd->loc_nodes = g->loc_nodes;
    sd->loc_len = g->loc_len;
    g->loc_nodes = keep;
    g->loc_len = keep_len;
    return r;
}

static void side_use(struct graph *g, const struct graph_side *sd)
{
    g->loc_nodes = sd->loc_nodes;
    g->loc_len = sd->loc_len;
}

static void side_add_samples(struct graph *g, const struct graph_side *sd, bool count_total)
{
    side_use(g, sd);
    for (size_t k = 0; k < sd->p->pb->n_sample; k++) {
        int64_t v = sd->sign * sd->p->pb->sample[k]->value[sd->index];
        if (count_total)
            g->total += abs64(v);
        if (v != 0)
            graph_add_sample(g, sd->p, sd->p->pb->sample[k], sd->k0 + k, v);
    }
}

static int side_add_edges(struct graph *g, const struct graph_side *sd)
{
    side_use(g, sd);
    for (size_t k = 0; k < sd->p->pb->n_sample; k++) {
        int64_t v = sd->sign * sd->p->pb->sample[k]->value[sd->index];
        if (v != 0 && graph_add_edges(g, sd->p, sd->p->pb->sample[k], sd->k0 + k, v))
            return -1;
    }
    return 0;
}

/* Sets the inline marks of the kept nodes from the edges that survive
 * pprof's edge cutoff. */
static void graph_inline_marks(struct graph *g)
{
    int64_t cutoff = abs64((int64_t)((double)g->flat_sum * 0.001));
    for (size_t i = 0; i < g->edge_slots; i++) {
        const struct edge *e = &g->edges[i];
        if (e->src == SIZE_MAX || abs64(e->weight) < cutoff)
            continue;
        if (e->inline_only)
            g->nodes[e->dst].inline_in = true;
        else
            g->nodes[e->dst].noinline_in = true;
    }
}

/* The graph of sides[0..n): the first one's location table stays in g
 * (graph_free frees it), the others' are freed here. */
static int graph_build_sides(struct graph *g, struct graph_side *sd, size_t n, long rows)
{
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = side_locations(g, &sd[i]);
    for (size_t i = 0; i < n && r == 0; i++)
        side_add_samples(g, &sd[i], n == 1 || sd[i].sign < 0);
    if (r == 0)
        r = graph_order(g, rows);
    for (size_t i = 0; i < n && r == 0; i++)
        r = side_add_edges(g, &sd[i]);
    if (r == 0)
        graph_inline_marks(g);
    for (size_t i = 1; i < n; i++) {
        for (size_t j = 0; sd[i].loc_nodes && j < sd[i].p->pb->n_location; j++)
            free(sd[i].loc_nodes[j]);
        free(sd[i].loc_nodes);
        free(sd[i].loc_len);
    }
    side_use(g, &sd[0]);
    return r;
}

/* The graph of sample type `index` with its first `rows` rows (0: all)
 * kept and marked; 0 or -1 on ENOMEM. */
int graph_build(struct graph *g, const struct pprof *p, size_t index, long rows)
{
    struct graph_side sd = {.p = p, .index = index, .sign = 1};
    return graph_build_sides(g, &sd, 1, rows);
}

int graph_build_diff(struct graph *g, const struct pprof *p, size_t index,
                     const struct pprof *base, size_t base_index, long rows)
{
    struct graph_side sd[2] = {
        {.p = p, .index = index, .sign = 1},
        {.p = base, .index = base_index, .sign = -1, .k0 = p->pb->n_sample},
    };
    return graph_build_sides(g, sd, 2, rows);
}
