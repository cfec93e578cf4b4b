/* taskscope — fatal errors and the reports they share with panics.
 *
 * ts__fatal prints its message, the goroutine-style header of the calling
 * task (or thread), its stack trace and creation site, and ends the process
 * with status 2, as a Go fatal error does; an unrecovered panic (panic.c)
 * ends with the same report. The trace is a frame-pointer walk of the
 * calling stack (the whole build uses -fno-omit-frame-pointer; a task's
 * outermost frame has rbp == 0, see ts__trampoline), symbolized with the
 * profiler's libdw symbolizer in Go's format (function, then file:line and
 * the offset from the function's entry), falling back to dladdr's dynamic
 * symbols.
 *
 * The message goes out with write(2) from a fixed buffer; the header and
 * the trace are formatted by profiler/text.c on the unbuffered stderr. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/record.h"
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

void ts__putf(const char *fmt, ...)
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
        ts__putf("%s(...)\n\t%s +0x%lx\n", info.dli_sname,
             info.dli_fname ? info.dli_fname : "?",
             (unsigned long)(pc - (uintptr_t)info.dli_saddr));
    } else if (dladdr((void *)(pc - 1), &info) && info.dli_fname) {
        ts__putf("?(...)\n\t%s +0x%lx\n", info.dli_fname,
             (unsigned long)(pc - (uintptr_t)info.dli_fbase));
    } else {
        ts__putf("?(...)\n\t? pc=0x%lx\n", (unsigned long)pc);
    }
}

void ts__report_stack(FILE *f, uint64_t task, const uint64_t *pcs, size_t n)
{
    struct ts__symbolizer *sym = NULL;
    if (ts__symbolizer_new(&sym) != 0)
        sym = NULL;
    struct ts_task *t = ts__current_task();
    if (task)
        fprintf(f, "\ngoroutine %llu [running]:\n", (unsigned long long)task);
    else
        fprintf(f, "\nthread %ld [running]:\n", (long)gettid());
    ts__tb_stack(f, sym, pcs, n);
    if (t && t->id == task) /* the creation site of the task running */
        ts__tb_created_by(f, sym, t->create_pc, t->parent_id);
    fflush(f);
    if (sym)
        ts__symbolizer_free(sym);
}

void ts__fatal(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ts__putf("%s\n", msg);
    uint64_t pcs[MAX_FRAMES];
    struct ts_task *t = ts__current_task();
    ts__report_stack(stderr, t ? t->id : 0, pcs,
                     ts__capture_current(pcs, MAX_FRAMES, 1));
    _exit(2);
}
