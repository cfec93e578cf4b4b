/* taskscope — a conservative mark of which target objects the rest of the
 * process can still reach, for the goroutine-leak profile (reach.h).
 *
 * Invariants:
 *   - the scanner never dereferences application memory: every word it
 *     examines was copied into its read buffer by
 *     process_vm_readv(getpid(), ...), in chunks of READ_CHUNK bytes. A
 *     chunk that faults (EFAULT or a short count: unmapped meanwhile,
 *     PROT_NONE, MADV_GUARD_INSTALL guard pages inside an rw mapping,
 *     VM_IO/PFNMAP device memory) is re-read page by page and the faulting
 *     pages are skipped. No signal handler, no SIGSEGV, whatever other
 *     threads map, unmap or protect meanwhile;
 *   - the scanner creates no reference to a target in any root. Every copy
 *     of a target address it makes lives in (a) its working memory: one
 *     mmap'd scratch block (sorted targets, work list, bucket index,
 *     exclusion list, PAGEMAP_SCAN vector, read buffer) plus the mmap'd buffer holding the
 *     text of /proc/self/maps, both excluded; or (b) the calling thread's
 *     stack and registers, excluded by its pthread_getattr_np bounds (the
 *     call refuses, EINVAL, to run off that stack, e.g. in a task). It
 *     never calls malloc (glibc's qsort may malloc a merge buffer, so the
 *     sorts here are our own heapsorts): a freed heap block keeps its
 *     contents and the heap is a root;
 *   - the caller's own copies must be in excluded memory too: the targets
 *     and exclude arrays belong on the calling thread's stack or in
 *     ts__reach_alloc memory, whose regions are linked in alloc_list and
 *     excluded by every scan. One scan at a time, always from the same
 *     thread: another scanning thread's stack is a root;
 *   - roots = rw mappings of one read of /proc/self/maps
 *             - exclude[] - targets' memory - ts__reach_alloc regions
 *             - scratch - maps buffer - calling thread's stack
 *             - the targets and exclude arrays themselves;
 *     a target's memory is scanned exactly once, when it is first reached
 *     (it is pushed on the work list at that moment), whole, minus only
 *     the scanner's working memory.
 * What is scanned: every mapping with both r and w in its permissions,
 * including file-backed ones (.data/.bss of every module, rw MAP_SHARED
 * files), [heap], [stack], anonymous mappings, thread stacks (the whole
 * mapping: the scanner cannot know other threads' stack pointers, so dead
 * frames below them count). Not scanned: read-only and execute-only
 * mappings (relro, text, rodata), [vvar], [vvar_vclock], [vsyscall],
 * [vdso]. In private anonymous mappings only the pages that PAGEMAP_SCAN
 * (Linux >= 6.7) reports present or swapped, and not the shared zero page,
 * are read: a page never touched or dropped by MADV_DONTNEED reads as
 * zeros and holds no pointer, and skipping them keeps sparse reservations
 * (TSan's shadow, task stacks) cheap and never blocks on a userfaultfd
 * region. Without PAGEMAP_SCAN every page is read.
 * What the scan cannot see (so a target can be reported unreached although
 * the program can reach it):
 *   - registers of other threads while they run (a thread blocked in a
 *     syscall has spilled its callee-saved registers to its stack, which
 *     is scanned; a running one may hold the only copy in a register);
 *   - pointers stored disguised: XOR-linked lists, compressed or tagged
 *     pointers, offsets or indices instead of addresses, pointers at
 *     unaligned addresses (packed structs);
 *   - memory the kernel hides or keeps: pipe and socket buffers, io_uring
 *     rings not mapped rw, other processes' memory, pages of device
 *     mappings (skipped on EFAULT);
 *   - references that move during the scan: the scan is not a snapshot. A
 *     pointer copied from a mapping not scanned yet into one already
 *     scanned, or a mapping created after /proc/self/maps was read, is
 *     missed. Callers should report a target as leaked only when it stays
 *     unreached in two scans (a leaked object's reachability never
 *     changes; Go scans in a stop-the-world GC instead).
 * False negatives (a target reported reached although nothing live holds
 * it): stale copies anywhere in a root: freed heap blocks, dead stack
 * frames below another thread's stack pointer, uninitialised padding,
 * including stale words naming an address since freed and reused for the
 * target (a new mapping where a dead thread's stack was); any integer
 * that happens to fall inside a target; the calling thread's stale
 * stack frames when a later scan runs on another thread (scan from one
 * dedicated thread).
 * Attribution (ts__reach_refs, for the wait-for cycle report): the same
 * word test and transitive scan of target memory, run once per source
 * range with every reached mark cleared before, and no root at all. It is
 * a separate call, made only when there are leaked tasks to attribute, so
 * the mark of ts__reach_scan pays nothing for it; per-root attribution
 * inside the mark was rejected: it would cost a source lookup per hit in
 * the hot loop, for the rare scan that finds leaks.
 * Locks: alloc_lock (a yielding spinlock, as in ring.c: the probe
 * interposes pthread_mutex_*) guards alloc_list and alloc_count; held only
 * to link/unlink and while a scan copies the regions into its exclusions.
 * Rejected: reading memory directly under a SIGSEGV handler (process-wide
 * signal state, not async-safe with concurrent unmap-and-remap, and a
 * guard page in a task stack would need siglongjmp out of the handler);
 * /proc/self/mem with pread (same fault behaviour, one more fd);
 * mincore to skip pages (reports swapped-out pages as absent: a reference
 * in swap would be missed).
 * Word test: one unsigned compare rejects words outside [min lo, max hi)
 * of all targets; a word inside goes to a bucket index (a power of two >=
 * 2n buckets over that span, each holding the first target starting in
 * it), which bounds the binary search to the targets starting in its
 * bucket, usually none or one. Rejected: a plain binary search over all
 * targets per word, 20x slower when the targets are spread over the heap
 * and most heap words point into that span (below).
 * Measured (tests/unit/test_reach.c test_reach_scans_large_heap, which
 * prints the figures; 2-core VM shared with other builds, Linux 6.18,
 * gcc 12): one scan of the whole test process plus a 100 MiB malloc'd
 * block, 1000 targets:
 *                                  Release -O2   Debug -O0   TSan (clang)
 *   block words outside the span     22-49 ms     23-79 ms   190-580 ms
 *   every word inside the span      32-116 ms    66-186 ms  400-1220 ms
 * (ranges over 20 runs each; 1-4.5 GB/s in Release). process_vm_readv's
 * copy is most of the first line. With a TSan test running on the other
 * core the Debug figures rose to 220 and 460 ms at worst. The plain
 * binary search took 1374 ms (Debug) on the second line. Under TSan the
 * sanitizer's own resident shadow is scanned too (private anonymous rw
 * memory like any other), hence the 10x. */
