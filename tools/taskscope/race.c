/*
 * race.c — `taskscope race [--json] [--junit FILE] [--] CMD [ARGS...]`:
 * runs CMD, built with -fsanitize=thread, and prints ThreadSanitizer's
 * reports deduplicated, with both stacks symbolized through libdw and the
 * taskscope task behind each thread (docs/race.md).
 *
 * How it works:
 *   1. a private directory is made with mkdtemp; CMD gets TSAN_OPTIONS =
 *      the user's own value, then ours appended, so ours win: log_path
 *      (TSan writes <dir>/tsan.<pid>, one file per process, forked children
 *      included, only when it has something to say), profile_memory (every
 *      TSan runtime creates <dir>/alive.<pid> as it starts: the proof that
 *      CMD really ran under TSan, as a clean run and a run without TSan
 *      look alike otherwise), symbolize=0 and stack_trace_format=
 *      "    #%n %o %m" (each frame is an ELF address and the full module
 *      path, which we symbolize ourselves);
 *   2. after CMD ends, every log is parsed: a report is the lines from
 *      "WARNING: ThreadSanitizer: <kind> (pid=N)" to the "=====" line; its
 *      two-space indented lines are section titles ("Write of size 4 at ...
 *      by thread T8:", "Mutex M1 created at:", ...), the four-space ones
 *      their frames;
 *   3. the directory is removed, then the modules the reports name are
 *      mapped read-only into this process segment by segment, as the
 *      loader lays them out, and the process's own libdw symbolizer
 *      (profiler/symbolize.c) names each frame `function file:line`;
 *      reports are then deduplicated by kind + the source lines at the top
 *      of their first two stacks (order-insensitive), and counted;
 *   4. taskscope tasks run on TSan fibers named "task <id>" (runtime/race.h),
 *      so "thread T8" becomes "task 3 (T8)" in every title.
 *
 * Invariants:
 *   - the temporary directory is removed on every path once made (also on
 *     an allocation failure: fail() removes it before exiting);
 *   - nothing is printed on stdout except the report (CMD's own output
 *     comes first: it shares our stdout); diagnostics go to stderr;
 *   - exit status: 1 if any report, else 2 if no process ran under TSan, a
 *     TSan runtime failed (FATAL, CHECK failed) or CMD could not be run,
 *     else CMD's own status (128 + N when signal N killed it).
 *
 * Rejected alternatives:
 *   - letting TSan symbolize (llvm-symbolizer): not always installed, and
 *     a second symbolizer besides the project's libdw one;
 *   - parsing CMD's stderr: mixes with the program's own output, misses
 *     reports of children that redirect stderr, and needs a pipe that
 *     changes CMD's buffering;
 *   - checking CMD's ELF for __tsan_init to tell "not built with TSan":
 *     wrong for scripts and wrappers (`ctest`, `make test`), which the
 *     alive files handle;
 *   - verbosity=1, whose banner "***** Running under ThreadSanitizer" goes
 *     to the log: it also prints three "Installed the sigaction" lines on
 *     CMD's stderr before log_path takes effect. profile_memory costs a
 *     line every 100 ms into the alive file (TSan's background thread,
 *     which runs anyway, reads /proc/self/smaps for it).
 */
#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
/* by relative path: taskscope_cli's include path has only tools/ and the
 * generated protobuf headers (tools/CMakeLists.txt) */
#include "profiler/json.h"
#include "profiler/symbolize.h"

#define SUB "race"

/* ---- data --------------------------------------------------------------- */

struct frame {
    char *module;    /* module path as TSan printed it; NULL: see raw */
    uint64_t offset; /* ELF virtual address in module (TSan's %o) */
    char *raw;       /* a line TSan printed instead of a frame, or NULL */
};

struct section {
    char *title;          /* the two-space line, cleaned (see clean_title) */
    struct frame *frames; /* its stack, innermost first */
    size_t nframes;
};

struct report {
    char *kind;             /* "data race", "lock-order-inversion ...", ... */
    struct section *secs;
    size_t nsecs;
    char *key;              /* dedup key: kind + top frames (dedup) */
    unsigned count;         /* reports merged into this one */
};

