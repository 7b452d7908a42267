#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds tests/install/ against it twice:
# with CMake's find_package(cryo) and with pkg-config (cryo and cryo_ffi shared, cryo-static and
# cryo_ffi-static as a user types them), and checks that the static binaries do not need
# libcryo*.so. Usage: run.sh BUILD_DIR WORK_DIR [CC]
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

# Fails when the binary needs libcryo*.so (a static link that linked the shared library).
no_cryo_so() {
    local needed
    if command -v readelf >/dev/null; then
        needed=$(readelf -d "$1" | grep NEEDED || true)
    else
        needed=$(LD_LIBRARY_PATH= ldd "$1" || true)
    fi
    if grep -q 'libcryo' <<<"$needed"; then
        echo "$1 was meant to link cryo statically but needs:"
        echo "$needed"
        exit 1
    fi
}
# The find_package static targets, checked the same way.
no_cryo_so "$work/consumer/consumer_static"
no_cryo_so "$work/consumer/consumer_ffi_static"

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
# Static, typed as the README says: the -static .pc files name the archives by path.
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$here/main.c" -o "$work/consumer_pc_static" \
    $(pkg-config --cflags --libs cryo-static)
no_cryo_so "$work/consumer_pc_static"
"$work/consumer_pc_static"

echo "== pkg-config cryo_ffi"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$here/ffi_main.c" -o "$work/consumer_ffi_pc" \
    $(pkg-config --cflags --libs cryo_ffi)
LD_BIND_NOW=1 LD_LIBRARY_PATH=$libdir "$work/consumer_ffi_pc"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$here/ffi_main.c" -o "$work/consumer_ffi_pc_static" \
    $(pkg-config --cflags --libs cryo_ffi-static)
no_cryo_so "$work/consumer_ffi_pc_static"
"$work/consumer_ffi_pc_static"
# --static too (it adds nothing the -static files need, and must not bring the .so back)
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$here/ffi_main.c" -o "$work/consumer_ffi_pc_static2" \
    $(pkg-config --cflags --libs --static cryo_ffi-static)
no_cryo_so "$work/consumer_ffi_pc_static2"
"$work/consumer_ffi_pc_static2"
echo "install-consumer: ok"
