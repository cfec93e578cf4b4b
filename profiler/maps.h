/* taskscope — the executable mappings of this process, from
 * /proc/self/maps, for pprof's Mapping messages.
 *
 * A snapshot: libraries loaded after ts__maps_read are not in it. Not
 * thread-safe; the caller owns the snapshot and frees it. */
#ifndef TASKSCOPE_PROFILER_MAPS_H
#define TASKSCOPE_PROFILER_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One executable mapping: [start, limit) at file_offset of path. */
struct ts__maps_entry {
    uint64_t start;       /* first address */
    uint64_t limit;       /* one past the last address */
    uint64_t file_offset; /* offset in the file of start */
    char *path;           /* file, or a kernel name such as "[vdso]";
                             "" for anonymous memory; owned */
    bool main;            /* this is the main executable's text */
};

struct ts__maps {
    struct ts__maps_entry *entries; /* n entries, sorted by start, owned */
    size_t n;
    size_t main_index;              /* entry with main set, or SIZE_MAX */
};

/* ts__maps_read: snapshot the executable mappings of /proc/self/maps and
 * mark the main executable's (the first whose path is /proc/self/exe's
 * target). 0, ENOMEM, or the errno of opening /proc/self/maps. */
int ts__maps_read(struct ts__maps *m);

/* ts__maps_parse: the same from any file in /proc/PID/maps format, with
 * exe naming the main executable (NULL: none is marked). For tests. */
int ts__maps_parse(const char *maps_path, const char *exe, struct ts__maps *m);

/* ts__maps_find: the entry holding addr, or NULL. */
const struct ts__maps_entry *ts__maps_find(const struct ts__maps *m,
                                           uint64_t addr);

/* ts__maps_free: release the snapshot (an all-zero one is fine too). */
void ts__maps_free(struct ts__maps *m);

#endif
