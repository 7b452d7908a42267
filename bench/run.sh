#!/usr/bin/env bash
# Builds and runs the benchmarks: cryo vs Lua 5.4 vs LuaJIT (-joff), then Rhai's scripts, then
# the Are We Fast Yet table (bench/awfy/run.sh, which also runs alone).
# Installs Lua 5.4 and LuaJIT first when running as root. Never part of the test run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq lua5.4 liblua5.4-dev luajit time >/dev/null
fi

# -O3 finds "maybe uninitialized" false positives that the tested build type does not: a bench
# build must not fail on them (the test build keeps -Werror).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCRYO_BENCH=ON -DCRYO_WERROR=OFF >/dev/null
cmake --build "$build" --parallel "$(nproc 2>/dev/null || echo 2)" --target bench-lang bench-compile bench-sync-call bench-vm-create bench-workers bench-ffi-qsort bench-image bench-footprint
"$build/bench/bench-lang" "$root" "${CRYO_CONFORMANCE_DIR:-$root/../shared/conformance/rhai}"
"$build/bench/bench-sync-call"
"$build/bench/bench-vm-create"
"$build/bench/bench-workers"
"$build/bench/bench-ffi-qsort" "${LUAJIT:-luajit}"
"$build/bench/bench-image" "$root"
"$build/bench/bench-footprint"
"$build/bench/bench-compile"

cmake --build "$build" --parallel "$(nproc 2>/dev/null || echo 2)" --target cryo_cli
CRYO="$build/cryo" bash "$root/bench/awfy/run.sh"
