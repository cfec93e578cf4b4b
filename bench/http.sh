#!/bin/bash
# bench/http.sh [BUILD_DIR] — what serving /debug/pprof costs a busy program:
# tsbench's pipeline workload (N items through channel stages, about 20 s here)
# runs with TASKSCOPE_HTTP on, alternately alone and while CLIENTS
# concurrent clients (curl loops) fetch profiles from it, each once per
# PERIOD seconds (goroutine, heap, allocs, block, mutex, goroutine?debug=2
# in turn, as scrapers do). A third side has the same clients fetch only
# /debug/pprof/cmdline, which costs the server next to nothing: it tells
# the clients' own CPU (50 curl processes a second on the same cores) from
# the cost of building profiles. Prints each run's ns/op, the medians, the
# slowdowns against running alone, and the failed fetches (must be none).
# RUNS alternating runs per side (default 3).
set -eu
B=${1:-build/release}
RUNS=${RUNS:-3} CLIENTS=${CLIENTS:-50} PERIOD=${PERIOD:-1} N=${N:-8000000}
[ -x "$B/bench/tsbench" ] || { echo "bench/http.sh: build $B first" >&2; exit 2; }
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$out"' EXIT
paths=(goroutine heap allocs block mutex "goroutine?debug=2")

# client I URL CHEAP: fetch profiles in turn (CHEAP=1: cmdline) until the
# app stops answering; one line per failure while the app still ran.
client() {
    local i=$1 url=$2 k=0 p
    while kill -0 "$app" 2>/dev/null; do
        p=${paths[$((k % 6))]}
        [ "$3" = 1 ] && p=cmdline
        if ! curl -fsS -o /dev/null --max-time 30 "$url/debug/pprof/$p" 2>"$out/curl.$i"; then
            kill -0 "$app" 2>/dev/null && echo "client $i: $p: $(cat "$out/curl.$i")"
        fi
        k=$((k + 1))
        sleep "$PERIOD"
    done
}

# run MODE: one tsbench run (alone, cmdline or profiles); prints its ns/op.
run() {
    TASKSCOPE_HTTP=127.0.0.1:0 "$B/bench/tsbench" pipeline "$N" >"$out/ts.out" 2>"$out/ts.err" &
    app=$!
    local url=""
    for _ in $(seq 100); do
        url=$(sed -n 's|.*serving /debug/pprof on \(http://[^/]*\)/debug/pprof/.*|\1|p' "$out/ts.err")
        [ -n "$url" ] && break
        sleep 0.05
    done
    [ -n "$url" ] || { echo "bench/http.sh: tsbench did not serve: $(cat "$out/ts.err")" >&2; exit 1; }
    if [ "$1" != alone ]; then
        for i in $(seq "$CLIENTS"); do
            client "$i" "$url" "$([ "$1" = cmdline ] && echo 1 || echo 0)" >>"$out/failures" &
        done
    fi
    wait "$app"
    wait
    awk '{print $2}' "$out/ts.out"
}

: >"$out/failures"
for i in $(seq "$RUNS"); do
    for m in alone cmdline profiles; do echo "$m $(run $m)"; done
done | tee "$out/runs"
med() { awk -v s="$1" '$1 == s {print $2}' "$out/runs" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=$(med alone) c=$(med cmdline) l=$(med profiles)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }
echo "pipeline n=$N, $CLIENTS clients each every ${PERIOD}s: alone $a ns/op;" \
     "clients on cmdline $c ($(ratio "$a" "$c")x); clients on profiles $l ($(ratio "$a" "$l")x," \
     "$(ratio "$c" "$l")x of the cmdline side); failed fetches: $(wc -l <"$out/failures")"
cat "$out/failures"
