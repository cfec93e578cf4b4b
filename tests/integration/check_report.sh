#!/usr/bin/env bash
# check_report.sh — run a program and check the diagnostics it prints: the
# deadlock report, a goroutineleak dump, the output of `taskscope leaks`.
#
#   check_report.sh PATTERNS PROGRAM [ARGS...]
#
# Runs PROGRAM ARGS... (killed after CHECK_TIMEOUT seconds, default 30),
# then checks its exit status and its standard output and error against the
# directives of PATTERNS. Every failed directive is listed; on any failure
# the whole output is shown and the script exits 1.
#
# PATTERNS holds one directive per line; leading blanks are ignored, and so
# are empty lines and lines starting with "#". RE is a POSIX extended regular
# expression that must match a whole line; "\t" in RE stands for a tab.
#
#   status N      the exit status must be N (default 0)
#   source FILE   FILE (relative to the repository root) is scanned for
#                 markers "[line:NAME]"; "@NAME@" in any later RE is replaced
#                 by the number of the line holding that marker, so that the
#                 patterns name source lines without hard-coding numbers
#   in STREAM     the following directives look at stdout, stderr, or output
#                 (stdout then stderr); default stderr
#   line RE       some line matches RE
#   next RE       the line right after the one the previous line/next
#                 directive matched matches RE (frame name, then its file line)
#   no RE         no line matches RE
#   count N RE    exactly N lines match RE
#   block RE      exactly one goroutine header ("goroutine N [...]:") of the
#                 stream matches RE; until "end", line/next/no/count look only
#                 at that goroutine's lines (its header to the next blank line)
#   end           back to the whole stream
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 PATTERNS PROGRAM [ARGS...]" >&2
    exit 2
fi
patterns=$1
shift
prog=$1
name=$(basename "$patterns")
name=${name%.report}
root=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -f "$patterns" ]; then
    echo "FAIL $name: no pattern file $patterns" >&2
    exit 1
fi
if [ ! -x "$prog" ]; then
    echo "FAIL $name: $prog is not an executable" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s.%N)
timeout --kill-after=5 "${CHECK_TIMEOUT:-30}" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
end=$(date +%s.%N)
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')
cat "$tmp/stdout" "$tmp/stderr" >"$tmp/output"

show_run() {
    echo "---- command: $*"
    echo "---- exit status $rc (${elapsed}s); stdout ----"
    cat -n "$tmp/stdout"
    echo "---- stderr ----"
    cat -n "$tmp/stderr"
    echo "----"
}

declare -A marks=()
fails=()
fail() { fails+=("$patterns:$pno: $1"); }

# scope: the lines the directives look at
scope=()
scope_desc=""
last=-1 # index in scope of the last line matched by line/next
set_stream() {
    case "$1" in
    stdout | stderr | output) ;;
    *)
        fail "unknown stream '$1' (stdout, stderr or output)"
        return
        ;;
    esac
    stream=$1
    mapfile -t scope <"$tmp/$stream"
    scope_desc=$stream
    last=-1
}

