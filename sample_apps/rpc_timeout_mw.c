/* rpc_timeout_mw.c — an RPC middleware that runs the handler in a task of
 * its own, bounds it with a timeout, and turns a panic of the handler into
 * a panic of the caller.
 *
 * Ported from 004_981443292b25e44f.txt, "RPCTimeoutMW" (ms平台的基础实现,
 * the platform's basic implementation). RPCTimeoutMW(next) returns an
 * endpoint that
 *   - makes done := make(chan error, 1) and runs `resp, err = next(ctx,
 *     request)` in a new goroutine, whose deferred func recovers a panic,
 *     logs it with the stack, sends an error built from it on done, and
 *     closes done in every case;
 *   - selects between done and ctx.Done() (a context.WithTimeout of the
 *     RPC's timeout): an error from done is re-raised in the caller as
 *     panic(panicErr.Error()); a closed done means the handler returned, and
 *     its resp, err are the answer; the timeout returns a timeout error.
 * done has a slot, so a handler that finishes after the timeout sends (or
 * closes) without blocking and its goroutine ends: no leak.
 *
 * Differences from the seed:
 *   - context is not in the runtime yet: the timeout is a timer channel,
 *     ts_timer_new(timeout) / ts_timer_chan, and `defer cancel()` is the
 *     ts_timer_free after the select. The handler therefore cannot see the
 *     cancellation: a timed-out handler runs to its end, then its task
 *     closes done and exits (a ctx-aware handler would stop early).
 *   - resp and err are not closure variables but fields of a block shared
 *     by the middleware and the handler task, reference counted: whichever
 *     lets go last frees it (the middleware leaves early on a timeout).
 *   - Go's error text ends with the stack (fmt.Errorf("KITC: panic, %v\n%s",
 *     err, buf)); here the stack goes to the log only (ts_panic_print on
 *     stderr), and the error and the re-raised panic carry the message.
 *   - the caller is Go code that would crash on the re-raised panic; here
 *     it runs each request under ts_pcall and prints the panic, so that the
 *     program goes on to the next request.
 *
 * Three requests to a fake user service through the middleware, timeout
 * 100 ms: GetUser answers in 10 ms; GetOrder dereferences the nil pointer
 * its lookup returned (a SIGSEGV in the handler task, recovered there, then
 * re-raised in the caller); Search takes 300 ms and times out.
 *
 * stdout is deterministic (expected/rpc_timeout_mw.txt); the middleware's
 * log of the panic, with its stack, is on stderr.
 *
 * Run: build/sample_apps/rpc_timeout_mw (~0.4 s). */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskscope/taskscope.h>

#include "sample.h"

/* ---- the RPC framework: requests, errors, endpoints ----------------------- */

typedef struct rpc_info {
    const char *to;         /* the service called */
    const char *to_cluster; /* its cluster */
    const char *method;
    int64_t rpc_timeout_ms;
} rpc_info_t;

typedef struct request {
    rpc_info_t info; /* GetRPCInfo(ctx) */
    const char *arg;
} request_t;

typedef struct response {
    char text[96];
} response_t;

/* An error value (Go's error): a message. */
typedef struct rpc_error {
    char msg[TS_PANIC_MESSAGE_MAX + 32];
} rpc_error_t;

/* endpoint.EndPoint, func(ctx, request) (interface{}, error): call returns
 * 0 with *resp set, or an error code with *err set. A middleware is an
 * endpoint that wraps next. */
typedef struct endpoint endpoint_t;
struct endpoint {
    int (*call)(endpoint_t *self, const request_t *req, response_t *resp,
                rpc_error_t *err);
    endpoint_t *next;
};

/* makeTimeoutErr(rpcInfo) */
static int make_timeout_err(const rpc_info_t *info, rpc_error_t *err)
{
    snprintf(err->msg, sizeof err->msg,
             "RPC timeout: to=%s, method=%s, timeout=%lldms", info->to,
             info->method, (long long)info->rpc_timeout_ms);
    return ETIMEDOUT;
}

/* ---- RPCTimeoutMW ------------------------------------------------------------ */

/* The state of one call, shared by the middleware and the handler task. */
struct mw_call {
    atomic_int refs;     /* 2: the middleware's and the task's */
    endpoint_t *next;    /* the handler */
    request_t req;       /* a copy: the caller's may be gone on a timeout */
    int err;             /* written by the task before it closes done */
    response_t resp;     /* idem */
    rpc_error_t errv;    /* idem */
    ts_chan_t *done;     /* chan error, capacity 1; closed by the task */
};

static void mw_call_release(struct mw_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        ts_chan_release(c->done);
        free(c);
    }
}

/* The handler task's deferred func: recover, log with the stack, send the
 * error; close done in any case. */
static void mw_recover_and_close(void *p)
{
    struct mw_call *c = p;
    const ts_panic_value_t *r = ts_recover();
    if (r != NULL) {
        const rpc_info_t *info = &c->req.info;
        /* logs.CtxError(...): the log line, then the stack */
        fprintf(stderr,
                "KITC: panic: to=%s, toCluster=%s, method=%s, Request: %s, "
                "err: %s\n",
                info->to, info->to_cluster, info->method, c->req.arg,
                r->message);
        ts_panic_print(r, stderr);
        rpc_error_t e;
        snprintf(e.msg, sizeof e.msg, "KITC: panic, %s", r->message);
        ts_chan_send(c->done, &e); /* done <- fmt.Errorf(...): never blocks */
    }
    ts_chan_close(c->done);
}

