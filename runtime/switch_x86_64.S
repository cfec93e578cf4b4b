/* taskscope — context switch for x86-64 (System V ABI).
 *
 * void ts__switch(void **save_sp, void *new_sp)
 *   Pushes the callee-saved registers on the current stack, stores the stack
 *   pointer to *save_sp, loads new_sp and pops the registers saved there.
 *   Caller-saved registers are already dead at a call, so this is the whole
 *   state. MXCSR and the x87 control word are not switched: tasks share the
 *   thread's floating-point modes (as in Go).
 *
 * void *ts__stack_prepare(void *hi, void *arg)
 *   Lays out a fresh task's stack below hi so that the first ts__switch to
 *   the returned sp "returns" into ts__trampoline with the task in %r12:
 *
 *     high  +--------------------+  16-byte aligned top (hi & ~15)
 *           | ts__trampoline     |  return address popped by ret
 *           | rbp = 0            |
 *           | rbx = 0            |
 *           | r12 = task         |
 *           | r13, r14, r15 = 0  |
 *     low   +--------------------+  <- initial saved sp (top - 56)
 */
    .text
    .globl ts__switch
    .hidden ts__switch
    .type ts__switch, @function
ts__switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size ts__switch, .-ts__switch

    .globl ts__stack_prepare
    .hidden ts__stack_prepare
    .type ts__stack_prepare, @function
ts__stack_prepare:
    .cfi_startproc
    movq %rdi, %rax
    andq $-16, %rax
    subq $56, %rax              /* sp % 16 == 8, as after a call */
    xorl %ecx, %ecx
    movq %rcx, 0(%rax)          /* r15 */
    movq %rcx, 8(%rax)          /* r14 */
    movq %rcx, 16(%rax)         /* r13 */
    movq %rsi, 24(%rax)         /* r12 = arg */
    movq %rcx, 32(%rax)         /* rbx */
    movq %rcx, 40(%rax)         /* rbp = 0 */
    leaq ts__trampoline(%rip), %rcx
    movq %rcx, 48(%rax)         /* return address */
    ret
    .cfi_endproc
    .size ts__stack_prepare, .-ts__stack_prepare

    .globl ts__trampoline
    .hidden ts__trampoline
    .type ts__trampoline, @function
ts__trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    xorl %ebp, %ebp
    call ts__task_main
    ud2
    .cfi_endproc
    .size ts__trampoline, .-ts__trampoline

    .section .note.GNU-stack,"",@progbits
