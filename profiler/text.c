/* taskscope — Go's text forms of stacks (see text.h).
 *
 * Invariants:
 *   - every address printed for a return address is ret - 1 when looked up,
 *     so the line is the call's, not the one after it; the "+0x" offset is
 *     taken from the return address itself, as Go prints it;
 *   - a frame libdw cannot place (no module, or no line information) is
 *     printed from dladdr's dynamic symbols, then as a bare address: every
 *     frame prints something, nothing is silently dropped. */
#include "profiler/text.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/symbolize.h"

/* lookup: libdw frames of ret - 1 with line information, or false. */
static bool lookup(struct ts__symbolizer *sym, uint64_t ret,
                   const struct ts__frame **frames, size_t *n)
{
    *n = 0;
    return sym && ts__symbolize(sym, ret - 1, frames, n) == 0 && *n > 0 &&
           (*frames)[*n - 1].file[0] != '\0';
}

static uint64_t offset_of(struct ts__symbolizer *sym, uint64_t ret)
{
    uint64_t off = 0;
    Dl_info info;
    if (sym && ts__symbolizer_offset(sym, ret - 1, &off) == 0)
        return off + 1;
    if (dladdr((void *)(uintptr_t)(ret - 1), &info) && info.dli_saddr)
        return ret - (uint64_t)(uintptr_t)info.dli_saddr;
    return 0;
}

/* is_task_entry: the runtime's frames under every task function (and
 * under ts_run's main function), hidden as Go hides goexit and
 * runtime.main. */
static bool is_task_entry(const char *name)
{
    return strcmp(name, "ts__task_main") == 0 ||
           strcmp(name, "ts__trampoline") == 0 ||
           strcmp(name, "run_main_task") == 0;
}

/* dl_name: the dynamic symbol (or module) holding ret - 1, or NULL. */
static const char *dl_name(uint64_t ret, const char **module)
{
    Dl_info info;
    *module = "?";
    if (!dladdr((void *)(uintptr_t)(ret - 1), &info))
        return NULL;
    if (info.dli_fname)
        *module = info.dli_fname;
    return info.dli_sname;
}

/* dl_location: "\t<module> +0x<off>" from dynamic symbols: the offset
 * from the symbol, else from the module's base, else the bare address
 * ("\t? pc=0x..."), so every frame prints something to go on. */
static void dl_location(FILE *f, uint64_t ret)
{
    Dl_info info;
    if (!dladdr((void *)(uintptr_t)(ret - 1), &info) || !info.dli_fname) {
        fprintf(f, "\t? pc=%#llx\n", (unsigned long long)ret);
        return;
    }
    uintptr_t base = info.dli_sname ? (uintptr_t)info.dli_saddr
                                    : (uintptr_t)info.dli_fbase;
    fprintf(f, "\t%s +%#llx\n", info.dli_fname,
            (unsigned long long)(ret - base));
}

void ts__text_frames(FILE *f, struct ts__symbolizer *sym,
                     const uint64_t *pcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ts__frame *fr;
        size_t nf;
        uint64_t pc = pcs[i] - 1, off = offset_of(sym, pcs[i]);
        off -= off > 0; /* from the call instruction, as pc */
        if (!lookup(sym, pcs[i], &fr, &nf)) {
            const char *mod, *name = dl_name(pcs[i], &mod);
            fprintf(f, "#\t%#llx\t%s+%#llx\t%s\n", (unsigned long long)pc,
                    name ? name : "?", (unsigned long long)off, mod);
            continue;
        }
        for (size_t k = 0; k < nf; k++)
            fprintf(f, "#\t%#llx\t%s+%#llx\t%s:%lld\n", (unsigned long long)pc,
                    fr[k].function, (unsigned long long)off, fr[k].file,
                    (long long)fr[k].line);
    }
}

/* format_frame: ts__tb_frame's lines for ret; false at a task entry. */
static bool format_frame(FILE *f, struct ts__symbolizer *sym, uint64_t ret)
{
    const struct ts__frame *fr;
    size_t nf;
    if (!lookup(sym, ret, &fr, &nf)) {
        const char *mod, *name = dl_name(ret, &mod);
        if (name && is_task_entry(name))
            return false;
        fprintf(f, "%s(...)\n", name ? name : "?");
        dl_location(f, ret);
        return true;
    }
    if (is_task_entry(fr[nf - 1].system_name))
        return false;
    uint64_t off = offset_of(sym, ret);
    for (size_t k = 0; k < nf; k++) {
        /* The switch inlined into ts__park is the scheduler's business. */
        if (k < nf - 1 && strcmp(fr[k].function, "switch_to_g0") == 0)
            continue;
        fprintf(f, "%s(...)\n\t%s:%lld", fr[k].function, fr[k].file,
                (long long)fr[k].line);
        if (k == nf - 1)
            fprintf(f, " +%#llx", (unsigned long long)off);
        fputc('\n', f);
    }
    return true;
}

/* With a symbolizer, a frame's text is formatted once and kept in its
 * cache ("" marks a task entry). */
bool ts__tb_frame(FILE *f, struct ts__symbolizer *sym, uint64_t ret)
{
    const char *kept = sym ? ts__symbolizer_text(sym, ret) : NULL;
    if (!kept && sym) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            bool more = format_frame(m, sym, ret);
            fclose(m);
            if (buf && ts__symbolizer_set_text(sym, ret, more ? buf : "") == 0)
                kept = ts__symbolizer_text(sym, ret);
            free(buf);
        }
    }
    if (!kept)
        return format_frame(f, sym, ret);
    fputs(kept, f);
    return kept[0] != '\0';
}

void ts__tb_stack(FILE *f, struct ts__symbolizer *sym, const uint64_t *pcs,
                  size_t n)
{
    for (size_t i = 0; i < n && ts__tb_frame(f, sym, pcs[i]); i++)
        ;
}

/* created_by: Go's line; "in goroutine K" only when a task made it. */
static void created_by(FILE *f, const char *function, uint64_t parent)
{
    fprintf(f, "created by %s", function);
    if (parent)
        fprintf(f, " in goroutine %llu", (unsigned long long)parent);
    fputc('\n', f);
}

void ts__tb_created_by(FILE *f, struct ts__symbolizer *sym, uint64_t ret,
                       uint64_t parent)
{
    if (ret == 0)
        return;
    const struct ts__frame *fr;
    size_t nf;
    if (!lookup(sym, ret, &fr, &nf)) {
        const char *mod, *name = dl_name(ret, &mod);
        created_by(f, name ? name : "?", parent);
        dl_location(f, ret);
        return;
    }
    uint64_t off = offset_of(sym, ret);
    /* Go names the function that made the go statement: the innermost
     * source frame at the call, with its line. */
    created_by(f, fr[0].function, parent);
    fprintf(f, "\t%s:%lld +%#llx\n", fr[0].file, (long long)fr[0].line,
            (unsigned long long)off);
}
