#!/usr/bin/env bash
# Quantization benchmark (issue 3), side by side in one run at equal threads: Tramontane's
# `quantize` (default search mode and --reference-quantizer) against llama.cpp's
# llama_model_quantize (llama-cpp-python) on the same F32 GGUF inputs: SmolLM2-135M and a
# 1-layer model with Mistral-7B shapes. Reports throughput (MB/s of f32 input, wall clock
# including I/O) and round-trip RMSE over all 2-D tensors, with bits per weight.
# Tramontane rows: the default (search, SHA-256 of the source for the provenance on a thread of
# its own), the same without hashing (--no-source-hash), and the reference quantizer without hashing.
# Usage: Benchmarks/quantize/run.sh [WORK_DIR]   (creates a venv with llama-cpp-python: ~10 min once)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/tramontane-qbench}"
threads="${THREADS:-2}"
mkdir -p "$work"
venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy gguf llama-cpp-python
fi
py="$venv/bin/python"
gguf="$("$root/scripts/fetch-models.sh")"
"$py" "$root/Benchmarks/quantize/make_inputs.py" "$gguf" "$work"
(cd "$root" && swift build -c release --product tramontane >/dev/null)
bin="$root/.build/release/tramontane"

ours() {  # input type mode [no-hash]
    local extra=""; [ "$3" = reference ] && extra="--reference-quantizer"
    local label="$3"; [ "${4:-}" = no-hash ] && { extra="$extra --no-source-hash"; label="$3, no source hash"; }
    local in_bytes; in_bytes=$(stat -c %s "$1")
    local t0 t1; t0=$(date +%s.%N)
    "$bin" quantize "$1" -o "$work/ours.tmt" --type "$2" --threads "$threads" $extra --json > /dev/null
    t1=$(date +%s.%N)
    # The error report is a second, untimed run (llama.cpp's RMSE is measured outside its timing too).
    "$bin" quantize "$1" -o "$work/ours.tmt" --type "$2" --threads "$threads" $extra --report --json > "$work/ours.json"
    python3 - "$work/ours.json" "$2" "$label" "$t0" "$t1" "$in_bytes" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [e for e in r["tensors"] if len(e["shape"]) >= 2]
n = sum(e["shape"][0] * e["shape"][1] for e in rows)
se = sum(e["rmse"] ** 2 * e["shape"][0] * e["shape"][1] for e in rows)
bits = sum(e["bytes"] * 8 for e in rows)
secs = float(sys.argv[5]) - float(sys.argv[4])
print(json.dumps({"tool": "tramontane " + sys.argv[3], "type": sys.argv[2], "seconds": secs,
                  "mb_per_second": int(sys.argv[6]) / 1e6 / secs, "rmse": (se / n) ** 0.5, "bits_per_weight": bits / n}))
PY
}

echo "| input | type | tool | MB/s | seconds | RMSE | bits/weight |"
echo "|---|---|---|---|---|---|---|"
for input in smollm2-f32 mistral7b-layer-f32; do
    for t in q8_0 q6_k q4_k q4_1 q4_0; do
        for line in "$("$py" "$root/Benchmarks/quantize/llama_quantize.py" "$work/$input.gguf" "$work/llama.gguf" "$t" "$threads" 2>/dev/null)" \
                    "$(ours "$work/$input.gguf" "$t" search)" "$(ours "$work/$input.gguf" "$t" search no-hash)" \
                    "$(ours "$work/$input.gguf" "$t" reference no-hash)"; do
            echo "$line" | python3 -c "import json,sys; r=json.load(sys.stdin); print('| $input | %s | %s | %.0f | %.1f | %.4e | %.3f |' % (r['type'], r['tool'], r['mb_per_second'], r['seconds'], r['rmse'], r['bits_per_weight']))"
        done
    done
done
rm -f "$work/ours.tmt" "$work/llama.gguf"
