#!/usr/bin/env bash
# check_http.sh — the live /debug/pprof endpoints (profiler/http.c,
# docs/http.md) against Go's net/http/pprof conventions
# (CONVENTIONS.md §2, §6 items 6-8), with curl and `go tool pprof`.
#
#   check_http.sh MODE APP WORKDIR [PROBE_LIB PROBE_APP]
#     endpoints  every path on APP (http_app.c): statuses, content types,
#                headers, gzip magic, error texts, deltas, cmdline,
#                symbol, the index; `go tool pprof -raw URL`; an
#                Alloy/Parca scrape of allocs, block, goroutine, mutex
#     cpu        /debug/pprof/profile?seconds=1, and the 500 of a second
#                CPU profile while one runs
#     config     non-loopback refused, bad values reported, the program
#                going on; TASKSCOPE_HTTP_ALLOW_REMOTE=1; [::1]
#     load       50 concurrent curl clients for ~5 s: no error
#     probe      TASKSCOPE_HTTP under LD_PRELOAD=PROBE_LIB on PROBE_APP
#
# Exit 0 = pass, 1 = fail, 77 = skipped (no curl). Failures print
# "http: FAIL: <what>". The `go tool pprof` checks are skipped (with a
# note) when there is no go command.
set -uo pipefail

fail() { echo "http: FAIL: $*" >&2; exit 1; }
step() { echo "http: $*"; }

[ $# -ge 3 ] || { echo "usage: $0 MODE APP WORKDIR [PROBE_LIB PROBE_APP]" >&2; exit 2; }
mode=$1 APP=$2 WORK=$3
command -v curl >/dev/null || { echo "http: SKIP: no curl" >&2; exit 77; }
mkdir -p "$WORK"
tmp=$(mktemp -d "$WORK/$mode.XXXXXX")
APP_PID=
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1

GO=$(command -v go || ls /usr/lib/go/bin/go 2>/dev/null || true)
export HOME="$tmp" GOCACHE="$tmp/gocache" PPROF_TMPDIR="$tmp/pprof" GOTOOLCHAIN=local

# start_app ENV... -- CMD...: run CMD with TASKSCOPE_HTTP=127.0.0.1:0 and
# ENV; wait for the "serving" line; set PORT, U (the /debug/pprof/ URL).
start_app() {
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env TASKSCOPE_HTTP=127.0.0.1:0 "${envs[@]}" "$@" >app.out 2>app.err &
    APP_PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's|^taskscope: serving /debug/pprof on http://[^/]*:\([0-9]*\)/debug/pprof/$|\1|p' app.err)
        [ -n "$PORT" ] && break
        kill -0 "$APP_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$PORT" ] || { cat app.err >&2; fail "no 'taskscope: serving /debug/pprof on ...' line from $*"; }
    U=http://127.0.0.1:$PORT/debug/pprof/
    step "server on port $PORT"
}

# stop_app: end the app; its stderr must hold no sanitizer report.
stop_app() {
    kill "$APP_PID" 2>/dev/null
    wait "$APP_PID" 2>/dev/null
    APP_PID=
    if grep -q "ThreadSanitizer\|AddressSanitizer" app.err; then
        cat app.err >&2
        fail "sanitizer report from the app"
    fi
}

# get NAME URL [CURL ARGS]: fetch into NAME.body / NAME.hdr; CODE = status.
get() {
    local name=$1 url=$2; shift 2
    CODE=$(curl -s -D "$name.hdr" -o "$name.body" -w '%{http_code}' --max-time 30 "$@" "$url") ||
        fail "curl $url failed"
    tr -d '\r' <"$name.hdr" >"$name.h" && mv "$name.h" "$name.hdr"
}

expect_code() { [ "$CODE" = "$2" ] || { cat "$1.hdr" "$1.body" >&2; fail "$1: status $CODE, want $2"; }; }
expect_header() {
    grep -qiFx -- "$2" "$1.hdr" || { cat "$1.hdr" >&2; fail "$1: no header '$2'"; }
}
no_header() {
    if grep -qi "^$2:" "$1.hdr"; then cat "$1.hdr" >&2; fail "$1: unexpected header $2"; fi
}
expect_body() {
    grep -qE -- "$2" "$1.body" || { head -c 2000 "$1.body" >&2; fail "$1: body has no /$2/"; }
}
expect_gzip() {
    [ "$(od -An -tx1 -N2 "$1.body" | tr -d ' \n')" = 1f8b ] || fail "$1: body is not gzip (no 1f 8b)"
}

