#!/usr/bin/env bash
# check_pprof.sh — validates taskscope's pprof output with Go's own tools
# (CONVENTIONS.md §6 items 1-5). Run by CTest (tests/pprof/CMakeLists.txt).
#
#   check_pprof.sh validate WRITER WORKDIR
#       runs WRITER (pprof_writer.c) and checks each profile it writes:
#       gzip magic 1f 8b; `go tool pprof -raw` and `-top` exit 0, print no
#       "Main binary filename not available"; the expected functions, labels,
#       values, period and sample types appear; mapping 1 is WRITER with the
#       build id readelf reads from it and all four symbolized flags.
#   check_pprof.sh go-reference WRITER WORKDIR GOBENCH_SRC
#       builds ../shared/bench/go (GOBENCH_SRC), has it write Go's own
#       goroutine/block profiles, and diffs their `-raw` headers (period
#       type, period, sample types) against WRITER's, line for line.
#
# Exit 0 = pass, 1 = fail, 77 = skipped (no Go toolchain at all; CTest
# reports the test as skipped). Each failure prints "pprof: FAIL: <what>".
set -euo pipefail

fail() { echo "pprof: FAIL: $*" >&2; exit 1; }
step() { echo "pprof: $*"; }

# find_go: the go command. PATH first, then where Debian's golang-go and
# upstream tarballs put it (ctest may run with a minimal PATH).
find_go() {
    local c
    if c=$(command -v go 2>/dev/null); then echo "$c"; return 0; fi
    for c in /usr/lib/go/bin/go $(ls -d /usr/lib/go-*/bin/go 2>/dev/null | sort -Vr) \
             /usr/local/go/bin/go "${HOME:-/nonexistent}/go/bin/go"; do
        if [ -x "$c" ]; then echo "$c"; return 0; fi
    done
    return 1
}

# pprof_tool OUT ARGS...: `go tool pprof ARGS` with stdout to OUT and stderr
# to OUT.err; fails on a non-zero exit or on the missing-binary warning.
pprof_tool() {
    local out=$1; shift
    if ! "$GO" tool pprof "$@" >"$out" 2>"$out.err"; then
        cat "$out" "$out.err" >&2
        fail "go tool pprof $* exited non-zero"
    fi
    if grep -q "Main binary filename not available" "$out" "$out.err"; then
        cat "$out.err" >&2
        fail "go tool pprof $*: \"Main binary filename not available\""
    fi
}

# expect FILE PATTERN WHAT: FILE has a line matching the ERE PATTERN.
expect() {
    if ! grep -Eq -- "$2" "$1"; then
        sed 's/^/    /' "$1" >&2
        fail "$3: no line matching /$2/ in $(basename "$1")"
    fi
}

# loc_re FN: a `-raw` location line of FN from pprof_writer.c with its line
# number: the location's own first line, or a further line of it when FN
# had another function inlined into it (optimized builds inline the
# writer's helpers into main).
loc_re() {
    echo "^ +([0-9]+: 0x[0-9a-f]+ M=1 )?$1 .*pprof_writer\\.c:[0-9]+ s=[0-9]+\$"
}

check_gzip_magic() {
    local magic
    magic=$(od -An -tx1 -N2 "$1" | tr -d ' \n')
    [ "$magic" = 1f8b ] || fail "$(basename "$1") starts with '$magic', not the gzip magic 1f8b"
}

