/* taskscope — code address -> function, file, line and inlined frames, and
 * module build ids, read with elfutils' libdw from this process's own
 * ELF files.
 *
 * Threads: a symbolizer is NOT thread-safe. One thread at a time may use a
 * given symbolizer (the profiler's drain/writer thread); callers that share
 * one serialize around every call. Different symbolizers are independent.
 *
 * Addresses: pass the address of an instruction. For a return address taken
 * from a stack (every frame but a signal context's leaf), pass the return
 * address minus one, so the lookup lands in the call instruction and not in
 * whatever line follows it (ts__profile does this adjustment). */
#ifndef TASKSCOPE_PROFILER_SYMBOLIZE_H
#define TASKSCOPE_PROFILER_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct ts__symbolizer;

/* One source-level frame at an address. Every string is non-NULL ("" when
 * unknown) and owned by the symbolizer: valid until ts__symbolizer_free. */
struct ts__frame {
    const char *function;    /* source name (DWARF DW_AT_name), else the
                                ELF symbol */
    const char *system_name; /* linkage or ELF symbol name */
    const char *file;        /* source file, "" without line info */
    int64_t line;            /* line in file, 0 when unknown */
    int64_t start_line;      /* line where the function is declared, or 0 */
};

/* A loaded module (executable, shared object or the vDSO). Strings are
 * owned by the symbolizer, like frames. */
struct ts__module {
    const char *path;     /* file name as /proc/self/maps shows it */
    const char *build_id; /* lowercase hex of the GNU build-id, "" if none */
    uint64_t start;       /* lowest address of the module */
    uint64_t end;         /* one past its highest address */
};

/* ts__symbolizer_new: a symbolizer for the calling process, reporting the
 * modules of /proc/self/maps to libdw. *out is set on success.
 * 0, EINVAL (out NULL), ENOMEM, or EIO when libdw cannot read the maps. */
int ts__symbolizer_new(struct ts__symbolizer **out);

/* ts__symbolizer_free: release the symbolizer, its cache and every string
 * it handed out. NULL is fine. */
void ts__symbolizer_free(struct ts__symbolizer *s);

/* ts__symbolize: the frames at addr, innermost inlined frame first; the
 * last frame is the function that physically contains addr. *frames points
 * into the symbolizer's per-address cache (valid until free; the same
 * address always yields the same array). When the module has no DWARF the
 * one frame comes from the ELF symbol table, without file or line.
 * 0; ENOENT when no module or symbol covers addr (*nframes = 0); EINVAL on
 * NULL arguments; ENOMEM. */
int ts__symbolize(struct ts__symbolizer *s, uint64_t addr,
                  const struct ts__frame **frames, size_t *nframes);

/* ts__symbolizer_offset: addr's offset from the start of the ELF symbol
 * (the physical function) holding it, as Go's "+0x2a" in tracebacks.
 * 0; ENOENT when no module or symbol covers addr; EINVAL. */
int ts__symbolizer_offset(struct ts__symbolizer *s, uint64_t addr,
                          uint64_t *offset);

/* ts__symbolizer_text / ts__symbolizer_set_text: one string per address
 * that a caller may keep with the symbolizer's cache (text.c keeps the
 * formatted traceback lines of a return address there, so a dump of many
 * tasks with the same stacks formats each frame once). NULL until set;
 * set copies text. 0, EINVAL or ENOMEM. */
const char *ts__symbolizer_text(struct ts__symbolizer *s, uint64_t addr);
int ts__symbolizer_set_text(struct ts__symbolizer *s, uint64_t addr,
                            const char *text);

/* ts__symbolizer_module: the module holding addr, with its build id.
 * 0; ENOENT when no module covers addr; EINVAL; ENOMEM. */
int ts__symbolizer_module(struct ts__symbolizer *s, uint64_t addr,
                          struct ts__module *out);

#endif
