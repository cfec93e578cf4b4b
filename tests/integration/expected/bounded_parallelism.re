# the maximum concurrency reached depends on scheduling (normally 3); the
# bound is checked by the program. Part 2's lines come in any order.
buffered channel as a semaphore: 20 tasks, bound 3
max concurrency observed: [1-3]
never exceeded the bound: yes
tasks completed: 20
unbuffered channel, 3 workers, 10 tasks
+ go task = [0-9], goroutine count = [0-9]+
every task handled exactly once: yes
