#!/usr/bin/env bash
# The whole road at full size, Tramontane's and llama.cpp's, on the same synthetic weights
# (issue 18): a Hugging Face checkpoint with the exact shapes of MODEL (make_checkpoint.py:
# sharded BF16 safetensors, config.json, the model's tokenizer from mistral-common), then
#   ours:  convert (raw, shuffle-zstd), verify, quantize to q8_0 / q4_k_m / q4_0 straight from the
#          folder and q4_k_m from the .tmt, convert to f16, generate (32-token prompt, 64 tokens,
#          from a cold and from a warm page cache; a 512-token prompt for prompt speed),
#          validate q4_k_m against q8_0 (2 chunks of 512)
#   llama: convert_hf_to_gguf.py to F16, llama-quantize to the same types, llama-completion (the
#          same generation, cold and warm), llama-bench (pp512, tg64)
# every step under /usr/bin/time -v (wall, user+sys, peak RSS), with the machine's memory
# bandwidth (bandwidth.c) to put decoding against. Results: $WORK/MODEL/results.md (+ .tsv).
#
# Usage: Benchmarks/scale/run.sh MODEL [LAYERS]     MODEL: mistral-7b | nemo-12b | mixtral-8x7b
# Environment: WORK (default /work/scale), LLAMA_CPP (llama.cpp source dir with build/bin; unset:
# llama.cpp's road is skipped), PY (a python with numpy, torch, transformers, sentencepiece, gguf;
# default venv/ beside $LLAMA_CPP, else python3), THREADS (2), SIDES ("ours llama"), TYPES ("f16 q8_0 q4_0 q4_k_m").
# Disk: about 4× the BF16 checkpoint at the peak (files are deleted once measured). Cold runs
# drop the page cache (root); the checkpoint itself is kept for reruns.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
model="${1:?usage: run.sh MODEL [LAYERS]}"; layers="${2:-}"
work="${WORK:-/work/scale}/$model${layers:+-$layers}"
threads="${THREADS:-2}"; sides="${SIDES:-ours llama}"; types="${TYPES:-f16 q8_0 q4_0 q4_k_m}"
llama="${LLAMA_CPP:-}"
py="${PY:-}"
[ -n "$py" ] || { [ -n "$llama" ] && [ -x "$(dirname "$llama")/venv/bin/python" ] && py="$(dirname "$llama")/venv/bin/python" || py=python3; }
[ -n "$llama" ] || sides="${sides/llama/}"
mkdir -p "$work"
hf="$work/hf"; out="$work/files"; mkdir -p "$out"
results="$work/results.tsv"; : > "$results"

case "$model" in
    nemo-12b) tok="$root/.cache/models/tekken_240911.json"; "$root/scripts/fetch-models.sh" >/dev/null ;;
    *) tok="$root/Tests/Fixtures/tokenizers/tokenizer.model.v1" ;;
esac
[ -f "$hf/config.json" ] || "$py" "$root/Benchmarks/scale/make_checkpoint.py" "$hf" "$model" $layers --tokenizer "$tok"

"$root/scripts/build-release.sh" >/dev/null
bin="$root/.build/release/tramontane"
cc -O3 -march=native -pthread "$root/Benchmarks/scale/bandwidth.c" -o "$work/bandwidth"

# step NAME CMD…: runs CMD under /usr/bin/time -v, appends NAME, wall s, user+sys s, peak RSS MiB.
step() {
    local name="$1"; shift
    echo "== $name" >&2
    if /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/out.txt" 2> "$work/err.txt"; then
        awk -v n="$name" -F': ' '
            /Elapsed \(wall clock\)/ { k = split($2, t, ":"); w = (k == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
            /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 / 1024 }
            END { printf "%s\t%.1f\t%.1f\t%.0f\n", n, w, u + s, r }' "$work/time.txt" >> "$results"
    else
        printf "%s\tfailed\t\t\n" "$name" >> "$results"; tail -3 "$work/err.txt" >&2
    fi
}
# Both engines' first run reads the file from the disk: written files are dropped from the cache.
cold() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "cannot drop the page cache (not root): cold runs are warm" >&2; }
warm() { cat "$@" > /dev/null; }
size() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f", b / 1e9 }'; }
note() { printf "%s\n" "$*" >> "$work/notes.txt"; }
: > "$work/notes.txt"

bw1=$("$work/bandwidth" 1 1024 5); bw2=$("$work/bandwidth" "$threads" 1024 5)
note "bandwidth 1 thread: $bw1"; note "bandwidth $threads threads: $bw2"
note "checkpoint: $(du -sb "$hf" | awk '{ printf "%.2f GB", $1 / 1e9 }') in $(ls "$hf"/*.safetensors | wc -l) shards"

prompt="The quick brown fox jumps over the lazy dog while the river runs past the old mill, and the miller counts the sacks of flour one by one before the night comes down."
ids512=$("$bin" tokenize "$hf" --file "$root/formats/eval/default.txt" | tr ',' '\n' | awk 'NR <= 512' | paste -sd,)