struct run {
    struct report *reps;  /* every report, first seen first; after dedup
                             the distinct ones */
    size_t nreps;
    unsigned total;       /* reports before dedup */
    unsigned processes;   /* TSan runtimes started (alive.<pid> files) */
    char *fatal;          /* first FATAL / CHECK failed line of TSan */
};

/* A module mapped for symbolization: address of vaddr v is origin + v. */
struct module {
    char *path;
    uint64_t origin;
    bool mapped;
};

static char tmpdir[4096]; /* "" until made; removed by remove_tmpdir */

static void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    if (rmdir(tmpdir) != 0)
        cli_error(SUB, "removing %s: %s", tmpdir, strerror(errno));
    tmpdir[0] = '\0';
}

/* Says what went wrong, removes the temporary directory, exits 2. */
static _Noreturn __attribute__((format(printf, 1, 2))) void
fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "taskscope %s: ", SUB);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    remove_tmpdir();
    exit(CLI_EXIT_ERROR);
}

static void *xrealloc(void *p, size_t n, size_t size)
{
    p = reallocarray(p, n ? n : 1, size);
    if (!p)
        fail("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        fail("out of memory");
    return d;
}

/* Appends one zeroed element to *arr (n elements); returns it. */
#define PUSH(arr, n) \
    (*(arr) = xrealloc(*(arr), (n) + 1, sizeof **(arr)), \
     memset(&(*(arr))[(n)], 0, sizeof **(arr)), &(*(arr))[(n)++])

/* ---- running CMD -------------------------------------------------------- */

static void make_tmpdir(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    if (strpbrk(dir, "\"'") ||
        (size_t)snprintf(tmpdir, sizeof tmpdir, "%s/taskscope-race.XXXXXX",
                         dir) >= sizeof tmpdir - 16) {
        tmpdir[0] = '\0';
        fail("TMPDIR is too long or has quotes in it");
    }
    if (!mkdtemp(tmpdir)) {
        int err = errno;
        tmpdir[0] = '\0';
        cli_error(SUB, "creating a temporary directory in %s: %s", dir,
                  strerror(err));
        exit(CLI_EXIT_ERROR);
    }
}

/* The user's TSAN_OPTIONS with ours appended (later flags win). */
static char *tsan_options(void)
{
    const char *user = getenv("TSAN_OPTIONS");
    char *s;
    if (asprintf(&s, "%s%slog_path=\"%s/tsan\" profile_memory=\"%s/alive\" "
                 "symbolize=0 stack_trace_format=\"    #%%n %%o %%m\"",
                 user ? user : "", user && *user ? " " : "", tmpdir, tmpdir) < 0)
        fail("out of memory");
    return s;
}

/* ---- parsing the logs --------------------------------------------------- */

/* Removes each " at 0x<hex>", " (0x<hex>)" and "tid=<n>, " from s: they
 * change from run to run. */
static void strip_addresses(char *s)
{
    static const char *const pats[] = {" at 0x", " (0x", "tid="};
    for (size_t i = 0; i < 3; i++) {
        char *p;
        while ((p = strstr(s, pats[i])) != NULL) {
            char *q = p + strlen(pats[i]);
            while (isxdigit((unsigned char)*q))
                q++;
            if (i == 1 && *q == ')')
                q++;
            if (i == 2 && q[0] == ',' && q[1] == ' ')
                q += 2;
            memmove(p, q, strlen(q) + 1);
        }
    }
}

/* "    #3 0x1234 /path/mod" -> frame; "[failed to restore the stack]" and
 * the like are kept raw; other lines (TSan's "Hint: ...") are dropped. */
static void parse_frame(struct section *sec, const char *line)
{
    const char *p = line + strspn(line, " ");
    if (*p != '#' && *p != '[')
        return;
    struct frame *f = PUSH(&sec->frames, sec->nframes);
    char *end;
    if (*p == '#') {
        p += strcspn(p, " ");
        p += strspn(p, " ");
        unsigned long long off = strtoull(p, &end, 16);
        if (end != p && *end == ' ' && end[1] == '/') {
            f->offset = off;
            f->module = xstrdup(end + 1);
            return;
        }
    }
    f->raw = xstrdup(p);
}

static void free_report(struct report *r)
{
    for (size_t i = 0; i < r->nsecs; i++) {
        for (size_t j = 0; j < r->secs[i].nframes; j++) {
            free(r->secs[i].frames[j].module);
            free(r->secs[i].frames[j].raw);
        }
        free(r->secs[i].frames);
        free(r->secs[i].title);
    }
    free(r->secs);
    free(r->kind);
    free(r->key);
}

/* Adds a finished report to the run (deduplicated later, by dedup). */
static void add_report(struct run *run, struct report *r)
{
    run->total++;
    r->count = 1;
    *PUSH(&run->reps, run->nreps) = *r;
}

/* "WARNING: ThreadSanitizer: data race (pid=12)" -> "data race". */
static char *parse_kind(const char *line)
{
    const char *k = line + strlen("WARNING: ThreadSanitizer: ");
    char *kind = xstrdup(k);
    char *pid = strstr(kind, " (pid=");
    if (pid)
        *pid = '\0';
    return kind;
}

/* Feeds one log line to the parser; cur is the report being read. */
static void parse_line(struct run *run, struct report **cur, char *line,
                       struct report *buf)
{
    line[strcspn(line, "\n")] = '\0';
    if (!run->fatal && (strncmp(line, "FATAL: ThreadSanitizer", 22) == 0 ||
                               strstr(line, "ThreadSanitizer: CHECK failed"))) {
        run->fatal = xstrdup(line);
    } else if (strncmp(line, "WARNING: ThreadSanitizer: ", 26) == 0) {
        if (*cur)
            add_report(run, *cur);
        *buf = (struct report){.kind = parse_kind(line)};
        *cur = buf;
    } else if (*cur && strncmp(line, "==================", 18) == 0) {
        add_report(run, *cur);
        *cur = NULL;
    } else if (*cur && strncmp(line, "    ", 4) == 0 && (*cur)->nsecs) {
        parse_frame(&(*cur)->secs[(*cur)->nsecs - 1], line);
    } else if (*cur && strncmp(line, "  ", 2) == 0 && line[2] != ' ') {
        struct section *s = PUSH(&(*cur)->secs, (*cur)->nsecs);
        s->title = xstrdup(line + 2);
        size_t n = strlen(s->title);
        if (n && s->title[n - 1] == ':')
            s->title[n - 1] = '\0';
    }
}

static void parse_log(struct run *run, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    struct report buf, *cur = NULL;
    while (getline(&line, &cap, f) > 0)
        parse_line(run, &cur, line, &buf);
    if (cur) /* cut short, e.g. by a kill: keep what was written */
        add_report(run, cur);
    free(line);
}

static int by_pid(const struct dirent **a, const struct dirent **b)
{
    const char *x = strrchr((*a)->d_name, '.'), *y = strrchr((*b)->d_name, '.');
    long px = x ? atol(x + 1) : 0, py = y ? atol(y + 1) : 0;
    return (px > py) - (px < py);
}

static int is_log(const struct dirent *e)
{
    return strncmp(e->d_name, "tsan.", 5) == 0;
}

static int is_alive(const struct dirent *e)
{
    return strncmp(e->d_name, "alive.", 6) == 0;
}

/* Parses every log in tmpdir, in pid order, and counts the processes. */
static void read_logs(struct run *run)
{
    struct dirent **names;
    int n = scandir(tmpdir, &names, is_alive, NULL);
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (n > 0) {
        run->processes = (unsigned)n;
        free(names);
    }
    n = scandir(tmpdir, &names, is_log, by_pid);
    int dfd = n < 0 ? -1 : open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        fail("reading ThreadSanitizer's logs in %s: %s", tmpdir, strerror(errno));
    for (int i = 0; i < n; i++) {
        int fd = openat(dfd, names[i]->d_name, O_RDONLY | O_CLOEXEC);
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (!f) {
            cli_error(SUB, "reading %s/%s: %s", tmpdir, names[i]->d_name,
                      strerror(errno));
        } else {
            parse_log(run, f);
            fclose(f);
        }
        free(names[i]);
    }
    free(names);
    close(dfd);
}

/* ---- symbolization ------------------------------------------------------ */

/* Maps path's PT_LOAD segments read-only, laid out as the loader lays them
 * out (one reservation from file offset 0, then each segment at its place),
 * so /proc/self/maps shows one contiguous module that libdw can read. An
 * ET_EXEC must go to its link address. 0 or -1 (not mappable: no symbols). */
static int map_module(struct module *m)
{
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
    if (fd < 0)
        return -1;
    if (pread(fd, &eh, sizeof eh, 0) != sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || (eh.e_type != ET_DYN && eh.e_type != ET_EXEC) ||
        eh.e_phnum == 0 || eh.e_phnum > 64 || eh.e_phentsize != sizeof ph[0] ||
        pread(fd, ph, eh.e_phnum * sizeof ph[0], (off_t)eh.e_phoff) !=
            (ssize_t)(eh.e_phnum * sizeof ph[0]))
        goto out_close;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (lo == UINT64_MAX && (ph[i].p_offset != 0 || ph[i].p_vaddr % page))
            goto out_close; /* the first segment must start the file */
        if (lo == UINT64_MAX)
            lo = ph[i].p_vaddr;
        if (ph[i].p_vaddr + ph[i].p_memsz > hi)
            hi = ph[i].p_vaddr + ph[i].p_memsz;
    }
    if (lo == UINT64_MAX)
        goto out_close;
    size_t span = (size_t)((hi - lo + page - 1) & ~(page - 1));
    bool exec = eh.e_type == ET_EXEC;
    char *base = mmap(exec ? (void *)lo : NULL, span, PROT_READ,
                      MAP_PRIVATE | (exec ? MAP_FIXED_NOREPLACE : 0), fd, 0);
    if (base == MAP_FAILED)
        goto out_close;
    if (exec && (uint64_t)(uintptr_t)base != lo) { /* hint not honoured */
        munmap(base, span);
        goto out_close;
    }
    for (int i = 0; i < eh.e_phnum; i++) {
        uint64_t skew = ph[i].p_vaddr % page;
        if (ph[i].p_type != PT_LOAD || ph[i].p_vaddr == lo || ph[i].p_filesz == 0)
            continue;
        if (mmap(base + (ph[i].p_vaddr - skew - lo), ph[i].p_filesz + skew,
                 PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
                 (off_t)(ph[i].p_offset - skew)) == MAP_FAILED) {
            munmap(base, span);
            goto out_close;
        }
    }
    close(fd);
    m->origin = (uint64_t)(uintptr_t)base - lo;
    m->mapped = true;
    return 0;

out_close:
    close(fd);
    return -1;
}

