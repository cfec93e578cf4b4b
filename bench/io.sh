#!/bin/bash
# bench/io.sh [BUILD_DIR] — iobench (taskscope tasks, plain threads) and
# go_io (Go) side by side: RUNS alternating runs each, best / median ns per
# round trip of a 64-byte ping-pong over a socketpair.
set -eu
B=${1:-build/release}
RUNS=${RUNS:-5}
N=${N:-100000}
[ -x "$B/bench/iobench" ] || { echo "bench/io.sh: build $B first" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$here/go_io" && GO111MODULE=off go build -o "$out/go_io" main.go)
for i in $(seq "$RUNS"); do
    "$B/bench/iobench" tasks "$N"
    "$B/bench/iobench" threads "$N"
    "$out/go_io" "$N"
done >"$out/all"
printf "%-22s %18s\n" workload "best / median ns"
for w in io_pingpong_tasks io_pingpong_threads io_pingpong_go; do
    awk -v w="$w" '$1 == w {print $2}' "$out/all" | sort -n |
        awk -v w="$w" '{v[NR]=$1} END {printf "%-22s %8.1f / %-8.1f\n", w, v[1], v[int((NR+1)/2)]}'
done
