/* taskscope — stack overflow reports: guard-page faults on a sigaltstack.
 *
 * Every worker M runs with an alternate signal stack. A SIGSEGV/SIGBUS whose
 * fault address lies in the guard page of the task running on that M is a
 * stack overflow: report it, naming the task and where it was created, and
 * exit 2 (Go's "fatal error: stack overflow"), never a recoverable panic.
 * The handler is sigpanic.c's, which asks ts__overflow_check first.
 *
 * The handler formats with snprintf into a stack buffer and writes with
 * write(2); the only non-async-signal-safe call is dladdr for the creation
 * site, acceptable on a path that ends the process. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/race.h"
#include "runtime/sched.h"

#define ALTSTACK_SIZE (64 * 1024)

/* ts__overflow_check: report and exit when info is a guard-page fault of
 * the running task; false otherwise. */
bool ts__overflow_check(siginfo_t *info);
bool ts__overflow_check(siginfo_t *info)
{
    struct ts_m *m = ts__getm();
    struct ts_task *t = m ? m->curr : NULL;
    if (!t || !ts__stack_in_guard(&t->stack, info->si_addr))
        return false;
    ts__race_acquire(m->altstack);
    char buf[256];
    snprintf(buf, sizeof buf,
             "runtime: task %llu stack exceeds %zu-byte limit\n"
             "fatal error: stack overflow\n\ngoroutine %llu [running]:\n"
             "created by goroutine %llu at:\n",
             (unsigned long long)t->id, ts__stack_size(),
             (unsigned long long)t->id, (unsigned long long)t->parent_id);
    ts__put_stderr(buf, strlen(buf));
    ts__print_pc(t->create_pc);
    _exit(2);
}

void ts__overflow_thread_init(struct ts_m *m)
{
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        ts__fatal("taskscope: cannot map a signal stack for worker %d", m->id);
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        ts__fatal("taskscope: sigaltstack failed for worker %d", m->id);
    m->altstack = mem;
    ts__race_release(mem); /* the handler, in any task's fiber, uses it */
}
