/* taskscope — CFI stack capture (see unwind.h).
 *
 * Invariants: libunwind's local-only mode (no other process, no remote
 * address spaces); the frames are return addresses as unw_backtrace gives
 * them, innermost first, with this function's own frame skipped, so the
 * result lines up with ts__capture_current's. Whichever walk finds more
 * frames wins: libunwind goes through frame-pointer-less code, and the
 * frame-pointer walk through code without unwind tables. */
#define UNW_LOCAL_ONLY
#include "profiler/unwind.h"

#include <libunwind.h>
#include <string.h>
#include <sys/auxv.h>

/* Bytes of _start before its call into libc: any return address that
 * close to the entry point is _start's. */
#define ENTRY_CODE 64

#include "profiler/record.h"
#include "profiler/stackid.h"

__attribute__((noinline)) size_t ts__capture_unwind(uint64_t *pcs, size_t max,
                                                    size_t skip)
{
    void *buf[TS__STACK_MAX_DEPTH + 8];
    size_t want = max + skip + 1;
    if (want > sizeof buf / sizeof *buf)
        want = sizeof buf / sizeof *buf;
    int got = unw_backtrace(buf, (int)want);
    size_t n = 0;
    /* buf[0] is in this function: skip it and skip more frames. The walk
     * ends before the program's entry point (_start, no line information:
     * Go's stacks end at runtime.main the same way). */
    uintptr_t entry = (uintptr_t)getauxval(AT_ENTRY);
    for (int i = (int)skip + 1; i < got && n < max; i++) {
        uintptr_t pc = (uintptr_t)buf[i];
        if (entry && pc > entry && pc - entry < ENTRY_CODE)
            break;
        pcs[n++] = (uint64_t)pc;
    }
    uint64_t fp[TS__STACK_MAX_DEPTH];
    size_t nfp = ts__capture_current(fp, max < TS__STACK_MAX_DEPTH ? max
                                                               : TS__STACK_MAX_DEPTH,
                                     skip + 1);
    if (nfp > n) {
        memcpy(pcs, fp, nfp * sizeof *fp);
        n = nfp;
    }
    __asm__ __volatile__("" ::: "memory"); /* keep this frame: skip counts it */
    return n;
}
