#!/usr/bin/env bash
# Installs what building and testing cryo needs, on Debian/Ubuntu (apt-get), when run as root
# or with password-less sudo; otherwise assumes the packages are there and says so.
# Usage: bash scripts/deps.sh [build|all]
#   build  compiler, cmake, cmocka, libffi, utf8proc, jansson, libedit, libsqlite3-dev, Open MPI
#          (enough for build + ctest, demo; libedit gives the cryo REPL line editing and history,
#          optional; SQLite and Open MPI are only for the SQLite and MPI examples, which ctest
#          skips without them)
#   all    also clang, clang-format, the compiler-rt runtimes (sanitizers, libFuzzer) and
#          valgrind (the full gate of scripts/test.sh)
# Set CRYO_DEPS_FORCE=1 to install even when everything looks present.
set -euo pipefail
what=${1:-all}

base=(build-essential cmake pkg-config libcmocka-dev libffi-dev libutf8proc-dev libjansson-dev
    libedit-dev libsqlite3-dev libopenmpi-dev openmpi-bin)
extra=(clang clang-format libclang-rt-14-dev valgrind)
pkgs=("${base[@]}")
[ "$what" = all ] && pkgs+=("${extra[@]}")

present() {
    command -v cc >/dev/null && command -v cmake >/dev/null && command -v pkg-config >/dev/null &&
        pkg-config --exists cmocka libffi libutf8proc jansson libedit sqlite3 2>/dev/null &&
        command -v mpicc >/dev/null && command -v mpirun >/dev/null || return 1
    if [ "$what" = all ]; then
        command -v clang >/dev/null && command -v clang-format >/dev/null &&
            command -v valgrind >/dev/null || return 1
        # libFuzzer's runtime ships with compiler-rt
        ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
            ls /usr/lib/llvm-*/lib/clang/*/lib/*/libclang_rt.fuzzer*.a >/dev/null 2>&1 || return 1
    fi
    return 0
}

if [ "${CRYO_DEPS_FORCE:-0}" != 1 ] && present; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        echo "deps: not root and no sudo: assuming the dependencies (${pkgs[*]}) are installed"
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null; then
    echo "deps: no apt-get: install ${pkgs[*]} (or your system's equivalents) yourself"
    exit 0
fi
echo "deps: installing ${pkgs[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${pkgs[@]}" </dev/null >/dev/null