#include "profiler/reach.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

/* PAGEMAP_SCAN (Linux 6.7, <linux/fs.h>); older headers lack it. The
 * values are kernel ABI. */
#include <linux/fs.h>
#ifndef PAGEMAP_SCAN
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
struct page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;
};
struct pm_scan_arg {
    uint64_t size;
    uint64_t flags;
    uint64_t start;
    uint64_t end;
    uint64_t walk_end;
    uint64_t vec;
    uint64_t vec_len;
    uint64_t max_pages;
    uint64_t category_inverted;
    uint64_t category_mask;
    uint64_t category_anyof_mask;
    uint64_t return_mask;
};
#endif

#define READ_CHUNK (64 * 1024)  /* bytes per process_vm_readv */
#define PM_VEC_LEN 256          /* page_region entries per PAGEMAP_SCAN */
#define MAPS_BUF_MIN (64 * 1024)
#define MAPS_BUF_MAX ((size_t)1 << 30)
#define WORD sizeof(uintptr_t)
#define MAX_BUCKETS ((size_t)1 << 20) /* 4 MiB of bucket index at most */

/* ---- ts__reach_alloc regions ------------------------------------------ */

/* Head of every ts__reach_alloc block; the caller gets the memory after
 * it. */
struct alloc_hdr {
    struct alloc_hdr *next; /* guarded by alloc_lock */
    struct alloc_hdr *prev; /* guarded by alloc_lock */
    size_t map_size;        /* set before linking, then constant */
    size_t pad[5];          /* keep the caller's memory 64-byte aligned */
};

