#!/usr/bin/env bash
# Installs the build dependencies (when root or sudo is available), builds cryo and runs the
# demo script with the cryo command-line tool.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=(build-essential cmake pkg-config libcmocka-dev libffi-dev libutf8proc-dev libjansson-dev)

install_deps() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo)
        else
            echo "demo: not root and no sudo: assuming the dependencies are installed"
            return 0
        fi
    fi
    if command -v apt-get >/dev/null; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${deps[@]}" >/dev/null
    fi
}

install_deps
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" --parallel "$(nproc 2>/dev/null || echo 2)" --target cryo_cli
"$root/build/cryo" "$root/examples/scripts/demo.rhai"
