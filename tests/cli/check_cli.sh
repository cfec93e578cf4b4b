#!/usr/bin/env bash
# check_cli.sh — tests of the taskscope command-line tool (docs/cli.md),
# run by CTest (tests/cli/CMakeLists.txt), one mode per test:
#
#   check_cli.sh usage  TASKSCOPE
#       --help/--version; unknown commands, flags and bad arguments give a
#       one-line "taskscope <sub>: " message, the usage on stderr, exit 2.
#   check_cli.sh top-go TASKSCOPE WORK WRITER GOBENCH_SRC
#       on Go's own profiles (../shared/bench/go built offline, run with
#       GOBENCH_PROFILE=all) and on pprof_writer's (WRITER), for every
#       sample type: `taskscope top` prints exactly what `go tool pprof
#       -top -nodefraction=0` prints (all rows, -n 3, the default type);
#       a gunzipped copy gives the same output; --diff=BASE prints what
#       -diff_base=BASE prints (Go's profiles against ours of the same name, both
#       ways). Exit 77 without go.
#   check_cli.sh top-json TASKSCOPE WRITER
#       --json is valid JSON with the documented schema and the same rows
#       and total as the text output.
#   check_cli.sh top-bad TASKSCOPE WRITER
#       truncated, corrupted, empty, missing and invalid profiles: exit 2
#       and "taskscope top: FILE: ..." naming the reason.
#   check_cli.sh dump TASKSCOPE FAKE_AGENT
#       against fake_agent.c: a reply is copied (text and json requests),
#       an "error: " reply, an agent that never answers (--timeout), a
#       process without an agent (sleep), a PID no process has.
#   check_cli.sh leaks TASKSCOPE FAKE_CMD
#       with fake_leaks_cmd.sh: a report is printed and exits 1 (text and
#       --json), a clean exit status is kept, a signal gives 128+N, a
#       missing or non-executable command exits 2, SIGTERM is forwarded,
#       and the temporary file is gone after every run.
#
# Exit 0 = pass, 1 = fail (first failure, "cli: FAIL: <what>"), 77 = skip.
set -uo pipefail

fail() { echo "cli: FAIL: $*" >&2; exit 1; }
step() { echo "cli: $*"; }

# run RC ARGS...: runs ARGS with stdout/stderr in $out/$err (timeout 30 s)
# and fails unless the exit status is RC.
run() {
    local want=$1; shift
    timeout --kill-after=5 30 "$@" >"$out" 2>"$err"
    local rc=$?
    if [ "$rc" != "$want" ]; then
        echo "---- stdout"; cat "$out"; echo "---- stderr"; cat "$err"
        fail "$* exited $rc, expected $want"
    fi
}

# expect_err RE: stderr's first line matches the ERE RE and stderr has no
# other "taskscope" message line.
expect_err() {
    if ! head -n1 "$err" | grep -Eq -- "$1"; then
        cat "$err" >&2
        fail "stderr does not start with a line matching /$1/"
    fi
}

# expect_out RE: some line of stdout matches the ERE RE.
expect_out() {
    grep -Eq -- "$1" "$out" || { cat "$out" >&2; fail "no stdout line matching /$1/"; }
}

expect_usage_on_stderr() {
    grep -q '^usage: taskscope' "$err" || { cat "$err" >&2; fail "no usage on stderr"; }
    [ ! -s "$out" ] || fail "stdout not empty on a usage error"
}

# find_go: the go command (as tests/pprof/check_pprof.sh finds it).
find_go() {
    local c
    if c=$(command -v go 2>/dev/null); then echo "$c"; return 0; fi
    for c in /usr/lib/go/bin/go $(ls -d /usr/lib/go-*/bin/go 2>/dev/null | sort -Vr) \
             /usr/local/go/bin/go; do
        if [ -x "$c" ]; then echo "$c"; return 0; fi
    done
    return 1
}

