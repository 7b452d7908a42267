#!/usr/bin/env bash
# Builds cryo with a sanitizer in its own build directory and runs the tests there.
# Usage: bash scripts/sanitize.sh asan|tsan [build-dir]
#   asan  -fsanitize=address,undefined -fno-sanitize-recover=all, LeakSanitizer on; every test
#   tsan  -fsanitize=thread; the tests labelled "threads" (ctest -L threads, see CMakeLists.txt)
# Environment: CC (default cc), CRYO_JOBS, CTEST_ARGS (extra ctest arguments, e.g. -R hostile).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/progress.sh"
kind=${1:?usage: sanitize.sh asan|tsan [build-dir]}
build=${2:-$root/build-$kind}
jobs=${CRYO_JOBS:-$(nproc 2>/dev/null || echo 2)}
# The install test links a consumer against the installed library without the sanitizer
# runtime: meaningless here (the normal stage runs it).
exclude='^install-consumer$'
case $kind in
asan)
    flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-}
    select=()
    ;;
tsan)
    flags="-fsanitize=thread"
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    select=(-L threads)
    ;;
*)
    echo "sanitize.sh: unknown sanitizer '$kind' (asan, tsan)" >&2
    exit 2
    ;;
esac

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRYO_WERROR=OFF \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
    >/dev/null
heartbeat_start "sanitize $kind: building"
cmake --build "$build" --parallel "$jobs"
heartbeat_stop

run=(ctest --output-on-failure --parallel "$jobs" -E "$exclude" "${select[@]}" ${CTEST_ARGS:-})
# ThreadSanitizer (gcc 12 / clang 14) fails to map its shadow memory when the kernel
# randomizes mmap with more than 28 bits; running without ASLR avoids it.
if [ "$kind" = tsan ] && command -v setarch >/dev/null && setarch "$(uname -m)" -R true 2>/dev/null; then
    run=(setarch "$(uname -m)" -R "${run[@]}")
fi
cd "$build"
if [ "$kind" = tsan ]; then
    n=$(ctest -N "${select[@]}" -E "$exclude" | sed -n 's/^Total Tests: //p')
    echo "sanitize: ${n:-0} test(s) labelled threads"
fi
# ctest prints a line as each test ends; a long one (conformance, hostile) would be silent.
heartbeat_start "sanitize $kind: ctest" \
    "echo \"\$(grep -c 'end time:' Testing/Temporary/LastTest.log) test(s) done\""
"${run[@]}"
