/* taskscope — ts_panic (unrecoverable for now) and ts__fatal.
 *
 * Both print to stderr and end the process with status 2, as an unrecovered
 * Go panic and a Go fatal error do. The trace is a frame-pointer walk of the
 * calling stack (the whole build uses -fno-omit-frame-pointer; a task's
 * outermost frame has rbp == 0, see ts__trampoline), symbolized with the
 * profiler's libdw symbolizer in Go's format (function, then file:line and
 * the offset from the function's entry), falling back to dladdr's dynamic
 * symbols. Recover arrives with panic/defer/recover.
 *
 * The header goes out with write(2) from a fixed buffer; the trace is
 * formatted by profiler/text.c on the unbuffered stderr. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/panic.h>
#include <unistd.h>

#include "profiler/stackid.h"
#include "profiler/symbolize.h"
#include "profiler/text.h"
#include "runtime/sched.h"

#define MAX_FRAMES 64

/* ts__put_stderr: write all of s with write(2) only (safe in a signal
 * handler, and when the heap is corrupt). */
void ts__put_stderr(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void putf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        ts__put_stderr(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ts__print_pc: used by the signal-time overflow report, where libdw
 * cannot run: "func(...)\n\tmodule +0xoff" from dynamic symbols only. */
void ts__print_pc(uintptr_t pc)
{
    Dl_info info;
    if (dladdr((void *)(pc - 1), &info) && info.dli_sname) {
        putf("%s(...)\n\t%s +0x%lx\n", info.dli_sname,
             info.dli_fname ? info.dli_fname : "?",
             (unsigned long)(pc - (uintptr_t)info.dli_saddr));
    } else if (dladdr((void *)(pc - 1), &info) && info.dli_fname) {
        putf("?(...)\n\t%s +0x%lx\n", info.dli_fname,
             (unsigned long)(pc - (uintptr_t)info.dli_fbase));
    } else {
        putf("?(...)\n\t? pc=0x%lx\n", (unsigned long)pc);
    }
}

/* print_trace: the calling stack from the frame record at fp, in Go's
 * format, on stderr (unbuffered). */
static void print_trace(struct ts__symbolizer *sym, void *fp)
{
    struct ts_task *t = ts__current_task();
    uintptr_t lo = t ? (uintptr_t)t->stack.lo : 0;
    uintptr_t hi = t ? (uintptr_t)t->stack.hi : UINTPTR_MAX;
    uint64_t pcs[MAX_FRAMES];
    size_t n = ts__stack_walk((uintptr_t)fp, pcs, MAX_FRAMES, 0, lo, hi);
    ts__tb_stack(stderr, sym, pcs, n);
}

static void print_header(void)
{
    struct ts_task *t = ts__current_task();
    if (t)
        putf("\ngoroutine %llu [running]:\n", (unsigned long long)t->id);
    else
        putf("\nthread %ld [running]:\n", (long)gettid());
}

static void print_created_by(struct ts__symbolizer *sym)
{
    struct ts_task *t = ts__current_task();
    if (t)
        ts__tb_created_by(stderr, sym, t->create_pc, t->parent_id);
}

/* report: header, trace and creation site of the calling task or thread,
 * then exit 2. The symbolizer is made here, on the failing thread, and
 * never freed: the process ends. */
static TS_NORETURN void report(void *fp)
{
    struct ts__symbolizer *sym = NULL;
    if (ts__symbolizer_new(&sym) != 0)
        sym = NULL;
    print_header();
    print_trace(sym, fp);
    print_created_by(sym);
    _exit(2);
}

/* vreport: "<prefix><message>", then the report; does not return. */
static TS_NORETURN void vreport(const char *prefix, const char *fmt, va_list ap,
                                void *fp)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    putf("%s%s\n", prefix, msg);
    report(fp);
}

void ts_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("panic: ", fmt, ap, __builtin_frame_address(0));
}

void ts__fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("", fmt, ap, __builtin_frame_address(0));
}
