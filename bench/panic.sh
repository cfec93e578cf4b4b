#!/bin/bash
# bench/panic.sh [BUILD_DIR] — the cost of a protected frame: taskscope's
# panicbench and Go's go_defer side by side, RUNS alternating runs each,
# best / median ns per operation, and the ratio of the bests.
set -eu
B=${1:-build/release}
RUNS=${RUNS:-5}
[ -x "$B/bench/panicbench" ] || { echo "bench/panic.sh: build $B first" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$here/go_defer" && GOFLAGS=-mod=mod GO111MODULE=off go build -o "$out/go_defer" main.go)
stats() { sort -n | awk '{v[NR]=$1} END {printf "%.1f %.1f", v[1], v[int((NR+1)/2)]}'; }
printf "%-8s %16s %16s %8s\n" workload "taskscope b/m" "go b/m" "ratio"
for w in plain pcall panic; do
    for i in $(seq "$RUNS"); do
        "$B/bench/panicbench" "$w" | awk '{print "ts", $2}'
        "$out/go_defer" "$w" | awk '{print "go", $2}'
    done >"$out/$w"
    ts=$(awk '$1 == "ts" {print $2}' "$out/$w" | stats)
    go=$(awk '$1 == "go" {print $2}' "$out/$w" | stats)
    set -- $ts $go
    printf "%-8s %7s / %-6s %7s / %-6s %7.2fx\n" "$w" $1 $2 $3 $4 \
        "$(awk -v a="$1" -v b="$3" 'BEGIN { print a / b }')"
done
