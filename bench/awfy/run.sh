#!/usr/bin/env bash
# Are We Fast Yet: runs each bench/awfy/NAME.rhai once at the table's INNER in cryo, and the Lua
# reference (`harness.lua NAME 1 INNER` in ../shared/awfy) in Lua 5.4 and in LuaJIT with the JIT
# off; prints a Markdown table of CPU times (user + sys, from /usr/bin/time: on a shared machine
# this is steadier than wall time), cryo/Lua, peak memory (max RSS) and the geometric mean of
# cryo/Lua. Usage: bench/awfy/run.sh [NAME...]   (default: every benchmark but Havlak)
# Environment: CRYO (the cryo binary; default: build it in $BUILD_DIR), AWFY_DIR (the Lua
# sources), LUA (lua5.4), LUAJIT (luajit). Installs lua5.4, luajit and time when root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
awfy=${AWFY_DIR:-$root/../shared/awfy}
lua=${LUA:-lua5.4}
luajit=${LUAJIT:-luajit}

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    missing=()
    command -v lua5.4 >/dev/null || missing+=(lua5.4)
    command -v luajit >/dev/null || missing+=(luajit)
    [ -x /usr/bin/time ] || missing+=(time)
    if [ ${#missing[@]} -gt 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
[ -x /usr/bin/time ] || { echo "awfy: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

if [ -z "${CRYO:-}" ]; then
    build=${BUILD_DIR:-$root/build-bench}
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCRYO_WERROR=OFF >/dev/null
    cmake --build "$build" --parallel 2 --target cryo_cli >/dev/null
    CRYO=$build/cryo
fi

# NAME INNER, the table of ../shared/awfy/README.md (Havlak only when named).
table="DeltaBlue 3000
Richards 3
Json 20
CD 10
Bounce 300
List 300
Mandelbrot 500
NBody 250000
Permute 200
Queens 200
Sieve 600
Storage 200
Towers 120
Havlak 1"
if [ $# -gt 0 ]; then names=("$@"); else
    mapfile -t names < <(echo "$table" | awk '$1 != "Havlak" { print $1 }')
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure OUT DIR CMD...: runs CMD in DIR; prints "cpu_seconds max_rss_kb status".
measure() {
    local out=$1 dir=$2
    shift 2
    local status=0
    (cd "$dir" && /usr/bin/time -f "%U %S %M" -o "$tmp/time" "$@") >"$out" 2>&1 || status=$?
    awk -v s="$status" '{ printf "%.3f %d %d\n", $1 + $2, $3, s }' "$tmp/time"
}

printf '| benchmark | INNER | cryo s | Lua 5.4 s | LuaJIT -joff s | cryo/Lua | cryo RSS MB | Lua RSS MB | RSS cryo/Lua |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
logsum=0
count=0
for name in "${names[@]}"; do
    inner=$(echo "$table" | awk -v n="$name" '$1 == n { print $2 }')
    file=$here/$(echo "$name" | tr '[:upper:]' '[:lower:]').rhai
    if [ -z "$inner" ] || [ ! -f "$file" ]; then
        printf '| %s | | not ported | | | | | | |\n' "$name"
        continue
    fi
    read -r c_t c_m c_s < <(measure "$tmp/cryo.out" "$tmp" "$CRYO" "$file")
    read -r l_t l_m l_s < <(measure "$tmp/lua.out" "$awfy" "$lua" harness.lua "$name" 1 "$inner")
    if command -v "$luajit" >/dev/null; then
        read -r j_t _ j_s < <(measure "$tmp/luajit.out" "$awfy" "$luajit" -joff harness.lua "$name" 1 "$inner")
        [ "$j_s" -eq 0 ] || j_t="failed"
    else
        j_t="-"
    fi
    c_note=""
    [ "$c_s" -eq 0 ] || c_note=" (FAILED)"
    [ "$l_s" -eq 0 ] || l_t="failed"
    ratio=$(awk -v c="$c_t" -v l="$l_t" 'BEGIN { if (l + 0 > 0) printf "%.2f", c / l; else print "-" }')
    mratio=$(awk -v c="$c_m" -v l="$l_m" 'BEGIN { if (l + 0 > 0) printf "%.2f", c / l; else print "-" }')
    if [ "$ratio" != "-" ] && [ "$c_s" -eq 0 ]; then
        logsum=$(awk -v s="$logsum" -v r="$ratio" 'BEGIN { printf "%.6f", s + log(r) }')
        count=$((count + 1))
    fi
    printf '| %s | %s | %s%s | %s | %s | %s | %.1f | %.1f | %s |\n' "$name" "$inner" "$c_t" "$c_note" \
        "$l_t" "$j_t" "$ratio" "$(awk -v k="$c_m" 'BEGIN { print k / 1024 }')" \
        "$(awk -v k="$l_m" 'BEGIN { print k / 1024 }')" "$mratio"
    if [ "$c_s" -ne 0 ]; then sed 's/^/    cryo: /' "$tmp/cryo.out" >&2; fi
done
if [ "$count" -gt 0 ]; then
    printf '\ngeometric mean of cryo/Lua 5.4 over %d benchmarks: %s\n' "$count" \
        "$(awk -v s="$logsum" -v n="$count" 'BEGIN { printf "%.2f", exp(s / n) }')"
fi
