#!/usr/bin/env bash
# fake_leaks_cmd.sh — a stand-in for a program linked with the taskscope
# runtime, for the tests of `taskscope leaks` (check_cli.sh leaks). It plays
# the runtime's side of the TASKSCOPE_LEAKS_OUT contract (docs/cli.md):
#
#   fake_leaks_cmd.sh leak        writes a report to $TASKSCOPE_LEAKS_OUT, exits 0
#   fake_leaks_cmd.sh exit N      writes nothing, exits N
#   fake_leaks_cmd.sh signal      kills itself with SIGKILL
#   fake_leaks_cmd.sh wait READY  touches READY, then waits; on SIGTERM it
#                                 writes a report and exits 5
#
# Every mode first appends "$TASKSCOPE_LEAKS_OUT" and the format
# (${TASKSCOPE_LEAKS_FORMAT:-unset}) to $FAKE_LOG, if set, so the test can
# check the file existed while the command ran and is gone afterwards.
set -u
if [ -n "${FAKE_LOG:-}" ]; then
    [ -f "${TASKSCOPE_LEAKS_OUT:?}" ] && state=exists || state=missing
    echo "$TASKSCOPE_LEAKS_OUT $state ${TASKSCOPE_LEAKS_FORMAT:-unset}" >>"$FAKE_LOG"
fi
case $1 in
leak)
    printf 'taskscope: 2 leaked tasks (format %s)\n' "${TASKSCOPE_LEAKS_FORMAT:-text}" \
        >"$TASKSCOPE_LEAKS_OUT"
    exit 0
    ;;
exit)
    exit "$2"
    ;;
signal)
    kill -KILL $$
    ;;
wait)
    trap 'echo "report written on SIGTERM" >"$TASKSCOPE_LEAKS_OUT"; kill "$sleeper"; exit 5' TERM
    sleep 30 &
    sleeper=$!
    : >"$2"
    wait "$sleeper"
    exit 0
    ;;
esac
echo "fake_leaks_cmd.sh: unknown mode $1" >&2
exit 2