static atomic_flag alloc_lock = ATOMIC_FLAG_INIT;
static struct alloc_hdr *alloc_list; /* guarded by alloc_lock */
static size_t alloc_count;           /* guarded by alloc_lock */

static void alloc_lock_take(void)
{
    while (atomic_flag_test_and_set_explicit(&alloc_lock,
                                             memory_order_acquire))
        sched_yield();
}

static void alloc_lock_drop(void)
{
    atomic_flag_clear_explicit(&alloc_lock, memory_order_release);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

void *ts__reach_alloc(size_t size)
{
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t map_size = round_up(size + sizeof(struct alloc_hdr), page_size());
    void *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct alloc_hdr *h = p;
    h->map_size = map_size;
    alloc_lock_take();
    h->next = alloc_list;
    h->prev = NULL;
    if (alloc_list)
        alloc_list->prev = h;
    alloc_list = h;
    alloc_count++;
    alloc_lock_drop();
    return h + 1;
}

void ts__reach_free(void *p, size_t size)
{
    if (!p)
        return;
    struct alloc_hdr *h = (struct alloc_hdr *)p - 1;
    size_t map_size = h->map_size;
    (void)size; /* the header knows; size is for symmetry with alloc */
    alloc_lock_take();
    if (h->prev)
        h->prev->next = h->next;
    else
        alloc_list = h->next;
    if (h->next)
        h->next->prev = h->prev;
    alloc_count--;
    alloc_lock_drop();
    munmap(h, map_size);
}

/* ---- sorting (no qsort: it may malloc a buffer of copies) -------------- */

/* One target as the scanner keeps it, sorted by lo. */
struct tgt {
    uintptr_t lo;
    uintptr_t hi;
    uintptr_t max_hi; /* max hi over this and every earlier entry */
    size_t idx;       /* index in the caller's array; bit 63: reached */
};

#define TGT_REACHED ((size_t)1 << (sizeof(size_t) * 8 - 1))

/* Heapsort of n elements of size bytes, each starting with a uintptr_t
 * key, ascending by key. size <= sizeof(struct tgt). */
static uintptr_t key_at(const unsigned char *base, size_t size, size_t i)
{
    uintptr_t k;
    memcpy(&k, base + i * size, sizeof k);
    return k;
}

static void swap_at(unsigned char *base, size_t size, size_t i, size_t j)
{
    unsigned char tmp[sizeof(struct tgt)];
    memcpy(tmp, base + i * size, size);
    memcpy(base + i * size, base + j * size, size);
    memcpy(base + j * size, tmp, size);
}

static void sift_down(unsigned char *base, size_t size, size_t root,
                      size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n &&
            key_at(base, size, child) < key_at(base, size, child + 1))
            child++;
        if (key_at(base, size, root) >= key_at(base, size, child))
            return;
        swap_at(base, size, root, child);
        root = child;
    }
}

static void heapsort_by_key(void *v, size_t n, size_t size)
{
    unsigned char *base = v;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(base, size, i, n);
    for (size_t end = n; end-- > 1;) {
        swap_at(base, size, 0, end);
        sift_down(base, size, 0, end);
    }
}

/* Sort ranges by lo and merge overlapping or touching ones; returns the
 * new count. */
