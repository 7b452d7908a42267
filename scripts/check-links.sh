#!/usr/bin/env bash
# Checks the relative links of README.md and docs/**/*.md: every linked file exists and every
# `#anchor` names a heading of its target (GitHub's slugs: lower case, punctuation dropped,
# spaces to hyphens, "-1", "-2" for repeated headings). External links (http, https, mailto)
# are not fetched. Links and headings inside ``` fences are ignored. Exits 1 listing every
# broken link as "file:line: target: why". Run by scripts/test.sh's format stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The anchors of a markdown file, one a line.
anchors() {
    awk '
        /^```/ { fence = !fence; next }
        fence || !/^#+ / { next }
        {
            h = $0
            sub(/^#+ +/, "", h)
            h = tolower(h)
            gsub(/→|×|–|—|≥|≤|…/, "", h)
            gsub(/[!-,.\/:-@[-^`{-~]/, "", h)
            gsub(/ /, "-", h)
            n = seen[h]++
            print (n ? h "-" n : h)
        }' "$1"
}

# The relative links of a markdown file as "line<TAB>target", one a line.
links() {
    awk '
        /^```/ { fence = !fence; next }
        fence { next }
        {
            s = $0
            while (match(s, /\]\([^) ]+\)/)) {
                t = substr(s, RSTART + 2, RLENGTH - 3)
                s = substr(s, RSTART + RLENGTH)
                if (t !~ /^(https?|mailto):/) print NR "\t" t
            }
        }' "$1"
}

bad=0
while IFS= read -r -d '' md; do
    dir=$(dirname "$md")
    while IFS=$'\t' read -r line target; do
        path=${target%%#*}
        anchor=
        [[ $target == *#* ]] && anchor=${target#*#}
        if [ -z "$path" ]; then
            file=$md
        else
            file=$dir/$path
        fi
        if [ ! -e "$file" ]; then
            echo "$md:$line: $target: no such file"
            bad=1
        elif [ -n "$anchor" ] && [[ $file == *.md ]] && ! anchors "$file" | grep -qxF -- "$anchor"; then
            echo "$md:$line: $target: no heading with that anchor in $file"
            bad=1
        fi
    done < <(links "$md")
done < <(find README.md docs -name '*.md' -print0)

if [ $bad = 0 ]; then
    echo "links: every relative link of README.md and docs/ resolves"
fi
exit $bad