struct symbols {
    struct ts__symbolizer *sym; /* NULL: no symbolization */
    struct module *mods;
    size_t nmods;
};

static struct module *module_of(struct symbols *S, const char *path)
{
    for (size_t i = 0; i < S->nmods; i++)
        if (strcmp(S->mods[i].path, path) == 0)
            return &S->mods[i];
    struct module *m = PUSH(&S->mods, S->nmods);
    m->path = xstrdup(path);
    map_module(m);
    return m;
}

/* Maps every module the reports name, then starts the symbolizer (which
 * reads /proc/self/maps, so it must come after). */
static void symbols_open(struct symbols *S, const struct run *run)
{
    for (size_t i = 0; i < run->nreps; i++)
        for (size_t j = 0; j < run->reps[i].nsecs; j++)
            for (size_t k = 0; k < run->reps[i].secs[j].nframes; k++)
                if (run->reps[i].secs[j].frames[k].module)
                    module_of(S, run->reps[i].secs[j].frames[k].module);
    if (ts__symbolizer_new(&S->sym) != 0) {
        cli_error(SUB, "libdw cannot read this process's modules; "
                       "frames stay unsymbolized");
        S->sym = NULL;
    }
}

/* The frames at module+offset (innermost inlined first), or 0 of them. */
static size_t lookup(struct symbols *S, const char *path, uint64_t offset,
                     const struct ts__frame **out)
{
    struct module *m = module_of(S, path);
    size_t n = 0;
    if (!S->sym || !m->mapped ||
        ts__symbolize(S->sym, m->origin + offset, out, &n) != 0)
        return 0;
    return n;
}

