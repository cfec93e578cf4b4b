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

case $mode in
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
