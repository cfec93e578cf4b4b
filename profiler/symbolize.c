/* taskscope — symbolization of this process's code addresses with
 * elfutils libdwfl/libdw (symbolize.h).
 *
 * How an address becomes frames:
 *   1. dwfl_addrmodule finds the module (modules come from
 *      dwfl_linux_proc_report on /proc/self/maps; an address outside every
 *      module re-reports once, which picks up libraries dlopen'd since);
 *   2. with DWARF: cu_at finds the compile unit, dwarf_getsrc_die the
 *      innermost file:line, and dwarf_getscopes + dwarf_getscopes_die the
 *      physical nest of scopes around the address. Each
 *      DW_TAG_inlined_subroutine, innermost
 *      first, yields a frame at the current file:line, then moves
 *      file:line to its DW_AT_call_file/DW_AT_call_line (where the caller
 *      inlined it). The enclosing DW_TAG_subprogram yields the last frame,
 *      the physical function;
 *   3. without DWARF (stripped libraries) one frame is made from the ELF
 *      symbol table (dwfl_module_addrname), with no file or line.
 *
 * Invariants:
 *   - every address looked up once has exactly one cache entry, including
 *     the failed ones (rc ENOENT), so a garbage PC re-reads /proc/self/maps
 *     at most once and repeated lookups are one hash probe;
 *   - every string handed out lives in `strings`, each its own allocation,
 *     so it stays valid until ts__symbolizer_free whatever libdw does with
 *     its modules (a re-report may drop one).
 * Ownership and threads: the symbolizer owns the Dwfl session, the cache and
 * the strings. Nothing is locked: libdwfl sessions are not thread-safe, so
 * one thread at a time (the profiler's writer thread) uses a symbolizer.
 *
 * Rejected alternatives:
 *   - dladdr/backtrace_symbols: dynamic symbols only (static functions are
 *     missing), no file, line or inlining;
 *   - running addr2line: a process per lookup, and not usable from inside
 *     a program whose binary may have been replaced on disk;
 *   - dwfl_standard_find_debuginfo: when DEBUGINFOD_URLS is set (Debian's
 *     login profile sets it) it downloads debug info over the network on
 *     the writer thread. find_local_debuginfo below only looks at
 *     /usr/lib/debug/.build-id, where Debian's -dbgsym packages install. */
#include "profiler/symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/intern.h"

/* The result for one address; frames is owned. */
struct entry {
    uint64_t addr;
    struct ts__frame *frames; /* n frames, innermost first, or NULL */
    size_t n;
    int rc;                   /* 0 or ENOENT */
    int64_t offset;           /* from the ELF symbol's start; OFFSET_UNSET
                                 until asked, OFFSET_NONE without symbol */
    const char *text;         /* a caller's formatted text, or NULL */
};

#define OFFSET_UNSET (-1)
#define OFFSET_NONE (-2)

struct ts__symbolizer {
    Dwfl *dwfl;                /* libdwfl session over /proc/self/maps */
    struct ts__strtab strings; /* every string a frame or module points to */
    struct ts__vec entries;    /* struct entry, one per address seen */
    struct ts__itab index;     /* address -> entries position */
};

/* ---- libdwfl session --------------------------------------------------- */

/* Debug info for a module without DWARF of its own: only the build-id tree
 * of /usr/lib/debug, never debuginfod (see the head comment). */
static int find_local_debuginfo(Dwfl_Module *mod, void **userdata,
                                const char *modname, Dwarf_Addr base,
                                const char *file_name,
                                const char *debuglink_file,
                                GElf_Word debuglink_crc,
                                char **debuginfo_file_name)
{
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    if (len < 2)
        return -1;
    char path[64 + 2 * 64];
    int off = snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/",
                       bits[0]);
    for (int i = 1; i < len && off + 16 < (int)sizeof path; i++)
        off += snprintf(path + off, sizeof path - (size_t)off, "%02x",
                        bits[i]);
    snprintf(path + off, sizeof path - (size_t)off, ".debug");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    *debuginfo_file_name = strdup(path); /* libdwfl frees it */
    return fd;
}

/* libdwfl's own finder, with close-on-exec on the file it keeps open: a
 * profiled program that forks and execs must not pass it on. */
static int find_elf_cloexec(Dwfl_Module *mod, void **userdata,
                            const char *modname, Dwarf_Addr base,
                            char **file_name, Elf **elfp)
{
    int fd = dwfl_linux_proc_find_elf(mod, userdata, modname, base, file_name,
                                      elfp);
    if (fd >= 0)
        fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    return fd;
}

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = find_elf_cloexec,
    .find_debuginfo = find_local_debuginfo,
};

