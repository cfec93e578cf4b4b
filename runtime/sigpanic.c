/* taskscope — synchronous faults as panics (Go's sigpanic).
 *
 * One handler for SIGSEGV, SIGBUS and SIGFPE, on the worker's alternate
 * stack. In order:
 *   1. a fault in the guard page of the running task is a stack overflow:
 *      overflow.c reports it and exits 2;
 *   2. never a panic (Go's canpanic): a fault at a PC inside libtaskscope,
 *      one while the thread holds a runtime lock (a C library call the
 *      runtime made: a recovery would leave the lock held), one in a task
 *      whose stack pointer is not on its stack, and a signal sent rather
 *      than raised by the CPU. It goes to the handler installed before
 *      ours, or to the default action (a core dump), as it would without
 *      taskscope;
 *   3. outside any protected frame, a handler installed before ours (the
 *      program's, a sanitizer's) gets the fault;
 *   4. otherwise the faulting context is redirected, so that the faulting
 *      function seems to call ts__sigpanic_entry: the PC after the faulting
 *      instruction is pushed as a return address, the PC set to the entry
 *      and the arguments put in registers. The handler returns, sigreturn
 *      restores the signal mask, and the panic runs as any panic does, on
 *      the task's own stack, where recover can stop it and the traceback
 *      starts at the faulting function. The faulting function's red zone is
 *      overwritten: it never resumes.
 * The handler itself calls nothing but ts__current_task (two loads) and,
 * for a fault it passes on, sigaction.
 *
 * Redirection is implemented for x86-64; elsewhere step 4 reports the
 * fault as step 2 does. The runtime's text is found as the executable
 * segment of the module holding this file's code: in a program linked with the
 * static library that module is the program, so step 2 cannot tell the
 * runtime's faults from the program's (docs/panic.md). */
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <taskscope/panic.h>
#include <ucontext.h>

#include "runtime/lock.h"
#include "runtime/sched.h"

bool ts__overflow_check(siginfo_t *info); /* overflow.c */

#if defined(__x86_64__)
/* The faulting function "calls" this: a frame record (rbp chain and CFI,
 * for the frame-pointer walk and libunwind), then the C function with the
 * stack aligned. Arguments arrive in rdi, rsi, rdx, rcx. */
void ts__sigpanic_entry(void);
__asm__(".text\n"
        ".globl ts__sigpanic_entry\n"
        ".hidden ts__sigpanic_entry\n"
        ".type ts__sigpanic_entry,@function\n"
        "ts__sigpanic_entry:\n"
        ".cfi_startproc\n"
        "    pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "    andq $-16, %rsp\n"
        "    call ts__sigpanic\n"
        "    ud2\n"
        ".cfi_endproc\n"
        ".size ts__sigpanic_entry, .-ts__sigpanic_entry\n");
#define CAN_REDIRECT 1
#else
#define CAN_REDIRECT 0
#endif

static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE};
static struct sigaction old_action[3];
static uintptr_t own_lo, own_hi; /* libtaskscope's text */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int index_of(int sig)
{
    return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : 2;
}

static bool has_old_handler(int sig)
{
    const struct sigaction *o = &old_action[index_of(sig)];
    if (o->sa_flags & SA_SIGINFO)
        return o->sa_sigaction != NULL;
    return o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN;
}

static void pass_on(int sig, siginfo_t *info, void *uctx)
{
    const struct sigaction *o = &old_action[index_of(sig)];
    if (o->sa_flags & SA_SIGINFO && o->sa_sigaction) {
        o->sa_sigaction(sig, info, uctx);
        return;
    }
    if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) {
        o->sa_handler(sig);
        return;
    }
    /* Default action: restore it and return; a faulting instruction runs
     * again and the kernel applies it (core dump, exit status). A signal
     * that was sent is sent again: it arrives once the handler returns. */
    signal(sig, SIG_DFL);
    if (info->si_code <= 0)
        raise(sig);
}

static bool in_taskscope(uintptr_t pc)
{
    return pc >= own_lo && pc < own_hi;
}

#if CAN_REDIRECT
/* can_panic: Go's canpanic. The fault came from the CPU (si_code > 0, not
 * kill or raise), in the program's code: not at a PC inside libtaskscope,
 * not while the thread holds a runtime lock (a C library call the runtime
 * made, memcpy of an element, say), and for a task on its own stack (not
 * the scheduler's, with room for the return address redirect pushes). */
static bool can_panic(const siginfo_t *info, const ucontext_t *uc,
                      const struct ts_task *t)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (info->si_code <= 0 || in_taskscope(pc) || ts__locks_held != 0)
        return false;
    return !t || (sp - 256 >= (uintptr_t)t->stack.lo && sp <= (uintptr_t)t->stack.hi);
}

static void redirect(int sig, siginfo_t *info, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    uintptr_t pc = (uintptr_t)g[REG_RIP];
    uintptr_t *sp = (uintptr_t *)(uintptr_t)g[REG_RSP];
    *--sp = pc + 1; /* a return address inside the faulting instruction */
    g[REG_RSP] = (greg_t)(uintptr_t)sp;
    g[REG_RIP] = (greg_t)(uintptr_t)ts__sigpanic_entry;
    g[REG_RDI] = sig;
    g[REG_RSI] = info->si_code;
    g[REG_RDX] = (greg_t)(uintptr_t)info->si_addr;
    g[REG_RCX] = (greg_t)pc;
}
#endif

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
    if (sig != SIGFPE && ts__overflow_check(info))
        return; /* not reached */
#if CAN_REDIRECT
    ucontext_t *uc = uctx;
    struct ts_task *t = ts__current_task();
    if (can_panic(info, uc, t) &&
        ((t ? t->pstate.top != NULL : ts__thread_protected()) ||
         !has_old_handler(sig))) {
        redirect(sig, info, uc);
        return;
    }
#endif
    pass_on(sig, info, uctx);
}

/* find_own: the executable segment of the module holding data (an
 * address in this file). */
static int find_own(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t target = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (target >= lo && target < hi) {
            own_lo = lo;
            own_hi = hi;
            return 1;
        }
    }
    return 0;
}

static void install(void)
{
    /* on_fault, not ts_pcall: in a non-PIE program that takes the address
     * of ts_pcall, that address is the program's PLT stub */
    dl_iterate_phdr(find_own, (void *)(uintptr_t)on_fault);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        sigaction(fault_signals[i], &sa, &old_action[i]);
}

void ts__sigpanic_init(void)
{
    pthread_once(&once, install);
}
