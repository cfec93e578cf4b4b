#!/usr/bin/env bash
# bench/overhead.sh — the profiler's recording cost: each tsbench workload
# with block and mutex recording off (TASKSCOPE_BLOCKPROFILERATE=0
# TASKSCOPE_MUTEXPROFILEFRACTION=0) and on (the defaults, or the rates given
# in ON_ENV), run alternately OVERHEAD_RUNS times each (default 9); prints
# the best (minimum) and median of each side and both ratios on/off, and
# writes build/bench/overhead.tsv. Several workloads are bimodal on 2 Ps
# (bench/README.md: whether the tasks share one worker or spread over
# both), so a median may compare one mode with the other; the minimum
# compares the fast mode with itself.
# Called by `make bench`; needs the release build of bench/tsbench
# (TSBENCH=path to use another; OVERHEAD_OUT=path for the .tsv, OFF_ENV
# for the "off" side's environment).
#
#   ON_ENV="TASKSCOPE_BLOCKPROFILERATE=1"  bench/overhead.sh   # every event
#   OVERHEAD_ONLY="pingpong fanout"        bench/overhead.sh   # a subset
#   OFF_ENV=TASKSCOPE_PROFILE_ON=1 ON_ENV=TASKSCOPE_CPUPROFILE=/tmp/cpu.pb.gz \
#                                          bench/overhead.sh   # CPU profiling
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TSBENCH=${TSBENCH:-$ROOT/build/release/bench/tsbench}
RUNS=${OVERHEAD_RUNS:-9}
OUT=${OVERHEAD_OUT:-$ROOT/build/bench/overhead.tsv}
mkdir -p "$(dirname "$OUT")"
[[ -x $TSBENCH ]] || { echo "overhead.sh: no $TSBENCH (make bench builds it)" >&2; exit 2; }

# workload name n
WORKLOADS=(
    "pingpong pingpong_unbuffered 1000000"
    "buffered chan_buffered_128 5000000"
    "spawn spawn_join 500000"
    "select select_two_buffered 2000000"
    "timers timer_create_stop 1000000"
    "pipeline pipeline_4stage 200000"
    "fanout fanout_fanin 1000000"
)

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { sort -g | awk 'NR == 1'; }

run() { # env... -- workload n: prints ns/op
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$TSBENCH" "$1" "$2" | awk '{ print $2 }'
}

printf 'workload\toff_min\ton_min\tratio_min\toff_median\ton_median\tratio_median\n' >"$OUT"
printf '%-10s %9s %9s %7s   %9s %9s %7s\n' workload off_min on_min ratio off_med on_med ratio
for spec in "${WORKLOADS[@]}"; do
    read -r w name n <<<"$spec"
    [[ -z ${OVERHEAD_ONLY:-} || " $OVERHEAD_ONLY " == *" $w "* ]] || continue
    off=() on=()
    for ((i = 0; i < RUNS; i++)); do
        off+=("$(run ${OFF_ENV:-TASKSCOPE_BLOCKPROFILERATE=0 TASKSCOPE_MUTEXPROFILEFRACTION=0} -- "$w" "$n")")
        on+=("$(run ${ON_ENV:-TASKSCOPE_PROFILE_ON=1} -- "$w" "$n")")
    done
    lo=$(printf '%s\n' "${off[@]}" | minimum)
    ln=$(printf '%s\n' "${on[@]}" | minimum)
    mo=$(printf '%s\n' "${off[@]}" | median)
    mn=$(printf '%s\n' "${on[@]}" | median)
    rl=$(awk -v a="$ln" -v b="$lo" 'BEGIN { printf "%.2f", a / b }')
    rm=$(awk -v a="$mn" -v b="$mo" 'BEGIN { printf "%.2f", a / b }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$lo" "$ln" "$rl" "$mo" "$mn" "$rm" >>"$OUT"
    printf '%-10s %9s %9s %7s   %9s %9s %7s\n' "$w" "$lo" "$ln" "$rl" "$mo" "$mn" "$rm"
done
