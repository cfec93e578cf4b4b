#!/usr/bin/env bash
# bench/overhead.sh — the profiler's recording cost: each tsbench workload
# with block and mutex recording off (TASKSCOPE_BLOCKPROFILERATE=0
# TASKSCOPE_MUTEXPROFILEFRACTION=0) and on (the defaults, or the rates given
# in ON_ENV), run alternately OVERHEAD_RUNS times each (default 5); prints
# the medians and the ratio on/off, and writes build/bench/overhead.tsv.
# Called by `make bench`; needs the release build of bench/tsbench
# (TSBENCH=path to use another).
#
#   ON_ENV="TASKSCOPE_BLOCKPROFILERATE=1"  bench/overhead.sh   # every event
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TSBENCH=${TSBENCH:-$ROOT/build/release/bench/tsbench}
RUNS=${OVERHEAD_RUNS:-5}
OUT=$ROOT/build/bench/overhead.tsv
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

run() { # env... -- workload n: prints ns/op
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$TSBENCH" "$1" "$2" | awk '{ print $2 }'
}

printf 'workload\toff_ns\ton_ns\tratio\n' >"$OUT"
printf '%-10s %10s %10s %7s\n' workload off_ns on_ns on/off
for spec in "${WORKLOADS[@]}"; do
    read -r w name n <<<"$spec"
    off=() on=()
    for ((i = 0; i < RUNS; i++)); do
        off+=("$(run TASKSCOPE_BLOCKPROFILERATE=0 TASKSCOPE_MUTEXPROFILEFRACTION=0 -- "$w" "$n")")
        on+=("$(run ${ON_ENV:-TASKSCOPE_PROFILE_ON=1} -- "$w" "$n")")
    done
    mo=$(printf '%s\n' "${off[@]}" | median)
    mn=$(printf '%s\n' "${on[@]}" | median)
    ratio=$(awk -v a="$mn" -v b="$mo" 'BEGIN { printf "%.2f", a / b }')
    printf '%s\t%s\t%s\t%s\n' "$w" "$mo" "$mn" "$ratio" >>"$OUT"
    printf '%-10s %10s %10s %7s\n' "$w" "$mo" "$mn" "$ratio"
done
