#!/usr/bin/env bash
# Runs Tramontane's safetensors and MLX exports in transformers and mlx-lm and compares with
# Tramontane's own f32 run of the same .tmt (`validate --against-logits`, `generate`).
# Usage: Benchmarks/export/check.sh [WORKDIR]   (PYTHON=/path/to/venv/bin/python; PARTS="transformers mlx",
# MLX_RUNS="q4_1:f16 q4_0:f16 …" to run a part or some exports only)
# Needs: swift build; a Python with torch transformers "mlx[cpu]" mlx-lm safetensors numpy;
# .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-models.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
T=${TRAMONTANE:-.build/debug/tramontane}
PY=${PYTHON:-/work/peers/venv/bin/python}
W=${1:-/tmp/tramontane-export-check}
mkdir -p "$W"
q() { "$@" 2>/dev/null | grep -v -E '^(convert|export|quantize|validate|generate): '; }
row() {  # name, tmt, logits file
    local r; r=$($T validate "$2" --against-logits "$3" --activations f32 2>/dev/null | tail -1)
    echo "| $1 | $(echo "$r" | awk '{print $2" | "$3" | "$4" | "$5}') |"
}

# The evaluation ids: the first 128 tokens of the default evaluation text (SmolLM2's tokenizer).
$T convert .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf -o "$W/smol-q4_1.tmt" --no-source-hash --force >/dev/null 2>&1
SMOL_EVAL=$($T tokenize "$W/smol-q4_1.tmt" --file formats/eval/default.txt | cut -d, -f1-128)
# 16 ids below 256 (tiny-mixtral's vocabulary): tiny-mistral's window is 16, and mlx-lm runs a windowed Mistral with full attention.
TINY_EVAL=1,5,9,200,17,33,100,4,8,77,30,12,64,2,99,211
PROMPT=$($T tokenize "$W/smol-q4_1.tmt" --text "The three primary colors are")

PARTS=${PARTS:-transformers mlx}
MLX_RUNS=${MLX_RUNS:-q4_1:f16 q4_0:f16 q8_0:f16 q4_k_m:f16 q4_1:f32 q4_0:f32 q8_0:f32 q4_k_m:f32}
if [[ " $PARTS " == *" transformers "* ]]; then
echo "## transformers (float32) on safetensors exports vs Tramontane --activations f32"
echo "| export | tokens | max abs logit diff | mean KLD | top-1 |"
echo "|---|---|---|---|---|"
for m in tiny-mistral:Tests/Fixtures/tiny-mistral/hf-sharded-bf16 tiny-mixtral:Tests/Fixtures/tiny-mixtral/hf-bf16 smollm2-q4_1:GGUF; do
    name=${m%%:*}; src=${m#*:}
    if [ "$src" = GGUF ]; then tmt="$W/smol-q4_1.tmt"; ids=$SMOL_EVAL
    else tmt="$W/$name.tmt"; ids=$TINY_EVAL; $T convert "$src" -o "$tmt" --no-source-hash --force >/dev/null 2>&1; fi
    for layout in hf native; do
        out="$W/$name-$layout-f32"
        $T export "$tmt" -o "$out" --to safetensors --layout $layout --dtype f32 --force >/dev/null 2>&1
        flag=""; [ $layout = native ] && flag=--native
        $PY Benchmarks/export/transformers_logits.py "$out" --ids "$ids" $flag -o "$out.logits.safetensors" >/dev/null 2>&1
        row "$name $layout f32" "$tmt" "$out.logits.safetensors"
    done
done

echo
fi
if [[ " $PARTS " == *" mlx "* ]]; then
echo "## mlx-lm on MLX exports of SmolLM2 vs Tramontane --activations f32 (same .tmt)"
echo "| export | tokens | max abs logit diff | mean KLD | top-1 | greedy 24 equal |"
echo "|---|---|---|---|---|---|"
for run in $MLX_RUNS; do
    f=${run%%:*}; d=${run#*:}
    tmt="$W/smol-$f.tmt"
    [ -f "$tmt" ] || $T quantize "$W/smol-q4_1.tmt" -o "$tmt" --type $f --no-source-hash --force >/dev/null 2>&1
    ours=$($T generate "$tmt" --prompt-ids "$PROMPT" --max-tokens 24 --temperature 0 --activations f32 --json 2>/dev/null \
        | $PY -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
    {
        out="$W/mlx-$f-$d"
        $T export "$tmt" -o "$out" --to mlx --dtype $d --force >/dev/null 2>&1
        theirs=$($PY Benchmarks/export/mlx_logits.py "$out" --ids "$SMOL_EVAL" --prompt-ids "$PROMPT" --new 24 -o "$out.logits.safetensors" 2>/dev/null | grep '^greedy:' | cut -d' ' -f2)
        same=no; [ "$ours" = "$theirs" ] && same=yes
        r=$(row "smollm2 $f mlx $d" "$tmt" "$out.logits.safetensors")
        echo "${r%|}| $same |"
        [ $same = yes ] || { echo "  tramontane: $ours"; echo "  mlx-lm:     $theirs"; }
    }
done
fi