# gen NAME FILE: our generation, cold then warm (32-token prompt), then the 512-token prompt.
gen() {
    cold; step "$1 generate cold" "$bin" generate "$2" --prompt "$prompt" --max-tokens 64 --ignore-eos --threads "$threads" --json
    cp "$work/out.txt" "$work/$1-cold.json"
    step "$1 generate warm" "$bin" generate "$2" --prompt "$prompt" --max-tokens 64 --ignore-eos --threads "$threads" --json
    cp "$work/out.txt" "$work/$1-warm.json"
    step "$1 generate pp512" "$bin" generate "$2" --prompt-ids "$ids512" --max-tokens 64 --ignore-eos --threads "$threads" --json
    cp "$work/out.txt" "$work/$1-pp512.json"
    note "$1 file: $(size "$2") GB"
}
# lgen NAME FILE: llama.cpp's generation (cold, warm) and llama-bench.
lgen() {
    local b="$llama/build/bin"
    cold; step "$1 completion cold" "$b/llama-completion" -m "$2" -p "$prompt" -n 64 -t "$threads" --temp 0 --ignore-eos -no-cnv --no-warmup
    cp "$work/err.txt" "$work/$1-cold.log"
    step "$1 completion warm" "$b/llama-completion" -m "$2" -p "$prompt" -n 64 -t "$threads" --temp 0 --ignore-eos -no-cnv --no-warmup
    cp "$work/err.txt" "$work/$1-warm.log"
    step "$1 bench" "$b/llama-bench" -m "$2" -p 512 -n 64 -t "$threads" -r 1 -o json
    cp "$work/out.txt" "$work/$1-bench.json"
    note "$1 file: $(size "$2") GB"
}

has() { [[ " $sides " == *" $1 "* ]]; }
qtypes=$(for t in $types; do [ "$t" = f16 ] || echo "$t"; done)
# 1. Our files, straight from the folder (and the .tmt codecs, measured and removed).
if has ours; then
    step "ours convert raw" "$bin" convert "$hf" -o "$out/raw.tmt" --force --codec raw
    step "ours verify raw" "$bin" verify "$out/raw.tmt" --threads "$threads"
    note "ours raw.tmt: $(size "$out/raw.tmt") GB"; rm -f "$out/raw.tmt"
    step "ours convert shuffle-zstd" "$bin" convert "$hf" -o "$out/zstd.tmt" --force --codec shuffle-zstd
    note "ours zstd.tmt: $(size "$out/zstd.tmt") GB"
    step "ours quantize q4_k_m from .tmt" "$bin" quantize "$out/zstd.tmt" -o "$out/ours-q4_k_m-from-tmt.tmt" --force --type q4_k_m
    rm -f "$out/zstd.tmt" "$out/ours-q4_k_m-from-tmt.tmt"
    for t in $qtypes; do step "ours quantize $t from folder" "$bin" quantize "$hf" -o "$out/ours-$t.tmt" --force --type "$t"; done
    [[ " $types " == *" f16 "* ]] && step "ours convert f16" "$bin" convert "$hf" -o "$out/ours-f16.tmt" --force --dtype f16 --codec raw
fi
# 2. llama.cpp's F16 GGUF; the F16 pair is run now, so both F16 files are never on the disk
#    beside llama.cpp's quantized ones.
if has llama; then
    [ -f "$out/llama-f16.gguf" ] || step "llama convert_hf_to_gguf f16" "$py" "$llama/convert_hf_to_gguf.py" "$hf" --outtype f16 --outfile "$out/llama-f16.gguf"
fi
if [[ " $types " == *" f16 "* ]]; then
    has ours && gen "ours f16" "$out/ours-f16.tmt"
    has llama && lgen "llama f16" "$out/llama-f16.gguf"
fi
rm -f "$out/ours-f16.tmt"
if has llama; then
    for t in $qtypes; do
        step "llama quantize $t" "$llama/build/bin/llama-quantize" "$out/llama-f16.gguf" "$out/llama-$t.gguf" "$(echo "$t" | tr a-z A-Z)" "$threads"
    done
    rm -f "$out/llama-f16.gguf"
fi
# 3. Each type, one engine after the other (the same state of the machine for both).
for t in $qtypes; do
    has ours && gen "ours $t" "$out/ours-$t.tmt"
    has llama && lgen "llama $t" "$out/llama-$t.gguf"
done
if has ours && [[ " $types " == *" q4_k_m "* && " $types " == *" q8_0 "* ]]; then
    step "ours validate q4_k_m vs q8_0" "$bin" validate "$out/ours-q4_k_m.tmt" --reference "$out/ours-q8_0.tmt" --ctx 512 --chunks 2 --threads "$threads" --json
    cp "$work/out.txt" "$work/validate.json"
fi

python3 "$root/Benchmarks/scale/report.py" "$work" > "$work/results.md"
cat "$work/results.md"
