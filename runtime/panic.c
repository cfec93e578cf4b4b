/* taskscope — ts_panic (unrecoverable for now) and ts__fatal.
 *
 * Both print to stderr and end the process with status 2, as an unrecovered
 * Go panic and a Go fatal error do. The trace is a frame-pointer walk of the
 * calling stack (the whole build uses -fno-omit-frame-pointer; a task's
 * outermost frame has rbp == 0, see ts__trampoline), symbolized with dladdr:
 * function+offset and module. File:line symbolization arrives with the
 * profiler's libdw symbolizer; recover arrives with panic/defer/recover.
 *
 * Printing uses a fixed buffer and write(2) only, so a panic raised while
 * the heap is corrupt still reports. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <taskscope/panic.h>
#include <unistd.h>

#include "runtime/sched.h"

#define MAX_FRAMES 64

static void put(const char *s, size_t n)
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
        put(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ts__print_pc: one Go-style frame, "func(...)\n\tmodule +0xoff". */
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

/* print_trace: walk frame pointers from the caller's frame. */
static void print_trace(void *fp)
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
        ts__print_pc(pc);
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

static void print_created_by(void)
{
    struct ts_task *t = ts__current_task();
    if (!t || !t->create_pc)
        return;
    Dl_info info;
    const char *fn = dladdr((void *)(t->create_pc - 1), &info) && info.dli_sname
                         ? info.dli_sname
                         : "?";
    putf("created by %s in goroutine %llu\n", fn,
         (unsigned long long)t->parent_id);
    ts__print_pc(t->create_pc);
}

void ts_panic(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    putf("panic: %s\n", msg);
    print_header();
    print_trace(__builtin_frame_address(0));
    print_created_by();
    _exit(2);
}

void ts__fatal(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    putf("%s\n", msg);
    print_header();
    print_trace(__builtin_frame_address(0));
    print_created_by();
    _exit(2);
}
