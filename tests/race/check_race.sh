#!/usr/bin/env bash
# check_race.sh — run a tests/race program and judge ThreadSanitizer's verdict.
#
#   check_race.sh clean PROGRAM
#   check_race.sh race  PROGRAM VARIABLE
#
# clean: PROGRAM must exit 0 and its standard error must contain no
#        "WARNING: ThreadSanitizer" at all.
# race:  PROGRAM must exit 66 (TSan's exitcode, set in TSAN_OPTIONS by the
#        caller, with halt_on_error off so the program runs to the end), its
#        standard error must hold exactly one "WARNING: ThreadSanitizer"
#        and that one must be "WARNING: ThreadSanitizer: data race", and the
#        report must name the racy global ("Location is global 'VARIABLE'").
#
# The program is killed after CHECK_TIMEOUT seconds (default 100, under
# CTest's 120 s). On failure the program's output is shown.
set -u

usage() {
    echo "usage: $0 clean PROGRAM | $0 race PROGRAM VARIABLE" >&2
    exit 2
}

[ $# -ge 2 ] || usage
mode=$1
prog=$2
var=${3:-}
case $mode in
    clean) [ $# -eq 2 ] || usage ;;
    race) [ $# -eq 3 ] || usage ;;
    *) usage ;;
esac

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

timeout -k 5 "${CHECK_TIMEOUT:-100}" "$prog" >"$out" 2>"$err"
rc=$?

fail() {
    echo "FAIL: $(basename "$prog"): $*"
    echo "---- exit status: $rc"
    echo "---- stdout:"
    cat "$out"
    echo "---- stderr:"
    cat "$err"
    exit 1
}

if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "timed out after ${CHECK_TIMEOUT:-100} s"
fi

warnings=$(grep -c 'WARNING: ThreadSanitizer' "$err")
races=$(grep -c 'WARNING: ThreadSanitizer: data race' "$err")

if [ "$mode" = clean ]; then
    [ "$warnings" -eq 0 ] || fail "expected no ThreadSanitizer report, got $warnings"
    [ $rc -eq 0 ] || fail "expected exit status 0"
    echo "ok: $(basename "$prog"): no ThreadSanitizer report"
    exit 0
fi

[ $rc -eq 66 ] || fail "expected exit status 66 (TSan exitcode after a report)"
[ "$races" -eq 1 ] || fail "expected exactly 1 data race report, got $races"
[ "$warnings" -eq 1 ] ||
    fail "expected no report other than the data race, got $warnings warnings"
grep -q "Location is global '$var'" "$err" ||
    fail "the data race report does not name the global '$var'"
echo "ok: $(basename "$prog"): exactly one data race, on '$var'"
exit 0
