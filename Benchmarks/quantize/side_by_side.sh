#!/usr/bin/env bash
# The llama.cpp k-quant presets (q5_k_s … q2_k) on SmolLM2-135M, both tools from the same f32
# weights, validated by Tramontane against its f32 base on 8 × 512 tokens of
# formats/eval/default.txt (mean KLD, top-1, PPL):
#   tramontane         `quantize --type PRESET` (its own mix: k-quants with tail blocks)
#   tramontane, llama.cpp's types   the same command with one --rule per tensor giving it the
#                      type llama.cpp's file has (its Q4_0/Q5_0/Q5_1/Q8_0 fallbacks included)
#   llama.cpp          llama-quantize's GGUF (read by `validate` directly)
# With IMATRIX=1 each also runs with an importance matrix from the second half of the text
# (Tramontane's `imatrix`; llama.cpp's llama-imatrix on the same tokens is not wired in).
# Usage: Benchmarks/quantize/kquant_presets.sh [WORK_DIR]   (needs .build/release/tramontane,
# LLAMA_QUANTIZE=/path/to/llama-quantize, and /work/peers/venv's gguf-py for the f32 GGUF)
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-.cache/kq}"
bin=.build/release/tramontane
py="${PYTHON:-/work/peers/venv/bin/python}"
lq="${LLAMA_QUANTIZE:-/work/peers/llama.cpp/build/bin/llama-quantize}"
gguf=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
presets="${PRESETS:-q5_k_m q5_k_s q3_k_l q3_k_m q3_k_s q2_k}"
mkdir -p "$work"
[ -f "$work/base-f32.tmt" ] || $bin convert "$gguf" -o "$work/base-f32.tmt" --force --dtype f32 --codec raw
[ -f "$work/smollm2-f32.gguf" ] || "$py" - "$gguf" "$work/smollm2-f32.gguf" <<'PY'
import sys, numpy as np, gguf
from gguf.quants import dequantize
r = gguf.GGUFReader(sys.argv[1]); w = gguf.GGUFWriter(sys.argv[2], "llama")
for name, field in r.fields.items():
    if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"): continue
    vt = field.types[0]
    if vt == gguf.GGUFValueType.ARRAY: w.add_array(name, field.contents())
    else: w.add_key_value(name, field.contents(), vt)
w.add_file_type(0)
for t in r.tensors:
    a = dequantize(t.data, t.tensor_type).astype(np.float32)
    w.add_tensor(t.name, a.reshape([int(x) for x in reversed(t.shape)]), raw_dtype=gguf.GGMLQuantizationType.F32)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
PY
row() {   # label, model file, quantize json or -
    local bpw
    if [ "$3" != "-" ]; then bpw=$("$py" -c "import json,sys; print('%.3f' % json.load(open(sys.argv[1]))['bits_per_weight'])" "$3")
    else bpw=$("$py" -c "import sys,gguf; t=gguf.GGUFReader(sys.argv[1]).tensors; print('%.3f' % (8*sum(int(x.n_bytes) for x in t)/sum(int(x.n_elements) for x in t)))" "$2"); fi
    $bin validate "$2" --reference "$work/base-f32.tmt" --ctx 512 --chunks 8 --json > "$2.validate.json"
    "$py" - "$1" "$2" "$bpw" <<'PY'
import json, os, sys
v = json.load(open(sys.argv[2] + ".validate.json"))
print("| %s | %.1f | %s | %.4f | %.2f%% | %.3f |" % (sys.argv[1], os.path.getsize(sys.argv[2]) / 2**20, sys.argv[3], v["mean_kld"], 100 * v["top1_agreement"], v["ppl"]))
PY
}
echo "| preset / tool | file MiB | bits/weight | mean KLD | top-1 | PPL |"
echo "|---|---|---|---|---|---|"
for p in $presets; do
    P=$(echo "$p" | tr a-z A-Z)
    if [ -z "${SKIP_OWN:-}" ]; then   # SKIP_OWN=1: only the llama.cpp rows
        $bin quantize "$work/base-f32.tmt" -o "$work/$p.tmt" --force --type "$p" --json > "$work/$p.quantize.json"
        row "$p tramontane" "$work/$p.tmt" "$work/$p.quantize.json"
    fi
    if [ -x "$lq" ]; then
        "$lq" "$work/smollm2-f32.gguf" "$work/$p-llama.gguf" "$P" 2 > "$work/$p-llama.log" 2>&1
        rules=$("$py" - "$work/$p-llama.gguf" <<'PY'
import sys, gguf
m = {"attn_q": "attention.wq", "attn_k": "attention.wk", "attn_v": "attention.wv", "attn_output": "attention.wo",
     "ffn_gate": "feed_forward.w1", "ffn_down": "feed_forward.w2", "ffn_up": "feed_forward.w3"}
for t in gguf.GGUFReader(sys.argv[1]).tensors:
    if len(t.shape) < 2: continue
    p = t.name.split(".")
    n = "tok_embeddings" if t.name == "token_embd.weight" else "output" if t.name == "output.weight" else f"layers.{p[1]}.{m[p[2]]}"
    print(f"--rule ^{n}\\.weight$={t.tensor_type.name.lower()}")
PY
)
        # shellcheck disable=SC2086
        $bin quantize "$work/base-f32.tmt" -o "$work/$p-same.tmt" --force --type "$p" $rules --json > "$work/$p-same.quantize.json"
        row "$p tramontane, llama.cpp's types" "$work/$p-same.tmt" "$work/$p-same.quantize.json"
        row "$p llama.cpp" "$work/$p-llama.gguf" -
    fi
done