test_usage() {
    run 0 "$TS" --help
    expect_out '^usage: taskscope <command>'
    run 0 "$TS" --version
    expect_out '^taskscope [0-9]+\.[0-9]+\.[0-9]+$'
    for sub in top dump leaks; do
        run 0 "$TS" "$sub" --help
        expect_out "^usage: taskscope $sub "
    done
    run 2 "$TS"
    expect_err '^taskscope: no command given$'; expect_usage_on_stderr
    run 2 "$TS" frobnicate
    expect_err "^taskscope: unknown command 'frobnicate'$"; expect_usage_on_stderr
    run 2 "$TS" --frob
    expect_err "^taskscope: unknown option '--frob'$"; expect_usage_on_stderr
    for sub in top dump leaks; do
        run 2 "$TS" "$sub" --frob x
        expect_err "^taskscope $sub: unknown option or bad use of '--frob'$"; expect_usage_on_stderr
    done
    run 2 "$TS" top -x f
    expect_err "^taskscope top: unknown option '-x'$"
    run 2 "$TS" top --json=yes f
    expect_err "^taskscope top: unknown option or bad use of '--json=yes'$"
    run 2 "$TS" top
    expect_err '^taskscope top: no profile FILE given$'; expect_usage_on_stderr
    run 2 "$TS" top a b
    expect_err '^taskscope top: exactly one FILE'
    run 2 "$TS" top -n many f
    expect_err "^taskscope top: -n wants a number >= 0, not 'many'$"
    run 2 "$TS" top f -n
    expect_err '^taskscope top: -n needs an argument$'
    run 2 "$TS" dump
    expect_err '^taskscope dump: no PID given$'; expect_usage_on_stderr
    for pid in abc 0 -5 12x ' 7' 99999999999; do
        run 2 "$TS" dump -- "$pid"
        expect_err "^taskscope dump: PID must be a positive integer, not '$pid'$"
    done
    run 2 "$TS" dump --timeout=0 1
    expect_err "^taskscope dump: --timeout wants 1..3600 seconds, not '0'$"
    run 2 "$TS" leaks
    expect_err '^taskscope leaks: no command given$'; expect_usage_on_stderr
    run 2 "$TS" leaks --
    expect_err '^taskscope leaks: no command given$'
    step "usage ok"
}

# same_as_pprof NAME TSARGS -- PPROFARGS: taskscope top's stdout equals
# go tool pprof -top's, byte for byte.
same_as_pprof() {
    local name=$1 ts=() pp=()
    shift
    while [ "$1" != -- ]; do ts+=("$1"); shift; done
    shift
    pp=("$@")
    "$TS" top "${ts[@]}" >"$tmp/$name.ts" 2>"$tmp/$name.ts.err" ||
        { cat "$tmp/$name.ts.err" >&2; fail "taskscope top ${ts[*]} exited non-zero"; }
    "$GO" tool pprof -top "${pp[@]}" >"$tmp/$name.go" 2>"$tmp/$name.go.err" ||
        { cat "$tmp/$name.go.err" >&2; fail "go tool pprof -top ${pp[*]} exited non-zero"; }
    diff -u "$tmp/$name.go" "$tmp/$name.ts" >&2 ||
        fail "$name: taskscope top ${ts[*]} differs from go tool pprof -top ${pp[*]} (- pprof, + taskscope)"
}

# sample_types FILE: the sample type names, from `go tool pprof -raw`.
sample_types() {
    "$GO" tool pprof -raw "$1" 2>/dev/null |
        awk '/^Samples:/ { getline; for (i = 1; i <= NF; i++) { sub(/\/.*/, "", $i); print $i }; exit }'
}

compare_profile() {
    local f=$1 base si types=0
    base=$(basename "$(dirname "$f")")-$(basename "$f" .pb.gz)
    for si in $(sample_types "$f"); do
        same_as_pprof "$base-$si-all" -n 0 --sample-index="$si" "$f" -- \
            -nodefraction=0 -sample_index="$si" "$f"
        same_as_pprof "$base-$si-3" -n 3 --sample-index="$si" "$f" -- \
            -nodefraction=0 -nodecount=3 -sample_index="$si" "$f"
        types=$((types + 1))
    done
    [ "$types" -gt 0 ] || fail "no sample types read from $f"
    same_as_pprof "$base-default" -n 0 "$f" -- -nodefraction=0 "$f"
    gzip -dc "$f" >"$tmp/$base.pb"
    "$TS" top -n 0 "$tmp/$base.pb" >"$tmp/$base.raw.ts" || fail "top on gunzipped $f failed"
    diff -u "$tmp/$base-default.ts" "$tmp/$base.raw.ts" >&2 ||
        fail "$f: gunzipped copy gives different output"
    step "$base: top = pprof -top for $types sample types"
}

