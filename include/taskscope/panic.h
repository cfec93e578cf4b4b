/* taskscope — panic, defer and recover, as in Go.
 *
 * A protected call, ts_pcall(fn, arg, &value), runs fn with a frame of its
 * own. ts_defer(fn, arg) registers a deferred call in the innermost
 * protected frame of the calling task (or thread); deferred calls run last
 * in, first out when the frame ends, normally or because a panic unwinds
 * through it.
 *
 * ts_panic stops the calling function and runs the deferred calls of every
 * protected frame, innermost first, on top of the panicking stack. A
 * deferred call that calls ts_recover() stops the panic: the frame that
 * deferred it runs its remaining deferred calls and ts_pcall returns
 * TS_PANIC_RECOVERED, with the value copied to *value. A panic no deferred
 * call recovers prints "panic: <message>" (the chain of earlier panics
 * first, "[recovered]" on those that were), "goroutine N [running]:" and a
 * symbolized stack trace of where it was raised, and exits with status 2.
 *
 * SIGSEGV, SIGBUS and SIGFPE raised by the program's own code in a task or
 * a thread are runtime panics ("runtime error: invalid memory address or
 * nil pointer dereference", "runtime error: integer divide by zero"),
 * recoverable like any other inside a protected call. Faults in
 * taskscope's own code are never recoverable.
 *
 * Unwinding releases nothing by itself: a lock held or memory owned by a
 * function a panic unwinds is released only by a deferred call. The panic
 * value and the frames live on the stack: a frame must not be left by
 * longjmp or by a deferred call that never returns. */
#ifndef TASKSCOPE_PANIC_H
#define TASKSCOPE_PANIC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <taskscope/export.h>

TS_BEGIN_DECLS

#define TS_PANIC_MESSAGE_MAX 256
#define TS_PANIC_FRAMES_MAX 64

/* Error codes of the runtime's own panics (ts_panic_value_t.code). */
enum {
    TS_PANIC_USER = 0,       /* ts_panic, ts_panic_code with code 0 */
    TS_PANIC_NIL_DEREF = -1, /* SIGSEGV/SIGBUS: invalid memory address */
    TS_PANIC_DIVIDE = -2,    /* SIGFPE: integer divide by zero (or overflow) */
    TS_PANIC_MISUSE = -3     /* misuse Go panics on: closed channel, ... */
};

typedef struct ts_panic_value {
    int code;                           /* TS_PANIC_*, or the user's code */
    int signo;                          /* the signal of a runtime panic, or 0 */
    int sigcode;                        /* its si_code */
    uintptr_t addr;                     /* its fault address */
    uintptr_t pc;                       /* where it was raised (faulted) */
    uint64_t task;                      /* the panicking task's id, 0 on a thread */
    char message[TS_PANIC_MESSAGE_MAX]; /* without the "panic: " prefix */
    size_t nframes;                     /* the stack at the panic, innermost */
    uintptr_t frames[TS_PANIC_FRAMES_MAX]; /* first (return addresses) */
} ts_panic_value_t;

#define TS_PANIC_RECOVERED 1

/* ts_pcall: run fn(arg) in a new protected frame. 0 when fn and the
 * deferred calls returned, TS_PANIC_RECOVERED when a panic was recovered
 * by one of this frame's deferred calls (value, when not NULL, receives
 * it; otherwise it is left empty: no message, no frames). A panic not
 * recovered here goes on to the enclosing frames. A NULL fn is a misuse
 * panic. */
TS_EXPORT int ts_pcall(void (*fn)(void *), void *arg, ts_panic_value_t *value);

/* ts_defer: fn(arg) runs when the innermost protected frame ends. Panics
 * (misuse) outside any protected frame. */
TS_EXPORT void ts_defer(void (*fn)(void *), void *arg);

/* ts_recover: inside a deferred call run by a panic, stop the panic and
 * return its value (valid until the deferred call returns; ts_pcall's
 * value argument receives a copy); NULL when not
 * panicking, when called anywhere else (a function the deferred call
 * calls through another ts_pcall included), or when already recovered. */
TS_EXPORT const ts_panic_value_t *ts_recover(void);

/* ts_panic: raise a panic with a printf-style message; does not return. */
TS_EXPORT TS_NORETURN void ts_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ts_panic_code: the same, carrying an error code (errno values, say). */
TS_EXPORT TS_NORETURN void ts_panic_code(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ts_repanic: raise again a value ts_recover returned (Go's panic(r)). */
TS_EXPORT TS_NORETURN void ts_repanic(const ts_panic_value_t *value);

/* ts_panic_print: "panic: <message>" (and "[signal ...]" for a runtime
 * panic), then "goroutine N [running]:" (the task that panicked) and the
 * stack at the panic, symbolized, in Go's format, to f (for logging a
 * recovered panic, also from another task). */
TS_EXPORT void ts_panic_print(const ts_panic_value_t *value, FILE *f);

TS_END_DECLS

#endif