static size_t sort_merge(struct ts__range *r, size_t n)
{
    if (n == 0)
        return 0;
    heapsort_by_key(r, n, sizeof *r);
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        if (r[i].lo <= r[out].hi) {
            if (r[i].hi > r[out].hi)
                r[out].hi = r[i].hi;
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}

/* ---- the scan state ------------------------------------------------------ */

struct scan {
    struct tgt *t;          /* n targets, sorted by lo */
    size_t n;
    uintptr_t min_lo;       /* words outside [min_lo, min_lo + span) */
    uintptr_t span;         /*   cannot hit a target */
    uint32_t *first;        /* nbucket + 1 entries: first[b] = first   */
    unsigned shift;         /*   target with lo >= min_lo + (b << shift) */
    size_t nbucket;
    size_t *work;           /* indices into t of reached, unscanned */
    size_t nwork;
    struct ts__range *ex;   /* root exclusions: sorted, disjoint */
    size_t nex;
    struct ts__range own[2]; /* scratch and maps buffer, sorted */
    size_t nown;
    struct page_region *vec; /* PAGEMAP_SCAN output */
    unsigned char *buf;      /* READ_CHUNK bytes, word aligned */
    int pagemap_fd;          /* -1: read every page */
    pid_t pid;
    uintptr_t page;
};

/* Mark every target holding w (there can be several when targets
 * overlap) and queue the newly reached ones. The bucket of w bounds the
 * binary search for the last target with lo <= w to the targets starting
 * in that bucket, plus the one before them. Precondition: w - min_lo <
 * span. */
static inline void check_word(struct scan *s, uintptr_t w)
{
    size_t b = (size_t)((w - s->min_lo) >> s->shift);
    size_t lo = s->first[b], hi = s->first[b + 1];
    if (lo == hi) {
        /* no target starts in this bucket: only earlier ones can hold w */
        if (lo == 0 || s->t[lo - 1].max_hi <= w)
            return;
        lo--;
    } else {
        /* last entry with lo <= w, in [first[b] - 1, first[b + 1]) */
        if (s->t[lo].lo > w) {
            if (lo == 0)
                return;
            lo--;
        } else {
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->t[mid].lo <= w)
                    lo = mid;
                else
                    hi = mid;
            }
        }
    }
    for (size_t j = lo + 1; j-- > 0 && s->t[j].max_hi > w;) {
        struct tgt *t = &s->t[j];
        if (w >= t->lo && w < t->hi && !(t->idx & TGT_REACHED)) {
            t->idx |= TGT_REACHED;
            s->work[s->nwork++] = j;
        }
    }
}

static void scan_words(struct scan *s, const unsigned char *p, size_t nbytes)
{
    const uintptr_t *w = (const uintptr_t *)(const void *)p;
    size_t nw = nbytes / WORD;
    uintptr_t min_lo = s->min_lo, span = s->span;
    for (size_t i = 0; i < nw; i++)
        if (w[i] - min_lo < span)
            check_word(s, w[i]);
}

/* Scan the aligned words of [lo, hi) through process_vm_readv. A chunk
 * that faults is retried page by page up to its end (slow_until), and a
 * page that faults on its own is skipped. 0 or an errno other than
 * EFAULT. */
static int read_range(struct scan *s, uintptr_t lo, uintptr_t hi)
{
    lo = (lo + WORD - 1) & ~(uintptr_t)(WORD - 1);
    hi &= ~(uintptr_t)(WORD - 1);
    uintptr_t slow_until = 0;
    while (lo < hi) {
        size_t want = hi - lo < READ_CHUNK ? hi - lo : READ_CHUNK;
        uintptr_t page_end = (lo | (s->page - 1)) + 1;
        if (lo < slow_until && want > page_end - lo)
            want = page_end - lo;
        struct iovec local = {.iov_base = s->buf, .iov_len = want};
        struct iovec remote = {.iov_base = (void *)lo, .iov_len = want};
        ssize_t got = process_vm_readv(s->pid, &local, 1, &remote, 1, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EFAULT)
                return errno;
            got = 0;
        }
        scan_words(s, s->buf, (size_t)got);
        if ((size_t)got == want) {
            lo += want;
        } else if (lo >= slow_until && want > page_end - lo) {
            /* chunk mode failed: redo the rest of the chunk by pages */
            slow_until = lo + want;
            lo += (size_t)got & ~(WORD - 1);
        } else {
            /* one page failed (or a chunk within one page): skip it */
            uintptr_t bad_end = ((lo + (size_t)got) | (s->page - 1)) + 1;
            if (bad_end <= lo) /* top of the address space */
                return 0;
            lo = bad_end;
        }
    }
    return 0;
}

