/* taskscope — conservative reachability scan of this process's memory, the
 * core of the goroutine-leak profile (Go 1.26's goroutineleak): a task
 * blocked on a channel that nothing outside the blocked tasks can still
 * reach is leaked. The caller passes the channels as targets and the
 * blocked tasks' stacks as excluded ranges; this module only marks.
 *
 * The scanner's rules and limits are in the design comment of reach.c.
 * The two a caller must follow:
 *   - call ts__reach_scan from a profiler helper thread (a plain
 *     pthread, not a task) that holds no application reference on its
 *     stack: the calling thread's stack is excluded from the roots (it
 *     holds the scanner's own copies of the target addresses), so anything
 *     the caller keeps there is invisible. Always the same thread, one scan
 *     at a time: another thread's stack, even a dead frame of it, that
 *     held target addresses is a root like any other;
 *   - keep every copy of a target address (the caller's bookkeeping:
 *     lists of channels, earlier versions of the targets array) on that
 *     thread's stack or in memory from ts__reach_alloc, which every scan
 *     excludes. Memory from malloc is a root: a target address kept there,
 *     even after free, marks the target reached. (The targets and exclude
 *     arrays passed to a scan are excluded by that scan wherever they
 *     are, but building them in malloc'd memory leaves copies behind.) */
#ifndef TASKSCOPE_PROFILER_REACH_H
#define TASKSCOPE_PROFILER_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A half-open address range [lo, hi). */
struct ts__range {
    uintptr_t lo; /* first byte */
    uintptr_t hi; /* one past the last byte */
};

/* One object whose reachability is asked for. */
struct ts__reach_target {
    uintptr_t lo;  /* in: first byte of the object */
    uintptr_t hi;  /* in: one past its last byte; lo < hi */
    bool reached;  /* out: set by ts__reach_scan */
};

/* ts__reach_scan: conservative mark from the roots.
 *
 * Roots: every readable and writable mapping of /proc/self/maps (data and
 * bss of every module, [heap], anonymous mappings, thread stacks, rw
 * file-backed mappings), minus the exclude ranges, minus the targets' own
 * memory, minus every ts__reach_alloc region, minus the scanner's working
 * memory, minus the calling thread's stack, minus the targets and exclude
 * arrays themselves. Read-only mappings, [vvar],
 * [vvar_vclock], [vsyscall] and [vdso] are not scanned.
 *
 * Target t is reached when an 8-byte-aligned word of a root, or of the
 * memory [lo, hi) of a target already reached (transitively), holds an
 * address in [t.lo, t.hi) (interior pointers count). A target's memory is
 * never a root by itself: two targets that only point at each other stay
 * unreached. A reached target's memory is scanned whole, even where it
 * lies in an excluded range. Targets may overlap (a word inside both marks
 * both) and need not be sorted.
 *
 * targets: n entries (n == 0 is fine: nothing to do, returns 0); reached
 * is written on every entry when the call returns 0 and is unspecified
 * otherwise. exclude: nexclude ranges (NULL when nexclude == 0); empty
 * ones (lo >= hi) are ignored.
 *
 * Returns 0; EINVAL when targets is NULL with n > 0, exclude is NULL with
 * nexclude > 0, a target has lo >= hi, or the call runs off the calling
 * thread's own stack (in a task, or on a signal stack); ENOMEM when the
 * working memory cannot be mapped or n >= 2^32 - 1; the errno of
 * pthread_getattr_np, of reading /proc/self/maps or of
 * process_vm_readv (other than EFAULT, which only skips a page: ENOSYS or
 * EPERM under a seccomp filter). Never faults on memory unmapped or
 * protected meanwhile.
 *
 * Does not use malloc. Working memory: about 40 bytes per target, a
 * bucket index of at most 4 MiB, 16 bytes per exclusion, a 64 KiB read
 * buffer and the text of /proc/self/maps, all mmap'd and unmapped before
 * returning. Time is linear in the resident memory scanned; see reach.c. */
int ts__reach_scan(struct ts__reach_target *targets, size_t n,
                   const struct ts__range *exclude, size_t nexclude);

/* ts__reach_refs: which targets each source range references, for the
 * wait-for cycle report (profiler/cycles.h): source i references target t
 * when an 8-byte-aligned word of source i, or of the memory of a target
 * source i references (transitively), holds an address in [t.lo, t.hi).
 * Nothing else is read: no roots, no exclusions. Calls found(i, t, arg)
 * once per such pair, sources in order; t is an index into targets. The
 * sources are read like private anonymous memory: pages never touched
 * (PAGEMAP_SCAN) are skipped, faulting pages too.
 *
 * Caller rules as for ts__reach_scan (one dedicated thread, copies of
 * target addresses only in excluded memory); found must not keep target
 * addresses anywhere else either. The reached flags of targets are not
 * read or written.
 *
 * Returns 0 (also when n or nsrc is 0); EINVAL for NULL arrays with
 * non-zero counts or a target with lo >= hi; ENOMEM; the errno of
 * process_vm_readv other than EFAULT. Does not use malloc. Time: each
 * source's resident pages, plus the memory of the targets it references,
 * once per source. */
int ts__reach_refs(const struct ts__reach_target *targets, size_t n,
                   const struct ts__range *sources, size_t nsrc,
                   void (*found)(size_t src, size_t tgt, void *arg),
                   void *arg);

/* ts__reach_alloc: size bytes of zeroed, page-backed memory (mmap) that
 * every ts__reach_scan excludes from its roots, for the caller's
 * bookkeeping of target addresses. NULL when size is 0 or mmap fails.
 * Release with ts__reach_free and the same size. Thread-safe. */
void *ts__reach_alloc(size_t size);

/* ts__reach_peek: copy size bytes at addr without dereferencing it (the
 * object may be gone since a snapshot was taken); false when unreadable.
 * Never faults. */
bool ts__reach_peek(void *out, uintptr_t addr, size_t size);

/* ts__reach_free: unmap a block from ts__reach_alloc(size). NULL is a
 * no-op. The contents are gone (not left behind as stale copies). */
void ts__reach_free(void *p, size_t size);

#endif
