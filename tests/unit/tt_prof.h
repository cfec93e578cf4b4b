/* tests/unit/tt_prof.h — helpers for the profiler suites (test_pprof.c,
 * test_symbolize.c, test_maps.c); header only, like tt.h.
 *
 *   - tp_main_build_id: the main program's GNU build-id as lowercase hex,
 *     read from its loaded PT_NOTE segments with dl_iterate_phdr: an oracle
 *     independent of libdw, which the code under test uses;
 *   - tp_exe_path: readlink("/proc/self/exe");
 *   - tp_open_fds / TP_TEST / tp_end: the suites' fixture. tp_end is the
 *     closing check of every test: tt_end(0) (nothing failed, no task
 *     left) and as many open fds as when the test started.
 *   - TP_NOINLINE: a function kept out of line and uncloned, so its name
 *     and frame are what a test expects; TP_NO_TAIL_CALL() after a call
 *     that ends a function keeps it a call (at -O2 it would become a jump,
 *     and the caller's frame would vanish from the stack). */
#ifndef TS_TESTS_UNIT_TT_PROF_H
#define TS_TESTS_UNIT_TT_PROF_H

#include <dirent.h>
#include <elf.h>
#include <limits.h>
#include <link.h>

#include "tt.h"

#if defined(__clang__)
#define TP_NOINLINE __attribute__((noinline))
#else
#define TP_NOINLINE __attribute__((noinline, noclone))
#endif

#define TP_NO_TAIL_CALL() __asm__ volatile("" ::: "memory")

struct tp_note_search {
    char *hex;
    size_t cap;
    bool found;
};

/* Scan one PT_NOTE segment of the main program for NT_GNU_BUILD_ID. */
static TT_UNUSED void tp_scan_notes(const unsigned char *p, size_t len,
                                    struct tp_note_search *s)
{
    size_t off = 0;
    while (!s->found && off + sizeof(ElfW(Nhdr)) <= len) {
        const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)(p + off);
        size_t name_off = off + sizeof *n;
        size_t desc_off = name_off + ((n->n_namesz + 3) & ~3u);
        if (desc_off + n->n_descsz > len)
            return;
        if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
            memcmp(p + name_off, "GNU", 4) == 0) {
            for (size_t i = 0; i < n->n_descsz && 2 * i + 2 < s->cap; i++)
                snprintf(s->hex + 2 * i, s->cap - 2 * i, "%02x",
                         p[desc_off + i]);
            s->found = true;
        }
        off = desc_off + ((n->n_descsz + 3) & ~3u);
    }
}

static TT_UNUSED int tp_phdr_cb(struct dl_phdr_info *info, size_t size,
                                void *arg)
{
    (void)size;
    struct tp_note_search *s = arg;
    if (info->dlpi_name && info->dlpi_name[0] != '\0')
        return 0; /* only the main program */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_NOTE)
            tp_scan_notes((const unsigned char *)(info->dlpi_addr +
                                                  ph->p_vaddr),
                          ph->p_memsz, s);
    }
    return 1;
}

/* The main program's build id into hex (cap >= 2*20+1); false if none. */
static TT_UNUSED bool tp_main_build_id(char *hex, size_t cap)
{
    struct tp_note_search s = {.hex = hex, .cap = cap};
    hex[0] = '\0';
    dl_iterate_phdr(tp_phdr_cb, &s);
    return s.found;
}

static TT_UNUSED const char *tp_exe_path(void)
{
    static char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    return exe;
}

/* ---- fixture ----------------------------------------------------------- */

static TT_UNUSED int tp_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int tp_fd_baseline;

/* The runtime keeps a few descriptors for its life (the agent's SIGQUIT
 * pipe): start it first, so the baseline includes them. */
static TT_UNUSED int tp_setup(void **state)
{
    ts_procs();
    tp_fd_baseline = tp_open_fds();
    return tt_setup(state);
}

#define TP_TEST(f) cmocka_unit_test_setup_teardown(f, tp_setup, tt_teardown)

static TT_UNUSED void tp_end(void)
{
    tt_end(0);
    int n = tp_open_fds();
    if (n != tp_fd_baseline)
        fail_msg("fd leak: %d entries in /proc/self/fd, %d at the start", n,
                 tp_fd_baseline);
}


/* ---- protobuf wire reading (test_pprof.c and test_profile.c decode the
 * profiles they check with these, independently of protobuf-c) ---- */

struct rd {
    const uint8_t *p, *end;
};

static TT_UNUSED uint64_t rd_varint(struct rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            fail_msg("protobuf: truncated varint");
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail_msg("protobuf: varint longer than 10 bytes");
    return 0;
}

/* rd_field: the next field of r: its number and wire type, and its value
 * (wire 0) or its bytes as *sub (wire 2); false at the end of r. */
static TT_UNUSED bool rd_field(struct rd *r, uint32_t *field, uint32_t *wire,
                               uint64_t *v, struct rd *sub)
{
    if (r->p >= r->end)
        return false;
    uint64_t key = rd_varint(r);
    *field = (uint32_t)(key >> 3);
    *wire = (uint32_t)(key & 7);
    if (*wire == 0) {
        *v = rd_varint(r);
    } else if (*wire == 2) {
        uint64_t len = rd_varint(r);
        if (len > (uint64_t)(r->end - r->p))
            fail_msg("protobuf: field %u: length %llu past the end", *field,
                     (unsigned long long)len);
        sub->p = r->p;
        sub->end = r->p + len;
        r->p += len;
    } else {
        fail_msg("protobuf: field %u: unexpected wire type %u", *field, *wire);
    }
    return true;
}

#if defined(__SANITIZE_ADDRESS__) && defined(TP_SCENARIOS_LEAVE_TASKS_BLOCKED)
/* For suites defining TP_SCENARIOS_LEAVE_TASKS_BLOCKED before including
 * this file: their scenario children end, as a Go program may, with tasks
 * still blocked on channels that nobody frees; LeakSanitizer would fail
 * them for it. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "detect_leaks=0";
}
#endif

#endif
