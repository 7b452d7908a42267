#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c, clang, ASan+UBSan) and fuzzes each for a
# fixed time, starting from its seed corpus tests/fuzz/corpus/<name>/ (read-only: inputs the
# run finds go to <build-dir>/corpus/<name>/). Fails if any target crashes, leaks, times out or
# runs out of memory; the reproducer is left in <build-dir>/artifacts/<name>/.
# Usage: bash scripts/fuzz.sh [seconds-per-target] [build-dir] [target...]
#   seconds default 45; build-dir default build-fuzz; targets default: all (compile, run,
#   const, cdecl: every tests/fuzz/fuzz_*.c), each for the same time
# Long runs: bash scripts/fuzz.sh 3600 /tmp/fuzz run     (one hour on fuzz-run)
# Reproduce: <build-dir>/fuzz-<name> <crash-file>
# Environment: CRYO_JOBS, FUZZ_ARGS (extra libFuzzer flags, e.g. -jobs=2 -workers=2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/progress.sh"
seconds=${1:-45}
build=${2:-$root/build-fuzz}
shift $(($# > 2 ? 2 : $#))
jobs=${CRYO_JOBS:-$(nproc 2>/dev/null || echo 2)}
cc=${CC:-clang}
case $cc in *clang*) ;; *) cc=clang ;; esac

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCRYO_FUZZ=ON -DCRYO_WERROR=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --parallel "$jobs" --target fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$root"/tests/fuzz/fuzz_*.c; do
        n=$(basename "$f" .c)
        targets+=("${n#fuzz_}")
    done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
    exe=$build/fuzz-$t
    seeds=$root/tests/fuzz/corpus/$t
    work=$build/corpus/$t
    art=$build/artifacts/$t
    mkdir -p "$work" "$art"
    [ -d "$seeds" ] || seeds=
    log=$build/fuzz-$t.log
    echo "fuzz: $t for ${seconds}s"
    # libFuzzer's own progress lines ("#12345 pulse cov: ...") go to the log: show the last one
    heartbeat_start "fuzz: $t" "grep -E '^#[0-9]+' '$log' | tail -n1 | cut -c1-100"
    set +e
    # -timeout: one input taking longer than 25 s (under ASan, on a loaded 2-core machine) is
    # a hang; -rss_limit_mb bounds memory;
    # -max_len keeps inputs script-sized.
    "$exe" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_ARGS:-} "$work" ${seeds:+"$seeds"} \
        >"$log" 2>&1 </dev/null
    rc=$?
    set -e
    heartbeat_stop
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    cov=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -n1 | sed -E 's/.*cov: ([0-9]+).*ft: ([0-9]+).*/cov \1 ft \2/')
    if [ $rc -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} executions; reproducer(s):"
        ls -1 "$art"
        grep -E -A40 'ERROR: |runtime error|==ERROR|deadly signal|timeout|out-of-memory' "$log" | head -n 80
        status=1
    else
        echo "fuzz: $t ok: ${runs:-?} executions, ${cov:-}, corpus $(ls "$work" | wc -l) new inputs (log $log)"
    fi
done
exit $status