# expect_pprof NAME URL: status 200, Go's headers for a profile attachment
# named FILENAME (default NAME's last path part), gzip.
expect_pprof() {
    local name=$1 url=$2 filename=${3:-$1}
    get "$name" "$url"
    expect_code "$name" 200
    expect_header "$name" "Content-Type: application/octet-stream"
    expect_header "$name" "Content-Disposition: attachment; filename=\"$filename\""
    expect_header "$name" "X-Content-Type-Options: nosniff"
    expect_gzip "$name"
}

# expect_error NAME URL STATUS TEXT: Go's serveError.
expect_error() {
    get "$1" "$2"
    expect_code "$1" "$3"
    expect_header "$1" "Content-Type: text/plain; charset=utf-8"
    expect_header "$1" "X-Go-Pprof: 1"
    expect_header "$1" "X-Content-Type-Options: nosniff"
    no_header "$1" Content-Disposition
    [ "$(cat "$1.body")" = "$4" ] || fail "$1: body '$(cat "$1.body")', want '$4'"
}

# pprof_raw WHAT ARGS...: `go tool pprof -raw ARGS` exits 0.
pprof_raw() {
    local what=$1; shift
    [ -n "$GO" ] || { step "no go command: skipping go tool pprof on $what"; return 0; }
    "$GO" tool pprof -raw "$@" >"$what.raw" 2>"$what.raw.err" ||
        { cat "$what.raw.err" >&2; fail "go tool pprof -raw $* exited non-zero"; }
}

check_index() {
    get index "$U"
    expect_code index 200
    expect_header index "Content-Type: text/html; charset=utf-8"
    expect_header index "X-Content-Type-Options: nosniff"
    local p
    for p in allocs block cmdline goroutine goroutineleak heap mutex profile threadcreate; do
        expect_body index "<tr><td>[0-9]+</td><td><a href='$p\\?debug=1'>$p</a></td></tr>"
    done
    expect_body index '<a href="goroutine\?debug=2">full goroutine stack dump</a>'
    expect_body index "<tr><td>[1-9][0-9]*</td><td><a href='goroutine\\?debug=1'>"
    step "index ok"
}

check_profiles() {
    local p
    for p in goroutine heap allocs block mutex threadcreate goroutineleak; do
        expect_pprof "$p" "$U$p"
        pprof_raw "$p" "$p.body"
        get "$p.text" "$U$p?debug=1"
        expect_code "$p.text" 200
        expect_header "$p.text" "Content-Type: text/plain; charset=utf-8"
        expect_header "$p.text" "X-Content-Type-Options: nosniff"
        no_header "$p.text" Content-Disposition
    done
    expect_body goroutine.text '^goroutine profile: total [0-9]+$'
    expect_body block.text '^--- contention:$'
    expect_body mutex.text '^--- mutex:$'
    get dump "${U}goroutine?debug=2"
    expect_code dump 200
    expect_header dump "Content-Type: text/plain; charset=utf-8"
    expect_body dump '^goroutine [0-9]+ \[.*\]:$'
    expect_body dump '^main\.|^worker\(|^main_task\('
    step "profiles debug=0/1/2 ok"
}

check_errors() {
    expect_error unknown "${U}nosuch" 404 "Unknown profile"
    expect_error bad_sec "${U}heap?seconds=abc" 400 'invalid value for "seconds" - must be a positive integer'
    expect_error zero_sec "${U}block?seconds=0" 400 'invalid value for "seconds" - must be a positive integer'
    expect_error neg_sec "${U}mutex?seconds=-3" 400 'invalid value for "seconds" - must be a positive integer'
    expect_error sec_debug "${U}allocs?seconds=1&debug=1" 400 "seconds and debug params are incompatible"
    expect_error leak_sec "${U}goroutineleak?seconds=1" 400 '"seconds" parameter is not supported for this profile type'
    get outside "http://127.0.0.1:$PORT/metrics"
    expect_code outside 404
    [ "$(cat outside.body)" = "404 page not found" ] || fail "outside /debug/pprof: body '$(cat outside.body)'"
    get redirect "http://127.0.0.1:$PORT/debug/pprof"
    expect_code redirect 301
    expect_header redirect "Location: /debug/pprof/"
    step "404/400 texts and headers ok"
}

