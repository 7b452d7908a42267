#!/usr/bin/env bash
# Runs the cryo CLI once and checks its exit status, stdout and stderr (ctest's regular
# expressions cannot check the status and the output together).
# Usage: check.sh CRYO STATUS STDOUT STDERR_ERE [STDIN_TEXT] -- ARGS...
#   STDOUT: the exact standard output (printf %b: \n escapes), or "-" to skip the check.
#   STDERR_ERE: an extended regular expression some line of stderr must match; "" skips it.
#   "@FILE" instead: stderr must be exactly FILE's text, where {DIR} stands for FILE's folder
#   (for several lines together, e.g. an error's stack trace).
#   STDIN_TEXT is fed to stdin (printf %b), or the file it names after an @; without it stdin
#   is /dev/null.
set -uo pipefail
cryo=$1 want_status=$2 want_out=$3 want_err=$4
shift 4
input=
if [ "${1:-}" != -- ]; then
    input=$1
    shift
fi
[ "${1:-}" = -- ] && shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "${input:0:1}" = @ ]; then
    cp "${input:1}" "$work/in"
elif [ -n "$input" ]; then
    printf '%b' "$input" >"$work/in"
else
    : >"$work/in"
fi
"$cryo" "$@" <"$work/in" >"$work/out" 2>"$work/err"
status=$?
fail=0
if [ "$status" != "$want_status" ]; then
    echo "exit status $status, want $want_status"
    fail=1
fi
if [ "$want_out" != - ] && ! cmp -s <(printf '%b' "$want_out") "$work/out"; then
    echo "stdout is not: $want_out"
    fail=1
fi
if [ "${want_err:0:1}" = @ ]; then
    file=${want_err:1}
    if ! cmp -s <(sed "s|{DIR}|$(dirname "$file")|g" "$file") "$work/err"; then
        echo "stderr is not the text of $file:"
        diff <(sed "s|{DIR}|$(dirname "$file")|g" "$file") "$work/err"
        fail=1
    fi
elif [ -n "$want_err" ] && ! grep -Eq -- "$want_err" "$work/err"; then
    echo "stderr does not match /$want_err/"
    fail=1
fi
if [ $fail = 1 ]; then
    echo "--- command: cryo $*"
    echo "--- stdout:"
    cat "$work/out"
    echo "--- stderr:"
    cat "$work/err"
fi
exit $fail
