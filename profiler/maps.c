/* taskscope — reads the executable mappings of /proc/self/maps (maps.h).
 *
 * Invariants:
 *   - only mappings with the x permission are kept: pprof's Mapping locates
 *     code, and data mappings would only bloat the profile;
 *   - entries are sorted by start and do not overlap (the kernel's order),
 *     so ts__maps_find is a binary search;
 *   - at most one entry has main set: the first executable mapping of the
 *     file /proc/self/exe names.
 * Ownership: the ts__maps owns its entries and their path strings.
 * Rejected: dl_iterate_phdr, which lists only what the dynamic loader
 * loaded (no [vdso] name, no JIT or file mappings made by mmap) and gives
 * no file offsets; pprof wants the same view /proc gives to perf. */
#include "profiler/maps.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/intern.h"

/* Parse one maps line; true when it is an executable mapping, with *e
 * filled except main (path allocated). */
static bool parse_line(char *line, struct ts__maps_entry *e, int *err)
{
    uint64_t start, limit, off;
    char perms[8];
    int pos = 0;
    /* start-limit perms offset dev inode, then the path (may hold spaces) */
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n",
               &start, &limit, perms, &off, &pos) < 4 || pos == 0)
        return false;
    if (strlen(perms) < 3 || perms[2] != 'x' || limit <= start)
        return false;
    char *path = line + pos;
    size_t len = strcspn(path, "\n");
    e->path = ts__prof_malloc(len + 1);
    if (!e->path) {
        *err = ENOMEM;
        return false;
    }
    memcpy(e->path, path, len);
    e->path[len] = '\0';
    e->start = start;
    e->limit = limit;
    e->file_offset = off;
    e->main = false;
    return true;
}

static int append(struct ts__maps *m, size_t *cap,
                  const struct ts__maps_entry *e)
{
    if (m->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        struct ts__maps_entry *ne =
            ts__prof_realloc(m->entries, ncap * sizeof *ne);
        if (!ne)
            return ENOMEM;
        m->entries = ne;
        *cap = ncap;
    }
    m->entries[m->n++] = *e;
    return 0;
}

static void mark_main(struct ts__maps *m, const char *exe)
{
    m->main_index = SIZE_MAX;
    if (!exe)
        return;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->entries[i].path, exe) == 0) {
            m->entries[i].main = true;
            m->main_index = i;
            return;
        }
    }
}

int ts__maps_parse(const char *maps_path, const char *exe, struct ts__maps *m)
{
    memset(m, 0, sizeof *m);
    m->main_index = SIZE_MAX;
    FILE *f = fopen(maps_path, "re");
    if (!f)
        return errno ? errno : EIO;
    char *line = NULL;
    size_t linecap = 0, cap = 0;
    int err = 0;
    while (err == 0 && getline(&line, &linecap, f) > 0) {
        struct ts__maps_entry e;
        if (!parse_line(line, &e, &err))
            continue;
        err = append(m, &cap, &e);
        if (err != 0)
            free(e.path);
    }
    if (err == 0 && ferror(f))
        err = EIO;
    free(line);
    fclose(f);
    if (err != 0) {
        ts__maps_free(m);
        return err;
    }
    mark_main(m, exe);
    return 0;
}

int ts__maps_read(struct ts__maps *m)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    return ts__maps_parse("/proc/self/maps", n > 0 ? exe : NULL, m);
}

const struct ts__maps_entry *ts__maps_find(const struct ts__maps *m,
                                           uint64_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct ts__maps_entry *e = &m->entries[mid];
        if (addr < e->start)
            hi = mid;
        else if (addr >= e->limit)
            lo = mid + 1;
        else
            return e;
    }
    return NULL;
}

void ts__maps_free(struct ts__maps *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->entries[i].path);
    free(m->entries);
    memset(m, 0, sizeof *m);
    m->main_index = SIZE_MAX;
}