/* Scan [lo, hi) of a private anonymous mapping: only the pages PAGEMAP_SCAN
 * reports present or swapped and not the zero page. Falls back to
 * read_range for good when the kernel lacks the ioctl. */
static int read_resident(struct scan *s, uintptr_t lo, uintptr_t hi)
{
    uintptr_t a = lo & ~(s->page - 1);
    uintptr_t b = (hi + s->page - 1) & ~(s->page - 1);
    while (a < b) {
        if (s->pagemap_fd < 0)
            return read_range(s, a > lo ? a : lo, hi);
        struct pm_scan_arg arg = {
            .size = sizeof arg,
            .start = a,
            .end = b,
            .vec = (uintptr_t)s->vec,
            .vec_len = PM_VEC_LEN,
            .category_inverted = PAGE_IS_PFNZERO,
            .category_mask = PAGE_IS_PFNZERO,
            .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
            .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
        };
        long nr = ioctl(s->pagemap_fd, PAGEMAP_SCAN, &arg);
        if (nr < 0) {
            if (errno == EINTR)
                continue;
            close(s->pagemap_fd); /* ENOTTY/EINVAL: kernel before 6.7 */
            s->pagemap_fd = -1;
            continue;
        }
        for (long k = 0; k < nr; k++) {
            uintptr_t r_lo = s->vec[k].start, r_hi = s->vec[k].end;
            int err = read_range(s, r_lo > lo ? r_lo : lo,
                                 r_hi < hi ? r_hi : hi);
            if (err)
                return err;
        }
        if (arg.walk_end <= a) /* no progress: should not happen */
            return read_range(s, a > lo ? a : lo, hi);
        a = arg.walk_end;
    }
    return 0;
}

/* Scan [lo, hi) minus the sorted, disjoint ranges ex[0..nex). */
static int scan_minus(struct scan *s, uintptr_t lo, uintptr_t hi,
                      const struct ts__range *ex, size_t nex, bool anon)
{
    /* first exclusion ending after lo */
    size_t i = 0, j = nex;
    while (i < j) {
        size_t mid = i + (j - i) / 2;
        if (ex[mid].hi <= lo)
            i = mid + 1;
        else
            j = mid;
    }
    while (lo < hi) {
        uintptr_t end = (i < nex && ex[i].lo < hi) ? ex[i].lo : hi;
        if (end > lo) {
            int err = anon ? read_resident(s, lo, end)
                           : read_range(s, lo, end);
            if (err)
                return err;
        }
        if (i == nex || ex[i].lo >= hi)
            return 0;
        if (ex[i].hi > lo)
            lo = ex[i].hi;
        i++;
    }
    return 0;
}

/* ---- /proc/self/maps ----------------------------------------------------- */

/* Read /proc/self/maps whole into a fresh mmap'd buffer (*buf, *cap bytes
 * mapped, *len used). 0, ENOMEM, or the errno of open/read. */
static int read_maps(char **buf, size_t *cap, size_t *len)
{
    for (size_t c = MAPS_BUF_MIN; c <= MAPS_BUF_MAX; c *= 2) {
        char *p = mmap(NULL, c, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return ENOMEM;
        int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            munmap(p, c);
            return err;
        }
        size_t n = 0;
        int err = 0;
        while (n < c) {
            ssize_t r = read(fd, p + n, c - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                err = errno;
                break;
            }
            if (r == 0)
                break;
            n += (size_t)r;
        }
        close(fd);
        if (err) {
            munmap(p, c);
            return err;
        }
        if (n < c) {
            *buf = p;
            *cap = c;
            *len = n;
            return 0;
        }
        munmap(p, c); /* full: may be truncated, retry bigger */
    }
    return ENOMEM;
}

static uintptr_t parse_hex(const char **pp, const char *end)
{
    uintptr_t v = 0;
    const char *p = *pp;
    for (; p < end; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else
            break;
        v = v * 16 + d;
    }
    *pp = p;
    return v;
}