check_deltas() {
    local p
    for p in allocs block goroutine; do
        expect_pprof "$p.delta" "$U$p?seconds=1" "$p-delta"
        pprof_raw "$p.delta" "$p.delta.body"
        if [ -n "$GO" ]; then
            grep -q '^Duration: 1\.[0-9]*s\?$' "$p.delta.raw" ||
                { cat "$p.delta.raw" >&2; fail "$p delta: no 'Duration: 1.xx' (one second)"; }
        fi
    done
    if [ -n "$GO" ]; then
        grep -q ' worker ' allocs.delta.raw ||
            { cat allocs.delta.raw >&2; fail "allocs delta: no allocation by worker in one second"; }
    fi
    step "delta profiles ok"
}

check_cmdline() {
    get cmdline "${U}cmdline"
    expect_code cmdline 200
    expect_header cmdline "Content-Type: text/plain; charset=utf-8"
    expect_header cmdline "X-Content-Type-Options: nosniff"
    printf '%s\0%s' "$APP" 30 >cmdline.want
    cmp -s cmdline.body cmdline.want || fail "cmdline: '$(tr '\0' '|' <cmdline.body)', want '$(tr '\0' '|' <cmdline.want)'"
    step "cmdline ok"
}

check_symbol() {
    get symbol "${U}symbol"
    expect_code symbol 200
    expect_header symbol "Content-Type: text/plain; charset=utf-8"
    [ "$(cat symbol.body)" = "num_symbols: 1" ] || fail "symbol GET: '$(cat symbol.body)'"
    local addr
    addr=$(sed -n 's/^#\t\(0x[0-9a-f]*\)\tworker+.*/\1/p' goroutine.text.body | head -1)
    [ -n "$addr" ] || fail "no worker frame in goroutine?debug=1"
    get symbol_post "${U}symbol" --data-binary "$addr+0x0+junk"
    expect_code symbol_post 200
    printf 'num_symbols: 1\n%s worker\n' "$addr" >symbol.want
    cmp -s symbol_post.body symbol.want || fail "symbol POST $addr: '$(cat symbol_post.body)'"
    step "symbol ok"
}

# check_go_urls: `go tool pprof -raw URL` as users run it.
check_go_urls() {
    local p
    for p in heap block mutex goroutine allocs; do
        pprof_raw "url.$p" "$U$p"
    done
    [ -z "$GO" ] || grep -q ' worker ' url.heap.raw || fail "go tool pprof heap: no worker"
    step "go tool pprof on the URLs ok"
}

# check_scrape: Alloy pyroscope.scrape / Parca defaults (without ?debug).
check_scrape() {
    local p
    for p in allocs block goroutine mutex; do
        get "scrape.$p" "$U$p" -H "User-Agent: Alloy/1.0"
        expect_code "scrape.$p" 200
        expect_gzip "scrape.$p"
        pprof_raw "scrape.$p" "scrape.$p.body"
    done
    step "Alloy/Parca scrape paths ok"
}

mode_endpoints() {
    start_app -- "$APP" 30
    check_index
    check_profiles
    check_errors
    check_deltas
    check_cmdline
    check_symbol
    check_go_urls
    check_scrape
    stop_app
}

mode_cpu() {
    start_app -- "$APP" 30
    expect_pprof cpu "${U}profile?seconds=1" profile
    pprof_raw cpu cpu.body
    [ -z "$GO" ] || grep -q '^samples/count cpu/nanoseconds' cpu.raw ||
        { cat cpu.raw >&2; fail "cpu profile: sample types not samples/count cpu/nanoseconds"; }
    curl -s -o long.body "${U}profile?seconds=3" &
    local long=$!
    sleep 1
    expect_error busy "${U}profile?seconds=1" 500 "Could not enable CPU profiling: cpu profiling already in use"
    wait "$long" || fail "the first CPU profile failed while a second was refused"
    expect_gzip long
    stop_app
    step "cpu profile ok"
}

