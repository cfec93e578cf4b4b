#!/bin/bash
# bench/sync.sh [BUILD_DIR] — syncbench (taskscope) and go_sync (Go) side by
# side: RUNS alternating runs each, best / median ns per op, ratio of the
# medians (several workloads are bimodal on 2 cores, as bench/README.md says).
set -eu
B=${1:-build/release}
RUNS=${RUNS:-5}
[ -x "$B/bench/syncbench" ] || { echo "bench/sync.sh: build $B first" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$here/go_sync" && GO111MODULE=off go build -o "$out/go_sync" main.go)
stats() { sort -n | awk '{v[NR]=$1} END {printf "%.1f %.1f", v[1], v[int((NR+1)/2)]}'; }
printf "%-10s %16s %16s %8s\n" workload "taskscope b/m" "go b/m" "ratio(m)"
for w in rwmutex waitgroup once cancel; do
    for i in $(seq "$RUNS"); do
        "$B/bench/syncbench" "$w" | awk '{print "ts", $2}'
        "$out/go_sync" "$w" | awk '{print "go", $2}'
    done >"$out/$w"
    set -- $(awk '$1 == "ts" {print $2}' "$out/$w" | stats) \
           $(awk '$1 == "go" {print $2}' "$out/$w" | stats)
    printf "%-10s %7s / %-6s %7s / %-6s %7.2fx\n" "$w" $1 $2 $3 $4 \
        "$(awk -v a="$2" -v b="$4" 'BEGIN { print a / b }')"
done