/* (Re)report the modules of /proc/self/maps. 0 or EIO. */
static int report_modules(Dwfl *dwfl)
{
    dwfl_report_begin(dwfl);
    int r = dwfl_linux_proc_report(dwfl, getpid());
    if (dwfl_report_end(dwfl, NULL, NULL) != 0 || r != 0)
        return EIO;
    return 0;
}

/* The module holding addr; an address in no module re-reports once. */
static Dwfl_Module *module_at(struct ts__symbolizer *s, uint64_t addr)
{
    Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
    if (mod || report_modules(s->dwfl) != 0)
        return mod;
    return dwfl_addrmodule(s->dwfl, addr);
}

int ts__symbolizer_new(struct ts__symbolizer **out)
{
    if (!out)
        return EINVAL;
    *out = NULL;
    struct ts__symbolizer *s = ts__prof_calloc(1, sizeof *s);
    if (!s)
        return ENOMEM;
    int r = ts__strtab_init(&s->strings);
    if (r != 0)
        goto out_free_sym;
    s->dwfl = dwfl_begin(&proc_callbacks);
    if (!s->dwfl) {
        r = ENOMEM;
        goto out_free_strings;
    }
    r = report_modules(s->dwfl);
    if (r != 0)
        goto out_end_dwfl;
    *out = s;
    return 0;

out_end_dwfl:
    dwfl_end(s->dwfl);
out_free_strings:
    ts__strtab_free(&s->strings);
out_free_sym:
    free(s);
    return r;
}

void ts__symbolizer_free(struct ts__symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->entries.n; i++)
        free(TS__VEC_AT(&s->entries, struct entry, i).frames);
    ts__vec_free(&s->entries);
    ts__itab_free(&s->index);
    ts__strtab_free(&s->strings);
    dwfl_end(s->dwfl);
    free(s);
}

/* ---- frames ------------------------------------------------------------ */

/* A stable copy of str (NULL -> ""). 0 or ENOMEM/EOVERFLOW. */
static int keep(struct ts__symbolizer *s, const char *str, const char **out)
{
    size_t i;
    int r = ts__strtab_intern(&s->strings, str, &i);
    if (r == 0)
        *out = ts__strtab_get(&s->strings, i);
    return r;
}

/* Append a frame to v (struct ts__frame), copying the strings. */
static int push_frame(struct ts__symbolizer *s, struct ts__vec *v,
                      const char *fn, const char *sys, const char *file,
                      int64_t line, int64_t start_line)
{
    int r = ts__vec_reserve(v, 1, sizeof(struct ts__frame));
    if (r != 0)
        return r;
    struct ts__frame f = {.line = line, .start_line = start_line};
    if ((r = keep(s, fn, &f.function)) != 0 ||
        (r = keep(s, sys, &f.system_name)) != 0 ||
        (r = keep(s, file, &f.file)) != 0)
        return r;
    TS__VEC_AT(v, struct ts__frame, v->n++) = f;
    return 0;
}

static const char *linkage_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(
        dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(
            dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    return n;
}

static int64_t decl_line(Dwarf_Die *die)
{
    int line = 0;
    if (dwarf_decl_line(die, &line) != 0)
        return 0;
    return line;
}

/* Where inlined-subroutine scope inl was inlined: its call file and line
 * (file names come from the CU's file table). */
static void call_site(Dwarf_Die *cu, Dwarf_Die *inl, const char **file,
                      int *line)
{
    Dwarf_Attribute a;
    Dwarf_Word w;
    Dwarf_Files *files;
    size_t nfiles;
    *file = "";
    *line = 0;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &a), &w) == 0)
        *line = (int)w;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &a), &w) == 0 &&
        dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && w < nfiles) {
        const char *f = dwarf_filesrc(files, w, NULL, NULL);
        if (f)
            *file = f;
    }
}

/* The scopes around pc in the physical nesting, innermost first. (The
 * array dwarf_getscopes returns continues, after an inlined subroutine,
 * with the scopes of its abstract definition rather than the caller it was
 * inlined into; dwarf_getscopes_die from the innermost scope walks the
 * real tree.) Returns the count (<= 0: none); *scopes is malloc'd. */
