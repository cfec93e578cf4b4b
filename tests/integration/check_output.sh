#!/usr/bin/env bash
# check_output.sh — run a program and check its standard output.
#
#   check_output.sh PROGRAM EXPECTED [ARGS...]
#
# Runs PROGRAM ARGS... (killed after CHECK_TIMEOUT seconds, default 30) and
# fails, with a message saying why, when the program exits non-zero, is
# killed, or its standard output does not match EXPECTED:
#
#   EXPECTED ending in .txt  exact match; a mismatch shows a unified diff.
#   EXPECTED ending in .re   line-by-line patterns: each line of the file is a
#                            POSIX extended regular expression that must match
#                            one whole output line, in order. A pattern line
#                            may start with a quantifier and one space:
#                              "+ RE"  one or more consecutive lines match RE
#                              "* RE"  zero or more lines
#                              "? RE"  an optional line
#                            Repeated patterns take as many lines as they can
#                            (no backtracking). Lines starting with "#" are
#                            comments; "\#" starts a pattern with "#".
#
# Standard error is not checked, but it is shown when the check fails.
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 PROGRAM EXPECTED [ARGS...]" >&2
    exit 2
fi
prog=$1
expected=$2
shift 2
name=$(basename "$prog")

if [ ! -f "$expected" ]; then
    echo "FAIL $name: no expected output file $expected" >&2
    echo "(add tests/integration/expected/$name.txt or $name.re)" >&2
    exit 1
fi
if [ ! -x "$prog" ]; then
    echo "FAIL $name: $prog is not an executable" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout
err=$tmp/stderr

start=$(date +%s.%N)
timeout --kill-after=5 "${CHECK_TIMEOUT:-30}" "$prog" "$@" >"$out" 2>"$err"
rc=$?
end=$(date +%s.%N)
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')

show_run() {
    echo "---- stdout of $name (${elapsed}s) ----"
    cat -n "$out"
    if [ -s "$err" ]; then
        echo "---- stderr of $name ----"
        cat "$err"
    fi
    echo "----"
}

if [ $rc -ne 0 ]; then
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "FAIL $name: killed after ${CHECK_TIMEOUT:-30}s (hung?)"
    else
        echo "FAIL $name: exit status $rc"
    fi
    show_run
    exit 1
fi

case "$expected" in
*.txt)
    if ! diff -u --label "expected ($expected)" --label "actual ($name)" \
            "$expected" "$out" >"$tmp/diff"; then
        echo "FAIL $name: output differs from $expected"
        cat "$tmp/diff"
        show_run
        exit 1
    fi
    ;;
*.re)
    mapfile -t lines <"$out"
    nlines=${#lines[@]}
    j=0       # next output line to match (0-based)
    pno=0     # pattern file line number
    fail=""
    while IFS= read -r pat || [ -n "$pat" ]; do
        pno=$((pno + 1))
        case "$pat" in
        '#'*) continue ;;
        '\#'*) pat=${pat#\\} ;;
        esac
        q=""
        case "$pat" in
        '+ '* | '* '* | '? '*)
            q=${pat:0:1}
            pat=${pat:2}
            ;;
        esac
        re="^(${pat})\$"
        if [ -z "$q" ]; then
            if [ $j -ge "$nlines" ]; then
                fail="output ended; pattern line $pno expects: $pat"
                break
            fi
            if ! [[ ${lines[$j]} =~ $re ]]; then
                fail="output line $((j + 1)) does not match pattern line $pno
  pattern: $pat
  actual:  ${lines[$j]}"
                break
            fi
            j=$((j + 1))
        else
            count=0
            while [ $j -lt "$nlines" ] && [[ ${lines[$j]} =~ $re ]]; do
                j=$((j + 1))
                count=$((count + 1))
                [ "$q" = "?" ] && break
            done
            if [ "$q" = "+" ] && [ $count -eq 0 ]; then
                if [ $j -ge "$nlines" ]; then
                    fail="output ended; pattern line $pno expects one or more: $pat"
                else
                    fail="output line $((j + 1)) does not match pattern line $pno (one or more)
  pattern: $pat
  actual:  ${lines[$j]}"
                fi
                break
            fi
        fi
    done <"$expected"
    if [ -z "$fail" ] && [ $j -lt "$nlines" ]; then
        fail="unexpected output from line $((j + 1)) on (all patterns used)
  actual:  ${lines[$j]}"
    fi
    if [ -n "$fail" ]; then
        echo "FAIL $name: output does not match $expected"
        echo "$fail"
        show_run
        exit 1
    fi
    ;;
*)
    echo "FAIL $name: $expected must end in .txt (exact) or .re (patterns)"
    exit 1
    ;;
esac

echo "PASS $name (${elapsed}s)"
cat "$out"
exit 0
