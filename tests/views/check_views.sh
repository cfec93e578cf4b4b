#!/usr/bin/env bash
# check_views.sh — tests of `taskscope flame` (docs/views.md), run by CTest
# (tests/views/CMakeLists.txt), one mode per test:
#
#   check_views.sh flame-html TASKSCOPE APP WORK
#       APP (a sample app) writes its block profile; the page `taskscope
#       flame` makes is opened in headless Chromium: the DOM after the
#       script ran has a frame per expected function, the screenshot is
#       not blank. Exit 77 without Chromium.
#   check_views.sh flame-svg TASKSCOPE APP WORK
#       --svg: well-formed XML with a <title> per expected function.
#   check_views.sh push-pyroscope|push-parca TASKSCOPE BUSY_APP WORK
#       BUSY_APP serves its profiles (TASKSCOPE_HTTP=127.0.0.1:0); two
#       rounds of `taskscope push` to push_stub.py: every profile arrives,
#       well-formed for the backend (multipart + sample_type_config, or
#       WriteRaw JSON), with the expected sample types; one passes go tool
#       pprof -raw (when go is installed).
#   check_views.sh browser-live TASKSCOPE BUSY_APP WORK
#       BUSY_APP serving its endpoints: headless Chromium renders the
#       /debug/pprof/ index (a link per profile, not blank), and the flame
#       graph `taskscope flame URL` makes of its live block and heap
#       profiles (the app's functions in the DOM). Exit 77 without Chromium.
#   check_views.sh push-bad TASKSCOPE BUSY_APP WORK
#       a backend answering 500 -> exit 1 naming it; a source that answers
#       nothing -> exit 2; usage errors -> exit 2.
#   check_views.sh flame-bad TASKSCOPE APP WORK
#       missing, empty and invalid input, an unknown sample type, a taken
#       default name, an unreachable URL: exit 2, one message, no output.
#
# Exit 0 = pass, 1 = fail ("views: FAIL: <what>"), 77 = skip.
set -uo pipefail

fail() { echo "views: FAIL: $*" >&2; exit 1; }
step() { echo "views: $*"; }

mode=$1 ts=$2 app=$3 work=$4
rm -rf "$work" && mkdir -p "$work" && cd "$work" || fail "cannot make $work"
out=$work/out err=$work/err