static int physical_scopes(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **scopes)
{
    Dwarf_Die *found = NULL;
    int n = dwarf_getscopes(cu, pc, &found);
    *scopes = NULL;
    if (n <= 0) {
        free(found);
        return n;
    }
    Dwarf_Die innermost = found[0];
    free(found);
    return dwarf_getscopes_die(&innermost, scopes);
}

/* Frames from DWARF: the inlined scopes around addr, innermost first, then
 * the physical function. Leaves v empty when no subprogram covers addr. */
static int dwarf_frames(struct ts__symbolizer *s, Dwarf_Die *cu,
                        Dwarf_Addr bias, uint64_t addr, const char *sym,
                        struct ts__vec *v)
{
    const char *file = "";
    int line = 0;
    Dwarf_Line *l = dwarf_getsrc_die(cu, addr - bias);
    const char *lf = l ? dwarf_linesrc(l, NULL, NULL) : NULL;
    if (lf && dwarf_lineno(l, &line) == 0)
        file = lf;
    else
        line = 0;

    Dwarf_Die *scopes = NULL;
    int n = physical_scopes(cu, addr - bias, &scopes);
    int r = 0;
    for (int i = 0; i < n && r == 0; i++) {
        Dwarf_Die *d = &scopes[i];
        int tag = dwarf_tag(d);
        const char *name = dwarf_diename(d);
        const char *link = linkage_name(d);
        if (tag == DW_TAG_inlined_subroutine) {
            r = push_frame(s, v, name, link ? link : name, file, line,
                           decl_line(d));
            call_site(cu, d, &file, &line);
        } else if (tag == DW_TAG_subprogram) {
            const char *sys = link ? link : sym ? sym : name;
            r = push_frame(s, v, name ? name : sym, sys, file, line,
                           decl_line(d));
            break;
        }
    }
    free(scopes);
    if (r == 0 && v->n > 0 &&
        TS__VEC_AT(v, struct ts__frame, v->n - 1).function[0] == '\0')
        v->n = 0; /* no named subprogram: let the symbol table answer */
    return r;
}

/* The compile unit holding addr. dwfl_module_addrdie looks it up in
 * .debug_aranges, which clang does not emit (nor does elfutils 0.188
 * synthesize it); without an answer every CU is tried by its ranges, a
 * linear walk that the per-address cache pays once per address. */
static Dwarf_Die *cu_at(Dwfl_Module *mod, uint64_t addr, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, bias);
    if (cu)
        return cu;
    while ((cu = dwfl_module_nextcu(mod, cu, bias)) != NULL)
        if (dwarf_haspc(cu, addr - *bias) == 1)
            return cu;
    return NULL;
}

/* symbol_frame: one frame named by the ELF symbol, with the line table's
 * file and line when there is one (assembly: clang's assembler writes a
 * line table but a compile unit libdw cannot place by address). */
static int symbol_frame(struct ts__symbolizer *s, Dwfl_Module *mod,
                        uint64_t addr, const char *sym, struct ts__vec *v)
{
    Dwfl_Line *l = dwfl_module_getsrc(mod, addr);
    int line = 0;
    const char *file = l ? dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL) : NULL;
    return push_frame(s, v, sym, sym, file ? file : "", file ? line : 0, 0);
}

/* Frames at addr into v. 0, ENOENT, or an allocation error. */
static int lookup(struct ts__symbolizer *s, uint64_t addr, struct ts__vec *v)
{
    Dwfl_Module *mod = module_at(s, addr);
    if (!mod)
        return ENOENT;
    const char *sym = dwfl_module_addrname(mod, addr);
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = cu_at(mod, addr, &bias);
    int r = cu ? dwarf_frames(s, cu, bias, addr, sym, v) : 0;
    if (r == 0 && v->n == 0)
        r = sym ? symbol_frame(s, mod, addr, sym, v) : ENOENT;
    return r;
}

/* ---- cache ------------------------------------------------------------- */

static bool entry_eq(const void *ctx, size_t idx, const void *key)
{
    const struct ts__symbolizer *s = ctx;
    return TS__VEC_AT(&s->entries, struct entry, idx).addr ==
           *(const uint64_t *)key;
}