# check_mapping RAW: mapping 1 is the writer, with its build id and flags.
check_mapping() {
    local raw=$1 id
    notes=$(readelf -n "$WRITER")
    id=$(sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p' <<<"$notes")
    id=${id%%$'\n'*}
    [ -n "$id" ] || fail "readelf found no build id in $WRITER"
    expect "$raw" "^1: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ $WRITER $id \[FN\]\[FL\]\[LN\]\[IN\]\$" \
        "mapping 1 (main binary, build id $id, all symbolized)"
}

check_goroutine() {
    local f=$1/goroutine.pb.gz raw=$1/goroutine.raw top=$1/goroutine.top
    check_gzip_magic "$f"
    pprof_tool "$raw" -raw "$f"
    expect "$raw" '^PeriodType: goroutine count$' "goroutine period type"
    expect "$raw" '^Period: 1$' "goroutine period"
    expect "$raw" '^goroutine/count$' "goroutine sample type"
    # 3 merged worker samples with their label, 1 idle one
    expect "$raw" '^ +3: [0-9 ]+$' "worker sample (value 3)"
    expect "$raw" '^ +worker:\[a\]$' "worker label"
    expect "$raw" '^ +1: [0-9 ]+$' "idle sample (value 1)"
    for fn in goroutine_park worker_loop spawn_workers idle_wait main; do
        expect "$raw" "$(loc_re "$fn")" "location of $fn"
    done
    check_mapping "$raw"
    pprof_tool "$top" -top "$f"
    expect "$top" 'accounting for 4, 100% of 4 total' "goroutine -top total"
    expect "$top" ' 3 +75(\.00)?% .* goroutine_park$' "goroutine -top leaf"
    step "goroutine.pb.gz ok"
}

check_block() {
    local f=$1/block.pb.gz raw=$1/block.raw top=$1/block.top
    check_gzip_magic "$f"
    pprof_tool "$raw" -raw "$f"
    expect "$raw" '^PeriodType: contentions count$' "block period type"
    expect "$raw" '^Period: 1$' "block period"
    expect "$raw" '^contentions/count delay/nanoseconds$' "block sample types"
    expect "$raw" '^ +4 +4000000: [0-9 ]+$' "channel sample (4, 4000000)"
    expect "$raw" '^ +2 +1500: [0-9 ]+$' "mutex sample (2, 1500)"
    for fn in chan_block consumer mutex_block main; do
        expect "$raw" "$(loc_re "$fn")" "location of $fn"
    done
    check_mapping "$raw"
    pprof_tool "$top" -top -sample_index=contentions "$f"
    expect "$top" 'accounting for 6, 100% of 6 total' "block -top contentions total"
    pprof_tool "$top.delay" -top -sample_index=delay "$f"
    expect "$top.delay" 'of 4(\.00)?ms total' "block -top delay total"
    expect "$top.delay" ' chan_block$' "block -top leaf"
    step "block.pb.gz ok"
}

# raw_header RAW: period type, period and sample-type lines of `-raw`.
raw_header() {
    awk '/^PeriodType:/ || /^Period:/ { print; next }
         /^Samples:/ { getline; print; exit }' "$1"
}

build_gobench() {
    local src=$1 bin=$2
    [ -f "$src/go.mod" ] || fail "no Go benchmark at $src (../shared/bench/go)"
    step "building $src -> $bin"
    (cd "$src" &&
     GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$WORK/gocache" \
     GOPATH="$WORK/gopath" GO111MODULE=on "$GO" build -o "$bin" .) ||
        fail "go build of $src failed"
}

go_reference() {
    local src=$1 dir=$2
    mkdir -p "$dir/go" "$dir/ts"
    build_gobench "$src" "$WORK/gobench"
    GOBENCH_PROFILE=all GOBENCH_PROFILE_DIR="$dir/go" "$WORK/gobench" spawn 1000 >"$dir/gobench.out" ||
        fail "gobench spawn 1000 failed: $(cat "$dir/gobench.out")"
    "$WRITER" "$dir/ts" >/dev/null || fail "$WRITER exited non-zero"
    for name in goroutine block; do
        pprof_tool "$dir/go/$name.raw" -raw "$dir/go/$name.pb.gz"
        pprof_tool "$dir/ts/$name.raw" -raw "$dir/ts/$name.pb.gz"
        raw_header "$dir/go/$name.raw" >"$dir/$name.go.hdr"
        raw_header "$dir/ts/$name.raw" >"$dir/$name.ts.hdr"
        [ "$(wc -l <"$dir/$name.go.hdr")" -eq 3 ] ||
            fail "could not read the header of Go's $name profile: $(cat "$dir/$name.go.hdr")"
        diff -u "$dir/$name.go.hdr" "$dir/$name.ts.hdr" >&2 ||
            fail "$name: sample_type/period_type differ from Go's (diff above: - Go, + taskscope)"
        step "$name header matches Go's: $(tr '\n' '|' <"$dir/$name.ts.hdr")"
    done
}

[ $# -ge 3 ] || { echo "usage: $0 validate|go-reference WRITER WORKDIR [GOBENCH_SRC]" >&2; exit 2; }
mode=$1 WRITER=$2 WORK=$3
mkdir -p "$WORK"
if ! GO=$(find_go); then
    echo "pprof: SKIP: no go command (PATH, /usr/lib/go*/bin, /usr/local/go/bin); install golang-go" >&2
    exit 77
fi
export GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GOTOOLCHAIN=local
step "using $GO ($("$GO" version))"
tmp=$(mktemp -d "$WORK/$mode.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

case $mode in
validate)
    "$WRITER" "$tmp" || fail "$WRITER exited non-zero"
    check_goroutine "$tmp"
    check_block "$tmp"
    ;;
go-reference)
    [ $# -ge 4 ] || fail "go-reference needs GOBENCH_SRC"
    go_reference "$4" "$tmp"
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
step "all checks passed"