# run_config NAME VALUE [ENV...]: run the app (0 s) with TASKSCOPE_HTTP=VALUE;
# it must exit 0.
run_config() {
    local name=$1 value=$2; shift 2
    local rc=0
    env TASKSCOPE_HTTP="$value" "$@" "$APP" 0 >"$name.out" 2>"$name.err" || rc=$?
    [ $rc = 0 ] || { cat "$name.err" >&2; fail "$name: the program did not go on (exit $rc)"; }
    grep -q "http_app: done" "$name.out" || fail "$name: the program did not finish"
}

mode_config() {
    run_config remote 0.0.0.0:0
    grep -q "^taskscope: TASKSCOPE_HTTP=0.0.0.0:0 is not a loopback address; not serving /debug/pprof (set TASKSCOPE_HTTP_ALLOW_REMOTE=1" remote.err ||
        { cat remote.err >&2; fail "non-loopback: no clear refusal naming TASKSCOPE_HTTP and the address"; }
    if grep -q "serving /debug/pprof on" remote.err; then fail "non-loopback address served"; fi
    local bad
    for bad in nonsense 127.0.0.1:99999 127.0.0.1:x example.com:80; do
        run_config bad "$bad"
        grep -q "^taskscope: TASKSCOPE_HTTP=$bad: .*; not serving /debug/pprof$" bad.err ||
            { cat bad.err >&2; fail "TASKSCOPE_HTTP=$bad: no clear error"; }
    done
    run_config unset ""
    if grep -q "debug/pprof" unset.err; then fail "server started without TASKSCOPE_HTTP"; fi
    start_app TASKSCOPE_HTTP=0.0.0.0:0 TASKSCOPE_HTTP_ALLOW_REMOTE=1 -- "$APP" 30
    grep -q "^taskscope: serving /debug/pprof on http://0\.0\.0\.0:$PORT/debug/pprof/$" app.err ||
        fail "ALLOW_REMOTE=1: no serving line for 0.0.0.0"
    expect_pprof remote.goroutine "${U}goroutine" goroutine
    stop_app
    step "non-loopback refused, bad values reported, program goes on"
}

mode_load() {
    start_app -- "$APP" 30
    local i paths=(goroutine heap allocs block mutex threadcreate "goroutine?debug=2"
                   "heap?debug=1" "" cmdline symbol)
    for i in $(seq 50); do
        (
            end=$((SECONDS + 5)) n=0
            while [ $SECONDS -lt $end ]; do
                p=${paths[$(( (n + i) % ${#paths[@]} ))]}
                curl -sf --max-time 20 -o /dev/null "$U$p" || { echo "client $i: $U$p" >>load.fail; }
                n=$((n + 1))
            done
            echo "$n" >>load.count
        ) &
    done
    wait $(jobs -p | grep -v "^$APP_PID\$") 2>/dev/null
    [ ! -s load.fail ] || { cat load.fail >&2; fail "requests failed under load"; }
    kill -0 "$APP_PID" 2>/dev/null || fail "the app died under load"
    step "load: $(awk '{n += $1} END {print n}' load.count) requests from 50 clients, no error"
    stop_app
}

mode_probe() {
    local lib=${4:?probe lib} papp=${5:?probe app}
    start_app LD_PRELOAD="$lib" TASKSCOPE_PROBE_QUIET=1 TASKSCOPE_PROBE_OUT="$tmp/probe-out" -- "$papp" block
    local p
    for p in goroutine block mutex heap threadcreate; do
        expect_pprof "probe.$p" "$U$p" "$p"
        pprof_raw "probe.$p" "$U$p"
    done
    get probe.index "$U"
    expect_code probe.index 200
    stop_app
    step "probe: TASKSCOPE_HTTP under LD_PRELOAD ok"
    # taskscope run --http: the flag, not the environment, turns it on
    start_app TASKSCOPE_HTTP=not-an-address TASKSCOPE_PROBE_LIB="$lib" -- \
        "${6:?taskscope}" run --http 127.0.0.1:0 -o "$tmp/run-out" -- "$papp" block
    expect_pprof "run.block" "${U}block" block
    stop_app
    step "probe: taskscope run --http ok"
}

case $mode in
endpoints | cpu | config | load) "mode_$mode" ;;
probe) mode_probe "$@" ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
step "$mode: all checks passed"