/* The module whose path ends in "/base" (TSan names a global's module by
 * its base name only), or NULL. */
static const char *module_by_base(struct symbols *S, const char *base,
                                  size_t len)
{
    for (size_t i = 0; i < S->nmods; i++) {
        const char *slash = strrchr(S->mods[i].path, '/');
        const char *b = slash ? slash + 1 : S->mods[i].path;
        if (strlen(b) == len && strncmp(b, base, len) == 0)
            return S->mods[i].path;
    }
    return NULL;
}

/* "Location is global '<null>' at 0x0 (mod+0x1f)" -> "... global 'name'". */
static void name_global(struct symbols *S, char **title)
{
    char *g = strstr(*title, "global '<null>'");
    char *open = g ? strrchr(g, '(') : NULL;
    char *plus = open ? strstr(open, "+0x") : NULL;
    if (!plus)
        return;
    const char *path = module_by_base(S, open + 1, (size_t)(plus - open - 1));
    const struct ts__frame *f;
    if (!path || lookup(S, path, strtoull(plus + 3, NULL, 16), &f) == 0)
        return;
    char *s;
    if (asprintf(&s, "%.*sglobal '%s'", (int)(g - *title), *title,
                 f[0].function) < 0)
        fail("out of memory");
    free(*title);
    *title = s;
}

