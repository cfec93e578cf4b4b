/* graph.h — pprof's call graph of one sample type (graph.c). */
#ifndef TASKSCOPE_TOOLS_GRAPH_H
#define TASKSCOPE_TOOLS_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pprof_read.h"

/* A function (graph node). Read-only outside graph.c. */
struct node {
    char *name;       /* owned */
    int64_t flat;
    int64_t cum;
    size_t seen;      /* 1 + index of the last sample counted in cum */
    bool kept;        /* one of the rows shown */
    bool inline_in;   /* has a kept inline in-edge */
    bool noinline_in; /* has a kept physical-call in-edge */
};

/* A caller -> callee edge between kept nodes. */
struct edge {
    size_t src, dst;  /* node indices */
    int64_t weight;   /* sum of the values of the samples through it */
    size_t seen;      /* 1 + index of the last sample counted */
    bool inline_only; /* every counted traversal was through an inlined frame */
};

/* The graph of one sample type. */
struct graph {
    /* read by users after graph_build */
    struct node *nodes;  /* all nodes, n of them */
    size_t *order;       /* nodes with a non-zero flat or cum, in row order */
    size_t norder;       /* entries in order */
    size_t norder_kept;  /* the rows shown: order[0..norder_kept) */
    int64_t total;       /* sum of |value| over all samples */

    /* graph.c's */
    size_t n, cap;       /* nodes used / allocated */
    size_t *slots;       /* nodes by name: open addressing, node index + 1 */
    size_t nslots;       /* a power of two > 2 * n */
    size_t **loc_nodes;  /* loc_nodes[i][j]: node of line j of location i */
    size_t *loc_len;     /* entries in loc_nodes[i] */
    int64_t flat_sum;    /* sum of flat over all nodes (pprof's Nodes.Sum) */
    struct edge *edges;  /* open addressing; src == SIZE_MAX: free slot */
    size_t nedges;       /* edges used */
    size_t edge_slots;   /* a power of two > 2 * nedges */
};

/* Builds the graph of sample type `index` (< n_sample_type) of p, with its
 * first `rows` rows (0: all) kept and their inline marks set. 0, or -1 on
 * ENOMEM; graph_free must be called either way. */
int graph_build(struct graph *g, const struct pprof *p, size_t index, long rows);

/* The same for p minus base (pprof's -diff_base): base's samples count
 * negated, and total is the sum of |value| over base's samples only, so
 * percentages are of the base, as pprof prints them. base_index is the
 * same sample type in base. */
int graph_build_diff(struct graph *g, const struct pprof *p, size_t index,
                     const struct pprof *base, size_t base_index, long rows);

/* Frees what graph_build allocated; nloc is p->pb->n_location. */
void graph_free(struct graph *g, size_t nloc);

/* |v| */
static inline int64_t abs64(int64_t v)
{
    return v < 0 ? -v : v;
}

#endif