/* Skip one space-separated field and the spaces after it. */
static const char *skip_field(const char *p, const char *end)
{
    while (p < end && *p != ' ')
        p++;
    while (p < end && *p == ' ')
        p++;
    return p;
}

static bool name_is(const char *p, const char *end, const char *name)
{
    size_t l = strlen(name);
    return (size_t)(end - p) == l && memcmp(p, name, l) == 0;
}

/* Scan the root part of one line of /proc/self/maps:
 * "lo-hi perms offset dev inode   path". */
static int scan_maps_line(struct scan *s, const char *p, const char *end)
{
    uintptr_t lo = parse_hex(&p, end);
    if (p >= end || *p != '-')
        return 0;
    p++;
    uintptr_t hi = parse_hex(&p, end);
    while (p < end && *p == ' ')
        p++;
    if (end - p < 4 || p[0] != 'r' || p[1] != 'w')
        return 0;
    bool private = p[3] == 'p';
    p = skip_field(p, end); /* perms */
    p = skip_field(p, end); /* offset */
    p = skip_field(p, end); /* dev */
    bool inode0 = p < end && p[0] == '0' && (p + 1 == end || p[1] == ' ');
    p = skip_field(p, end); /* inode; p is now the path or end */
    if (name_is(p, end, "[vvar]") || name_is(p, end, "[vvar_vclock]") ||
        name_is(p, end, "[vsyscall]") || name_is(p, end, "[vdso]"))
        return 0;
    return scan_minus(s, lo, hi, s->ex, s->nex, private && inode0);
}

static int scan_maps(struct scan *s, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        int err = scan_maps_line(s, p, eol);
        if (err)
            return err;
        p = eol + 1;
    }
    return 0;
}

/* ---- the scan -------------------------------------------------------------- */

/* Bounds of the calling thread's stack. 0 or an errno. */
static int own_stack(struct ts__range *r)
{
    pthread_attr_t attr;
    int err = pthread_getattr_np(pthread_self(), &attr);
    if (err)
        return err;
    void *addr;
    size_t size;
    err = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (err)
        return err;
    r->lo = (uintptr_t)addr;
    r->hi = (uintptr_t)addr + size;
    return 0;
}

/* Buckets of the target index: a power of two >= 2n, at most
 * MAX_BUCKETS. */
static size_t bucket_count(size_t n)
{
    size_t b = 1;
    while (b < 2 * n && b < MAX_BUCKETS)
        b *= 2;
    return b;
}

/* Lay out the scratch block: targets, work list, bucket index,
 * exclusions, PAGEMAP_SCAN vector, read buffer. Returns its size. */
static size_t scratch_size(size_t n, size_t nex_cap)
{
    size_t sz = round_up(n * sizeof(struct tgt), 64);
    sz += round_up(n * sizeof(size_t), 64);
    sz += round_up((bucket_count(n) + 1) * sizeof(uint32_t), 64);
    sz += round_up(nex_cap * sizeof(struct ts__range), 64);
    sz += round_up(PM_VEC_LEN * sizeof(struct page_region), 64);
    sz += READ_CHUNK;
    return round_up(sz, page_size());
}

static void scratch_carve(struct scan *s, unsigned char *base, size_t n,
                          size_t nex_cap)
{
    s->t = (struct tgt *)(void *)base;
    base += round_up(n * sizeof(struct tgt), 64);
    s->work = (size_t *)(void *)base;
    base += round_up(n * sizeof(size_t), 64);
    s->nbucket = bucket_count(n);
    s->first = (uint32_t *)(void *)base;
    base += round_up((s->nbucket + 1) * sizeof(uint32_t), 64);
    s->ex = (struct ts__range *)(void *)base;
    base += round_up(nex_cap * sizeof(struct ts__range), 64);
    s->vec = (struct page_region *)(void *)base;
    base += round_up(PM_VEC_LEN * sizeof(struct page_region), 64);
    s->buf = base;
}

/* Copy and sort the targets (n > 0); set min_lo, span, max_hi and the
 * bucket index. */
