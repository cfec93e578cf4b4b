#!/bin/bash
# check_probe.sh SCENARIO TASKSCOPE PROBE_LIB PROBE_APP WORKDIR WORKLOADS_SRC
#                TASKSCOPE_PROGRAM
# The probe's integration tests (tests/probe/CMakeLists.txt says what each
# checks).
# Profiles are read back with `go tool pprof`; exit 77 (skip) without go.
set -u
scenario=$1 ts=$2 lib=$3 app=$4 work=$5
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -q -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "$1 lacks '$2'"; }; }
top() { go tool pprof -top -nodefraction=0 "$@" 2>&1; }

case $scenario in
profiles)
    command -v go >/dev/null || exit 77
    TASKSCOPE_MEMPROFILERATE=1 "$ts" run -o out -- "$app" contend >stdout 2>stderr
    rc=$?
    [ $rc -eq 0 ] || { cat stderr; fail "run exited $rc"; }
    has stdout "counter 200"
    has stderr "taskscope run: output in $work/out"
    has stderr "mutex (delay): total"
    has stderr "lock-order inversions: see $work/out/lockorder.txt"
    for p in goroutine block mutex heap allocs threadcreate; do
        [ -s out/$p.pb.gz ] || fail "no $p profile"
        go tool pprof -raw out/$p.pb.gz >/dev/null 2>&1 || fail "pprof -raw rejects $p"
    done
    top out/mutex.pb.gz >mutex.top
    has mutex.top "pthread_mutex_unlock"
    has mutex.top "hold_lock"
    top out/block.pb.gz >block.top
    for f in pthread_mutex_lock pthread_cond_wait pthread_join hold_lock waiter \
             pthread_rwlock_rdlock sem_wait pthread_barrier_wait other_waiter; do
        has block.top "$f"
    done
    top -sample_index=inuse_space out/heap.pb.gz >heap.top
    has heap.top "leak_some"
    grep -Eq '^ +(3MB|307[0-9]kB) .*leak_some$' heap.top || { cat heap.top; fail "3 MiB in use at leak_some"; }
    top out/threadcreate.pb.gz >tc.top
    grep -Eq '^ +6 .*pthread_create$' tc.top || { cat tc.top; fail "6 threads at pthread_create"; }
    has out/lockorder.txt "lock-order inversion (potential deadlock) among 2 locks"
    has out/lockorder.txt "ab(...)"
    has out/lockorder.txt "ba(...)"
    has out/heap.txt "leak_some"
    has out/threads.txt "goroutine"
    ;;
dump)
    "$ts" run -o out -- "$app" block >stdout 2>stderr &
    runner=$!
    for _ in $(seq 100); do grep -q ready stdout 2>/dev/null && break; sleep 0.1; done
    # the program is the runner's child (pgrep -f would match the runner too)
    pid=$(pgrep -P "$runner") || fail "the program did not start"
    for _ in $(seq 100); do
        "$ts" dump "$pid" >dump.txt 2>dump.err || { cat dump.err; fail "dump failed"; }
        grep -q "\[pthread_mutex_lock" dump.txt && break
        sleep 0.1
    done
    kill "$pid"
    wait $runner
    [ $? -eq 143 ] || fail "run's status after SIGTERM: want 143"
    # SIGTERM's default action comes after the output
    [ -s out/mutex.pb.gz ] && [ -s out/threads.txt ] || fail "no output after SIGTERM"
    has stderr "taskscope run: output in $work/out"
    has dump.txt "\[pthread_mutex_lock"
    has dump.txt "blocker(...)"
    has dump.txt "created by block"
    "$ts" dump --json "$pid" >/dev/null 2>&1 && fail "dump of an ended process succeeded"
    ;;
deadlock)
    "$ts" run -o out -- "$app" deadlock >stdout 2>stderr &
    runner=$!
    for _ in $(seq 100); do [ -s out/deadlock.txt ] && break; sleep 0.1; done
    pid=$(pgrep -P "$runner") || fail "the program did not start"
    "$ts" dump "$pid" >dump.txt 2>&1
    kill "$pid"
    wait $runner
    [ -s out/deadlock.txt ] || { cat stderr; fail "no deadlock report within 10 s"; }
    # the live dump shows both threads stuck, at their lines
    [ $(grep -c "\[pthread_mutex_lock" dump.txt) -eq 2 ] || { cat dump.txt; fail "dump: 2 blocked threads"; }
    has dump.txt "take_a_then_b(...)"
    has dump.txt "take_b_then_a(...)"
    has out/deadlock.txt "deadlock: 2 threads wait for each other"
    has out/deadlock.txt "take_a_then_b(...)"
    has out/deadlock.txt "take_b_then_a(...)"
    has out/deadlock.txt "waits for mutex 0x[0-9a-f]* held by thread [0-9]"
    has stderr "deadlock: 2 threads wait for each other"
    [ $(grep -c "deadlock: 2 threads" out/deadlock.txt) -eq 1 ] || fail "reported more than once"
    ;;
