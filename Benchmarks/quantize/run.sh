#!/usr/bin/env bash
# Quantization benchmark (issue 3), side by side in one run at equal threads: Tramontane's
# `quantize` against llama.cpp's llama_model_quantize (llama-cpp-python) on the same F32 GGUF
# inputs: SmolLM2-135M and a 1-layer model with Mistral-7B shapes. Reports throughput (MB/s of
# f32 input, wall clock including I/O, best of REPEAT runs, runs of the tools interleaved) and
# round-trip RMSE over all 2-D tensors, with bits per weight.
# Tramontane rows (default search mode unless said):
#   "first run"      — SHA-256 of the source for the provenance, with an empty digest cache;
#   "digest cached"  — the same with the digest remembered from an earlier run (a ladder's
#                      second and later types);
#   "no source hash" — --no-source-hash: the same work as llama.cpp;
#   "reference"      — --reference-quantizer --no-source-hash.
# Usage: Benchmarks/quantize/run.sh [WORK_DIR]   (creates a venv with llama-cpp-python: ~10 min once,
#   unless LLAMA_LIB=…/libllama.so names llama.cpp's own build, with PY=a python holding gguf-py)
#   REPEAT=N (default 3), THREADS=N (default 2), INPUTS="smollm2-f32 …",
#   TYPES="q8_0 q4_0 …" (also q5_k q3_k q2_k iq4_nl iq4_xs: every matrix that format, both tools)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/tramontane-qbench}"
threads="${THREADS:-2}"
repeat="${REPEAT:-3}"
types="${TYPES:-q8_0 q6_k q4_k q4_1 q4_0}"
inputs="${INPUTS:-smollm2-f32 mistral7b-layer-f32}"
mkdir -p "$work"
if [ -n "${LLAMA_LIB:-}" ]; then   # llama.cpp's own libllama.so, called through ctypes
    py="${PY:-/work/peers/venv/bin/python}"
else
    venv="$work/venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q numpy gguf llama-cpp-python
    fi
    py="$venv/bin/python"
fi
gguf="$("$root/scripts/fetch-models.sh")"
"$py" "$root/Benchmarks/quantize/make_inputs.py" "$gguf" "$work"
"$root/scripts/build-release.sh" >/dev/null
bin="$root/.build/release/tramontane"
caches="$work/digest-caches"
rm -rf "$caches"; mkdir -p "$caches"

# Our arguments for a type: the preset, made pure as llama.cpp's side is (llama_quantize.py
# sets pure) where the preset is a mix or the format has no preset of its own name.
type_args() {
    case "$1" in
        q5_k) targs=(--type q5_k_s --rule '.*=q5_k') ;;
        q3_k) targs=(--type q3_k_s --rule '.*=q3_k') ;;
        q2_k|iq4_nl|iq4_xs) targs=(--type "$1" --rule ".*=$1") ;;
        *) targs=(--type "$1") ;;
    esac
}

# One timed run of ours: input type config → seconds
ours_once() {
    local extra="" cache="$caches/none"
    case "$3" in
        first)     cache="$(mktemp -d "$caches/cold.XXXX")" ;;
        cached)    cache="$caches/warm" ;;
        nohash)    extra="--no-source-hash" ;;
        reference) extra="--reference-quantizer --no-source-hash" ;;
    esac
    local t0 t1; type_args "$2"; t0=$(date +%s.%N)
    TRAMONTANE_CACHE_DIR="$cache" "$bin" quantize "$1" -o "$work/ours.tmt" --force "${targs[@]}" --threads "$threads" $extra --json > /dev/null
    t1=$(date +%s.%N)
    python3 -c "print($t1 - $t0)"
}