/* "thread T8" -> "task 3 (T8)" where T8's fiber is named "task 3"
 * (a "Thread T8 'task 3' ..." section of the same report says so). */
static char *task_of(const struct report *r, const char *tid, size_t len)
{
    for (size_t i = 0; i < r->nsecs; i++) {
        const char *t = r->secs[i].title;
        if (strncmp(t, "Thread ", 7) == 0 && strncmp(t + 7, tid, len) == 0 &&
            strncmp(t + 7 + len, " 'task ", 7) == 0)
            return (char *)t + 7 + len + 2;
    }
    return NULL;
}

static void name_tasks(const struct report *r, char **title)
{
    char *p = strstr(*title, "thread T");
    if (!p)
        return;
    const char *tid = p + 7;
    size_t len = 1 + strspn(tid + 1, "0123456789");
    char *task = task_of(r, tid, len);
    if (!task)
        return;
    char *s;
    if (asprintf(&s, "%.*s%.*s (%.*s)%s", (int)(p - *title), *title,
                 (int)strcspn(task, "'"), task, (int)len, tid, tid + len) < 0)
        fail("out of memory");
    free(*title);
    *title = s;
}

/* Makes the titles stable and readable: no run-specific addresses, named
 * globals and tasks. */
static void clean_titles(struct symbols *S, struct run *run)
{
    for (size_t i = 0; i < run->nreps; i++) {
        struct report *r = &run->reps[i];
        for (size_t j = 0; j < r->nsecs; j++)
            name_global(S, &r->secs[j].title);
        for (size_t j = 0; j < r->nsecs; j++) {
            strip_addresses(r->secs[j].title);
            if (strncmp(r->secs[j].title, "Thread ", 7) != 0)
                name_tasks(r, &r->secs[j].title);
        }
    }
}

/* ---- output ------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Prints one frame's lines as "function file:line" (prefix before each). */
static void print_frame(FILE *f, struct symbols *S, const struct frame *fr,
                        const char *prefix)
{
    const struct ts__frame *sf;
    size_t n = fr->module ? lookup(S, fr->module, fr->offset, &sf) : 0;
    if (!fr->module)
        fprintf(f, "%s%s\n", prefix, fr->raw);
    else if (n == 0)
        fprintf(f, "%s%s+0x%llx\n", prefix, base_name(fr->module),
                (unsigned long long)fr->offset);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s%s", prefix, sf[i].function[0] ? sf[i].function : "??");
        if (sf[i].file[0])
            fprintf(f, " %s:%lld", sf[i].file, (long long)sf[i].line);
        else
            fprintf(f, " (%s+0x%llx)", base_name(fr->module),
                    (unsigned long long)fr->offset);
        fputs(i + 1 < n ? " (inlined)\n" : "\n", f);
    }
}