test_top_go() {
    local writer=$1 src=$2 f n=0
    if ! GO=$(find_go); then
        echo "cli: SKIP: no go command (PATH, /usr/lib/go*/bin, /usr/local/go/bin); install golang-go" >&2
        exit 77
    fi
    export GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GOTOOLCHAIN=local
    [ -f "$src/go.mod" ] || fail "no Go benchmark at $src (../shared/bench/go)"
    (cd "$src" && GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on "$GO" build -o "$WORK/gobench" .) ||
        fail "go build of $src failed"
    mkdir -p "$tmp/go" "$tmp/ts"
    GOBENCH_PROFILE=all GOBENCH_PROFILE_DIR="$tmp/go" "$WORK/gobench" spawn 1000 >/dev/null ||
        fail "gobench failed"
    "$writer" "$tmp/ts" >/dev/null || fail "$writer failed"
    for f in "$tmp"/go/*.pb.gz "$tmp"/ts/*.pb.gz; do
        compare_profile "$f"
        n=$((n + 1))
    done
    [ "$n" -ge 6 ] || fail "only $n profiles written"
    # --diff: Go's profile minus ours and ours minus Go's, as -diff_base
    n=0
    for f in block mutex heap allocs goroutine; do
        [ -f "$tmp/go/$f.pb.gz" ] && [ -f "$tmp/ts/$f.pb.gz" ] || continue
        n=$((n + 1))
        same_as_pprof "diff-$f-all" -n 0 --diff="$tmp/ts/$f.pb.gz" "$tmp/go/$f.pb.gz" -- \
            -nodefraction=0 -diff_base="$tmp/ts/$f.pb.gz" "$tmp/go/$f.pb.gz"
        same_as_pprof "diff-$f-3" -n 3 --diff="$tmp/go/$f.pb.gz" "$tmp/ts/$f.pb.gz" -- \
            -nodefraction=0 -nodecount=3 -diff_base="$tmp/go/$f.pb.gz" "$tmp/ts/$f.pb.gz"
        step "diff-$f: top --diff = pprof -top -diff_base"
    done
    [ "$n" -ge 2 ] || fail "only $n profile pairs to diff"
}

test_top_json() {
    local writer=$1
    "$writer" "$tmp" >/dev/null || fail "$writer failed"
    run 0 "$TS" top --json -n 0 "$tmp/goroutine.pb.gz"
    cp "$out" "$tmp/top.json"
    run 0 "$TS" top -n 0 "$tmp/goroutine.pb.gz"
    python3 - "$tmp/top.json" "$out" <<'PY' || fail "top --json does not match the schema or the text rows"
import json, sys
doc = json.load(open(sys.argv[1]))
assert list(doc) == ["file", "sample_type", "unit", "total", "rows"], list(doc)
assert doc["file"].endswith("goroutine.pb.gz"), doc["file"]
assert (doc["sample_type"], doc["unit"], doc["total"]) == ("goroutine", "count", 4), doc
text = [l.split() for l in open(sys.argv[2]) if l.startswith(" ") and "%" in l][1:]
assert len(text) == len(doc["rows"]) > 0, (len(text), len(doc["rows"]))
for row, cols in zip(doc["rows"], text):
    assert list(row) == ["function", "flat", "cum"], row
    assert all(isinstance(row[k], int) for k in ("flat", "cum")), row
    assert (str(row["flat"]), str(row["cum"]), row["function"]) == (cols[0], cols[3], cols[5]), (row, cols)
assert doc["rows"][0] == {"function": "goroutine_park", "flat": 3, "cum": 3}, doc["rows"][0]
PY
    run 0 "$TS" top --json -n 1 --sample-index=delay "$tmp/block.pb.gz"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert (d["sample_type"], d["unit"], d["total"], len(d["rows"])) == ("delay", "nanoseconds", 4001500, 1), d' "$out" ||
        fail "top --json --sample-index=delay"
    run 2 "$TS" top --json --sample-index=bogus "$tmp/block.pb.gz"
    expect_err "^taskscope top: .*/block\.pb\.gz: no sample type \"bogus\"; it has: contentions delay$"
    [ ! -s "$out" ] || fail "stdout not empty after an error"
    step "top --json ok"
}

# bad PATH REASON_RE: top on PATH exits 2 with "FILE: not a valid pprof
# profile: REASON".
bad() {
    run 2 "$TS" top "$1"
    expect_err "^taskscope top: $1: not a valid pprof profile: $2\$"
    [ ! -s "$out" ] || fail "stdout not empty for $1"
}

# pb NAME HEX: writes the protobuf bytes HEX (spaces ignored) to $tmp/NAME.
pb() {
    printf '%b' "$(echo "$2" | sed 's/ //g; s/../\\x&/g')" >"$tmp/$1"
}