/* resp, err = next(ctx, request), under the deferred func */
static void mw_run_next(void *p)
{
    struct mw_call *c = p;
    ts_defer(mw_recover_and_close, c);
    c->err = c->next->call(c->next, &c->req, &c->resp, &c->errv);
}

/* go func() { defer func() {...}(); resp, err = next(ctx, request) }() */
static void mw_handler_task(void *p)
{
    struct mw_call *c = p;
    ts_pcall(mw_run_next, c, NULL);
    mw_call_release(c);
}

static int rpc_timeout_mw_call(endpoint_t *self, const request_t *req,
                               response_t *resp, rpc_error_t *err)
{
    /* ctx, cancel := context.WithTimeout(...); defer cancel(): no context
     * in the runtime yet, a timer stands in for ctx.Done() */
    ts_timer_t *timeout = ts_timer_new(req->info.rpc_timeout_ms * TS_MILLISECOND);
    if (timeout == NULL) {
        fprintf(stderr, "ts_timer_new failed\n");
        exit(1);
    }

    struct mw_call *c = xmalloc(sizeof *c);
    atomic_init(&c->refs, 2);
    c->next = self->next;
    c->req = *req;
    c->err = 0;
    c->done = xchan(sizeof(rpc_error_t), 1); /* done := make(chan error, 1) */
    sample_go(mw_handler_task, c);

    rpc_error_t panic_err;
    ts_select_case_t cases[] = {TS_RECV_CASE(c->done, &panic_err),
                                TS_RECV_CASE(ts_timer_chan(timeout), NULL)};
    int chosen = ts_select(cases, 2, 0);
    ts_timer_free(timeout); /* cancel() */

    if (chosen == 1) { /* case <-ctx.Done() */
        mw_call_release(c);
        return make_timeout_err(&req->info, err);
    }
    bool got_error = cases[0].ok; /* false: done closed, no error */
    int e = c->err;
    if (!got_error) {
        if (e == 0)
            *resp = c->resp;
        else
            *err = c->errv;
    }
    mw_call_release(c); /* before the panic: nothing would release it */
    if (got_error)
        ts_panic("%s", panic_err.msg); /* panic(panicErr.Error()) */
    return e;
}

/* RPCTimeoutMW(next) */
static endpoint_t RPCTimeoutMW(endpoint_t *next)
{
    return (endpoint_t){rpc_timeout_mw_call, next};
}

/* ---- the service behind it ------------------------------------------------------ */

struct order {
    int id;
    const char *item;
};

/* lookup_order: no order is found (NULL), and the handler does not check */
static struct order *volatile found_order;

static int user_service(endpoint_t *self, const request_t *req,
                        response_t *resp, rpc_error_t *err)
{
    (void)self;
    (void)err;
    const char *m = req->info.method;
    if (strcmp(m, "GetUser") == 0) {
        ts_sleep(10 * TS_MILLISECOND);
        snprintf(resp->text, sizeof resp->text, "user %s: gopher", req->arg);
    } else if (strcmp(m, "GetOrder") == 0) {
        struct order *o = found_order;
        snprintf(resp->text, sizeof resp->text, "order %d: %s", o->id, o->item);
    } else { /* Search: slower than its timeout */
        ts_sleep(300 * TS_MILLISECOND);
        snprintf(resp->text, sizeof resp->text, "results for %s", req->arg);
    }
    return 0;
}

/* ---- the caller ---------------------------------------------------------------- */

struct rpc_call {
    endpoint_t *ep;
    const request_t *req;
};

/* The caller's deferred func: defer func() { recover() }(); what it
 * recovered reaches main through ts_pcall's value. */
static void caller_recover(void *arg)
{
    (void)arg;
    ts_recover();
}

static void do_request(void *p)
{
    struct rpc_call *call = p;
    ts_defer(caller_recover, NULL);
    response_t resp;
    rpc_error_t err;
    int e = call->ep->call(call->ep, call->req, &resp, &err);
    if (e == 0)
        printf("%s(%s): %s\n", call->req->info.method, call->req->arg, resp.text);
    else
        printf("%s(%s): error: %s\n", call->req->info.method, call->req->arg,
               err.msg);
}

static int main_task(void *arg)
{
    (void)arg;
    endpoint_t service = {user_service, NULL};
    endpoint_t ep = RPCTimeoutMW(&service);

    static const request_t requests[] = {
        {{"user.service", "default", "GetUser", 100}, "42"},
        {{"user.service", "default", "GetOrder", 100}, "17"},
        {{"user.service", "default", "Search", 100}, "gopher"},
    };
    int panics = 0;
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        struct rpc_call call = {&ep, &requests[i]};
        ts_panic_value_t v;
        if (ts_pcall(do_request, &call, &v) == TS_PANIC_RECOVERED) {
            printf("%s(%s): the caller recovered: %s\n",
                   requests[i].info.method, requests[i].arg, v.message);
            panics++;
        }
    }
    /* The timed-out Search handler is still sleeping: join it. */
    int leaked = sample_wait_tasks();
    printf("handler tasks all finished: %s\n", leaked ? "no" : "yes");
    return panics == 1 && !leaked ? 0 : 1;
}

int main(void)
{
    return ts_run(main_task, NULL);
}