static void load_targets(struct scan *s, const struct ts__reach_target *tg,
                         size_t n)
{
    for (size_t i = 0; i < n; i++)
        s->t[i] = (struct tgt){.lo = tg[i].lo, .hi = tg[i].hi, .idx = i};
    s->n = n;
    heapsort_by_key(s->t, n, sizeof *s->t);
    uintptr_t max_hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->t[i].hi > max_hi)
            max_hi = s->t[i].hi;
        s->t[i].max_hi = max_hi;
    }
    s->min_lo = s->t[0].lo;
    s->span = max_hi - s->min_lo; /* >= 1: lo < hi */
    s->shift = 0;
    while (((s->span - 1) >> s->shift) >= s->nbucket)
        s->shift++;
    size_t j = 0;
    for (size_t b = 0; b <= s->nbucket; b++) {
        uintptr_t off = (uintptr_t)b << s->shift;
        bool wrapped = (off >> s->shift) != b; /* span > 2^63 only */
        while (j < n && (wrapped || s->t[j].lo - s->min_lo < off))
            j++;
        s->first[b] = (uint32_t)j;
    }
}

/* Fill s->ex with every root exclusion. false when the ts__reach_alloc
 * list outgrew nalloc_cap since it was counted (retry). */
static bool load_exclusions(struct scan *s, const struct ts__range *exclude,
                            size_t nexclude, size_t nalloc_cap,
                            const struct ts__range *stack,
                            const struct ts__range args[2])
{
    size_t k = 0;
    for (size_t i = 0; i < nexclude; i++)
        if (exclude[i].lo < exclude[i].hi)
            s->ex[k++] = exclude[i];
    for (size_t i = 0; i < s->n; i++)
        s->ex[k++] = (struct ts__range){s->t[i].lo, s->t[i].hi};
    for (size_t i = 0; i < s->nown; i++)
        s->ex[k++] = s->own[i];
    s->ex[k++] = *stack;
    for (size_t i = 0; i < 2; i++)
        if (args[i].lo < args[i].hi)
            s->ex[k++] = args[i];
    bool fits = true;
    alloc_lock_take();
    if (alloc_count > nalloc_cap) {
        fits = false;
    } else {
        for (struct alloc_hdr *h = alloc_list; h; h = h->next)
            s->ex[k++] = (struct ts__range){(uintptr_t)h,
                                            (uintptr_t)h + h->map_size};
    }
    alloc_lock_drop();
    s->nex = sort_merge(s->ex, k);
    return fits;
}

/* Scan every reached target's memory until no new target is reached. */
static int drain_work(struct scan *s)
{
    while (s->nwork > 0) {
        struct tgt *t = &s->t[s->work[--s->nwork]];
        int err = scan_minus(s, t->lo, t->hi, s->own, s->nown, false);
        if (err)
            return err;
    }
    return 0;
}

/* valid_targets: targets non-NULL when n > 0, and every lo < hi. */
static bool valid_targets(const struct ts__reach_target *targets, size_t n)
{
    if (n > 0 && !targets)
        return false;
    for (size_t i = 0; i < n; i++)
        if (targets[i].lo >= targets[i].hi)
            return false;
    return true;
}

