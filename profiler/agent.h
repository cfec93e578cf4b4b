/* taskscope — the in-process agent: one helper thread that answers
 * `taskscope dump PID` on an abstract unix socket (TASKSCOPE_AGENT=1) and
 * turns SIGQUIT into Go's goroutine dump, both off the signal handler. */
#ifndef TASKSCOPE_PROFILER_AGENT_H
#define TASKSCOPE_PROFILER_AGENT_H

/* ts__agent_start: install the SIGQUIT handler (unless the program has its
 * own) and start the agent thread. Once; called at profiler start. */
void ts__agent_start(void);

#endif
