/* taskscope — error codes.
 *
 * Every taskscope call that can fail returns 0 or a positive errno-style
 * code; none sets errno. Standard conditions use the system's errno values,
 * taskscope's own conditions live above TS_ERRNO_BASE. One table (TS_ERRNO_MAP)
 * generates the enum and the texts behind ts_strerror(). */
#ifndef TASKSCOPE_ERROR_H
#define TASKSCOPE_ERROR_H

#include <errno.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

#define TS_ERRNO_BASE 0x7400

/* X(name, value, text): taskscope's own codes, appended, never reused. */
#define TS_ERRNO_MAP(X)                                                   \
    X(TS_ECLOSED, TS_ERRNO_BASE + 1, "channel closed")                    \
    X(TS_EWOULDBLOCK, TS_ERRNO_BASE + 2, "operation would block")

enum {
#define TS_ERRNO_ENUM(name, value, text) name = (value),
    TS_ERRNO_MAP(TS_ERRNO_ENUM)
#undef TS_ERRNO_ENUM
};

/* ts_strerror: text for a taskscope code or a system errno value; never NULL,
 * the string is static. */
TS_EXPORT const char *ts_strerror(int code);

TS_END_DECLS

#endif
