#!/usr/bin/env bash
# Inference speed of two or more builds of tramontane on the same files, runs interleaved:
# SmolLM2 in F16, Q8_0, Q4_0 and q4_k_m (made once by the first binary), a 512-token prompt and
# 64 generated tokens at 2 threads; prints the median and best prompt and generation tokens/s
# per build. How "no slowdown" claims for engine changes are checked (Benchmarks/README.md).
# Usage: Benchmarks/inference/ab.sh RUNS SMOLLM2_F32.gguf BINARY BINARY...
#   (make the input with Benchmarks/quantize/make_inputs.py, as quantize/run.sh does)
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,6p' "$0"; exit 2; }
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs=$1; f32=$2; shift 2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
first=$1
"$first" tokenize "$f32" --file "$root/formats/eval/default.txt" > "$work/eval.tokens"
prompt=$(tr '\n' ',' < "$work/eval.tokens" | cut -d, -f1-512)
types="f16 q8_0 q4_0 q4_k_m"
"$first" convert "$f32" -o "$work/f16.tmt" --dtype f16 --codec raw > /dev/null
for t in q8_0 q4_0 q4_k_m; do "$first" quantize "$f32" -o "$work/$t.tmt" --type "$t" --no-source-hash > /dev/null; done
cat "$work"/*.tmt > /dev/null
for r in $(seq "$runs"); do
    for t in $types; do
        i=0
        for b in "$@"; do
            "$b" generate "$work/$t.tmt" --prompt-ids "$prompt" --max-tokens 64 --threads 2 --json |
                python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["prompt_tokens_per_second"], r["tokens_per_second"])' >> "$work/$t-$i"
            i=$((i + 1))
        done
    done
done
echo "| weights | build | prompt tok/s median (best) | generation tok/s median (best) |"
echo "|---|---|---|---|"
for t in $types; do
    i=0
    for b in "$@"; do
        python3 - "$work/$t-$i" "$t" "$b" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
p, g = [r[0] for r in rows], [r[1] for r in rows]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {statistics.median(p):.1f} ({max(p):.1f}) | {statistics.median(g):.1f} ({max(g):.1f}) |")
PY
        i=$((i + 1))
    done
done
