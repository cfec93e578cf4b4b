/* taskscope — select: wait on several channel operations at once.
 *
 * Go's select statement. Among the cases that can proceed, one is chosen
 * uniformly at random; if none can and TS_SELECT_NONBLOCK is given, select
 * returns TS_SELECT_DEFAULT at once (Go's default case); otherwise it blocks
 * (wait reason "select", or "select (no cases)" when every channel is NULL or
 * n == 0 — that blocks forever, as in Go). A single case with a channel and
 * no deadline is a plain channel operation, as Go compiles it: it blocks
 * with "chan receive" / "chan send".
 *
 * A case with a NULL channel is never ready. A send case on a closed channel
 * panics when chosen, as in Go. */
#ifndef TASKSCOPE_SELECT_H
#define TASKSCOPE_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <taskscope/chan.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

typedef enum ts_select_dir {
    TS_SELECT_SEND = 1, /* send *elem on chan */
    TS_SELECT_RECV = 2, /* receive into elem (NULL discards) */
} ts_select_dir_t;

typedef struct ts_select_case {
    ts_chan_t *chan;     /* in: the channel, NULL never ready */
    ts_select_dir_t dir; /* in: TS_SELECT_SEND or TS_SELECT_RECV */
    void *elem;          /* in: value to send / where to receive */
    bool ok;             /* out, receive: false when chan was closed */
} ts_select_case_t;

/* Shorthands for building case arrays. */
#define TS_SEND_CASE(ch, ptr) \
    ((ts_select_case_t){.chan = (ch), .dir = TS_SELECT_SEND, .elem = (void *)(ptr)})
#define TS_RECV_CASE(ch, ptr) \
    ((ts_select_case_t){.chan = (ch), .dir = TS_SELECT_RECV, .elem = (ptr)})

/* flags */
#define TS_SELECT_NONBLOCK 1 /* take the default branch if nothing is ready */

/* results other than a case index */
#define TS_SELECT_DEFAULT (-1) /* NONBLOCK given and nothing was ready */
#define TS_SELECT_TIMEOUT (-2) /* ts_select_deadline: deadline passed */
#define TS_SELECT_EINVAL (-3)  /* bad arguments (n > TS_SELECT_MAX_CASES,
                                  cases == NULL with n > 0, bad dir) */

#define TS_SELECT_MAX_CASES 65536

/* ts_select: perform one ready case and return its index (0..n-1), or
 * TS_SELECT_DEFAULT / TS_SELECT_EINVAL as above. Every case's ok is written:
 * true only for the chosen receive case when it got a real value. */
TS_EXPORT int ts_select(ts_select_case_t *cases, size_t n, int flags);

/* ts_select_deadline: as ts_select, but give up at deadline (a ts_now()
 * instant) and return TS_SELECT_TIMEOUT. A deadline already past behaves as
 * TS_SELECT_NONBLOCK except that it returns TS_SELECT_TIMEOUT; with
 * TS_SELECT_NONBLOCK given too, TS_SELECT_DEFAULT wins. With no usable case
 * (n == 0 or every channel NULL) it sleeps until the deadline and returns
 * TS_SELECT_TIMEOUT. */
TS_EXPORT int ts_select_deadline(ts_select_case_t *cases, size_t n,
                                 int flags, int64_t deadline);

TS_END_DECLS

#endif
