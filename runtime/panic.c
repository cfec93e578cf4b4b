/* taskscope — panic, defer and recover (include/taskscope/panic.h).
 *
 * Each task (and each plain thread) keeps a stack of protected frames and
 * a list of active panics, newest first (struct ts__pstate). A frame lives
 * in ts_pcall's stack frame and holds a jmp_buf and the deferred calls
 * registered in it.
 *
 * A panic is Go's gopanic: its record lives in the frame of ts_panic, and
 * from there, on top of the panicking stack, it pops and runs the deferred
 * calls of the innermost frame, then of the next, and so on. When a
 * deferred call recovers, the panic longjmps to the frame that deferred the
 * call; that ts_pcall runs its remaining deferred calls and returns
 * TS_PANIC_RECOVERED. When no frame is left, the chain of panics and the
 * stack of the newest are printed and the process exits 2.
 *
 * Invariants:
 *   - state->top is the innermost frame still running its function or its
 *     deferred calls; a frame leaves the stack when its ts_pcall returns,
 *     or when a panic has run all its deferred calls without a recovery;
 *   - a deferred call is popped before it runs, so each runs once, also
 *     when it panics;
 *   - a panic is recoverable only while it runs a deferred call of the
 *     innermost frame (ts_recover called from a deferred call directly, not
 *     through another ts_pcall), and only once;
 *   - every panic in the list was raised after its frame's ts_pcall began:
 *     recovering in frame f forgets the panics raised since f began (they
 *     were aborted, their stacks are unwound), which f remembers on entry;
 *   - longjmp only goes outward, to a frame still on the stack. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/panic.h>
#include <unistd.h>

#include "profiler/record.h"
#include "profiler/unwind.h"
#include "runtime/sched.h"

#define DEFER_INLINE 4 /* deferred calls held in the frame without malloc */

struct ts__defer {
    void (*fn)(void *);
    void *arg;
};

struct ts__pframe {
    jmp_buf jb;
    struct ts__pframe *outer;
    struct ts__panic *panics_at_entry;
    ts_panic_value_t *out; /* where a recovered value is copied */
    size_t n, cap;         /* deferred calls; the first DEFER_INLINE inline */
    struct ts__defer inl[DEFER_INLINE];
    struct ts__defer *more; /* the rest, malloc'd, or NULL */
};

struct ts__panic {
    ts_panic_value_t v;
    struct ts__panic *link;  /* the panic this one interrupted, or NULL */
    struct ts__pframe *frame; /* whose deferred call it runs, or NULL */
    bool recovered;
};

static __thread struct ts__pstate thread_state
    __attribute__((tls_model("initial-exec")));

bool ts__thread_protected(void)
{
    return thread_state.top != NULL;
}

static struct ts__pstate *state(void)
{
    struct ts_task *t = ts__current_task();
    return t ? &t->pstate : &thread_state;
}

/* ---- deferred calls ---------------------------------------------------- */

static struct ts__defer *slot(struct ts__pframe *f, size_t i)
{
    return i < DEFER_INLINE ? &f->inl[i] : &f->more[i - DEFER_INLINE];
}

void ts_defer(void (*fn)(void *), void *arg)
{
    struct ts__pframe *f = state()->top;
    if (!f)
        ts_panic_code(TS_PANIC_MISUSE, "ts_defer outside a protected call (ts_pcall)");
    if (!fn)
        ts_panic_code(TS_PANIC_MISUSE, "ts_defer of a NULL function");
    if (f->n == f->cap) {
        size_t cap = f->cap * 2;
        struct ts__defer *m = realloc(f->more, (cap - DEFER_INLINE) * sizeof *m);
        if (!m)
            ts__fatal("taskscope: out of memory for %zu deferred calls", cap);
        f->more = m;
        f->cap = cap;
    }
    *slot(f, f->n++) = (struct ts__defer){fn, arg};
}

/* pop: the newest deferred call of f, removed; false when none is left. */
static bool pop(struct ts__pframe *f, struct ts__defer *d)
{
    if (f->n == 0)
        return false;
    *d = *slot(f, --f->n);
    return true;
}

