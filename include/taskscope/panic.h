/* taskscope — panics.
 *
 * ts_panic reports misuse Go would panic on (send on a closed channel, close
 * of a closed or nil channel). For now a panic is not recoverable: it prints
 * "panic: <message>", the goroutine-style header of the current task and a
 * stack trace to stderr, and exits the process with status 2, as an
 * unrecovered Go panic does. */
#ifndef TASKSCOPE_PANIC_H
#define TASKSCOPE_PANIC_H

#include <taskscope/export.h>

TS_BEGIN_DECLS

/* ts_panic: printf-style message; does not return. */
TS_EXPORT TS_NORETURN void ts_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

TS_END_DECLS

#endif
