#!/usr/bin/env bash
# check_race_cli.sh — tests of `taskscope race` (docs/race.md) on the worked
# example sample_apps/race_counter.c.
#
#   check_race_cli.sh CASE TASKSCOPE RACE_COUNTER SOURCE
#
# CASE is one of:
#   racy      --racy: exit 1; one data race, both stacks at racy_worker's
#             counter++ line (marker [line:racy_increment] in SOURCE), the
#             tasks named ("task N (TM)"), the global named
#   fixed     no flag: exit 0, "no ThreadSanitizer report"
#   status    clean run of a command exiting 3: exit 3 kept
#   dedup     two racy processes under one sh -c: one distinct report,
#             counted >= 2 times, "from 2 processes"
#   json      --json: the last stdout line parses (python3) and has the
#             documented fields and values
#   junit     --junit: well-formed XML (python3 xml.etree), one failed
#             testcase when racy, one passing testcase when clean
#   usage     no command: exit 2 + usage; unknown flag: exit 2; missing
#             command: exit 2 with strerror; --help: exit 0
#   not_tsan  RACE_COUNTER built without TSan: exit 2, "did not run under
#             ThreadSanitizer"
# Every case also checks that the temporary directory was removed (TMPDIR
# is a private directory that must be empty afterwards). Each command is
# killed after CHECK_TIMEOUT seconds (default 50).
set -u

[ $# -eq 4 ] || { echo "usage: $0 CASE TASKSCOPE RACE_COUNTER SOURCE" >&2; exit 2; }
case=$1 ts=$2 prog=$3 src=$4

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work/tmp
mkdir "$TMPDIR"
export TASKSCOPE_PROCS=2
line=$(grep -n '\[line:racy_increment\]' "$src" | cut -d: -f1)

fail() {
    echo "FAIL: race.cli.$case: $*"
    echo "---- exit status: $rc"
    echo "---- stdout:"; cat "$work/out"
    echo "---- stderr:"; cat "$work/err"
    exit 1
}

# run EXPECTED_STATUS ARGS...: taskscope ARGS, status checked
run() {
    local want=$1
    shift
    timeout -k 5 "${CHECK_TIMEOUT:-50}" "$ts" "$@" >"$work/out" 2>"$work/err"
    rc=$?
    [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "timed out: taskscope $*"
    [ $rc -eq "$want" ] || fail "taskscope $*: expected exit status $want"
    [ -z "$(ls -A "$TMPDIR")" ] || fail "temporary files left: $(ls -A "$TMPDIR")"
}

has() { grep -qF -- "$1" "$work/out" || fail "stdout lacks: $1"; }
count() { # count N TEXT: TEXT on exactly N lines of stdout
    local n
    n=$(grep -cF -- "$2" "$work/out")
    [ "$n" -eq "$1" ] || fail "expected $1 line(s) with '$2', got $n"
}

case $case in
racy)
    run 1 race -- "$prog" --racy
    has "==== ThreadSanitizer report 1 of 1: data race"
    count 2 "racy_worker $src:$line"
    grep -Eq '^  Write of size 8 by task [2-5] \(T[0-9]+\):$' "$work/out" ||
        fail "no 'Write of size 8 by task N (TM)' title"
    grep -Eq '^  Previous (write|read) of size 8 by task [2-5] \(T[0-9]+\):$' "$work/out" ||
        fail "no 'Previous write/read of size 8 by task N (TM)' title"
    has "Location is global 'counter'"
    grep -Eq "^  Thread T[0-9]+ 'task [2-5]'" "$work/out" || fail "no task thread section"
    has "taskscope race: 1 distinct report"
    ;;
fixed)
    run 0 race -- "$prog"
    has "counter = 4000"
    has "taskscope race: no ThreadSanitizer report from 1 process"
    ! grep -q "ThreadSanitizer report 1" "$work/out" || fail "unexpected report"
    ;;
status)
    run 3 race -- sh -c '"$0"; exit 3' "$prog"
    has "no ThreadSanitizer report"
    ;;
dedup)
    run 1 race -- sh -c '"$0" --racy; "$0" --racy' "$prog"
    has "==== ThreadSanitizer report 1 of 1: data race ("
    grep -Eq '^taskscope race: 1 distinct report \(([2-9]|[1-9][0-9]+) in all\) from 2 processes$' \
        "$work/out" || fail "expected 1 distinct report, >= 2 in all, from 2 processes"
    ;;
json)
    run 1 race --json -- "$prog" --racy
    tail -n 1 "$work/out" | python3 -c '
import json, sys
line = int(sys.argv[1]); src = sys.argv[2]
d = json.load(sys.stdin)
assert list(d) == ["status", "processes", "total", "reports"], list(d)
assert d["status"] == 66 and d["processes"] == 1 and d["total"] >= 1, d
assert len(d["reports"]) == 1, d["reports"]
r = d["reports"][0]
assert r["kind"] == "data race" and r["count"] == d["total"], r
stacks = [s for s in r["sections"] if s["frames"]]
for s in stacks[:2]:
    f = s["frames"][0]
    assert (f["function"], f["file"], f["line"]) == ("racy_worker", src, line), f
    assert 2 <= s["task"] <= 5 and s["thread"].startswith("T"), s
assert any(s["title"] == "Location is global \x27counter\x27" for s in r["sections"])
' "$line" "$src" || fail "JSON check failed"
    run 0 race --json -- "$prog"
    tail -n 1 "$work/out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d == {"status": 0, "processes": 1, "total": 0, "reports": []}, d
' || fail "clean JSON check failed"
    ;;
junit)
    run 1 race --junit "$work/r.xml" -- "$prog" --racy
    python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = list(root.iter("testcase"))
assert root.tag == "testsuites" and len(cases) == 1, cases
f = cases[0].find("failure")
assert f is not None and "racy_worker" in f.text and "data race" in cases[0].get("name")
' "$work/r.xml" || fail "JUnit (racy) check failed"
    run 0 race --junit "$work/c.xml" -- "$prog"
    python3 -c '
import sys, xml.etree.ElementTree as ET
cases = list(ET.parse(sys.argv[1]).getroot().iter("testcase"))
assert len(cases) == 1 and cases[0].find("failure") is None, cases
' "$work/c.xml" || fail "JUnit (clean) check failed"
    ;;
usage)
    run 2 race
    grep -q "taskscope race: no command given" "$work/err" || fail "no 'no command given'"
    grep -q "^usage: taskscope race" "$work/err" || fail "no usage on stderr"
    run 2 race --bogus -- "$prog"
    run 2 race --junit
    run 2 race -- "$work/no-such-program"
    grep -q "no-such-program: No such file or directory" "$work/err" || fail "no strerror"
    run 0 race --help
    has "usage: taskscope race"
    ;;
not_tsan)
    run 2 race -- "$prog"
    grep -q "did not run under ThreadSanitizer" "$work/err" || fail "no 'did not run' message"
    ;;
*)
    echo "unknown case $case" >&2
    exit 2
    ;;
esac
echo "ok: race.cli.$case"
