/* taskscope — wait-for cycles among leaked tasks: sets of blocked tasks
 * each of which can only be released by another member, reported with the
 * leak and deadlock reports (design and invariants in cycles.c). */
#ifndef TASKSCOPE_PROFILER_CYCLES_H
#define TASKSCOPE_PROFILER_CYCLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profiler/goroutine.h"

struct ts__symbolizer;
struct ts__tasks;

/* What a wait is on, which decides who its partners are. */
enum ts__wait_kind {
    TS__WAIT_CHAN = 0,  /* a channel operation or one case of a select:
                           partners are the blocked tasks whose live stack
                           references the channel */
    TS__WAIT_MUTEX = 1, /* a ts_mutex_t lock, or an RWMutex read lock
                           waiting for the writer: the partner is the
                           holder the lock recorded */
    TS__WAIT_SYNC = 2,  /* another sync primitive (WaitGroup, Cond, a
                           writer waiting for readers): partners as for a
                           channel */
};

/* One object a blocked task waits on. */
struct ts__wait {
    uint64_t task;     /* id of the waiting task */
    uintptr_t object_x; /* ~address of the object: stored complemented so
                           that no leak scan sees it as a reference */
    int kind;          /* enum ts__wait_kind */
    size_t first;      /* its partners: partners[first .. first + n) */
    size_t n;
};

/* The wait-for graph of blocked tasks, built by the leak detector: every
 * wait of every task it found blocked for good, each with the tasks that
 * alone could end it (the partners, before any filtering). */
struct ts__waitgraph {
    struct ts__wait *waits;  /* grouped by task, tasks by ascending id */
    size_t nwaits, cap_waits;
    uint64_t *partners;      /* task ids */
    size_t npartners, cap_partners;
    bool oom;                /* an append failed: the graph is incomplete */
};

/* ts__waitgraph_add_wait: append a wait of task on object (its address,
 * stored complemented). Tasks must come in ascending id order, all the
 * waits of one task together. false (and oom set) when out of memory. */
bool ts__waitgraph_add_wait(struct ts__waitgraph *g, uint64_t task, int kind,
                            uintptr_t object);

/* ts__waitgraph_add_partner: task id partner could end the last wait
 * added. false (and oom set) when out of memory. */
bool ts__waitgraph_add_partner(struct ts__waitgraph *g, uint64_t partner);

/* ts__waitgraph_free: release the arrays (g is left empty). */
void ts__waitgraph_free(struct ts__waitgraph *g);

struct ts__cycles;

/* ts__cycles_find: the wait-for cycles of g among the tasks ts marks
 * leaked; g's arrays move into the result (g is left empty). An empty
 * result when there is none; NULL when out of memory or g->oom. Free with
 * ts__cycles_free. */
struct ts__cycles *ts__cycles_find(struct ts__waitgraph *g,
                                   const struct ts__tasks *ts);

/* ts__cycles_count: how many cycles cy holds (0 for NULL). */
size_t ts__cycles_count(const struct ts__cycles *cy);

/* ts__cycles_free: release cy (NULL is a no-op). */
void ts__cycles_free(struct ts__cycles *cy);

/* ts__cycles_text: every cycle of cy whose members ts all shows under
 * which: "wait-for cycle of N tasks:", one line per wait, then each
 * member's stack as Go's dump prints it; each cycle preceded by a blank
 * line. Prints nothing when there is none. Reasons and stacks are ts's. */
void ts__cycles_text(FILE *f, struct ts__symbolizer *sym,
                     const struct ts__tasks *ts, enum ts__gfilter which,
                     const struct ts__cycles *cy);

/* ts__cycles_json: ",\"cycles\":[...]" for the same cycles (docs/json.md);
 * nothing at all for a NULL cy. */
void ts__cycles_json(FILE *f, const struct ts__tasks *ts,
                     enum ts__gfilter which, const struct ts__cycles *cy);

#endif