int ts__reach_scan(struct ts__reach_target *targets, size_t n,
                   const struct ts__range *exclude, size_t nexclude)
{
    if (!valid_targets(targets, n) || (nexclude > 0 && !exclude))
        return EINVAL;
    if (n == 0)
        return 0;
    if (n >= UINT32_MAX || nexclude > SIZE_MAX / 64)
        return ENOMEM;

    struct ts__range stack;
    int err = own_stack(&stack);
    if (err)
        return err;
    /* On a task's stack (or a signal stack) the stack holding our copies
     * is not the one we exclude: every target would come out reached. */
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (frame < stack.lo || frame >= stack.hi)
        return EINVAL;

    char *maps = NULL;
    size_t maps_cap = 0, maps_len = 0;
    err = read_maps(&maps, &maps_cap, &maps_len);
    if (err)
        return err;

    struct scan s = {.pagemap_fd = -1, .pid = getpid(),
                     .page = page_size()};
    /* the argument arrays hold target addresses wherever they live */
    const struct ts__range args[2] = {
        {(uintptr_t)targets, (uintptr_t)(targets + n)},
        {(uintptr_t)exclude, (uintptr_t)(exclude + nexclude)},
    };
    unsigned char *scratch = NULL;
    size_t scratch_len = 0;
    for (;;) {
        alloc_lock_take();
        size_t nalloc_cap = alloc_count + 16;
        alloc_lock_drop();
        size_t nex_cap = nexclude + n + nalloc_cap + 5;
        scratch_len = scratch_size(n, nex_cap);
        scratch = mmap(NULL, scratch_len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (scratch == MAP_FAILED) {
            err = ENOMEM;
            goto out_unmap_maps;
        }
        scratch_carve(&s, scratch, n, nex_cap);
        struct ts__range a = {(uintptr_t)scratch,
                              (uintptr_t)scratch + scratch_len};
        struct ts__range b = {(uintptr_t)maps, (uintptr_t)maps + maps_cap};
        s.own[0] = a.lo < b.lo ? a : b;
        s.own[1] = a.lo < b.lo ? b : a;
        s.nown = 2;
        load_targets(&s, targets, n);
        if (load_exclusions(&s, exclude, nexclude, nalloc_cap, &stack,
                            args))
            break;
        munmap(scratch, scratch_len);
    }

    s.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    err = scan_maps(&s, maps, maps_len);
    if (!err)
        err = drain_work(&s);
    if (!err) {
        for (size_t i = 0; i < n; i++) {
            size_t idx = s.t[i].idx & ~TGT_REACHED;
            targets[idx].reached = (s.t[i].idx & TGT_REACHED) != 0;
        }
    }
    if (s.pagemap_fd >= 0)
        close(s.pagemap_fd);
    munmap(scratch, scratch_len);
out_unmap_maps:
    munmap(maps, maps_cap);
    return err;
}

/* refs_of: the targets source src references, reported through found.
 * Starts from no target reached. */
static int refs_of(struct scan *s, size_t i, const struct ts__range *src,
                   void (*found)(size_t src, size_t tgt, void *arg),
                   void *arg)
{
    for (size_t j = 0; j < s->n; j++)
        s->t[j].idx &= ~TGT_REACHED;
    int err = scan_minus(s, src->lo, src->hi, s->own, s->nown, true);
    if (!err)
        err = drain_work(s);
    for (size_t j = 0; !err && j < s->n; j++)
        if (s->t[j].idx & TGT_REACHED)
            found(i, s->t[j].idx & ~TGT_REACHED, arg);
    return err;
}

int ts__reach_refs(const struct ts__reach_target *targets, size_t n,
                   const struct ts__range *sources, size_t nsrc,
                   void (*found)(size_t src, size_t tgt, void *arg),
                   void *arg)
{
    if (!valid_targets(targets, n) || (nsrc > 0 && !sources))
        return EINVAL;
    if (n == 0 || nsrc == 0)
        return 0;
    if (n >= UINT32_MAX)
        return ENOMEM;
    size_t len = scratch_size(n, 0);
    unsigned char *scratch = mmap(NULL, len, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED)
        return ENOMEM;
    struct scan s = {.pagemap_fd = -1, .pid = getpid(), .page = page_size()};
    scratch_carve(&s, scratch, n, 0);
    s.own[0] = (struct ts__range){(uintptr_t)scratch, (uintptr_t)scratch + len};
    s.nown = 1;
    load_targets(&s, targets, n);
    s.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    int err = 0;
    for (size_t i = 0; !err && i < nsrc; i++)
        if (sources[i].lo < sources[i].hi)
            err = refs_of(&s, i, &sources[i], found, arg);
    if (s.pagemap_fd >= 0)
        close(s.pagemap_fd);
    munmap(scratch, len);
    return err;
}

bool ts__reach_peek(void *out, uintptr_t addr, size_t size)
{
    struct iovec local = {out, size}, remote = {(void *)addr, size};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)size;
}
