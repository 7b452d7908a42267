#!/usr/bin/env bash
# Runs valgrind memcheck over the test and example binaries of a normal build (built first if
# needed); fails on any memory error or definite leak.
# Usage: bash scripts/valgrind.sh [build-dir] [name-regex]
#   build-dir   default: build
#   name-regex  only the binaries whose name matches (grep -E), e.g. 'hostile|vm'
# Environment: CRYO_JOBS (binaries run in parallel), VALGRIND_ARGS (extra valgrind options).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/progress.sh"
build=${1:-$root/build}
filter=${2:-.}
jobs=${CRYO_JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" >/dev/null
fi
cmake --build "$build" --parallel "$jobs" >/dev/null

logs=$build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
# Every test binary (globbed: new tests are covered without editing this script) and example.
mapfile -t bins < <(find "$build" -maxdepth 1 -type f -perm -u+x \( -name 'test-*' -o -name 'example-*' \) |
    sort | grep -E "/[^/]*($filter)[^/]*$" || true)
if [ ${#bins[@]} -eq 0 ]; then
    echo "valgrind: no test binaries in $build"
    exit 1
fi
# The conformance runner forks a child per case unless told not to; in-process is faster
# under valgrind and keeps every case under memcheck.
export CRYO_CONFORMANCE_NOFORK=1
# Tests that measure timing or spin threads can read this to scale themselves down.
export CRYO_UNDER_VALGRIND=1

run_one() {
    local bin=$1 name t0 rc
    name=$(basename "$bin")
    t0=$(date +%s)
    set +e
    (cd "$root" && valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=no \
        --num-callers=30 --fair-sched=yes --suppressions="$root/scripts/valgrind.supp" ${VALGRIND_ARGS:-} "$bin") >"$logs/$name.log" 2>&1
    rc=$?
    set -e
    local dt=$(($(date +%s) - t0))
    touch "$logs/$name.done"
    # 77 = the test skipped itself (its corpus is absent): not a valgrind failure.
    if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
        echo "valgrind: ok    $name (${dt}s)"
    else
        echo "valgrind: FAIL  $name (exit $rc, ${dt}s) -- log follows"
        tail -n 120 "$logs/$name.log"
        return 1
    fi
}
export -f run_one
export root logs

heartbeat_start "valgrind" "echo \"\$(ls $logs/*.done 2>/dev/null | wc -l) of ${#bins[@]} binaries done\""
printf '%s\n' "${bins[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
heartbeat_stop
echo "valgrind: ${#bins[@]} binaries clean (logs in $logs)"