/* The text of one report (also the body of its JUnit failure). */
static void print_report(FILE *f, struct symbols *S, const struct report *r)
{
    fprintf(f, "%s", r->kind);
    if (r->count > 1)
        fprintf(f, " (%u times)", r->count);
    fputs("\n", f);
    for (size_t i = 0; i < r->nsecs; i++) {
        fprintf(f, "  %s%s\n", r->secs[i].title, r->secs[i].nframes ? ":" : "");
        for (size_t j = 0; j < r->secs[i].nframes; j++)
            print_frame(f, S, &r->secs[i].frames[j], "    ");
    }
}

static void print_text(struct symbols *S, const struct run *run)
{
    for (size_t i = 0; i < run->nreps; i++) {
        printf("==== ThreadSanitizer report %zu of %zu: ", i + 1, run->nreps);
        print_report(stdout, S, &run->reps[i]);
        fputs("\n", stdout);
    }
    if (run->nreps)
        printf("taskscope race: %zu distinct report%s (%u in all) from %u "
               "process%s\n", run->nreps, run->nreps == 1 ? "" : "s",
               run->total, run->processes, run->processes == 1 ? "" : "es");
    else
        printf("taskscope race: no ThreadSanitizer report from %u process%s\n",
               run->processes, run->processes == 1 ? "" : "es");
}

static void json_frames(struct symbols *S, const struct section *sec)
{
    fputs("[", stdout);
    for (size_t j = 0; j < sec->nframes; j++) {
        const struct frame *fr = &sec->frames[j];
        const struct ts__frame *sf;
        size_t n = fr->module ? lookup(S, fr->module, fr->offset, &sf) : 0;
        for (size_t i = 0; i < (n ? n : 1); i++) {
            fputs(j + i ? ",{\"function\":" : "{\"function\":", stdout);
            ts__json_str(stdout, n ? sf[i].function : fr->raw ? fr->raw : "");
            fputs(",\"file\":", stdout);
            ts__json_str(stdout, n ? sf[i].file : "");
            printf(",\"line\":%lld,\"inlined\":%s,\"module\":",
                   n ? (long long)sf[i].line : 0LL, i + 1 < n ? "true" : "false");
            ts__json_str(stdout, fr->module ? fr->module : "");
            printf(",\"offset\":%llu}", (unsigned long long)fr->offset);
        }
    }
    fputs("]", stdout);
}

/* The thread a title is about ("T8", "main", "" if none) and its task id,
 * or 0 (titles as clean_titles left them). */
static void title_thread(const char *t, char *tid, size_t cap, long *task)
{
    const char *p, *q = NULL;
    *task = 0;
    if (strncmp(t, "Thread T", 8) == 0) {
        q = t + 7;
        if ((p = strstr(t, " 'task ")) != NULL)
            *task = atol(p + 7);
    } else if ((p = strstr(t, " task ")) != NULL && (q = strstr(p, " (T"))) {
        *task = atol(p + 6);
        q += 2;
    } else if ((q = strstr(t, "thread T")) != NULL) {
        q += 7;
    } else if (strstr(t, "main thread")) {
        q = "main";
    }
    snprintf(tid, cap, "%.*s", q ? (int)strcspn(q, " ):'") : 0, q ? q : "");
}

static void print_json(struct symbols *S, const struct run *run, int status)
{
    printf("{\"status\":%d,\"processes\":%u,\"total\":%u,\"reports\":[",
           status, run->processes, run->total);
    for (size_t i = 0; i < run->nreps; i++) {
        const struct report *r = &run->reps[i];
        fputs(i ? ",{\"kind\":" : "{\"kind\":", stdout);
        ts__json_str(stdout, r->kind);
        printf(",\"count\":%u,\"sections\":[", r->count);
        for (size_t j = 0; j < r->nsecs; j++) {
            char tid[32];
            long task;
            title_thread(r->secs[j].title, tid, sizeof tid, &task);
            fputs(j ? ",{\"title\":" : "{\"title\":", stdout);
            ts__json_str(stdout, r->secs[j].title);
            fputs(",\"thread\":", stdout);
            ts__json_str(stdout, tid);
            printf(",\"task\":%ld,\"frames\":", task);
            json_frames(S, &r->secs[j]);
            fputs("}", stdout);
        }
        fputs("]}", stdout);
    }
    fputs("]}\n", stdout);
}

