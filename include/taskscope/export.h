/* taskscope — symbol visibility and small shared macros for the public API.
 *
 * The library is built with -fvisibility=hidden: only declarations marked
 * TS_EXPORT are part of the ABI (nm -D lists exactly those). */
#ifndef TASKSCOPE_EXPORT_H
#define TASKSCOPE_EXPORT_H

#define TS_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
#define TS_BEGIN_DECLS extern "C" {
#define TS_END_DECLS }
#else
#define TS_BEGIN_DECLS
#define TS_END_DECLS
#endif

#define TS_NORETURN __attribute__((noreturn))

#endif