# run RC ARGS...: runs ARGS (timeout 60 s) and fails unless it exits RC.
run() {
    local want=$1; shift
    timeout --kill-after=5 60 "$@" >"$out" 2>"$err"
    local rc=$?
    [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want; stderr: $(head -c 600 "$err")"
}

# The app's functions a block profile of fanout_fanin must show.
expected=(main_task counter_task merge_output_task ts_chan_recv)

profile() {
    TASKSCOPE_PROFILE=block TASKSCOPE_PROFILE_DIR=$work timeout 60 "$app" >/dev/null 2>&1 ||
        fail "$app failed"
    [ -s block.pb.gz ] || fail "$app wrote no block profile"
}

chromium_bin() {
    command -v chromium || command -v chromium-browser || true
}

# chrome ARGS...: headless Chromium, root-safe, no profile left behind.
chrome() {
    timeout --kill-after=5 90 "$browser" --headless=new --no-sandbox --disable-gpu \
        --no-first-run --user-data-dir="$work/chrome" --window-size=1200,700 "$@"
}

here=$(cd "$(dirname "$0")" && pwd)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# stub STATUS: starts push_stub.py; sets $stub_port.
stub() {
    mkdir -p "$work/stub"
    python3 "$here/push_stub.py" "$work/stub" "$1" >"$work/stub.port" 2>"$work/stub.err" &
    pids+=($!)
    for _ in $(seq 100); do
        stub_port=$(head -1 "$work/stub.port" 2>/dev/null)
        [ -n "$stub_port" ] && return
        sleep 0.1
    done
    fail "push_stub.py did not start: $(cat "$work/stub.err")"
}

# serve SECONDS: runs the app with its endpoints on; sets $src.
serve() {
    TASKSCOPE_HTTP=127.0.0.1:0 "$app" "$1" >"$work/app.out" 2>"$work/app.err" &
    pids+=($!)
    for _ in $(seq 100); do
        src=$(sed -n 's|.*serving /debug/pprof on \(http://[^/]*\)/debug/pprof/.*|\1|p' "$work/app.err")
        [ -n "$src" ] && return
        sleep 0.1
    done
    fail "the app did not say where it serves: $(cat "$work/app.err")"
}

# push_check BACKEND NAMES...: the stub's log holds 2 rounds of NAMES, all ok.
push_check() {
    python3 - "$work/stub/requests.jsonl" "$@" <<'PY' || fail "pushes: $(cat "$work/stub/requests.jsonl" 2>/dev/null | head -c 2000)"
import json, sys
log, backend, names = sys.argv[1], sys.argv[2], sys.argv[3:]
reqs = [json.loads(l) for l in open(log)]
bad = [r for r in reqs if not r["ok"]]
if bad:
    sys.exit("rejected: %s" % bad[0])
want = {"block": ["contentions", "delay"], "mutex": ["contentions", "delay"],
        "goroutine": ["goroutine"]}
mem = ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"]
want.update({"memory": mem, "memory_inuse": mem})
got = [r["name"] for r in reqs]
for n in set(names):
    if got.count(n) != 2 * names.count(n):
        sys.exit("%s pushed %d times, want %d (got %s)" % (n, got.count(n), 2 * names.count(n), got))
for r in reqs:
    w = want.get(r["name"])
    if w and r["types"] != w:
        sys.exit("%s: sample types %s, want %s" % (r["name"], r["types"], w))
    if backend == "parca" and r["job"] != "busy":
        sys.exit("job label %s" % r["job"])
PY
}

case $mode in
push-pyroscope|push-parca)
    backend=${mode#push-}
    stub 200
    serve 30
    run 0 "$ts" push "--$backend" "http://127.0.0.1:$stub_port" --app busy --interval 1s \
        --rounds 2 --profiles allocs,heap,block,mutex,goroutine "$src"
    grep -q "round 2: 5 profile(s), 0 push(es) failed" "$err" || fail "rounds: $(cat "$err")"
    if [ "$backend" = pyroscope ]; then
        push_check pyroscope busy busy busy busy busy
        # Pyroscope's name is the app; the type comes from the profile
        python3 -c "import json,sys; r=[json.loads(l) for l in open('$work/stub/requests.jsonl')]; sys.exit(0 if all(x['query']['name']=='busy' for x in r) else 1)" ||
            fail "name= is not the app"
    else
        push_check parca memory memory_inuse block mutex goroutine
    fi
    if command -v go >/dev/null; then
        export HOME=$work GOCACHE=$work/gocache PPROF_TMPDIR=$work
        timeout 120 go tool pprof -raw "$work/stub/1.pb.gz" >/dev/null 2>"$work/pprof.err" ||
            fail "go tool pprof -raw on a pushed profile: $(cat "$work/pprof.err")"
    fi
    step ok
    ;;
browser-live)
    browser=$(chromium_bin)
    [ -n "$browser" ] || { echo "views: no chromium; skipped"; exit 77; }
    serve 60
    step "the /debug/pprof/ index"
    chrome --dump-dom "$src/debug/pprof/" >index.html 2>chrome.err || fail "chromium: $(tail -3 chrome.err)"
    for p in allocs block goroutine heap mutex threadcreate; do
        grep -q "href=\"$p?debug=1\"" index.html || fail "no link to $p?debug=1 in the index: $(head -c 1500 index.html)"
    done
    grep -q 'href="goroutine?debug=2"' index.html || fail "no full goroutine dump link"
    chrome --screenshot="$work/index.png" "$src/debug/pprof/" >/dev/null 2>chrome.err || fail "chromium screenshot"
    ink=$(python3 "$here/png_ink.py" index.png) || fail "unreadable screenshot"
    python3 -c "import sys; sys.exit(0 if float('$ink') > 0.01 else 1)" || fail "the index renders blank (ink $ink)"
    step "flame graphs of live profiles"
    run 0 "$ts" flame -o live-block.html "$src/debug/pprof/block?seconds=2"
    run 0 "$ts" flame -o live-heap.html --sample-index alloc_space "$src/debug/pprof/heap"
    chrome --dump-dom "file://$work/live-block.html" >block-dom.html 2>chrome.err || fail "chromium: $(tail -3 chrome.err)"
    chrome --dump-dom "file://$work/live-heap.html" >heap-dom.html 2>chrome.err || fail "chromium: $(tail -3 chrome.err)"
    grep -q 'data-name="busy_producer"' block-dom.html || fail "busy_producer not in the live block flame graph"
    grep -q 'data-name="busy_locker"' heap-dom.html || fail "busy_locker not in the live heap flame graph"
    step "ok (index ink $ink)"
    ;;