/* Store the result of looking addr up; *e points at the new entry. */
static int cache_put(struct ts__symbolizer *s, uint64_t addr, uint64_t h,
                     int rc, const struct ts__vec *v, struct entry **e)
{
    int r = ts__vec_reserve(&s->entries, 1, sizeof(struct entry));
    if (r != 0)
        return r;
    struct entry ne = {.addr = addr, .rc = rc, .n = rc == 0 ? v->n : 0,
                       .offset = OFFSET_UNSET};
    if (ne.n > 0) {
        ne.frames = ts__prof_malloc(ne.n * sizeof *ne.frames);
        if (!ne.frames)
            return ENOMEM;
        memcpy(ne.frames, v->data, ne.n * sizeof *ne.frames);
    }
    r = ts__itab_add(&s->index, h, s->entries.n);
    if (r != 0) {
        free(ne.frames);
        return r;
    }
    *e = &TS__VEC_AT(&s->entries, struct entry, s->entries.n);
    **e = ne;
    s->entries.n++;
    return 0;
}

/* entry_of: the cache entry of addr, looked up (and added) on a miss.
 * 0 or an allocation error. */
static int entry_of(struct ts__symbolizer *s, uint64_t addr, struct entry **e)
{
    uint64_t h = ts__hash_u64(TS__HASH_SEED, addr);
    size_t i = ts__itab_find(&s->index, h, entry_eq, s, &addr);
    if (i != SIZE_MAX) {
        *e = &TS__VEC_AT(&s->entries, struct entry, i);
        return 0;
    }
    struct ts__vec v = {0};
    int rc = lookup(s, addr, &v);
    int r = (rc == 0 || rc == ENOENT) ? cache_put(s, addr, h, rc, &v, e) : rc;
    ts__vec_free(&v);
    return r;
}

int ts__symbolize(struct ts__symbolizer *s, uint64_t addr,
                  const struct ts__frame **frames, size_t *nframes)
{
    if (!s || !frames || !nframes)
        return EINVAL;
    *frames = NULL;
    *nframes = 0;
    struct entry *e;
    int r = entry_of(s, addr, &e);
    if (r != 0)
        return r;
    *frames = e->frames;
    *nframes = e->n;
    return e->rc;
}

/* ---- modules ----------------------------------------------------------- */

/* Lowercase hex of the module's GNU build-id into buf ("" if none). */
int ts__symbolizer_offset(struct ts__symbolizer *s, uint64_t addr,
                          uint64_t *offset)
{
    if (!s || !offset)
        return EINVAL;
    struct entry *e;
    int r = entry_of(s, addr, &e);
    if (r != 0)
        return r;
    if (e->offset == OFFSET_UNSET) {
        Dwfl_Module *mod = module_at(s, addr);
        GElf_Off off = 0;
        GElf_Sym sym;
        bool found = mod && dwfl_module_addrinfo(mod, addr, &off, &sym, NULL,
                                                 NULL, NULL);
        e->offset = found ? (int64_t)off : OFFSET_NONE;
    }
    if (e->offset == OFFSET_NONE)
        return ENOENT;
    *offset = (uint64_t)e->offset;
    return 0;
}

const char *ts__symbolizer_text(struct ts__symbolizer *s, uint64_t addr)
{
    struct entry *e;
    return s && entry_of(s, addr, &e) == 0 ? e->text : NULL;
}

int ts__symbolizer_set_text(struct ts__symbolizer *s, uint64_t addr,
                            const char *text)
{
    struct entry *e;
    if (!s || !text)
        return EINVAL;
    int r = entry_of(s, addr, &e);
    const char *kept;
    if (r == 0 && (r = keep(s, text, &kept)) == 0)
        e->text = kept;
    return r;
}

static void build_id_hex(Dwfl_Module *mod, char *buf, size_t cap)
{
    Dwarf_Addr bias;
    const unsigned char *bits;
    GElf_Addr vaddr;
    buf[0] = '\0';
    dwfl_module_getelf(mod, &bias); /* the id is read with the ELF */
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    for (int i = 0; i < len && (size_t)(2 * i + 2) < cap; i++)
        snprintf(buf + 2 * i, cap - (size_t)(2 * i), "%02x", bits[i]);
}

int ts__symbolizer_module(struct ts__symbolizer *s, uint64_t addr,
                          struct ts__module *out)
{
    if (!s || !out)
        return EINVAL;
    Dwfl_Module *mod = module_at(s, addr);
    if (!mod)
        return ENOENT;
    Dwarf_Addr start = 0, end = 0;
    const char *name = dwfl_module_info(mod, NULL, &start, &end, NULL, NULL,
                                        NULL, NULL);
    char hex[2 * 64 + 1];
    build_id_hex(mod, hex, sizeof hex);
    struct ts__module m = {.start = start, .end = end};
    int r = keep(s, name, &m.path);
    if (r == 0)
        r = keep(s, hex, &m.build_id);
    if (r == 0)
        *out = m;
    return r;
}