# The RMSE of ours (untimed run with --report; llama.cpp's RMSE is measured outside its timing too)
ours_rmse() {
    local extra=(--no-source-hash); [ "$3" = reference ] && extra=(--reference-quantizer --no-source-hash)
    [ "$3" = mix ] && extra=(--no-source-hash "${@:4}")
    type_args "$2"
    "$bin" quantize "$1" -o "$work/ours.tmt" --force "${targs[@]}" --threads "$threads" "${extra[@]}" --report --json > "$work/ours.json"
    python3 - "$work/ours.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [e for e in r["tensors"] if len(e["shape"]) >= 2]
n = sum(e["shape"][0] * e["shape"][1] for e in rows)
se = sum(e["rmse"] ** 2 * e["shape"][0] * e["shape"][1] for e in rows)
bits = sum(e["bytes"] * 8 for e in rows)
print("%.4e %.3f" % ((se / n) ** 0.5, bits / n))
PY
}

best() { sort -g | head -1; }
row() { python3 -c "import sys; s=float('$4'); print('| $1 | $2 | $3 | %.0f | %.2f | $5 | $6 |' % ($7 / 1e6 / s, s))"; }

echo "| input | type | tool | MB/s | seconds (best of $repeat) | RMSE | bits/weight |"
echo "|---|---|---|---|---|---|---|"
for input in $inputs; do
    src="$work/$input.gguf"
    in_bytes=$(stat -c %s "$src")
    for t in $types; do
        # The digest cache for "cached" runs: filled once, untimed.
        type_args "$t"
        TRAMONTANE_CACHE_DIR="$caches/warm" "$bin" quantize "$src" -o "$work/ours.tmt" --force "${targs[@]}" --threads "$threads" --json > /dev/null
        declare -A secs=()
        for r in $(seq "$repeat"); do
            s=$("$py" "$root/Benchmarks/quantize/llama_quantize.py" "$src" "$work/llama.gguf" "$t" "$threads" --no-rmse 2>/dev/null \
                | python3 -c "import json,sys; print(json.load(sys.stdin)['seconds'])")
            secs[llama]+="$s "
            for c in first cached nohash reference; do secs[$c]+="$(ours_once "$src" "$t" $c) "; done
        done
        read -r lr lb < <("$py" "$root/Benchmarks/quantize/llama_quantize.py" "$src" "$work/llama.gguf" "$t" "$threads" 2>/dev/null \
            | python3 -c "import json,sys; r=json.load(sys.stdin); print('%.4e %.3f' % (r['rmse'], r['bits_per_weight']))")
        read -r sr sb < <(ours_rmse "$src" "$t" search)
        read -r rr rb < <(ours_rmse "$src" "$t" reference)
        row "$input" "$t" "llama.cpp" "$(tr ' ' '\n' <<< "${secs[llama]}" | grep . | best)" "$lr" "$lb" "$in_bytes"
        row "$input" "$t" "tramontane, first run" "$(tr ' ' '\n' <<< "${secs[first]}" | grep . | best)" "$sr" "$sb" "$in_bytes"
        row "$input" "$t" "tramontane, digest cached" "$(tr ' ' '\n' <<< "${secs[cached]}" | grep . | best)" "$sr" "$sb" "$in_bytes"
        row "$input" "$t" "tramontane, no source hash" "$(tr ' ' '\n' <<< "${secs[nohash]}" | grep . | best)" "$sr" "$sb" "$in_bytes"
        row "$input" "$t" "tramontane reference, no source hash" "$(tr ' ' '\n' <<< "${secs[reference]}" | grep . | best)" "$rr" "$rb" "$in_bytes"
        # SmolLM2's 576-wide rows: llama.cpp's Q6_K/Q4_K files fall back to Q8_0/Q5_0 there (all
        # but feed_forward.w2, 1536 wide). The same type mix from our quantizer, for RMSE at equal
        # size (untimed).
        fallback=""; [ "$input" = smollm2-f32 ] && case "$t" in q6_k) fallback=q8_0 ;; q4_k) fallback=q5_0 ;; esac
        if [ -n "$fallback" ]; then
            read -r mr mb < <(ours_rmse "$src" "$t" mix --rule "feed_forward\.w2=$t" --rule ".=$fallback")
            echo "| $input | $t | tramontane, llama.cpp's type mix ($t for w2, $fallback elsewhere) | - | - | $mr | $mb |"
        fi
        unset secs
    done
done
rm -rf "$caches" "$work/ours.tmt" "$work/llama.gguf" "$work/ours.json"
