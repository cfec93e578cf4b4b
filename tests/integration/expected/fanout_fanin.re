# fan-in order and the number of workers (ts_procs) vary from run to run;
# the program checks the invariants itself and prints them deterministically
seed 000: producer -> [0-9]+ x transformToLower -> merge -> [0-9]+ x transformToTitle -> merge -> sink
(FOO|BAR|BAX)
(FOO|BAR|BAX)
(FOO|BAR|BAX)
received \(sorted\): BAR BAX FOO
set of values is \{BAR, BAX, FOO\}: yes
seed 002: primes in 1\.\.20000, fanned out to [0-9]+ primeFinders
primes received: 2262 \(sequential: 2262\)
sum of primes: 21171191 \(sequential: 21171191\)
every prime exactly once: yes