static void frame_done(struct ts__pstate *s, struct ts__pframe *f)
{
    s->top = f->outer;
    if (f->more) {
        free(f->more);
        f->more = NULL;
    }
}

/* ---- protected calls ---------------------------------------------------- */

static bool handlers_ready; /* atomic: ts__sigpanic_init has run */

int ts_pcall(void (*fn)(void *), void *arg, ts_panic_value_t *value)
{
    if (__builtin_expect(!__atomic_load_n(&handlers_ready, __ATOMIC_ACQUIRE), 0)) {
        ts__sigpanic_init();
        __atomic_store_n(&handlers_ready, true, __ATOMIC_RELEASE);
    }
    if (!fn)
        ts_panic_code(TS_PANIC_MISUSE, "ts_pcall of a NULL function");
    if (value) {
        value->message[0] = '\0';
        value->nframes = 0;
    }
    struct ts__pstate *s = state();
    struct ts__pframe f;
    f.outer = s->top;
    f.panics_at_entry = s->panics;
    f.out = value;
    f.n = 0;
    f.cap = DEFER_INLINE;
    f.more = NULL;
    s->top = &f;
    int r = 0;
    if (_setjmp(f.jb) == 0)
        fn(arg);
    else
        r = TS_PANIC_RECOVERED; /* s->top is &f again, panics reset */
    /* A task may have moved to another thread meanwhile: s is the task's
     * own state, which moved with it. */
    struct ts__defer d;
    while (pop(&f, &d))
        d.fn(d.arg);
    frame_done(s, &f);
    return r;
}

const ts_panic_value_t *ts_recover(void)
{
    struct ts__pstate *s = state();
    struct ts__panic *p = s->panics;
    if (!p || p->recovered || !p->frame || p->frame != s->top)
        return NULL;
    p->recovered = true;
    return &p->v;
}

/* ---- raising ------------------------------------------------------------ */

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV: segmentation violation";
    case SIGBUS: return "SIGBUS: bus error";
    case SIGFPE: return "SIGFPE: floating-point exception";
    default: return NULL;
    }
}

/* print_chain: the older panics first, as Go's printpanics. */
static void print_chain(FILE *f, const struct ts__panic *p)
{
    if (p->link) {
        print_chain(f, p->link);
        fputc('\t', f);
    }
    fprintf(f, "panic: %s%s\n", p->v.message, p->recovered ? " [recovered]" : "");
}

static void print_signal(FILE *f, const ts_panic_value_t *v)
{
    if (v->signo == 0)
        return;
    const char *name = signame(v->signo);
    if (name)
        fprintf(f, "[signal %s", name);
    else
        fprintf(f, "[signal 0x%x", v->signo);
    fprintf(f, " code=0x%x addr=0x%lx pc=0x%lx]\n", (unsigned)v->sigcode,
            (unsigned long)v->addr, (unsigned long)v->pc);
}

/* print_stack: the task header and frames of v (at most the array's). */
static void print_stack(FILE *f, const ts_panic_value_t *v)
{
    uint64_t pcs[TS_PANIC_FRAMES_MAX];
    size_t n = v->nframes < TS_PANIC_FRAMES_MAX ? v->nframes : TS_PANIC_FRAMES_MAX;
    for (size_t i = 0; i < n; i++)
        pcs[i] = v->frames[i];
    ts__report_stack(f, v->task, pcs, n);
}

void ts_panic_print(const ts_panic_value_t *v, FILE *f)
{
    if (!v || !f)
        return;
    fprintf(f, "panic: %.*s\n", (int)strnlen(v->message, sizeof v->message),
            v->message);
    print_signal(f, v);
    print_stack(f, v);
}

static TS_NORETURN void unrecovered(struct ts__panic *p)
{
    print_chain(stderr, p);
    print_signal(stderr, &p->v);
    print_stack(stderr, &p->v);
    fflush(stderr);
    _exit(2);
}

/* gopanic: run deferred calls, innermost frame first, until one recovers
 * (longjmp to its frame) or none is left (exit 2). */
