# sample.safe_run — the "east" worker divides by zero; safeRun recovers and
# logs the panic with its stack (ts_panic_print, Go's format); the other
# three finish and Wait returns. The stack's frames between the panicking
# function and "created by" depend on the compiler and the optimisation
# level: only their shape is checked.
Wrap: 4 workers, one per region
\[req-42\] ERROR \[safeRun\] Goroutine Recover: runtime error: integer divide by zero, stack is
panic: runtime error: integer divide by zero
\[signal SIGFPE: floating-point exception code=0x[0-9a-f]+ addr=0x[0-9a-f]+ pc=0x[0-9a-f]+\]

goroutine [0-9]+ \[running\]:
batch_average\(\.\.\.\)
[[:blank:]]+.*/sample_apps/safe_run\.c:[0-9]+ \+0x[0-9a-f]+
+ ([A-Za-z_][A-Za-z0-9_.]*\(\.\.\.\)|[[:blank:]]+/.*:[0-9]+( \+0x[0-9a-f]+)?)
created by wg_wrap in goroutine 1
[[:blank:]]+.*/sample_apps/safe_run\.c:[0-9]+ \+0x[0-9a-f]+
Wait: 4 of 4 wrapped tasks done
north: average 12
south: average 22
east: no result \(its task panicked; safeRun recovered\)
west: average 8
the program survived the panic: yes
