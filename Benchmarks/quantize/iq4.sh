#!/usr/bin/env bash
# IQ4_NL / IQ4_XS on SmolLM2-135M from its f32 base, against llama.cpp (issue 16):
#   llama.cpp: llama_model_quantize from its libllama.so (llama_iq4.py), its own mix ("mix") and
#              --pure ("pure": every matrix the type, IQ4_XS falling back to IQ4_NL on 576-wide rows);
#   ours:      the presets iq4_nl / iq4_xs, and llama.cpp's pure per-tensor types exactly (search
#              and --reference-quantizer, the latter bit-identical with llama.cpp's bytes);
# each validated by `tramontane validate --reference base-f32.tmt` (8 × 512 tokens of
# formats/eval/default.txt): bits/weight of the matrices, mean KLD, top-1, PPL. Then decode
# speed per format (generate, 2 threads, interleaved runs). No importance matrix anywhere.
# Also whether the reference files hold exactly llama.cpp's pure files' tensors (inspect --hash).
# Usage: Benchmarks/quantize/iq4.sh [WORK_DIR]   LLAMA_LIB=…/libllama.so  PY=python with gguf-py
#   RUNS=N decode runs per file (default 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/tramontane-iq4}"
lib="${LLAMA_LIB:-/work/peers/llama.cpp/build/bin/libllama.so}"
py="${PY:-/work/peers/venv/bin/python}"
runs="${RUNS:-3}"
mkdir -p "$work"; cd "$work"
gguf="$("$root/scripts/fetch-models.sh")"
"$root/scripts/build-release.sh" >/dev/null
bin="$root/.build/release/tramontane"
[ -f smollm2-f32.gguf ] || { touch mistral7b-layer-f32.gguf; "$py" "$root/Benchmarks/quantize/make_inputs.py" "$gguf" .; rm -f mistral7b-layer-f32.gguf; }
[ -f base-f32.tmt ] || "$bin" convert "$gguf" -o base-f32.tmt --force --dtype f32 --codec raw >/dev/null

for t in iq4_nl iq4_xs; do
    for m in mix pure; do
        [ -f "llama-$t-$m.json" ] || "$py" "$root/Benchmarks/quantize/llama_iq4.py" "$lib" smollm2-f32.gguf "llama-$t-$m.gguf" $t $m 2 > "llama-$t-$m.json" 2> "llama-$t-$m.log"
    done
done
q() { local name="$1"; shift; "$bin" quantize base-f32.tmt -o "$name.tmt" --force --no-source-hash --threads 2 --json "$@" > "$name.quantize.json"; }
q ours-iq4_nl --type iq4_nl
q ours-iq4_xs --type iq4_xs
q ours-q4_0 --type q4_0
q ours-q4_1 --type q4_1
q ours-q5_0 --type q5_0
q ours-pure-iq4_nl --type iq4_nl --rule '.*=iq4_nl'
q ours-pure-iq4_xs --type iq4_xs --rule 'feed_forward\.w2=iq4_xs' --rule '.*=iq4_nl'
q ref-pure-iq4_nl --type iq4_nl --rule '.*=iq4_nl' --reference-quantizer
q ref-pure-iq4_xs --type iq4_xs --rule 'feed_forward\.w2=iq4_xs' --rule '.*=iq4_nl' --reference-quantizer
files="llama-iq4_nl-mix.gguf ours-iq4_nl.tmt llama-iq4_nl-pure.gguf ours-pure-iq4_nl.tmt ref-pure-iq4_nl.tmt
llama-iq4_xs-mix.gguf ours-iq4_xs.tmt llama-iq4_xs-pure.gguf ours-pure-iq4_xs.tmt ref-pure-iq4_xs.tmt ours-q4_0.tmt"
for f in $files; do
    # (llama.cpp's mixes hold Q5_K, which a build without the k-quant formats cannot read: skipped there.)
    [ -s "$f.validate.json" ] || "$bin" validate "$f" --reference base-f32.tmt --ctx 512 --chunks 8 --threads 2 --json > "$f.validate.json" || rm -f "$f.validate.json"
done
echo "| file | matrices bits/weight | mean KLD | top-1 | PPL (base) |"
echo "|---|---|---|---|---|"
for f in $files; do
    [ -s "$f.validate.json" ] || { echo "| $f | (not readable by this build) | | | |"; continue; }
    "$py" - "$f" <<'PY'
import json, sys
from gguf import GGUFReader
f = sys.argv[1]; v = json.load(open(f + ".validate.json"))
if f.endswith(".gguf"):
    ts = [t for t in GGUFReader(f).tensors if len(t.shape) >= 2]
    bpw = sum(int(t.n_bytes) for t in ts) * 8 / sum(int(t.n_elements) for t in ts)
else:
    bpw = json.load(open(f[:-4] + ".quantize.json"))["bits_per_weight"]
print("| %s | %.3f | %.4f | %.2f%% | %.3f (%.3f) |" % (f, bpw, v["mean_kld"], 100 * v["top1_agreement"], v["ppl"], v["ppl_base"]))
PY
done
hashes() { "$bin" inspect "$1" --hash --json | "$py" -c "import json, sys
for t in json.load(sys.stdin)['tensors']: print(t['name'], t['dtype'], t['sha256'])" | sort; }
for t in iq4_nl iq4_xs; do
    if [ "$(hashes "llama-$t-pure.gguf")" = "$(hashes "ref-pure-$t.tmt")" ]; then echo "ref-pure-$t.tmt: every tensor identical with llama-$t-pure.gguf"
    else echo "ref-pure-$t.tmt: DIFFERS from llama-$t-pure.gguf"; fi
done
echo "decode tok/s (generate --threads 2, 64 tokens after a 4-token prompt, $runs interleaved runs):"
for i in $(seq "$runs"); do
    for f in ours-q4_0.tmt ours-q4_1.tmt ours-q5_0.tmt ours-pure-iq4_nl.tmt ours-pure-iq4_xs.tmt ours-iq4_xs.tmt; do
        "$bin" generate "$f" --prompt-ids 1,2,3,4 --max-tokens 64 --threads 2 --json | "$py" -c "import json,sys; d=json.load(sys.stdin); print('$f', round(d.get('generation_tokens_per_second', d.get('tokens_per_second', 0)), 1))"
    done
done
