# how many lines the monitor prints before the cancel and how many values
# pass the pipeline before the timeout depend on timing; the program checks
# the invariants itself
+ goroutine monitoring\.\.\.
ok, telling the monitor to stop
monitor exited, stopped\.\.\. \(context canceled\)
Search: timeout 60ms
+ square: [0-9]+
pipeline stopped: context deadline exceeded
values were 1, 4, 9, \.\.\. in order: yes
stopped at the deadline, not before: yes
every task exited: yes
