#!/usr/bin/env bash
# Installs the build dependencies (when root or sudo is available), builds cryo and runs the
# demo script with the cryo command-line tool.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The build dependencies, through the installer shared with scripts/test.sh.
install_deps() { bash "$root/scripts/deps.sh" build; }

install_deps
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" --parallel "$(nproc 2>/dev/null || echo 2)" --target cryo_cli
"$root/build/cryo" "$root/examples/scripts/demo.rhai"
