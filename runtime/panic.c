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
 * Printing uses a fixed buffer and write(2) only, so a panic raised while
 * the heap is corrupt still reports. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/panic.h>
#include <unistd.h>

#include "profiler/symbolize.h"
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

/* print_pc_dladdr: a frame from dynamic symbols only: "func(...)\n\tmodule
 * +0xoff". Used where libdw cannot be (signal handlers) or finds nothing. */
static void print_pc_dladdr(uintptr_t pc)
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

/* ts__print_pc: used by the signal-time overflow report. */
void ts__print_pc(uintptr_t pc)
{
    print_pc_dladdr(pc);
}

/* is_task_entry: the runtime's frames under every task function, which a
 * trace stops at (Go hides its goexit the same way). */
static bool is_task_entry(const struct ts__frame *f)
{
    return strcmp(f->system_name, "ts__task_main") == 0 ||
           strcmp(f->system_name, "ts__trampoline") == 0;
}

/* print_lines: "\tfile:line", with +0xoff from the function's entry on the
 * physical frame when dladdr knows that entry. */
static void print_line(const struct ts__frame *f, uintptr_t pc, bool physical)
{
    Dl_info info;
    putf("\t%s:%lld", f->file, (long long)f->line);
    if (physical && dladdr((void *)(pc - 1), &info) && info.dli_saddr)
        putf(" +0x%lx", (unsigned long)(pc - (uintptr_t)info.dli_saddr));
    putf("\n");
}

/* print_pc: Go's frame format with libdw: a "function(...)" line and a
 * "\tfile:line" line per source frame, inlined frames first. Returns false
 * at a task's entry frame, where the trace ends. */
static bool print_pc(struct ts__symbolizer *sym, uintptr_t pc)
{
    const struct ts__frame *f;
    size_t n = 0;
    if (!sym || ts__symbolize(sym, pc - 1, &f, &n) != 0 || n == 0 || !*f[n - 1].file) {
        print_pc_dladdr(pc);
        return true;
    }
    if (is_task_entry(&f[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        putf("%s(...)\n", f[i].function);
        print_line(&f[i], pc, i == n - 1);
    }
    return true;
}

/* print_trace: walk frame pointers from the caller's frame. */
static void print_trace(struct ts__symbolizer *sym, void *fp)
{
    struct ts_task *t = ts__current_task();
    uintptr_t lo = t ? (uintptr_t)t->stack.lo : 0;
    uintptr_t hi = t ? (uintptr_t)t->stack.hi : UINTPTR_MAX;
    uintptr_t *frame = fp;
    for (int i = 0; i < MAX_FRAMES && frame; i++) {
        uintptr_t f = (uintptr_t)frame;
        if (f & 7 || (t && (f < lo || f + 16 > hi)))
            break;
        uintptr_t pc = frame[1];
        if (pc == 0)
            break;
        if (!print_pc(sym, pc))
            break;
        uintptr_t *next = (uintptr_t *)frame[0];
        if (next <= frame) /* stacks grow down: callers are higher */
            break;
        frame = next;
    }
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
    if (!t || !t->create_pc)
        return;
    Dl_info info;
    const char *fn = dladdr((void *)(t->create_pc - 1), &info) && info.dli_sname
                         ? info.dli_sname
                         : "?";
    const struct ts__frame *f;
    size_t n = 0;
    bool lines = sym && ts__symbolize(sym, t->create_pc - 1, &f, &n) == 0 &&
                 n > 0 && *f[n - 1].file;
    if (lines)
        fn = f[0].function;
    putf("created by %s in goroutine %llu\n", fn,
         (unsigned long long)t->parent_id);
    if (lines)
        print_line(&f[0], t->create_pc, n == 1);
    else
        print_pc_dladdr(t->create_pc);
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
