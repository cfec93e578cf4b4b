# the elapsed time varies; the program checks it is not before the fastest
# signal and that only the fastest fired
<-or\(sig\(2h\), sig\(5m\), sig\(1s\)\)  \(seed 002\)
done after [0-9]+\.[0-9]+s
fired: sig\(1s\)
or-tasks started by the recursion: 1
only the fastest fired, not before its time: yes
every or-task and signal task exited: yes
<-or\(sig\(2h\), sig\(5m\), sig\(1h\), sig\(1m\), sig\(200ms\)\)
done after [0-9]+\.[0-9]+s
fired: sig\(200ms\)
or-tasks started by the recursion: 2
only the fastest fired, not before its time: yes
every or-task and signal task exited: yes
