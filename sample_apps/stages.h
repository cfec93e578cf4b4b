/* sample_apps/stages.h — the reusable pipeline stages of seed 002
 * ("Concurrency in Go": generators, the or-done channel) that several
 * sample programs build on: repeat, take and orDone, for int elements.
 *
 * Each returns a new channel (one reference for the caller) fed by a task
 * that stops when done is closed, closes its output and releases what it
 * retained. Header-only: every sample is its own executable. */
#ifndef SAMPLE_APPS_STAGES_H
#define SAMPLE_APPS_STAGES_H

#include <string.h>

#include "sample.h"

/* ---- repeat: the values, over and over, until done ---------------------- */

struct repeat_args {
    ts_chan_t *done, *valueStream;
    int *values;
    size_t n;
};

static inline void repeat_task(void *p)
{
    struct repeat_args *a = p;
    for (;;) {
        for (size_t i = 0; i < a->n; i++) { /* for _, v := range values */
            ts_select_case_t c[] = {
                TS_RECV_CASE(a->done, NULL),                 /* <-done */
                TS_SEND_CASE(a->valueStream, &a->values[i]), /* <- v */
            };
            if (ts_select(c, 2, 0) == 0)
                goto out;
        }
    }
out:
    ts_chan_close(a->valueStream); /* defer close(valueStream) */
    ts_chan_release(a->valueStream);
    ts_chan_release(a->done);
    free(a->values);
    free(a);
}

static inline ts_chan_t *repeat(ts_chan_t *done, const int *values, size_t n)
{
    ts_chan_t *valueStream = xchan(sizeof(int), 0);
    struct repeat_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->valueStream = ts_chan_retain(valueStream);
    a->values = xmalloc(n * sizeof(int) + 1);
    memcpy(a->values, values, n * sizeof(int));
    a->n = n;
    sample_go(repeat_task, a);
    return valueStream;
}

/* ---- take: the first num values of valueStream -------------------------- */

struct take_args {
    ts_chan_t *done, *valueStream, *takeStream;
    int num;
};

static inline void take_task(void *p)
{
    struct take_args *a = p;
    for (int i = 0; i < a->num; i++) {
        int v;
        ts_chan_recv(a->valueStream, &v, NULL); /* <-valueStream, evaluated
                                                   before the select */
        ts_select_case_t c[] = {TS_RECV_CASE(a->done, NULL),
                                TS_SEND_CASE(a->takeStream, &v)};
        if (ts_select(c, 2, 0) == 0)
            break;
    }
    ts_chan_close(a->takeStream); /* defer close(takeStream) */
    ts_chan_release(a->takeStream);
    ts_chan_release(a->valueStream);
    ts_chan_release(a->done);
    free(a);
}

static inline ts_chan_t *take(ts_chan_t *done, ts_chan_t *valueStream, int num)
{
    ts_chan_t *takeStream = xchan(sizeof(int), 0);
    struct take_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->valueStream = ts_chan_retain(valueStream);
    a->takeStream = ts_chan_retain(takeStream);
    a->num = num;
    sample_go(take_task, a);
    return takeStream;
}

/* ---- orDone: read c until it closes or done does ------------------------- */

struct or_done_args {
    ts_chan_t *done, *c, *valStream;
};

static inline void or_done_task(void *p)
{
    struct or_done_args *a = p;
    for (;;) {
        int v;
        ts_select_case_t outer[] = {
            TS_RECV_CASE(a->done, NULL), /* case <-done: return */
            TS_RECV_CASE(a->c, &v),      /* case v, ok := <-c: */
        };
        if (ts_select(outer, 2, 0) == 0 || !outer[1].ok)
            break;
        ts_select_case_t inner[] = {
            TS_SEND_CASE(a->valStream, &v), /* case valStream <- v: */
            TS_RECV_CASE(a->done, NULL),    /* case <-done: */
        };
        ts_select(inner, 2, 0);
    }
    ts_chan_close(a->valStream); /* defer close(valStream) */
    ts_chan_release(a->valStream);
    ts_chan_release(a->c);
    ts_chan_release(a->done);
    free(a);
}

/* orDone: returns a new channel (one reference for the caller). */
static inline ts_chan_t *orDone(ts_chan_t *done, ts_chan_t *c)
{
    ts_chan_t *valStream = xchan(sizeof(int), 0);
    struct or_done_args *a = xmalloc(sizeof *a);
    a->done = ts_chan_retain(done);
    a->c = ts_chan_retain(c);
    a->valStream = ts_chan_retain(valStream);
    sample_go(or_done_task, a);
    return valStream;
}

#endif
