#!/usr/bin/env bash
# Every same-output check a restructuring must pass (issue 14), old build against new:
# quantize (Benchmarks/quantize/same_output.sh) and convert (Benchmarks/convert/same_output.sh)
# over the SmolLM2 ladder, SmolLM2's Q4_1 GGUF with an importance matrix, tiny-mistral's five
# layouts (convert with every codec × dtype), tiny-mixtral and the Mistral-7B-shaped layer.
# Prints one line per check; exits 1 if any differs.
# Usage: Benchmarks/same_output_all.sh OLD_BINARY NEW_BINARY [WORK_DIR]
#   (WORK_DIR holds smollm2-f32.gguf and mistral7b-layer-f32.gguf from quantize/make_inputs.py;
#    default /tmp/tramontane-qbench, as quantize/run.sh makes it)
set -uo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0"; exit 2; }
O=$1; N=$2; work=${3:-/tmp/tramontane-qbench}
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
Q=Benchmarks/quantize/same_output.sh; C=Benchmarks/convert/same_output.sh
S=$work/smollm2-f32.gguf; L=$work/mistral7b-layer-f32.gguf; G="$(scripts/fetch-models.sh)"
T=Tests/Fixtures/tiny-mistral; X=Tests/Fixtures/tiny-mixtral
imatrix=$work/smollm2.imatrix
[ -f "$imatrix" ] || "$O" imatrix "$G" -o "$imatrix" --chunks 2 > /dev/null 2>&1
fail=0
check() { "$@" 2>/dev/null | grep -E "identical|DIFFERENT" || { echo "FAILED: $*"; fail=1; }; }
for t in q8_0 q6_k q4_k_m q4_k q4_1 q4_0 q5_0 q5_1; do check $Q "$O" "$N" "$S" $t; done
check $Q "$O" "$N" "$S" q4_1 --reference-quantizer; check $Q "$O" "$N" "$S" q4_k --reference-quantizer
check $Q "$O" "$N" "$G" q4_0 --imatrix "$imatrix"; check $Q "$O" "$N" "$G" q4_k_m --imatrix "$imatrix"; check $Q "$O" "$N" "$G" q6_k
for l in hf-safetensors-f32 hf-sharded-bf16 hf-pytorch-f16 native-safetensors-bf16 native-pth-bf16; do
    for t in q4_k_m q4_1 q8_0; do check $Q "$O" "$N" $T/$l $t; done
    for c in raw zstd shuffle-zstd; do for d in keep f32 f16 bf16; do check $C "$O" "$N" $T/$l --codec $c --dtype $d; done; done
done
for x in $X/gguf-stacked $X/hf-bf16; do check $Q "$O" "$N" $x q4_k_m; check $Q "$O" "$N" $x q4_0; check $C "$O" "$N" $x; done
check $C "$O" "$N" "$G"; check $C "$O" "$N" "$G" --dtype f16 --codec zstd; check $C "$O" "$N" "$S" --codec shuffle-zstd --dtype bf16
for t in q4_1 q4_k_m q6_k q8_0; do check $Q "$O" "$N" "$L" $t; done
exit $fail
