#!/usr/bin/env bash
# tools/demo.sh BUILD_DIR — what `make demo` shows: a sample app under the
# profiler, then the deadlock detector and `taskscope leaks` on the seed
# programs that deadlock and leak, and the LD_PRELOAD probe on a plain
# pthread program. Every step prints the command it runs.
set -uo pipefail
build=${1:?usage: tools/demo.sh BUILD_DIR}
apps=$build/sample_apps
cli=$build/tools/taskscope
out=$build/demo
rm -rf "$out" && mkdir -p "$out" || exit 2

run() { printf '\n$ %s\n' "$*"; "$@"; }
title() { printf '\n==== %s ====\n' "$*"; }

title "1. a four-stage pipeline, profiled: block profile written at exit"
TASKSCOPE_PROFILE=goroutine,block,mutex TASKSCOPE_PROFILE_DIR=$out \
TASKSCOPE_BLOCKPROFILERATE=1 run "$apps/pipeline" >/dev/null
ls "$out"
run "$cli" top -n 6 "$out/block.pb.gz"

title "2. seed 000's pipeline that forgets close(): the deadlock detector"
run "$apps/pipeline_deadlock"
echo "(exit status $?, as Go's)"

title "3. a request handler that leaks a task per timed-out request"
run "$cli" leaks -- "$apps/leak_request_handler"
echo "(exit status $?: 1 = leaks found)"

title "4. an ordinary pthread program (no taskscope in it) under the probe"
run "$cli" run -o "$out/probe" -- "$build/tests/probe/probe_app" contend
echo "(exit status $?: the program's own)"
run "$cli" top -n 5 "$out/probe/mutex.pb.gz"
