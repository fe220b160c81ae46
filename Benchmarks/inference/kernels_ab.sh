#!/usr/bin/env bash
# Decoding kernels of two or more builds of tramontane, one format at a time: SmolLM2 with every
# matrix in the format (`--rule '.=TYPE'`, made once by the first binary from the f32 base),
# `generate --prompt-ids 1..8 --max-tokens 128 --threads 1 --ignore-eos`, CPU seconds (user + sys
# from /usr/bin/time) of the whole process, the builds' runs interleaved; prints the minimum and
# the median per build and format. One thread and CPU time, not wall time: the figure moves least
# on a shared machine, and decoding 128 tokens of a 135M model is almost all matrix-vector
# products, so it follows the kernels.
# Usage: Benchmarks/inference/kernels_ab.sh RUNS F32_SOURCE BINARY BINARY...
#   TYPES="q8_0 q4_k" to choose formats (default: all block formats); F32_SOURCE: the f32 base
#   (e.g. `tramontane convert SmolLM2.gguf -o base-f32.tmt --dtype f32`, as scripts/demo.sh makes it)
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,12p' "$0"; exit 2; }
runs=$1; src=$2; shift 2
types="${TYPES:-q8_0 q6_k q5_k q5_1 q5_0 q4_k q4_1 q4_0 iq4_xs iq4_nl q3_k q2_k}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
first=$1
for t in $types; do
    # The preset names the non-matrix tensors' fallback; the rule gives every matrix the type.
    "$first" quantize "$src" -o "$work/$t.tmt" --type q8_0 --rule ".=$t" --no-source-hash -q > /dev/null
done
cat "$work"/*.tmt > /dev/null
for r in $(seq "$runs"); do
    for t in $types; do
        i=0
        for b in "$@"; do
            /usr/bin/time -f '%U %S' -o "$work/time" "$b" generate "$work/$t.tmt" --prompt-ids 1,2,3,4,5,6,7,8 \
                --max-tokens 128 --threads 1 --ignore-eos --json > /dev/null
            awk '{ print $1 + $2 }' "$work/time" >> "$work/$t-$i"
            i=$((i + 1))
        done
    done
done
echo "| format | build | CPU s, min | median | runs |"
echo "|---|---|---|---|---|"
for t in $types; do
    i=0
    for b in "$@"; do
        sort -g "$work/$t-$i" | awk -v t="$t" -v b="$b" '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "| %s | %s | %.2f | %.2f | %d |\n", t, b, v[1], m, NR }'
        i=$((i + 1))
    done
done