workloads)
    # ../shared/bench/c/workloads.c, unmodified: the contended mutex at its
    # unlock line, in the mutex profile
    command -v go >/dev/null || exit 77
    src=$6
    line=$(awk '/mutex_worker/ {in_fn = 1} in_fn && /pthread_mutex_unlock/ {print NR; exit}' "$src")
    "$ts" run -o out -- "$app" mutex 4 200000 >stdout 2>stderr || fail "workloads mutex"
    go tool pprof -top -lines -nodefraction=0 out/mutex.pb.gz >mutex.top 2>&1
    has mutex.top "mutex_worker .*workloads.c:$line"
    "$ts" run -o out2 -- "$app" condvar 4 20000 >stdout 2>stderr || fail "workloads condvar"
    go tool pprof -top -nodefraction=0 out2/block.pb.gz >block.top 2>&1
    has block.top "pthread_cond_wait"
    ;;
robust)
    out=$(LD_PRELOAD=$lib TASKSCOPE_PROBE_QUIET=1 "$app" dlsym) || fail "dlsym scenario"
    [ "$out" = "dlsym ok" ] || fail "dlsym scenario printed '$out'"
    out=$(LD_PRELOAD=$lib TASKSCOPE_PROBE_QUIET=1 "$app" forks) || fail "forks scenario"
    [ "$out" = "forked 200" ] || fail "forks scenario printed '$out'"
    [ $(ls -d taskscope.probe_app.* | wc -l) -eq 2 ] || fail "one output per run, none for the children"
    # 378 lock orders learnt, none inverted; a recursive relock is no order
    out=$(timeout 20 env LD_PRELOAD=$lib TASKSCOPE_PROBE_QUIET=1 TASKSCOPE_PROBE_OUT=ord \
          "$app" ordered 2>err) || fail "ordered scenario (or too slow)"
    [ "$out" = "ordered ok" ] || fail "ordered scenario printed '$out'"
    [ ! -e ord/lockorder.txt ] && ! grep -q inversion err || { cat err; fail "false inversion"; }
    ;;
children)
    "$ts" run -o plain -- "$app" exec >stdout 2>stderr || fail "exec scenario"
    has stdout "child LD_PRELOAD=\[\]"
    LD_PRELOAD=/nonexistent-keep.so "$ts" run -o kept -- "$app" exec >stdout 2>stderr
    has stdout "child LD_PRELOAD=\[/nonexistent-keep.so\]"
    "$ts" run --follow -o follow -- "$app" exec >stdout 2>stderr || fail "--follow"
    has stdout "libtaskscope_probe.so"
    # exec replaces probe_app's image (its output is lost with it); the
    # shell it became writes its own
    has stderr "taskscope run: output in $work/follow/dash\.[0-9]*\$"
    [ -s follow/dash.*/threadcreate.pb.gz ] || fail "--follow: no output of the shell"
    ;;
cli)
    "$ts" run -- "$app" status >/dev/null 2>stderr
    [ $? -eq 7 ] || fail "the program's status is not kept"
    ls -d taskscope.probe_app.* >/dev/null || fail "default output directory"
    mkdir full && touch full/x
    "$ts" run -o full -- "$app" status 2>err; [ $? -eq 2 ] || fail "-o on a non-empty dir"
    has err "full exists and is not empty"
    "$ts" run --profile=mutex,nope -- "$app" status 2>err; [ $? -eq 2 ] || fail "bad profile"
    has err 'unknown profile "nope"'
    "$ts" run 2>err; [ $? -eq 2 ] || fail "no command"
    "$ts" run -- /nonexistent/program 2>err; [ $? -eq 2 ] || fail "missing program"
    has err "/nonexistent/program"
    "$ts" run --profile=mutex -o only -- "$app" status 2>/dev/null
    [ -f only/mutex.pb.gz ] && [ ! -f only/heap.pb.gz ] || fail "--profile=mutex"
    # a taskscope program (sample pipeline, linked with libtaskscope.so)
    LD_PRELOAD=$lib TASKSCOPE_PROBE_OUT=aside "$7" >/dev/null 2>err || fail "pipeline under the probe"
    has err "carries the taskscope runtime"
    [ ! -e aside ] || fail "the probe wrote output for a taskscope program"
    ;;
*) fail "unknown scenario $scenario" ;;
esac
echo "ok: $scenario"