static TS_NORETURN void gopanic(struct ts__panic *p)
{
    struct ts__pstate *s = state();
    p->link = s->panics;
    p->frame = NULL;
    p->recovered = false;
    s->panics = p;
    for (struct ts__pframe *f; (f = s->top) != NULL; frame_done(s, f)) {
        struct ts__defer d;
        while (pop(f, &d)) {
            p->frame = f;
            d.fn(d.arg);
            p->frame = NULL;
            if (p->recovered) {
                s->panics = f->panics_at_entry;
                if (f->out)
                    *f->out = p->v;
                longjmp(f->jb, 1);
            }
        }
    }
    unrecovered(p);
}

static void vformat(ts_panic_value_t *v, int code, const char *fmt, va_list ap)
{
    v->code = code;
    v->signo = 0;
    v->sigcode = 0;
    v->addr = 0;
    vsnprintf(v->message, sizeof v->message, fmt, ap);
}

/* The stack at the panic: skip counts the frames above the panicking
 * function's (ts_panic's own, for instance), so frames[0] is its caller.
 * CAPTURE walks frame pointers; CAPTURE_CFI also tries libunwind, which
 * a fault needs: a leaf function without a frame of its own faulted, and
 * only its unwind table knows where its caller's return address is. */
#define CAPTURE(v, skip) CAPTURE_WITH(v, skip, ts__capture_current)
#define CAPTURE_CFI(v, skip) CAPTURE_WITH(v, skip, ts__capture_unwind)
#define CAPTURE_WITH(v, skip, walk)                                          \
    do {                                                                    \
        uint64_t pcs_[TS_PANIC_FRAMES_MAX];                                 \
        (v)->nframes = walk(pcs_, TS_PANIC_FRAMES_MAX, skip);               \
        for (size_t i_ = 0; i_ < (v)->nframes; i_++)                        \
            (v)->frames[i_] = (uintptr_t)pcs_[i_];                          \
        (v)->pc = (v)->nframes ? (v)->frames[0] : 0;                        \
        (v)->task = ts__current_task() ? ts__current_task()->id : 0;        \
    } while (0)

void ts_panic(const char *fmt, ...)
{
    struct ts__panic p;
    va_list ap;
    va_start(ap, fmt);
    vformat(&p.v, TS_PANIC_USER, fmt, ap);
    va_end(ap);
    CAPTURE(&p.v, 1);
    gopanic(&p);
}

void ts_panic_code(int code, const char *fmt, ...)
{
    struct ts__panic p;
    va_list ap;
    va_start(ap, fmt);
    vformat(&p.v, code, fmt, ap);
    va_end(ap);
    CAPTURE(&p.v, 1);
    gopanic(&p);
}

void ts_repanic(const ts_panic_value_t *value)
{
    struct ts__panic p;
    if (!value)
        ts_panic_code(TS_PANIC_MISUSE, "ts_repanic of a NULL value");
    p.v = *value;
    uintptr_t fault_pc = p.v.pc;
    CAPTURE(&p.v, 1); /* Go's panic(r): the stack where it is raised again */
    if (p.v.signo != 0)
        p.v.pc = fault_pc; /* the [signal ...] line names the fault */
    gopanic(&p);
}

void ts__sigpanic(int sig, int code, uintptr_t addr, uintptr_t pc)
{
    struct ts__panic p;
    p.v.signo = sig;
    p.v.sigcode = code;
    p.v.addr = addr;
    const char *what = "invalid memory address or nil pointer dereference";
    p.v.code = TS_PANIC_NIL_DEREF;
    if (sig == SIGFPE) {
        p.v.code = TS_PANIC_DIVIDE;
        what = code == FPE_INTDIV   ? "integer divide by zero"
               : code == FPE_INTOVF ? "integer overflow"
                                    : "floating point error";
    }
    snprintf(p.v.message, sizeof p.v.message, "runtime error: %s", what);
    /* 2: this function's frame and sigpanic.c's entry frame, whose return
     * address is the faulting instruction's */
    CAPTURE_CFI(&p.v, 2);
    if (p.v.nframes == 0) {
        p.v.frames[0] = pc + 1;
        p.v.nframes = 1;
    }
    p.v.pc = pc;
    gopanic(&p);
}
