#!/usr/bin/env bash
# Checks that src/ keeps its layers (docs/architecture.md, "Layers"): the folders, lowest first,
#   value < lang < vm < frozen < lib < conc < ext, then ffi/ above them all.
# A file may include
#   - a header of its own folder by its bare name ("lex.h"),
#   - a public header of include/ ("cryo.h", "cryo_ffi.h"),
#   - the ONE interface header of a lower layer, by path: "value/value.h", "lang/lang.h",
#     "vm/vm.h", "frozen/frozen.h", "lib/lib.h", "conc/conc.h", "ext/ext.h"
#     (ffi/ may include only "ext/ext.h");
# nothing else: no header of a higher layer (so no circle across layers), no header inside
# another folder. System headers (<...>) are not checked.
# Usage: check-layers.sh [root]   (default: this tree). Exits 1 listing "file:line: include: why".
#        check-layers.sh --self-test   feeds the check bad includes in a copy of the tree and
#                                      fails unless it catches each one (run by ctest).
# Run by ctest (check-layers, check-layers-self-test) and scripts/test.sh's format stage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
layers=(value lang vm frozen lib conc ext)

declare -A ranks=([ffi]=${#layers[@]})
for i in "${!layers[@]}"; do ranks[${layers[$i]}]=$i; done

check() {
    local root=$1 bad=0 f dir layer r inc n line target tl tr
    local files=()
    mapfile -t files < <(find "$root/src" "$root/ffi" -name '*.[ch]' | sort)
    for f in "${files[@]}"; do
        dir=${f%/*}
        [ -n "${ranks[${dir##*/}]:-}" ] || {
            echo "$f: not in a layer folder (${layers[*]} ffi)"
            bad=1
        }
    done
    # One grep over every file: "file:line:text".
    while IFS= read -r line; do
        f=${line%%:*}
        line=${line#*:}
        n=${line%%:*}
        inc=${line#*:}
        dir=${f%/*}
        layer=${dir##*/}
        r=${ranks[$layer]:-}
        [ -n "$r" ] || continue
        [[ "$inc" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]*)\" ]] || continue
        target=${BASH_REMATCH[1]}
        if [[ "$target" != */* ]]; then
            [ -f "$dir/$target" ] || [ -f "$root/include/$target" ] || {
                echo "$f:$n: \"$target\": neither in $layer/ nor a public header"
                bad=1
            }
            continue
        fi
        tl=${target%%/*}
        tr=${ranks[$tl]:-}
        if [ -z "$tr" ] || [ "$tl" = ffi ]; then
            echo "$f:$n: \"$target\": not a layer's interface header"
            bad=1
        elif [ "$tl" = "$layer" ]; then
            echo "$f:$n: \"$target\": include a header of the own folder by its bare name"
            bad=1
        elif [ "$tr" -gt "$r" ]; then
            echo "$f:$n: \"$target\": $layer may not include the higher layer $tl"
            bad=1
        elif [ "$target" != "$tl/$tl.h" ]; then
            echo "$f:$n: \"$target\": only $tl/$tl.h is $tl's interface"
            bad=1
        elif [ "$layer" = ffi ] && [ "$tl" != ext ]; then
            echo "$f:$n: \"$target\": ffi/ reaches the core only through ext/ext.h"
            bad=1
        fi
    done < <(grep -Hn '#[[:space:]]*include[[:space:]]*"' "${files[@]}" || true)
    return $bad
}

self_test() {
    local tmp ok=1
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    cp -r "$here/../src" "$here/../ffi" "$here/../include" "$tmp/"
    if ! check "$tmp" >/dev/null; then
        echo "self-test: the unchanged tree fails the check"
        check "$tmp" || true
        return 1
    fi
    # Each case: file, line to add; the check must fail on it.
    local cases=(
        'src/value/value.c|#include "vm/vm.h"'            # a higher layer
        'src/vm/vm.c|#include "frozen/frozen.h"'          # a higher layer (a circle vm <-> frozen)
        'src/vm/ops.c|#include "lang/ast.h"'              # a lower layer, not its interface
        'src/lib/lib_core.c|#include "lib/lib.h"'         # the own folder by path
        'src/lang/parse.c|#include "vm.h"'                # a bare name from another folder
        'ffi/call.c|#include "vm/vm.h"'                   # ffi past ext/ext.h
        'src/conc/worker.c|# include "ffi/ffi_internal.h"' # ffi is no layer of the core
    )
    local c file add
    for c in "${cases[@]}"; do
        file=${c%%|*}
        add=${c#*|}
        cp "$here/../$file" "$tmp/$file.orig"
        echo "$add" >>"$tmp/$file"
        if check "$tmp" >/dev/null; then
            echo "self-test: not caught: $add in $file"
            ok=0
        fi
        mv "$tmp/$file.orig" "$tmp/$file"
    done
    # A file outside the layer folders is refused too.
    echo '#include "cryo.h"' >"$tmp/src/stray.c"
    if check "$tmp" >/dev/null; then
        echo "self-test: not caught: src/stray.c outside the layer folders"
        ok=0
    fi
    [ $ok = 1 ] && echo "check-layers self-test: every bad include caught"
    [ $ok = 1 ]
}

if [ "${1:-}" = --self-test ]; then
    self_test
    exit $?
fi
root=$(cd "${1:-$here/..}" && pwd)
if check "$root"; then
    echo "check-layers: every include keeps to the layers"
else
    echo "check-layers: includes across layers (see above; docs/architecture.md, \"Layers\")"
    exit 1
fi
