#!/bin/bash
# bench/probe.sh [BUILD_DIR] — ns per operation of plain pthread programs
# without and with libtaskscope_probe.so, side by side in one run, RUNS
# times each (best and median): ../shared/bench/c/workloads.c (malloc,
# mutex, condvar; 4 threads; the issue's targets) built here with gcc -O2,
# and bench/probebench.c (single calls).
set -eu
B=${1:-build/release}
RUNS=${RUNS:-5}
[ -x "$B/bench/probebench" ] || { echo "bench/probe.sh: build $B first (make build / cmake --build --preset release)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
stats() { sort -n | awk '{v[NR]=$1} END {printf "%.1f %.1f", v[1], v[int((NR+1)/2)]}'; }
here=$(cd "$(dirname "$0")" && pwd)
gcc -O2 -g -pthread "$here/../../shared/bench/c/workloads.c" -o "$out/workloads"

# side NAME CMD...: one row, CMD run RUNS times without and with the probe
side() {
    local name=$1 off on
    shift
    off=$(for i in $(seq "$RUNS"); do "$@" | awk '{print $2}'; done | stats)
    on=$(for i in $(seq "$RUNS"); do
        LD_PRELOAD=$B/probe/libtaskscope_probe.so TASKSCOPE_PROBE_QUIET=1 \
            TASKSCOPE_PROBE_OUT="$out/%p" "$@" | awk '{print $2}'
    done | stats)
    set -- $off $on
    printf "%-18s %7s / %-6s %7s / %-6s %8.2fx\n" "$name" $1 $2 $3 $4 \
        "$(awk -v a="$3" -v b="$1" 'BEGIN { print a / b }')"
}

printf "%-18s %16s %16s %10s\n" workload "off best/median" "on best/median" "ratio(best)"
side "malloc 4x1M" "$out/workloads" malloc 4 1000000
side "mutex 4x1M" "$out/workloads" mutex 4 1000000
side "condvar 4x200k" "$out/workloads" condvar 4 200000
for w in lock nested malloc contended; do
    side "probebench $w" "$B/bench/probebench" $w
done
