#!/usr/bin/env bash
# llama.cpp's presets on SmolLM2-135M side by side in one run (issue 16), both tools from the
# same f32 weights, each preset without and with an importance matrix:
#   llama.cpp                       llama-quantize PRESET [--imatrix llama-imatrix's file]
#   tramontane, llama.cpp's types   quantize --type PRESET plus one --rule per tensor giving it
#                                   the type llama.cpp's file has (its Q4_0/Q5_0/Q5_1/Q8_0
#                                   fallbacks included) [--imatrix tramontane imatrix's file]
#   tramontane                      quantize --type PRESET (its own mix) [--imatrix]
# Calibration: each tool's own imatrix command on the same text, the part of
# formats/eval/default.txt after the line that ends past 55% of its bytes. Evaluation: `tramontane
# validate FILE --reference base-f32.tmt` on the first 8 × 512 tokens of the part before it
# (checked to hold them): mean KLD, top-1, PPL (llama.cpp's GGUFs read directly).
# Columns: file MiB, bits/weight (all tensor bytes × 8 over all weights), quantize seconds (wall,
# 2 threads, one run), and with SPEED prompt/decode tokens/s at 2 threads, RUNS interleaved
# rounds (median): llama-bench -p 512 -n 64 on llama.cpp's file against `tramontane generate` on
# the file with llama.cpp's types (a 512-token prompt; then 64 tokens after a 4-token prompt,
# --ignore-eos) and on Tramontane's own. Every row also goes to WORK/side_by_side.jsonl.
# Usage: Benchmarks/quantize/side_by_side.sh [WORK_DIR]
#   LLAMA_BIN=folder of llama-quantize, llama-imatrix, llama-bench (default /work/peers/llama.cpp/build/bin)
#   PY=python with gguf-py (default /work/peers/venv/bin/python)
#   PRESETS="q3_k_m …" (default all eight), IMATRIX=0|1|both (default both), RUNS=N (default 3),
#   SPEED=0|1|only (default 1; only: time the files an earlier run left in WORK_DIR, no quantizing)
#   SWAP=1: with an imatrix, two more rows per preset, each tool's quantizer on the other's
#           importance matrix (imatrix_swap.py rewrites the file): which of a row's difference is
#           the calibration data and which the quantizer
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/tramontane-side}"
lb="${LLAMA_BIN:-/work/peers/llama.cpp/build/bin}"
py="${PY:-/work/peers/venv/bin/python}"
presets="${PRESETS:-q5_k_s q5_k_m q3_k_s q3_k_m q3_k_l q2_k iq4_nl iq4_xs}"
imatrix="${IMATRIX:-both}"; speed="${SPEED:-1}"; runs="${RUNS:-3}"; swap="${SWAP:-0}"
for t in llama-quantize llama-imatrix llama-bench; do [ -x "$lb/$t" ] || { echo "no $lb/$t (LLAMA_BIN)" >&2; exit 2; }; done
mkdir -p "$work"; cd "$work"
gguf="$("$root/scripts/fetch-models.sh")"
"$root/scripts/build-release.sh" >/dev/null
bin="$root/.build/release/tramontane"
[ -f smollm2-f32.gguf ] || { touch mistral7b-layer-f32.gguf; "$py" "$root/Benchmarks/quantize/make_inputs.py" "$gguf" .; rm -f mistral7b-layer-f32.gguf; }
[ -f base-f32.tmt ] || "$bin" convert "$gguf" -o base-f32.tmt --force --dtype f32 --codec raw --quiet

