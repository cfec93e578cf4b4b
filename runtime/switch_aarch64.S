/* taskscope — context switch for aarch64 (AAPCS64).
 *
 * void ts__switch(void **save_sp, void *new_sp)
 *   Stores the callee-saved registers below the current stack pointer,
 *   stores that sp to *save_sp, loads new_sp and reloads the registers saved
 *   there. Callee-saved are x19-x28, x29 (fp), x30 (lr) and the low 64 bits
 *   of v8-v15 (d8-d15); everything else is dead at a call, so this is the
 *   whole state. x18 (platform register) is not touched. FPCR/FPSR are not
 *   switched: tasks share the thread's floating-point modes (as in Go). sp
 *   stays 16-byte aligned throughout (the frame is 160 bytes), as the
 *   hardware's stack alignment check demands.
 *
 * void *ts__stack_prepare(void *hi, void *arg)
 *   Lays out a fresh task's stack below hi so that the first ts__switch to
 *   the returned sp "returns" into ts__trampoline with the task in x19; the
 *   saved fp/lr pair sits at the top of the frame like an ordinary frame
 *   record:
 *
 *     high  +--------------------+  16-byte aligned top (hi & ~15)
 *           | x30 = trampoline   |  sp + 152: ret branches here
 *           | x29 = 0            |  sp + 144
 *           | d8 .. d15 = 0      |  sp + 80
 *           | x20 .. x28 = 0     |  sp + 8
 *           | x19 = task         |  sp + 0
 *     low   +--------------------+  <- initial saved sp (16-byte aligned)
 *
 * ts__trampoline calls ts__task_main(task) with x29 = 0 and x30 = 0 (bl
 * then sets x30 to its own return address): the frame record ts__task_main
 * pushes holds fp 0, so a frame-pointer walk (panic.c, the profiler) ends
 * there, and the CFI marks the return address undefined, so DWARF unwinders
 * stop too. ts__task_main never returns (brk if it did). */
    .text
    .globl ts__switch
    .hidden ts__switch
    .type ts__switch, %function
    .p2align 4
ts__switch:
    .cfi_startproc
    sub sp, sp, #160
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp d8, d9, [sp, #80]
    stp d10, d11, [sp, #96]
    stp d12, d13, [sp, #112]
    stp d14, d15, [sp, #128]
    stp x29, x30, [sp, #144]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp d8, d9, [sp, #80]
    ldp d10, d11, [sp, #96]
    ldp d12, d13, [sp, #112]
    ldp d14, d15, [sp, #128]
    ldp x29, x30, [sp, #144]
    add sp, sp, #160
    ret
    .cfi_endproc
    .size ts__switch, .-ts__switch

    .globl ts__stack_prepare
    .hidden ts__stack_prepare
    .type ts__stack_prepare, %function
    .p2align 4
ts__stack_prepare:
    .cfi_startproc
    and x0, x0, #~15
    sub x0, x0, #160
    stp x1, xzr, [x0, #0]       /* x19 = arg, x20 */
    stp xzr, xzr, [x0, #16]     /* x21, x22 */
    stp xzr, xzr, [x0, #32]     /* x23, x24 */
    stp xzr, xzr, [x0, #48]     /* x25, x26 */
    stp xzr, xzr, [x0, #64]     /* x27, x28 */
    stp xzr, xzr, [x0, #80]     /* d8, d9 */
    stp xzr, xzr, [x0, #96]     /* d10, d11 */
    stp xzr, xzr, [x0, #112]    /* d12, d13 */
    stp xzr, xzr, [x0, #128]    /* d14, d15 */
    adr x9, ts__trampoline
    stp xzr, x9, [x0, #144]     /* x29 = 0, x30 = ts__trampoline */
    ret
    .cfi_endproc
    .size ts__stack_prepare, .-ts__stack_prepare

    .globl ts__trampoline
    .hidden ts__trampoline
    .type ts__trampoline, %function
    .p2align 4
ts__trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x19
    mov x29, xzr
    mov x30, xzr
    bl ts__task_main
    brk #0x1
    .cfi_endproc
    .size ts__trampoline, .-ts__trampoline

    .section .note.GNU-stack,"",%progbits
