#!/usr/bin/env bash
# bench/run.sh — taskscope against Go, workload by workload, on this machine.
#
# Builds bench/tsbench in the release configuration and the Go reference
# (../shared/bench/go beside the repo) with Debian's golang-go, offline; runs
# each workload with both binaries back to back, alternating, BENCH_RUNS times
# each (default 5), keeps the median, and writes build/bench/compare.tsv
# (workload, taskscope_ns, go_ns, ratio = taskscope/Go) plus an aligned table
# with the targets on stdout; every single run's figure goes to
# build/bench/samples.tsv. Called by `make bench`.
#
# Environment (all optional):
#   BENCH_RUNS=5            runs per side per workload (median kept)
#   BENCH_ONLY="a b"        run only these workloads
#   BENCH_N_<workload>=N    iterations, e.g. BENCH_N_pingpong=500000
#   BENCH_PARKED_N=N        parked tasks (default 100000; 1000000 works but
#                           costs taskscope ~2.5 min and 8 GB per run on this
#                           project's VMs, see bench/README.md; lowered if
#                           memory or taskscope cannot hold that many)
#   BENCH_PARKED_RUNS=N     runs per side for parked (default BENCH_RUNS)
#   BENCH_NO_BUILD=1        use the binaries already built
#   TSBENCH=path GOBENCH=path   use these binaries instead of building
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
OUT=$ROOT/build/bench
mkdir -p "$OUT"
LOG=$OUT/build.log
: >"$LOG"
RUNS=${BENCH_RUNS:-5}
START=$SECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
SAMPLES=$OUT/samples.tsv # every run's figure, in run order
printf 'workload\tside\tn\tvalue\n' >"$SAMPLES"

say() { printf '%s\n' "$*" >&2; }

# ---- build taskscope's side (release) ---------------------------------------
build_tsbench() {
    local bindir=""
    if [[ -f CMakePresets.json ]] && cmake --list-presets 2>/dev/null | grep '"release"' >/dev/null; then
        say "bench: configuring with cmake --preset release"
        local cfg
        if ! cfg=$(cmake --preset release 2>&1); then
            printf '%s\n' "$cfg" >>"$LOG"
            say "bench: cmake --preset release failed:"; tail -n 20 "$LOG" >&2
            return 1
        fi
        printf '%s\n' "$cfg" >>"$LOG"
        bindir=$(printf '%s\n' "$cfg" | sed -n 's/^-- Build files have been written to: //p' | tail -n 1)
        [[ -n $bindir ]] || bindir=$ROOT/build/release
        if cmake --list-presets=build 2>/dev/null | grep '"release"' >/dev/null; then
            cmake --build --preset release --target tsbench >>"$LOG" 2>&1
        else
            cmake --build "$bindir" --target tsbench >>"$LOG" 2>&1
        fi || { say "bench: building tsbench failed:"; tail -n 30 "$LOG" >&2; return 1; }
    else
        bindir=$ROOT/build/release
        say "bench: no release preset; configuring $bindir (Ninja, Release)"
        { cmake -S . -B "$bindir" -G Ninja -DCMAKE_BUILD_TYPE=Release &&
          cmake --build "$bindir" --target tsbench; } >>"$LOG" 2>&1 ||
            { say "bench: building tsbench failed:"; tail -n 30 "$LOG" >&2; return 1; }
    fi
    TSBENCH=$bindir/bench/tsbench
    [[ -x $TSBENCH ]] || { say "bench: $TSBENCH not found after the build"; return 1; }
}

# ---- build Go's side ----------------------------------------------------------
GODIR=$(cd "$ROOT/.." && pwd)/shared/bench/go
build_gobench() {
    if [[ ! -f $GODIR/main.go ]]; then
        say "bench: Go reference not found at $GODIR — running taskscope's side only"
        return 1
    fi
    if ! command -v go >/dev/null 2>&1; then
        say "bench: 'go' not installed (Debian: apt-get install golang-go) — running taskscope's side only"
        return 1
    fi
    say "bench: building the Go reference ($(go version 2>/dev/null | awk '{print $3}')) from $GODIR"
    (cd "$GODIR" &&
        GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local GOTELEMETRY=off \
        GOCACHE="$OUT/gocache" GOPATH="$OUT/gopath" CGO_ENABLED=0 \
        go build -o "$OUT/gobench" .) >>"$LOG" 2>&1 ||
        { say "bench: go build failed — running taskscope's side only:"; tail -n 20 "$LOG" >&2; return 1; }
    GOBENCH=$OUT/gobench
}

