/* taskscope — Go's text forms of a stack: the traceback format of panics
 * and goroutine dumps, and the "#\t0x..." lines of legacy (debug=1)
 * profiles. Both print return addresses as a frame-pointer walk yields
 * them, symbolized with libdw (inlined frames first), falling back to
 * dladdr's dynamic symbols when libdw knows nothing.
 *
 * Threads: as the symbolizer, one thread at a time per sym (NULL is
 * allowed: dladdr only). */
#ifndef TASKSCOPE_PROFILER_TEXT_H
#define TASKSCOPE_PROFILER_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ts__symbolizer;

/* ts__text_frames: the legacy profile lines of a stack, as Go's
 * runtime/pprof printStackRecord: "#\t0x<pc>\t<func>+0x<off>\t<file>:<line>"
 * per source frame (pc is the return address minus one). */
void ts__text_frames(FILE *f, struct ts__symbolizer *sym,
                     const uint64_t *pcs, size_t n);

/* ts__tb_frame: Go's traceback lines for the return address ret:
 * "<func>(...)\n\t<file>:<line> +0x<off>\n" per source frame, inlined
 * frames first. Returns false, printing nothing, at the runtime's task
 * entry frames, where a task's traceback ends (Go hides goexit alike). */
bool ts__tb_frame(FILE *f, struct ts__symbolizer *sym, uint64_t ret);

/* ts__tb_stack: ts__tb_frame for pcs[0..n), stopping at a task entry. */
void ts__tb_stack(FILE *f, struct ts__symbolizer *sym, const uint64_t *pcs,
                  size_t n);

/* ts__tb_created_by: "created by <func> in goroutine <parent>\n\t<file>:
 * <line> +0x<off>\n" for the creation site ret (a return address in the
 * function that called ts_go); without " in goroutine" when parent is 0 (a
 * plain thread made it). Nothing when ret is 0. */
void ts__tb_created_by(FILE *f, struct ts__symbolizer *sym, uint64_t ret,
                       uint64_t parent);

#endif