push-bad)
    stub 500
    serve 30
    run 1 "$ts" push --pyroscope "http://127.0.0.1:$stub_port" --app busy --interval 1s \
        --rounds 1 --profiles goroutine "$src"
    grep -q "taskscope push: goroutine: http://127.0.0.1:$stub_port/ingest?.*HTTP 500" "$err" ||
        fail "a 500 from the backend: $(cat "$err")"
    run 2 "$ts" push --parca "http://127.0.0.1:$stub_port" --app busy --interval 1s \
        --rounds 1 --profiles goroutine http://127.0.0.1:1
    grep -q "answered nothing" "$err" || fail "dead source: $(cat "$err")"
    run 2 "$ts" push --parca http://x --pyroscope http://y --app a http://z
    grep -q "give one of --pyroscope URL and --parca URL" "$err" || fail "both backends: $(cat "$err")"
    run 2 "$ts" push --parca http://x --app a --interval 10q http://z
    grep -q 'bad --interval "10q"' "$err" || fail "bad interval: $(cat "$err")"
    run 2 "$ts" push --parca http://x --app a --profiles heap,nosuch http://z
    grep -q 'unknown profile "nosuch"' "$err" || fail "unknown profile: $(cat "$err")"
    run 2 "$ts" push --parca http://x http://z
    grep -q -- "--app NAME is required" "$err" || fail "no app: $(cat "$err")"
    step ok
    ;;
flame-html)
    browser=$(chromium_bin)
    [ -n "$browser" ] || { echo "views: no chromium; skipped"; exit 77; }
    profile
    run 0 "$ts" flame block.pb.gz
    grep -q "wrote block.html" "$err" || fail "no 'wrote block.html' on stderr: $(cat "$err")"
    [ -s block.html ] || fail "no block.html"
    grep -q '<script src=\|https\?://[^"]*\.js' block.html && fail "the page loads a script from elsewhere"
    step "DOM after the viewer ran"
    chrome --dump-dom "file://$work/block.html" >dom.html 2>chrome.err || fail "chromium --dump-dom failed: $(tail -3 chrome.err)"
    for f in all "${expected[@]}"; do
        grep -q "data-name=\"$f\"" dom.html || fail "no frame for $f in the rendered DOM"
    done
    grep -q 'id="status">total ' dom.html || fail "status line missing: the script did not finish"
    step "screenshot"
    chrome --screenshot="$work/shot.png" "file://$work/block.html" >/dev/null 2>chrome.err ||
        fail "chromium --screenshot failed: $(tail -3 chrome.err)"
    ink=$(python3 "$(dirname "$0")/png_ink.py" shot.png) || fail "unreadable screenshot"
    python3 -c "import sys; sys.exit(0 if float('$ink') > 0.05 else 1)" ||
        fail "the screenshot is blank (ink $ink)"
    step "ok (ink $ink)"
    ;;
flame-svg)
    profile
    run 0 "$ts" flame --svg -o flame.svg block.pb.gz
    python3 - flame.svg "${expected[@]}" <<'PY' || fail "bad SVG"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
titles = [t.text.rsplit(" (", 1)[0] for t in root.iter(ns + "title")]
missing = [f for f in sys.argv[2:] if f not in titles]
if missing or root.tag != ns + "svg":
    print("missing frames:", missing, file=sys.stderr)
    sys.exit(1)
PY
    run 0 "$ts" flame --svg -o - block.pb.gz
    head -c 5 "$out" | grep -q '<?xml' || fail "-o - did not write the SVG to stdout"
    step ok
    ;;
flame-bad)
    profile
    run 2 "$ts" flame missing.pb.gz
    grep -q "taskscope flame: missing.pb.gz: No such file" "$err" || fail "missing file: $(cat "$err")"
    : >empty.pb.gz
    run 2 "$ts" flame -o e.html empty.pb.gz
    grep -q "not a valid pprof profile: empty file" "$err" || fail "empty: $(cat "$err")"
    head -c 100 /dev/urandom >junk.pb.gz
    run 2 "$ts" flame -o j.html junk.pb.gz
    grep -q "not a valid pprof profile" "$err" || fail "junk: $(cat "$err")"
    run 2 "$ts" flame --sample-index nosuch -o n.html block.pb.gz
    grep -q 'no sample type "nosuch"; it has: contentions delay' "$err" || fail "sample type: $(cat "$err")"
    echo keep >block.html
    run 2 "$ts" flame block.pb.gz
    grep -q "block.html exists; name the output with -o" "$err" || fail "clobber: $(cat "$err")"
    [ "$(cat block.html)" = keep ] || fail "an existing file was overwritten"
    run 2 "$ts" flame -o u.html http://127.0.0.1:1/debug/pprof/heap
    grep -qi "taskscope flame: http://127.0.0.1:1/debug/pprof/heap: .*connect" "$err" || fail "URL: $(cat "$err")"
    run 2 "$ts" flame
    grep -q "no profile given" "$err" || fail "no argument: $(cat "$err")"
    ls e.html j.html n.html u.html *.tmp* 2>/dev/null && fail "a failed run left a file"
    step ok
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
exit 0