# The two halves of the text, split at a line; the evaluation half must hold 8 × 512 tokens.
text="$root/formats/eval/default.txt"
cut=$(awk -v half="$(( $(stat -c %s "$text") * 55 / 100 ))" '{ n += length($0) + 1 } n >= half { print NR; exit }' "$text")
head -n "$cut" "$text" > eval.txt; tail -n +"$(( cut + 1 ))" "$text" > calibration.txt
n=$("$bin" tokenize base-f32.tmt --file eval.txt | tr ',' '\n' | grep -c .)
[ "$n" -gt 4096 ] || { echo "the evaluation half holds $n tokens, fewer than 8 × 512" >&2; exit 1; }
if [ "$imatrix" != 0 ]; then
    [ -f ours.imatrix.safetensors ] || "$bin" imatrix base-f32.tmt -o ours.imatrix.safetensors --text calibration.txt --ctx 512 --threads 2 --quiet
    [ -f llama.imatrix.gguf ] || "$lb/llama-imatrix" -m smollm2-f32.gguf -f calibration.txt -o llama.imatrix.gguf -c 512 -t 2 > llama-imatrix.log 2>&1
    if [ "$swap" = 1 ]; then
        "$py" "$root/Benchmarks/quantize/imatrix_swap.py" llama.imatrix.gguf llama-as-ours.imatrix.safetensors
        "$py" "$root/Benchmarks/quantize/imatrix_swap.py" ours.imatrix.safetensors ours-as-llama.imatrix.gguf
    fi
fi

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" || return; t1=$(date +%s.%N); python3 -c "print('%.2f' % ($t1 - $t0))"; }
# label file seconds → one table row and one JSON line
row() {
    "$bin" validate "$2" --reference base-f32.tmt --text eval.txt --ctx 512 --chunks 8 --threads 2 --json --quiet > "$2.validate.json"
    "$py" - "$1" "$2" "$3" <<'PY'
import json, os, sys
from gguf import GGUFReader
label, f, secs = sys.argv[1:4]
v = json.load(open(f + ".validate.json"))
if f.endswith(".gguf"):
    ts = GGUFReader(f).tensors
    bpw = 8 * sum(int(t.n_bytes) for t in ts) / sum(int(t.n_elements) for t in ts)
else:
    bpw = json.load(open(f[:-4] + ".quantize.json"))["bits_per_weight"]
r = {"row": label, "file": f, "file_mib": os.path.getsize(f) / 2**20, "bits_per_weight": bpw, "mean_kld": v["mean_kld"],
     "top1": v["top1_agreement"], "ppl": v["ppl"], "quantize_seconds": float(secs)}
open("side_by_side.jsonl", "a").write(json.dumps(r) + "\n")
print("| %s | %.1f | %.3f | %.4f | %.2f%% | %.3f | %s |" % (label, r["file_mib"], bpw, r["mean_kld"], 100 * r["top1"], r["ppl"], secs))
PY
}
# llama.cpp's per-tensor types as --rule arguments, one argument per line
rules_of() {
    "$py" - "$1" <<'PY'
import sys, gguf
m = {"attn_q": "attention.wq", "attn_k": "attention.wk", "attn_v": "attention.wv", "attn_output": "attention.wo",
     "ffn_gate": "feed_forward.w1", "ffn_down": "feed_forward.w2", "ffn_up": "feed_forward.w3"}
for t in gguf.GGUFReader(sys.argv[1]).tensors:
    if len(t.shape) < 2: continue
    p = t.name.split(".")
    n = "tok_embeddings" if t.name == "token_embd.weight" else "output" if t.name == "output.weight" else f"layers.{p[1]}.{m[p[2]]}"
    print(f"--rule\n^{n}\\.weight$={t.tensor_type.name.lower()}")
PY
}
llama_quantize() { local log="$1.log"; shift; "$lb/llama-quantize" "$@" > "$log" 2>&1; }
ours() {   # out preset [extra args…]
    local out="$1" p="$2"; shift 2
    "$bin" quantize base-f32.tmt -o "$out" --force --type "$p" --threads 2 --no-source-hash --quiet --json "$@" > "${out%.tmt}.quantize.json"
}

