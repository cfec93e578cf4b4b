/* aarch64_shims.c — what the aarch64 smoke build (run_aarch64_qemu.sh) puts
 * in place of pieces it cannot use under qemu-aarch64.
 *
 *   - The profiler's libdw symbolizer (profiler/symbolize.c): panic.c calls
 *     it for Go-style traces, but libdw is not installed for arm64. These
 *     stand-ins report "no symbolizer", so traces fall back to dladdr, as
 *     they do wherever libdw finds nothing.
 *   - The pprof encoder (profiler/pprof.c: protobuf-c, zlib): the
 *     stand-ins fail with ENOSYS; the smoke test writes no profile.
 *   - libunwind (profiler/unwind.c): the frame-pointer walk stands in.
 *   - The /debug/pprof endpoints (profiler/http.c, delta.c: libmicrohttpd,
 *     protobuf-c, zlib): not served; TASKSCOPE_HTTP is ignored.
 *   - madvise, wrapped with -Wl,--wrap=madvise: qemu-user (7.2) answers
 *     every madvise with 0 and does nothing, so MADV_GUARD_INSTALL would seem
 *     to install a guard region and leave none. The wrapper answers EINVAL,
 *     as a kernel older than 6.13 does, so stack.c falls back to mprotect'd
 *     guard pages, which qemu does emulate; every other advice passes
 *     through. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "profiler/http.h"
#include "profiler/pprof.h"
#include "profiler/record.h"
#include "profiler/unwind.h"
#include "profiler/symbolize.h"

int ts__symbolizer_new(struct ts__symbolizer **out)
{
    if (out)
        *out = NULL;
    return EIO;
}

void ts__symbolizer_free(struct ts__symbolizer *s)
{
    (void)s;
}

int ts__symbolize(struct ts__symbolizer *s, uint64_t addr,
                  const struct ts__frame **frames, size_t *nframes)
{
    (void)s;
    (void)addr;
    (void)frames;
    if (nframes)
        *nframes = 0;
    return ENOENT;
}

int ts__symbolizer_offset(struct ts__symbolizer *s, uint64_t addr,
                          uint64_t *offset)
{
    (void)s;
    (void)addr;
    (void)offset;
    return ENOENT;
}

const char *ts__symbolizer_text(struct ts__symbolizer *s, uint64_t addr)
{
    (void)s;
    (void)addr;
    return NULL;
}

int ts__symbolizer_set_text(struct ts__symbolizer *s, uint64_t addr,
                            const char *text)
{
    (void)s;
    (void)addr;
    (void)text;
    return ENOSYS;
}

int ts__symbolizer_module(struct ts__symbolizer *s, uint64_t addr,
                          struct ts__module *out)
{
    (void)s;
    (void)addr;
    (void)out;
    return ENOENT;
}

void ts__http_start(void)
{
}

int ts__pprof_encode(const struct ts__profile *p, uint8_t **out, size_t *len)
{
    (void)p;
    (void)out;
    (void)len;
    return ENOSYS;
}

int ts__pprof_write(const struct ts__profile *p, int fd)
{
    (void)p;
    (void)fd;
    return ENOSYS;
}

__attribute__((noinline)) size_t ts__capture_unwind(uint64_t *pcs, size_t max,
                                                    size_t skip)
{
    size_t n = ts__capture_current(pcs, max, skip + 1);
    __asm__ __volatile__("" ::: "memory"); /* keep this frame: skip counts it */
    return n;
}

#define GUARD_INSTALL 102 /* MADV_GUARD_INSTALL, Linux 6.13 uapi */

int __real_madvise(void *addr, size_t len, int advice);

int __wrap_madvise(void *addr, size_t len, int advice)
{
    if (advice == GUARD_INSTALL) {
        errno = EINVAL;
        return -1;
    }
    return __real_madvise(addr, len, advice);
}
