#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds tests/install/ against it twice:
# with CMake's find_package(cryo) and with pkg-config (cryo and cryo_ffi). Usage: run.sh BUILD_DIR WORK_DIR [CC]
set -euo pipefail
build=$1
work=$2
cc=${3:-cc}
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v cmake >/dev/null; then
    echo "cmake not found: skipping"
    exit 77
fi

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

echo "== find_package(cryo)"
cmake -S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_RPATH="$(dirname "$(find "$prefix" -name 'libcryo.so' | head -n1)")" \
    >"$work/configure.log"
cmake --build "$work/consumer" >"$work/build.log"
"$work/consumer/consumer"
"$work/consumer/consumer_static"
# Every symbol bound at start-up: one that libcryo does not export fails here, not at first use.
LD_BIND_NOW=1 "$work/consumer/consumer_ffi"
"$work/consumer/consumer_ffi_static"

echo "== pkg-config cryo"
if ! command -v pkg-config >/dev/null; then
    echo "pkg-config not found: skipping that half"
    exit 0
fi
pcdir=$(dirname "$(find "$prefix" -name cryo.pc | head -n1)")
export PKG_CONFIG_PATH=$pcdir
libdir=$(pkg-config --variable=libdir cryo)
# shellcheck disable=SC2046 # word splitting of the flags is intended
"$cc" -std=c11 -Wall -Wextra -Werror "$here/main.c" -o "$work/consumer_pc" \
    $(pkg-config --cflags --libs cryo)
LD_LIBRARY_PATH=$libdir "$work/consumer_pc"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$here/main.c" -o "$work/consumer_pc_static" \
    $(pkg-config --cflags cryo) "$libdir/libcryo.a" $(pkg-config --libs-only-l --static cryo | sed 's/-lcryo//')
"$work/consumer_pc_static"

echo "== pkg-config cryo_ffi"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$here/ffi_main.c" -o "$work/consumer_ffi_pc" \
    $(pkg-config --cflags --libs cryo_ffi)
LD_BIND_NOW=1 LD_LIBRARY_PATH=$libdir "$work/consumer_ffi_pc"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$here/ffi_main.c" -o "$work/consumer_ffi_pc_static" \
    $(pkg-config --cflags cryo_ffi) "$libdir/libcryo_ffi.a" "$libdir/libcryo.a" \
    $(pkg-config --libs-only-l --static cryo_ffi | sed 's/-lcryo_ffi//; s/-lcryo//')
"$work/consumer_ffi_pc_static"
echo "install-consumer: ok"
