#!/usr/bin/env bash
# Inference benchmark (issue 4), both engines at 2 threads on the same SmolLM2 weights in F16,
# Q8_0 and Q4_0, plus each tool's own q4_k_m mix (not the same weights: llama.cpp stores
# SmolLM2's 576-wide rows as Q5_0/Q8_0 fallbacks, Tramontane as its k-quant variants; the
# file size column shows what each mix costs): prompt processing (512-token chunk, tokens/s), generation (64 greedy tokens,
# tokens/s), peak RSS (/usr/bin/time -v), and for the quantized files mean KLD against the F16
# model from each engine (8 chunks of 512 tokens of the default evaluation text).
# Usage: Benchmarks/inference/run.sh [WORK_DIR]  (uses the quantization benchmark's venv and inputs)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/tramontane-qbench}"
venv="$work/venv"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install -q numpy gguf llama-cpp-python; }
py="$venv/bin/python"
gguf="$("$root/scripts/fetch-models.sh")"
"$py" "$root/Benchmarks/quantize/make_inputs.py" "$gguf" "$work"
"$root/scripts/build-release.sh" >/dev/null
bin="$root/.build/release/tramontane"
f32="$work/smollm2-f32.gguf"

"$bin" tokenize "$f32" --file "$root/formats/eval/default.txt" > "$work/eval.tokens"
# Same weights for both engines: llama.cpp quantizes its GGUFs (pure), Tramontane its .tmt files.
types="f16 q8_0 q4_0 q4_k_m"
for t in $types; do
    [ -f "$work/llama-$t.gguf" ] || "$py" - "$f32" "$work/llama-$t.gguf" "$t" 2>/dev/null <<'PY'
import sys, llama_cpp
p = llama_cpp.llama_model_quantize_default_params()
p.nthread = 2; p.ftype = {"f16": 1, "q8_0": 7, "q4_0": 2, "q4_k_m": 15}[sys.argv[3]]
p.pure = sys.argv[3] != "q4_k_m"   # a mix is a mix; the single types apply to every matrix
assert llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p) == 0
PY
    true
done
"$bin" convert "$f32" -o "$work/ours-f16.tmt" --force --dtype f16 --codec raw >/dev/null
for t in q8_0 q4_0 q4_k_m; do "$bin" quantize "$f32" -o "$work/ours-$t.tmt" --force --type "$t" >/dev/null; done
# Both engines start from the page cache: ours are written around it (O_DIRECT), and F16 weights
# stay mapped, so without this the first F16 prompt also read 257 MB from the disk (~460 tok/s
# in run.sh against ~650 by hand).
cat "$work"/ours-*.tmt "$work"/llama-*.gguf > /dev/null

rss() { awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$1"; }
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "| weights | engine | file MiB | prompt tok/s | generation tok/s | peak RSS MiB | mean KLD vs F16 | top-1 |"
echo "|---|---|---|---|---|---|---|---|"
for t in $types; do
    l=$(/usr/bin/time -v -o "$work/t1" "$py" "$root/Benchmarks/inference/llama_engine.py" speed "$work/llama-$t.gguf" "$work/eval.tokens" 2>/dev/null)
    prompt=$(tr '\n' ',' < "$work/eval.tokens" | cut -d, -f1-512)
    o=$(/usr/bin/time -v -o "$work/t2" "$bin" generate "$work/ours-$t.tmt" --prompt-ids "$prompt" --max-tokens 64 --threads 2 --json)
    lk="-"; ok="-"; lt="-"; ot="-"
    if [ "$t" != f16 ]; then
        read -r lk lt < <("$py" "$root/Benchmarks/inference/llama_engine.py" kld "$work/llama-f16.gguf" "$work/llama-$t.gguf" "$work/eval.tokens" 8 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.4f %.2f%%" % (r["mean_kld"], 100*r["top1_agreement"]))')
        read -r ok ot < <("$bin" validate "$work/ours-$t.tmt" --reference "$work/ours-f16.tmt" --tokens "$work/eval.tokens" --chunks 8 --threads 2 --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.4f %.2f%%" % (r["mean_kld"], 100*r["top1_agreement"]))')
    fi
    row() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("| {} | {} | {} | {:.1f} | {:.1f} | {} | {} | {} |".format(sys.argv[2], sys.argv[3], sys.argv[4], r["prompt_tokens_per_second"], r["tokens_per_second"], *sys.argv[5:]))' "$@"; }
    row "$l" "$t" llama.cpp "$(mib "$work/llama-$t.gguf")" "$(rss "$work/t1")" "$lk" "$lt"
    row "$o" "$t" tramontane "$(mib "$work/ours-$t.tmt")" "$(rss "$work/t2")" "$ok" "$ot"
done