/* s with XML's five special characters escaped (and other controls but
 * tab and newline dropped: XML 1.0 cannot hold them). */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, f);
        }
    }
}

/* One testcase per distinct report, named after its kind and top frame;
 * one passing testcase when there is none. */
static int write_junit(const char *path, struct symbols *S, const struct run *run)
{
    FILE *f = fopen(path, "we");
    if (!f) {
        cli_error(SUB, "%s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
               "<testsuite name=\"taskscope race\" tests=\"%zu\" failures=\"%zu\" "
               "errors=\"0\">\n", run->nreps ? run->nreps : 1, run->nreps);
    if (!run->nreps)
        fputs("<testcase classname=\"taskscope.race\" "
              "name=\"no ThreadSanitizer reports\"/>\n", f);
    for (size_t i = 0; i < run->nreps; i++) {
        const struct report *r = &run->reps[i];
        char *text = NULL, *name = NULL;
        size_t tlen = 0, nlen = 0;
        FILE *t = open_memstream(&text, &tlen), *n = open_memstream(&name, &nlen);
        if (!t || !n)
            fail("out of memory");
        print_report(t, S, r);
        fprintf(n, "%zu %s: ", i + 1, r->kind);
        if (r->nsecs && r->secs[0].nframes)
            print_frame(n, S, &r->secs[0].frames[0], "");
        fclose(t);
        fclose(n);
        name[strcspn(name, "\n")] = '\0';
        fputs("<testcase classname=\"taskscope.race\" name=\"", f);
        xml_text(f, name);
        fprintf(f, "\">\n<failure type=\"ThreadSanitizer\" message=\"");
        xml_text(f, r->kind);
        fputs("\">", f);
        xml_text(f, text);
        fputs("</failure>\n</testcase>\n", f);
        free(text);
        free(name);
    }
    fputs("</testsuite>\n</testsuites>\n", f);
    if (fclose(f) != 0) {
        cli_error(SUB, "writing %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- deduplication ------------------------------------------------------ */

/* Whether a printed frame is the TSan runtime's (an interceptor or an
 * entry point), which tops the stacks of every mutex or memcpy report. */
static bool runtime_frame(const char *text)
{
    return strncmp(text, "__interceptor_", 14) == 0 ||
           strncmp(text, "__tsan_", 7) == 0 ||
           strncmp(text, "__sanitizer_", 12) == 0;
}

/* The top user frame of r's nth stack as print_frame writes it, "" if r
 * has fewer stacks. Malloc'd. */
static char *top_frame(struct symbols *S, const struct report *r, size_t nth)
{
    for (size_t i = 0, seen = 0; i < r->nsecs; i++) {
        if (r->secs[i].nframes == 0 || seen++ != nth)
            continue;
        char *text = NULL;
        for (size_t j = 0; j < r->secs[i].nframes; j++) {
            size_t len = 0;
            free(text);
            FILE *f = open_memstream(&text, &len);
            if (!f)
                fail("out of memory");
            print_frame(f, S, &r->secs[i].frames[j], "");
            if (fclose(f) != 0)
                fail("out of memory");
            if (!runtime_frame(text))
                break;
        }
        return text;
    }
    return xstrdup("");
}

/* Merges the reports of one kind whose first two stacks start at the same
 * source lines, in either order (the load and the store of one `x++`, the
 * same race met again in another process), counting what was merged. */
static void dedup(struct symbols *S, struct run *run)
{
    size_t n = 0;
    for (size_t i = 0; i < run->nreps; i++) {
        struct report *r = &run->reps[i];
        char *a = top_frame(S, r, 0), *b = top_frame(S, r, 1);
        bool swap = strcmp(a, b) > 0;
        if (asprintf(&r->key, "%s\n%s\n%s", r->kind, swap ? b : a,
                     swap ? a : b) < 0)
            fail("out of memory");
        free(a);
        free(b);
        size_t j = 0;
        while (j < n && strcmp(run->reps[j].key, r->key) != 0)
            j++;
        if (j < n) {
            run->reps[j].count++;
            free_report(r);
        } else {
            run->reps[n++] = *r;
        }
    }
    run->nreps = n;
}

/* ---- the command -------------------------------------------------------- */

/* What the run amounts to (see the head comment for the order). */
static int verdict(const struct run *run, int code, char *cmd0)
{
    if (run->nreps)
        return CLI_EXIT_FOUND;
    if (run->fatal) {
        cli_error(SUB, "ThreadSanitizer failed: %s", run->fatal);
        return CLI_EXIT_ERROR;
    }
    if (run->processes == 0) {
        cli_error(SUB, "%s did not run under ThreadSanitizer (no TSan runtime "
                       "started): build it with -fsanitize=thread, e.g. "
                       "`cmake --preset tsan`", cmd0);
        return CLI_EXIT_ERROR;
    }
    return code;
}

static int race_run(char **cmd, bool json, const char *junit)
{
    make_tmpdir();
    char *opts = tsan_options();
    const struct cli_env env[] = {{"TSAN_OPTIONS", opts}};
    int code = cli_run_child(SUB, cmd, env, 1);
    free(opts);
    struct run run = {0};
    if (code >= 0)
        read_logs(&run);
    remove_tmpdir();
    if (code < 0)
        return CLI_EXIT_ERROR;
    struct symbols S = {0};
    int rc = verdict(&run, code, cmd[0]);
    if (run.nreps || rc == code) {
        symbols_open(&S, &run);
        dedup(&S, &run);
        clean_titles(&S, &run);
        if (json)
            print_json(&S, &run, code);
        else
            print_text(&S, &run);
        if (junit && write_junit(junit, &S, &run) != 0)
            rc = CLI_EXIT_ERROR;
    }
    ts__symbolizer_free(S.sym);
    for (size_t i = 0; i < S.nmods; i++)
        free(S.mods[i].path); /* the mappings stay until exit */
    free(S.mods);
    for (size_t i = 0; i < run.nreps; i++)
        free_report(&run.reps[i]);
    free(run.reps);
    free(run.fatal);
    return cli_finish(SUB, rc);
}

static int race_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"junit", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    bool json = false;
    const char *junit = NULL;
    int c;
    opterr = 0;
    /* '+': options end at CMD, so CMD's own flags are left alone */
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'u': junit = optarg; break;
        case 'h': cli_print_usage(&cli_race, stdout); return cli_finish(SUB, 0);
        case ':': return cli_usage_error(&cli_race, "--junit needs a FILE");
        default: return cli_unknown_option(&cli_race, argv);
        }
    }
    if (optind == argc)
        return cli_usage_error(&cli_race, "no command given");
    return race_run(argv + optind, json, junit);
}

const struct cli_command cli_race = {
    .name = "race",
    .summary = "run a -fsanitize=thread program, report its data races",
    .usage =
        "usage: taskscope race [--json] [--junit FILE] [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD (built with -fsanitize=thread, e.g. `cmake --preset tsan`)\n"
        "with TSAN_OPTIONS extended so that ThreadSanitizer logs to a private\n"
        "directory, then prints its reports deduplicated, with both stacks as\n"
        "'function file:line' and the taskscope task behind each thread.\n"
        "'--' is needed only when CMD starts with '-'.\n"
        "\n"
        "  --json               print the reports as one JSON object\n"
        "  --junit FILE         also write a JUnit XML file: one failed\n"
        "                       testcase per report, or one passing testcase\n"
        "  -h, --help           print this help\n"
        "\n"
        "Exit status: 1 ThreadSanitizer reported something; 2 usage error, CMD\n"
        "could not be run, did not run under ThreadSanitizer or TSan failed;\n"
        "otherwise CMD's own status (128 + N if signal N killed it).\n",
    .run = race_main,
};
