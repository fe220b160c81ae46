#!/bin/sh
# llama.cpp runs Tramontane's GGUF exports: SmolLM2-135M in F16, Q8_0, Q4_0, Q4_1, Q6_K, Q4_K_M
# (quantized from the f32 base, as scripts/demo.sh does) and tiny-mistral (f32). For each file,
# the logits of llama.cpp (libllama through scripts/fixtures/llamacpp-logits.c, one batch per
# chunk, an f32 KV cache as Tramontane's validate uses; KV=f16 for llama.cpp's default) against Tramontane's own run (`validate --against-logits`)
# of the same .tmt and of the exported .gguf: mean KL divergence and greedy (top-1) agreement
# over every position, with Tramontane's default q8 activations and with --activations f32.
#
#   Benchmarks/export/llamacpp.sh [WORK_DIR]      CHUNKS=4 (of 512 tokens) LLAMA_CPP=../peers/llama.cpp
#
# SmolLM2: the default evaluation text (formats/eval/default.txt) tokenized by Tramontane,
# CHUNKS chunks of 512 tokens with BOS first (as validate and llama-perplexity cut them).
# tiny-mistral: its fixture's two sequences cut to the window (16 tokens): llama.cpp's llama
# architecture has no sliding window, so past it the two engines compute different functions.
# Needs python3 with numpy and safetensors; ~0.5 GB of disk per chunk and type.
set -eu
cd "$(dirname "$0")/../.."
work=${1:-${TMPDIR:-/tmp}/tramontane-export-bench}
chunks=${CHUNKS:-4}
python=${PYTHON:-python3}
mkdir -p "$work"
ONLY_BUILD=1 scripts/fixtures/llamacpp-logits.sh "${LLAMA_CPP:-../peers/llama.cpp}"
bin=${TRAMONTANE:-.build/release/tramontane}
[ -x "$bin" ] || bin=.build/debug/tramontane
gguf=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
export TRAMONTANE_CACHE_DIR="$work/cache"

$bin convert "$gguf" -o "$work/base-f32.tmt" --force --dtype f32 --codec raw --no-source-hash >/dev/null
$bin convert "$work/base-f32.tmt" -o "$work/f16.tmt" --force --dtype f16 --no-source-hash >/dev/null
for t in q8_0 q4_0 q4_1 q6_k q4_k_m; do
    $bin quantize "$work/base-f32.tmt" -o "$work/$t.tmt" --force --type "$t" --no-source-hash >/dev/null
done
$bin convert Tests/Fixtures/tiny-mistral/hf-safetensors-f32 -o "$work/tiny-mistral.tmt" --force --no-source-hash >/dev/null
$bin tokenize "$work/base-f32.tmt" --file formats/eval/default.txt --json > "$work/ids.json"

"$python" - "$work" "$bin" "$chunks" <<'PY'
import json, os, subprocess, sys
import numpy as np
from safetensors.numpy import load_file, save_file
work, bin, chunks = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = 512
ids = json.load(open(f"{work}/ids.json"))["ids"]
import gguf
r = gguf.GGUFReader(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
bos = int(r.fields["tokenizer.ggml.bos_token_id"].contents())
smol = [[bos] + ids[c * ctx + 1:(c + 1) * ctx] for c in range(chunks)]
ref = load_file("Tests/Fixtures/tiny-mistral/reference-logits.safetensors")
tiny = [ref[f"{n}.input_ids"].astype(np.int64).reshape(-1)[:16].tolist() for n in ["random", "text"]]

def run(model, seqs, kv):
    out = {}
    for i, s in enumerate(seqs):
        open(f"{work}/seq.ids", "w").write(" ".join(map(str, s)))
        subprocess.run([".build/llamacpp-logits", model, f"{work}/seq.ids", f"{work}/seq.f32", "2", kv], check=True, stdout=subprocess.DEVNULL)
        out[f"chunk{i}.input_ids"] = np.array(s, dtype=np.int64)
        out[f"chunk{i}.logits"] = np.fromfile(f"{work}/seq.f32", dtype=np.float32).reshape(len(s), -1)
    save_file(out, f"{work}/llamacpp.safetensors")

def validate(model, activations):
    res = json.loads(subprocess.run([bin, "validate", model, "--against-logits", f"{work}/llamacpp.safetensors", "--activations", activations, "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    seqs = res if isinstance(res, list) else res.get("sequences", res.get("results"))
    n = sum(s["tokens"] for s in seqs)
    return sum(s["mean_kld"] * s["tokens"] for s in seqs) / n, sum(s["top1_agreement"] * s["tokens"] for s in seqs) / n, n

rows = []
for t in ["f16", "q8_0", "q4_0", "q4_1", "q6_k", "q4_k_m", "tiny-mistral"]:
    tmt, out = f"{work}/{t}.tmt", f"{work}/{t}.gguf"
    rep = json.loads(subprocess.run([bin, "export", tmt, "-o", out, "--force", "--json"], check=True, capture_output=True, text=True).stdout)
    run(out, tiny if t == "tiny-mistral" else smol, os.environ.get("KV", "f32"))
    cells = []
    for model in [tmt, out]:
        for act in ["q8", "f32"]:
            cells.append(validate(model, act))
    rows.append((t, rep["bits_per_weight"], len(rep["reencoded"]), cells))
    os.remove(f"{work}/llamacpp.safetensors")

print(f"positions per file: SmolLM2 {chunks}×512, tiny-mistral 2×16")
print("| file | GGUF bits/weight | re-encoded tensors | .tmt KLD (q8 act) | .tmt top-1 | .tmt KLD (f32 act) | .tmt top-1 | .gguf KLD (q8 act) | .gguf top-1 | .gguf KLD (f32 act) | .gguf top-1 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for t, bpw, re, cells in rows:
    print(f"| {t} | {bpw:.3f} | {re} | " + " | ".join(f"{k:.2e} | {100*a:.2f}%" for k, a, _ in cells) + " |")
PY