if [[ -z ${TSBENCH:-} ]]; then
    if [[ -n ${BENCH_NO_BUILD:-} ]]; then
        TSBENCH=$ROOT/build/release/bench/tsbench
    else
        build_tsbench || exit 1
    fi
fi
if [[ -z ${GOBENCH:-} ]]; then
    if [[ -n ${BENCH_NO_BUILD:-} && -x $OUT/gobench ]]; then
        GOBENCH=$OUT/gobench
    else
        build_gobench || GOBENCH=""
    fi
fi

# ---- running --------------------------------------------------------------------
# run_one BIN WORKLOAD N TIMEOUT: output in $RUN_OUT, status in $RUN_STATUS
# ("ok", "hang", "rc=N").
RUN_OUT=""
RUN_STATUS=""
run_one() {
    local bin=$1 w=$2 n=$3 to=$4 rc
    RUN_OUT=$(timeout -k 5 "$to" "$bin" "$w" "$n" 2>"$OUT/last.stderr")
    rc=$?
    case $rc in
    0) RUN_STATUS=ok ;;
    124) RUN_STATUS="hang (killed after ${to}s)" ;;
    137) RUN_STATUS="SIGKILL (OOM killer, or hang past the limit)" ;;
    1[3-9][0-9]) RUN_STATUS="signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null))" ;;
    *) RUN_STATUS="exit $rc" ;;
    esac
    if [[ $RUN_STATUS != ok ]]; then
        say "bench: $(basename "$bin") $w $n: $RUN_STATUS; stderr:"
        tail -n 5 "$OUT/last.stderr" >&2
    fi
}

# field NAME [COLUMN]: value on the line starting with NAME in $RUN_OUT
field() { printf '%s\n' "$RUN_OUT" | awk -v k="$1" -v c="${2:-2}" '$1 == k { print $c; exit }'; }

