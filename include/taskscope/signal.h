/* taskscope — OS signals delivered to channels: Go's os/signal.Notify.
 *
 * After ts_signal_notify(ch, SIGINT, SIGTERM, 0), each SIGINT or SIGTERM the
 * process receives is sent to ch as an int (the signal number). Semantics
 * are Go's:
 *   - the send never blocks: when ch's buffer is full the signal is dropped
 *     for that channel, so give ch enough buffer space (capacity 1 is enough
 *     for "tell me once"); an unbuffered channel only gets a signal when a
 *     receiver happens to be waiting at that moment;
 *   - several channels may want one signal (each gets its own copy); one
 *     channel may want several signals; calling again for the same channel
 *     adds signals;
 *   - ts_signal_stop(ch) ends deliveries to ch; a signal no channel wants
 *     any more gets back the disposition it had before the first
 *     ts_signal_notify for it (SIG_DFL, SIG_IGN or the program's handler).
 * The library holds a reference to each registered channel until
 * ts_signal_stop. Closing a channel that is still registered makes the next
 * delivery panic (send on closed channel), as in Go: stop first.
 *
 * Signals are taken by the process, not by a thread: a signal raised with
 * raise() or pthread_kill() on a task's worker thread waits there forever,
 * since workers block asynchronous signals (use kill(getpid(), sig)).
 * docs/signal.md describes the machinery and its limits. */
#ifndef TASKSCOPE_SIGNAL_H
#define TASKSCOPE_SIGNAL_H

#include <taskscope/chan.h>
#include <taskscope/export.h>

TS_BEGIN_DECLS

/* ts_signal_notify: deliver the listed signals, a list ended by 0, to ch,
 * whose element size must be sizeof(int). Returns 0, or EINVAL (and changes
 * nothing) for a NULL channel, a wrong element size, an empty list, or a
 * signal that cannot be caught or belongs to the runtime: out of range,
 * SIGKILL, SIGSTOP, the synchronous faults SIGSEGV, SIGBUS, SIGFPE, SIGILL
 * (panics), and the C library's private real-time signals below SIGRTMIN.
 * Other errors (EMFILE, EAGAIN, ENOMEM) come from starting the machinery. */
TS_EXPORT int ts_signal_notify(ts_chan_t *ch, int sig, ...);

/* ts_signal_stop: no more signals to ch; restores the previous disposition
 * of every signal no channel wants any more and drops the library's
 * reference to ch. A channel that is not registered (or NULL) is fine.
 * When it returns, no delivery to ch is in progress. */
TS_EXPORT void ts_signal_stop(ts_chan_t *ch);

TS_END_DECLS

#endif