test_top_bad() {
    local writer=$1 f
    "$writer" "$tmp" >/dev/null || fail "$writer failed"
    f=$tmp/block.pb.gz
    head -c $(($(stat -c %s "$f") / 2)) "$f" >"$tmp/trunc.pb.gz"
    bad "$tmp/trunc.pb.gz" "truncated gzip data"
    cp "$f" "$tmp/corrupt.pb.gz"
    printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$tmp/corrupt.pb.gz" bs=1 seek=40 conv=notrunc 2>/dev/null
    bad "$tmp/corrupt.pb.gz" "gzip: .+"
    : >"$tmp/empty"
    bad "$tmp/empty" "empty file"
    gzip -dc "$f" | head -c 100 >"$tmp/trunc.pb"
    bad "$tmp/trunc.pb" "protobuf decoding failed \(truncated or corrupt data\)"
    echo "not a profile" >"$tmp/text"
    bad "$tmp/text" "protobuf decoding failed \(truncated or corrupt data\)"
    : | gzip >"$tmp/empty.gz"
    bad "$tmp/empty.gz" "no string table"
    # string_table = ["x"]
    pb first.pb "32 01 78"
    bad "$tmp/first.pb" 'string_table\[0\] is not the empty string'
    # string_table = [""]; no sample_type
    pb notype.pb "32 00"
    bad "$tmp/notype.pb" "no sample types"
    # sample_type {1,2}; sample {value: [1,1]}; strings "", "a", "b"
    pb mismatch.pb "0a 04 08 01 10 02  12 04 12 02 01 01  32 00 32 01 61 32 01 62"
    bad "$tmp/mismatch.pb" "mismatch: sample 0 has 2 values vs. 1 types"
    # sample {location_id: [5], value: [1]}
    pb noloc.pb "0a 04 08 01 10 02  12 05 0a 01 05 10 01  32 00 32 01 61 32 01 62"
    bad "$tmp/noloc.pb" "sample 0: unknown location id 5"
    # location {id 1, line {function_id 9}}, sample at it
    pb nofunc.pb "0a 04 08 01 10 02  12 05 0a 01 01 10 01  22 06 08 01 22 02 08 09  32 00 32 01 61 32 01 62"
    bad "$tmp/nofunc.pb" "location 1: unknown function id 9"
    # two functions with id 3
    pb dupfunc.pb "0a 04 08 01 10 02  2a 02 08 03 2a 02 08 03  32 00 32 01 61 32 01 62"
    bad "$tmp/dupfunc.pb" "duplicate function id 3"
    # function {id 1, name 7}: string index out of range
    pb badstr.pb "0a 04 08 01 10 02  2a 04 08 01 10 07  32 00 32 01 61 32 01 62"
    bad "$tmp/badstr.pb" "function: string index 7 out of range \(3 strings\)"
    run 2 "$TS" top "$tmp/missing.pb.gz"
    expect_err "^taskscope top: $tmp/missing.pb.gz: No such file or directory\$"
    run 2 "$TS" top "$tmp"
    expect_err "^taskscope top: $tmp: Is a directory\$"
    # the smallest valid profile: one type, no samples
    pb minimal.pb "0a 04 08 01 10 02  32 00 32 01 61 32 01 62"
    run 0 "$TS" top "$tmp/minimal.pb"
    expect_out '^Showing nodes accounting for 0, 0% of 0 total$'
    step "top on bad input ok"
}

# start_agent MODE: runs fake_agent MODE in the background; sets $apid
# once it listens.
start_agent() {
    rm -f "$tmp/ready"
    "$AGENT" "$1" "$tmp/ready" &
    apid=$!
    for _ in $(seq 100); do
        [ -s "$tmp/ready" ] && break
        sleep 0.1
    done
    [ "$(cat "$tmp/ready" 2>/dev/null)" = "$apid" ] || fail "fake_agent $1 did not start"
}