median() { # values as arguments; empty if none
    (($# > 0)) || return 0
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# results: RES_TS[row] RES_GO[row] RES_NOTE[row]
declare -A RES_TS RES_GO RES_NOTE RES_N
ROWS=()

# bench_pair ROW WORKLOAD NAME N RUNS TIMEOUT: alternating runs, medians kept
bench_pair() {
    local row=$1 w=$2 name=$3 n=$4 runs=$5 to=$6 r v
    local -a ts=() gov=()
    say "bench: $w n=$n x$runs"
    for ((r = 0; r < runs; r++)); do
        run_one "$TSBENCH" "$w" "$n" "$to"
        if [[ $RUN_STATUS == ok ]] && v=$(field "$name") && [[ -n $v ]]; then
            ts+=("$v")
            printf '%s\ttaskscope\t%s\t%s\n' "$row" "$n" "$v" >>"$SAMPLES"
        else
            RES_NOTE[$row]="taskscope ${RUN_STATUS/ok/no output}"
        fi
        if [[ -n $GOBENCH ]]; then
            run_one "$GOBENCH" "$w" "$n" "$to"
            if [[ $RUN_STATUS == ok ]] && v=$(field "$name") && [[ -n $v ]]; then
                gov+=("$v")
                printf '%s\tgo\t%s\t%s\n' "$row" "$n" "$v" >>"$SAMPLES"
            fi
        fi
    done
    ROWS+=("$row")
    RES_N[$row]=$n
    RES_TS[$row]=$(median "${ts[@]+"${ts[@]}"}")
    RES_GO[$row]=$(median "${gov[@]+"${gov[@]}"}")
}

# parked: two rows, parked_rss (bytes per task) and park_spawn (ns/op).
bench_parked() {
    local runs=${BENCH_PARKED_RUNS:-$RUNS} n=${BENCH_PARKED_N:-100000} r v b
    local -a ts_ns=() ts_b=() go_ns=() go_b=()
    # Size n to the machine: a 100k probe measures taskscope's bytes per task;
    # the run may use at most half of MemAvailable (Go needs ~2.7 KB/task).
    local probe=100000 avail per maxn
    if ((n > probe)); then
        run_one "$TSBENCH" parked "$probe" 120
        per=$(field parked_tasks 4)
        avail=$(awk '/^MemAvailable:/ { print $2 * 1024 }' /proc/meminfo)
        if [[ $RUN_STATUS == ok && -n $per && -n $avail ]]; then
            per=${per%.*}
            ((per < 4096)) && per=4096
            maxn=$((avail / 2 / per))
            if ((maxn < n)); then
                say "bench: parked: $n tasks x ${per} B would exceed half of MemAvailable; using $maxn"
                RES_NOTE[parked_rss]="n lowered from $n: memory"
                n=$maxn
            fi
        fi
    fi
    # If taskscope cannot hold n tasks (ts_go fails, mappings, OOM), halve n
    # until it can; Go then runs with the same n. The successful first run is
    # kept as a sample.
    local first=1 want=$n
    while :; do
        run_one "$TSBENCH" parked "$n" "$((120 + n / 2500))"
        if [[ $RUN_STATUS == ok ]] && [[ -n $(field park_spawn) ]]; then
            break
        fi
        if ((n <= 1000)); then
            first=0
            RES_NOTE[parked_rss]="taskscope failed even at n=$n ($RUN_STATUS)"
            break
        fi
        # tsbench says how far it got when ts_go fails; else halve.
        local got
        got=$(sed -n 's/.*ts_go failed after \([0-9]*\) tasks.*/\1/p' "$OUT/last.stderr" | head -n 1)
        if [[ -n $got ]] && ((got * 9 / 10 < n && got >= 2000)); then
            RES_NOTE[parked_rss]="n lowered from $want: taskscope's ts_go failed after $got tasks"
            n=$((got * 9 / 10 / 1000 * 1000))
        else
            RES_NOTE[parked_rss]="n lowered from $want: taskscope failed ($RUN_STATUS) at n=$n"
            n=$((n / 2))
        fi
        say "bench: parked: taskscope failed ($RUN_STATUS); retrying with n=$n"
    done
    say "bench: parked n=$n x$runs"
    for ((r = 0; r < runs; r++)); do
        if ((r > 0 || first == 0)); then
            run_one "$TSBENCH" parked "$n" "$((120 + n / 2500))"
        fi
        if [[ $RUN_STATUS == ok ]]; then
            v=$(field park_spawn); b=$(field parked_tasks 4)
            [[ -n $v ]] && ts_ns+=("$v")
            [[ -n $b ]] && ts_b+=("$b")
            printf 'parked\ttaskscope\t%s\t%s ns %s B\n' "$n" "$v" "$b" >>"$SAMPLES"
        fi
        if [[ -n $GOBENCH ]]; then
            run_one "$GOBENCH" parked "$n" "$((120 + n / 2500))"
            if [[ $RUN_STATUS == ok ]]; then
                v=$(field park_spawn); b=$(field parked_tasks 4)
                [[ -n $v ]] && go_ns+=("$v")
                [[ -n $b ]] && go_b+=("$b")
                printf 'parked\tgo\t%s\t%s ns %s B\n' "$n" "$v" "$b" >>"$SAMPLES"
            fi
        fi
    done
    ROWS+=(parked_rss park_spawn)
    RES_N[parked_rss]=$n
    RES_N[park_spawn]=$n
    RES_TS[parked_rss]=$(median "${ts_b[@]+"${ts_b[@]}"}")
    RES_GO[parked_rss]=$(median "${go_b[@]+"${go_b[@]}"}")
    RES_TS[park_spawn]=$(median "${ts_ns[@]+"${ts_ns[@]}"}")
    RES_GO[park_spawn]=$(median "${go_ns[@]+"${go_ns[@]}"}")
}

# workload, Go's output name, default n (~0.2-1 s per run here), target ratio
WORKLOADS=(
    "pingpong pingpong_unbuffered 2000000 0.5"
    "buffered chan_buffered_128 10000000 0.7"
    "spawn spawn_join 1000000 0.3"
    "select select_two_buffered 5000000 0.8"
    "timers timer_create_stop 2000000 0.5"
    "pipeline pipeline_4stage 500000 0.6"
    "fanout fanout_fanin 2000000 0.8"
    "mutex mutex_contended_4 4000000 1.0"
    "parked - - 1.5"
)
declare -A TARGET=([park_spawn]="-")
declare -A UNIT=([parked_rss]="B/task")

want() { [[ -z ${BENCH_ONLY:-} ]] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

for spec in "${WORKLOADS[@]}"; do
    read -r w name n target <<<"$spec"
    want "$w" || continue
    if [[ $w == parked ]]; then
        TARGET[parked_rss]=$target
        bench_parked
        continue
    fi
    nv=BENCH_N_$w
    TARGET[$w]=$target
    bench_pair "$w" "$w" "$name" "${!nv:-$n}" "$RUNS" 120
done

# ---- report -------------------------------------------------------------------------
TSV=$OUT/compare.tsv
{
    printf 'workload\ttaskscope_ns\tgo_ns\tratio\n'
    for row in "${ROWS[@]}"; do
        t=${RES_TS[$row]:-} g=${RES_GO[$row]:-}
        ratio=NA
        [[ -n $t && -n $g ]] && ratio=$(awk -v t="$t" -v g="$g" 'BEGIN { if (g > 0) printf "%.2f", t / g; else print "NA" }')
        printf '%s\t%s\t%s\t%s\n' "$row" "${t:-NA}" "${g:-NA}" "$ratio"
    done
} >"$TSV"

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
gover=$( [[ -n $GOBENCH ]] && go version 2>/dev/null | awk '{ print $3 }')
printf '\ntaskscope vs Go%s — %s, %s CPUs (%s)\n' "${gover:+ ($gover)}" "$(date -u +'%Y-%m-%d %H:%M UTC')" \
    "$(nproc)" "${cpu:-unknown CPU}"
printf 'median of %s alternating runs per side (parked: %s); ratio = taskscope / Go; ns/op unless noted\n' \
    "$RUNS" "${BENCH_PARKED_RUNS:-$RUNS}"
printf 'load average before: %s, after: %s (other work on the machine skews the figures)\n\n' \
    "${LOAD0:-?}" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
line() { printf '%-12s %10s %14s %14s %7s %7s  %s\n' "$@"; }
line workload n taskscope go ratio target result
line ------------ ---------- ------------ ------------ ------- ------- ------
met=0 missed=0
while IFS=$'\t' read -r row t g ratio; do
    [[ $row == workload ]] && continue
    target=${TARGET[$row]:-"-"}
    result="-"
    if [[ -n ${RES_NOTE[$row]:-} && $t == NA ]]; then
        result="FAIL (${RES_NOTE[$row]})"
    elif [[ $g == NA ]]; then
        result="no Go figure"
    elif [[ $target != "-" && $ratio != NA ]]; then
        if awk -v r="$ratio" -v x="$target" 'BEGIN { exit !(r <= x) }'; then
            result=met; met=$((met + 1))
        else
            result=missed; missed=$((missed + 1))
        fi
    fi
    [[ -n ${RES_NOTE[$row]:-} && $t != NA ]] && result="$result (${RES_NOTE[$row]})"
    unit=${UNIT[$row]:-}
    line "$row" "${RES_N[$row]}" "$t${unit:+ $unit}" "$g${unit:+ $unit}" "$ratio" "$target" "$result"
done <"$TSV"
printf '\ntargets met: %d, missed: %d; table in %s (%ds)\n' "$met" "$missed" "${TSV#"$ROOT"/}" $((SECONDS - START))
