/* taskscope — umbrella header: Go's concurrency model for C.
 * Include this, link with -ltaskscope (pkg-config taskscope, or CMake
 * target taskscope::taskscope). */
#ifndef TASKSCOPE_H
#define TASKSCOPE_H

#include <taskscope/error.h>
#include <taskscope/task.h>
#include <taskscope/chan.h>
#include <taskscope/select.h>
#include <taskscope/time.h>
#include <taskscope/panic.h>
#include <taskscope/signal.h>
#if __has_include(<taskscope/sync.h>)
#include <taskscope/sync.h>
#endif
#if __has_include(<taskscope/context.h>)
#include <taskscope/context.h>
#endif
#if __has_include(<taskscope/pool.h>)
#include <taskscope/pool.h>
#endif
#if __has_include(<taskscope/atomic_value.h>)
#include <taskscope/atomic_value.h>
#endif
#if __has_include(<taskscope/errgroup.h>)
#include <taskscope/errgroup.h>
#endif
#if __has_include(<taskscope/rate.h>)
#include <taskscope/rate.h>
#endif
#if __has_include(<taskscope/io.h>)
#include <taskscope/io.h>
#endif

#define TASKSCOPE_VERSION_MAJOR 0
#define TASKSCOPE_VERSION_MINOR 1
#define TASKSCOPE_VERSION_PATCH 0

#endif