test_dump() {
    AGENT=$1
    start_agent ok
    run 0 "$TS" dump "$apid"
    wait "$apid" || fail "fake_agent ok exited non-zero"
    printf 'fake dump\nrequest: dump\n\ngoroutine 1 [chan receive]:\nmain()\n' | diff -u - "$out" >&2 ||
        fail "dump output is not the agent's reply"
    [ ! -s "$err" ] || fail "dump wrote to stderr: $(cat "$err")"
    start_agent ok
    run 0 "$TS" dump --json "$apid"
    wait "$apid"
    expect_out '^request: dump json$'
    start_agent error
    run 2 "$TS" dump "$apid"
    wait "$apid"
    expect_err '^taskscope dump: error: fake agent refuses$'
    [ ! -s "$out" ] || fail "stdout not empty after an agent error"
    start_agent hang
    run 2 "$TS" dump --timeout=1 "$apid"
    kill "$apid"; wait "$apid" 2>/dev/null
    expect_err "^taskscope dump: process $apid: agent did not answer within 1 s\$"
    sleep 30 &
    local spid=$!
    run 2 "$TS" dump "$spid"
    kill "$spid"; wait "$spid" 2>/dev/null
    expect_err "^taskscope dump: process $spid has no taskscope agent \(start it with TASKSCOPE_AGENT=1, or under taskscope run\)\$"
    # pid_max itself is never a PID
    local nopid
    nopid=$(cat /proc/sys/kernel/pid_max) || fail "cannot read pid_max"
    run 2 "$TS" dump "$nopid"
    expect_err "^taskscope dump: no process with PID $nopid\$"
    step "dump ok"
}

# no_temp_left: the runs left nothing in their TMPDIR, and every report
# file the fake command saw existed while it ran and is gone now.
no_temp_left() {
    [ -z "$(ls -A "$TMPDIR")" ] || fail "temporary files left: $(ls -A "$TMPDIR")"
    [ -s "$FAKE_LOG" ] || fail "the fake command logged nothing"
    local path state
    while read -r path state _; do
        case $path in "$TMPDIR"/taskscope-leaks.*) ;; *) fail "report file $path not in TMPDIR" ;; esac
        [ "$state" = exists ] || fail "report file $path did not exist while the command ran"
        [ ! -e "$path" ] || fail "report file $path left behind"
    done <"$FAKE_LOG"
}

test_leaks() {
    local cmd=$1
    export TMPDIR=$tmp/tmpdir FAKE_LOG=$tmp/fake.log
    mkdir -p "$TMPDIR"
    # an inherited format must not leak into a text run
    TASKSCOPE_LEAKS_FORMAT=json run 1 "$TS" leaks "$cmd" leak
    expect_out '^taskscope: 2 leaked tasks \(format text\)$'
    run 1 "$TS" leaks --json -- "$cmd" leak
    expect_out '^taskscope: 2 leaked tasks \(format json\)$'
    run 0 "$TS" leaks -- "$cmd" exit 0
    [ ! -s "$out" ] || fail "clean run printed a report"
    run 3 "$TS" leaks "$cmd" exit 3
    run 137 "$TS" leaks "$cmd" signal
    expect_err "^taskscope leaks: $cmd was killed by signal 9 \(Killed\)\$"
    run 2 "$TS" leaks -- "$tmp/no-such-command"
    expect_err "^taskscope leaks: $tmp/no-such-command: No such file or directory\$"
    run 2 "$TS" leaks no-such-command-taskscope-test
    expect_err '^taskscope leaks: no-such-command-taskscope-test: No such file or directory$'
    : >"$tmp/not-executable"
    run 2 "$TS" leaks "$tmp/not-executable"
    expect_err "^taskscope leaks: $tmp/not-executable: Permission denied\$"
    # SIGTERM to taskscope reaches the command, whose report is printed
    rm -f "$tmp/waiting"
    "$TS" leaks "$cmd" wait "$tmp/waiting" >"$out" 2>"$err" &
    local tpid=$!
    for _ in $(seq 100); do [ -e "$tmp/waiting" ] && break; sleep 0.1; done
    [ -e "$tmp/waiting" ] || fail "fake command (wait) did not start"
    kill -TERM "$tpid"
    wait "$tpid"
    local rc=$?
    [ "$rc" = 1 ] || { cat "$err" >&2; fail "leaks after SIGTERM exited $rc, expected 1"; }
    expect_out '^report written on SIGTERM$'
    no_temp_left
    step "leaks ok"
}

[ $# -ge 2 ] || { echo "usage: $0 MODE TASKSCOPE ARGS..." >&2; exit 2; }
mode=$1 TS=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout err=$tmp/stderr
case $mode in
usage)    test_usage ;;
top-go)   WORK=$1; mkdir -p "$WORK"; test_top_go "$2" "$3" ;;
top-json) test_top_json "$1" ;;
top-bad)  test_top_bad "$1" ;;
dump)     test_dump "$1" ;;
leaks)    test_leaks "$1" ;;
*)        echo "unknown mode $mode" >&2; exit 2 ;;
esac
step "all $mode checks passed"