case "$imatrix" in 0) modes=plain ;; 1) modes=imatrix ;; *) modes="plain imatrix" ;; esac
speed_files=""
for p in $presets; do speed_files+="$p-llama.gguf $p-same.tmt $p.tmt "; done
if [ "$speed" != only ]; then
rm -f side_by_side.jsonl
echo "| preset / tool | file MiB | bits/weight | mean KLD | top-1 | PPL | quantize s |"
echo "|---|---|---|---|---|---|---|"
for p in $presets; do
    P=$(echo "$p" | tr a-z A-Z)
    for m in $modes; do
        sfx=""; lim=(); oim=()
        if [ "$m" = imatrix ]; then sfx="+imatrix"; lim=(--imatrix llama.imatrix.gguf); oim=(--imatrix ours.imatrix.safetensors); fi
        l="$p$sfx-llama.gguf"; s="$p$sfx-same.tmt"; o="$p$sfx.tmt"
        ls=$(seconds llama_quantize "$l" "${lim[@]}" smollm2-f32.gguf "$l" "$P" 2)
        mapfile -t rules < <(rules_of "$l")
        ss=$(seconds ours "$s" "$p" "${rules[@]}" "${oim[@]}")
        os=$(seconds ours "$o" "$p" "${oim[@]}")
        row "$p$sfx llama.cpp" "$l" "$ls"
        row "$p$sfx tramontane, llama.cpp's types" "$s" "$ss"
        row "$p$sfx tramontane" "$o" "$os"
        if [ "$m" = imatrix ] && [ "$swap" = 1 ]; then
            l2="$p+swap-llama.gguf"; s2="$p+swap-same.tmt"
            ls=$(seconds llama_quantize "$l2" --imatrix ours-as-llama.imatrix.gguf smollm2-f32.gguf "$l2" "$P" 2)
            ss=$(seconds ours "$s2" "$p" "${rules[@]}" --imatrix llama-as-ours.imatrix.safetensors)
            row "$p+imatrix llama.cpp, tramontane's imatrix" "$l2" "$ls"
            row "$p+imatrix tramontane, llama.cpp's types and imatrix" "$s2" "$ss"
        fi
    done
done
fi
[ "$speed" != 0 ] || exit 0

# Speed: interleaved rounds over every file, then the median of each.
prompt=$("$bin" tokenize base-f32.tmt --file eval.txt | cut -d, -f1-512)
: > speed.jsonl
for r in $(seq "$runs"); do
    for f in $speed_files; do
        if [ "${f%.gguf}" != "$f" ]; then
            "$lb/llama-bench" -m "$f" -p 512 -n 64 -t 2 -r 1 -o json 2>/dev/null | "$py" -c '
import json, sys
for e in json.load(sys.stdin):
    print(json.dumps({"file": sys.argv[1], "pp" if e["n_gen"] == 0 else "tg": e["avg_ts"]}))' "$f" >> speed.jsonl
        else
            "$bin" generate "$f" --prompt-ids "$prompt" --max-tokens 1 --threads 2 --json --quiet \
                | "$py" -c 'import json,sys; print(json.dumps({"file": sys.argv[1], "pp": json.load(sys.stdin)["prompt_tokens_per_second"]}))' "$f" >> speed.jsonl
            "$bin" generate "$f" --prompt-ids 1,2,3,4 --max-tokens 64 --ignore-eos --threads 2 --json --quiet \
                | "$py" -c 'import json,sys; print(json.dumps({"file": sys.argv[1], "tg": json.load(sys.stdin)["tokens_per_second"]}))' "$f" >> speed.jsonl
        fi
    done
done
echo
echo "| file | pp512 tok/s | tg64 tok/s | (median of $runs interleaved, 2 threads) |"
echo "|---|---|---|---|"
"$py" - $speed_files <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open("speed.jsonl")]
for f in sys.argv[1:]:
    pp = [r["pp"] for r in rows if r["file"] == f and "pp" in r]; tg = [r["tg"] for r in rows if r["file"] == f and "tg" in r]
    print("| %s | %.1f | %.1f | |" % (f, statistics.median(pp), statistics.median(tg)))
PY
