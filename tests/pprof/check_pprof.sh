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
#       Then the same for every profile WRITER wrote through the public
#       ts_profile_write (WORKDIR/.../live/<name>.pb.gz: goroutine, block,
#       mutex, heap, allocs, threadcreate): `-raw` and `-top` exit 0, no
#       missing-binary warning, mapping 1 with build id, the expected
#       functions, and `-tagfocus worker=b` keeping only the 3 labelled
#       goroutines.
#   check_pprof.sh go-reference WRITER WORKDIR GOBENCH_SRC
#       builds ../shared/bench/go (GOBENCH_SRC), has it write Go's own
#       profiles (GOBENCH_PROFILE=all: all six), and diffs their `-raw`
#       headers (period type, period, sample types with the [dflt] mark)
#       against WRITER's, line for line: the hand-built goroutine/block
#       and every live profile.
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
# A ThreadSanitizer build links TSan's runtime into the writer, without
# line information (its thread-start frame): PPROF_SANITIZER_RUNTIME=1 (set
# by CMake there) accepts [FN] alone when a location of that runtime is in
# the profile; everything of ours must still have lines (loc_re checks).
check_mapping() {
    local raw=$1 id flags='\[FN\]\[FL\]\[LN\]\[IN\]'
    if [ "${PPROF_SANITIZER_RUNTIME:-0}" = 1 ] && grep -E ' (__tsan_|__interceptor_|__sanitizer_)[A-Za-z0-9_]* :0 ' "$raw" >/dev/null; then
        flags='\[FN\](\[FL\]\[LN\]\[IN\])?'
    fi
    notes=$(readelf -n "$WRITER")
    id=$(sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p' <<<"$notes")
    id=${id%%$'\n'*}
    [ -n "$id" ] || fail "readelf found no build id in $WRITER"
    expect "$raw" "^1: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ $WRITER $id $flags\$" \
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

# live_loc_re FN: a `-raw` location line of FN from pprof_writer.c (live
# profiles are not cut at main; FN may be a further inlined line).
live_loc_re() {
    echo "^ +([0-9]+: 0x[0-9a-f]+ M=[0-9]+ )?$1 .*pprof_writer\\.c:[0-9]+ s=[0-9]+\$"
}

# check_live DIR: the profiles pprof_writer wrote with ts_profile_write.
check_live() {
    local dir=$1 name f raw top fn
    for name in goroutine block mutex heap allocs threadcreate; do
        f=$dir/$name.pb.gz raw=$dir/$name.raw top=$dir/$name.top
        [ -s "$f" ] || fail "live/$name.pb.gz missing or empty"
        check_gzip_magic "$f"
        pprof_tool "$raw" -raw "$f"
        pprof_tool "$top" -top "$f"
        check_mapping "$raw"
        expect "$raw" '^Comment: taskscope: [0-9]+ events dropped$' "live $name dropped-events comment"
        case $name in
        goroutine)
            expect "$raw" '^goroutine/count$' "live goroutine sample type"
            expect "$raw" '^ +3: [0-9 ]+$' "live goroutine: the 3 labelled workers in one sample"
            expect "$raw" '^ +worker:\[b\]$' "live goroutine label worker=b"
            for fn in live_park live_worker live_idle_park live_idle live_main; do
                expect "$raw" "$(live_loc_re "$fn")" "live goroutine: location of $fn"
            done
            pprof_tool "$top.tag" -top -tagfocus worker=b "$f"
            expect "$top.tag" 'tagfocus=worker=b' "-tagfocus filter shown"
            expect "$top.tag" 'accounting for 3, [0-9.]+% of [0-9]+ total' "-tagfocus worker=b keeps 3 goroutines"
            expect "$top.tag" ' live_park$' "-tagfocus keeps live_park"
            if grep -q ' live_idle_park$' "$top.tag"; then
                fail "-tagfocus worker=b kept the unlabelled live_idle_park"
            fi
            pprof_tool "$top.notag" -top -tagignore worker=b "$f"
            if grep -q ' live_park$' "$top.notag"; then
                fail "-tagignore worker=b kept the labelled live_park"
            fi
            ;;
        block)
            expect "$raw" '^contentions/count delay/nanoseconds$' "live block sample types"
            expect "$raw" "$(live_loc_re live_block)" "live block: location of live_block"
            pprof_tool "$top.delay" -top -sample_index=delay "$f"
            ;;
        mutex)
            expect "$raw" '^contentions/count delay/nanoseconds$' "live mutex sample types"
            expect "$raw" "$(live_loc_re live_unlock)" "live mutex: location of live_unlock"
            ;;
        heap|allocs)
            expect "$raw" '^PeriodType: space bytes$' "live $name period type"
            expect "$raw" "$(live_loc_re live_alloc)" "live $name: location of live_alloc"
            expect "$raw" '^ +bytes:\[1048576\]$' "live $name: numeric label bytes=1048576"
            pprof_tool "$top.inuse" -top -sample_index=inuse_space "$f"
            expect "$top.inuse" ' live_alloc$' "live $name -top inuse_space lists live_alloc"
            ;;
        threadcreate)
            expect "$raw" '^threadcreate/count$' "live threadcreate sample type"
            expect "$raw" ' start_once ' "live threadcreate: the runtime's start-up"
            ;;
        esac
        step "live/$name.pb.gz ok"
    done
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
    local ours
    for ours in goroutine block live/goroutine live/block live/mutex live/heap \
                live/allocs live/threadcreate; do
        name=${ours#live/}
        local tag=${ours//\//_}
        [ -f "$dir/go/$name.pb.gz" ] || fail "gobench wrote no $name.pb.gz"
        pprof_tool "$dir/go/$name.raw" -raw "$dir/go/$name.pb.gz"
        pprof_tool "$dir/ts/$tag.raw" -raw "$dir/ts/$ours.pb.gz"
        raw_header "$dir/go/$name.raw" >"$dir/$tag.go.hdr"
        raw_header "$dir/ts/$tag.raw" >"$dir/$tag.ts.hdr"
        [ "$(wc -l <"$dir/$tag.go.hdr")" -eq 3 ] ||
            fail "could not read the header of Go's $name profile: $(cat "$dir/$tag.go.hdr")"
        diff -u "$dir/$tag.go.hdr" "$dir/$tag.ts.hdr" >&2 ||
            fail "$ours: sample_type/period_type differ from Go's (diff above: - Go, + taskscope)"
        step "$ours header matches Go's: $(tr '\n' '|' <"$dir/$tag.ts.hdr")"
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
    check_live "$tmp/live"
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