# expand @NAME@ markers and \t in a pattern; sets $re, or fails
expand() {
    local pat=$1 out="" m
    while [[ $pat =~ ^([^@]*)@([A-Za-z0-9_]+)@(.*)$ ]]; do
        m=${BASH_REMATCH[2]}
        if [ -z "${marks[$m]+set}" ]; then
            fail "no marker [line:$m] in the source file"
            return 1
        fi
        out+=${BASH_REMATCH[1]}${marks[$m]}
        pat=${BASH_REMATCH[3]}
    done
    out+=$pat
    out=${out//\\t/$'\t'}
    re="^(${out})\$"
    return 0
}

want_status=0
stream=stderr
set_stream stderr
pno=0
while IFS= read -r raw || [ -n "$raw" ]; do
    pno=$((pno + 1))
    d=${raw#"${raw%%[![:space:]]*}"} # strip leading blanks
    case "$d" in '' | '#'*) continue ;; esac
    kw=${d%% *}
    arg=""
    [ "$kw" != "$d" ] && arg=${d#* }
    case "$kw" in
    status)
        want_status=$arg
        ;;
    source)
        src=$root/$arg
        if [ ! -f "$src" ]; then
            fail "source file $src not found"
            continue
        fi
        n=0
        while IFS= read -r sl || [ -n "$sl" ]; do
            n=$((n + 1))
            rest=$sl
            while [[ $rest =~ \[line:([A-Za-z0-9_]+)\](.*)$ ]]; do
                marks[${BASH_REMATCH[1]}]=$n
                rest=${BASH_REMATCH[2]}
            done
        done <"$src"
        ;;
    in)
        set_stream "$arg"
        ;;
    end)
        set_stream "$stream"
        ;;
    block)
        expand "$arg" || continue
        mapfile -t all <"$tmp/$stream"
        hits=()
        for ((i = 0; i < ${#all[@]}; i++)); do
            if [[ ${all[$i]} =~ ^goroutine\ [0-9]+\ \[.*\]:$ ]] &&
                [[ ${all[$i]} =~ $re ]]; then
                hits+=("$i")
            fi
        done
        if [ ${#hits[@]} -ne 1 ]; then
            fail "block $arg: ${#hits[@]} goroutine headers in $stream match, expected exactly 1"
            scope=()
            scope_desc="(no block)"
            last=-1
            continue
        fi
        scope=()
        for ((i = hits[0]; i < ${#all[@]}; i++)); do
            [ -z "${all[$i]}" ] && break
            scope+=("${all[$i]}")
        done
        scope_desc="block '${scope[0]}' of $stream"
        last=-1
        ;;
    line)
        expand "$arg" || continue
        found=-1
        for ((i = 0; i < ${#scope[@]}; i++)); do
            if [[ ${scope[$i]} =~ $re ]]; then
                found=$i
                break
            fi
        done
        if [ $found -lt 0 ]; then
            fail "no line of $scope_desc matches: $arg"
        fi
        last=$found
        ;;
    next)
        expand "$arg" || continue
        if [ $last -lt 0 ]; then
            fail "next without a matched line before it: $arg"
        elif [ $((last + 1)) -ge ${#scope[@]} ]; then
            fail "no line after '${scope[$last]}' in $scope_desc; expected: $arg"
            last=-1
        elif ! [[ ${scope[$((last + 1))]} =~ $re ]]; then
            fail "line after '${scope[$last]}' in $scope_desc does not match
    pattern: $arg
    actual:  ${scope[$((last + 1))]}"
            last=-1
        else
            last=$((last + 1))
        fi
        ;;
    no)
        expand "$arg" || continue
        for ((i = 0; i < ${#scope[@]}; i++)); do
            if [[ ${scope[$i]} =~ $re ]]; then
                fail "a line of $scope_desc matches the forbidden pattern: $arg
    line: ${scope[$i]}"
                break
            fi
        done
        ;;
    count)
        want=${arg%% *}
        expand "${arg#* }" || continue
        got=0
        for ((i = 0; i < ${#scope[@]}; i++)); do
            [[ ${scope[$i]} =~ $re ]] && got=$((got + 1))
        done
        if [ "$got" != "$want" ]; then
            fail "$got lines of $scope_desc match, expected $want: ${arg#* }"
        fi
        ;;
    *)
        fail "unknown directive '$kw'"
        ;;
    esac
done <"$patterns"

if [ "$rc" != "$want_status" ]; then
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fails=("killed after ${CHECK_TIMEOUT:-30}s (hung?)" "${fails[@]}")
    else
        fails=("exit status $rc, expected $want_status" "${fails[@]}")
    fi
fi

if [ ${#fails[@]} -gt 0 ]; then
    echo "FAIL $name:"
    for f in "${fails[@]}"; do
        echo "  $f"
    done
    show_run "$@"
    exit 1
fi

echo "PASS $name (${elapsed}s, exit status $rc)"
show_run "$@"
exit 0
