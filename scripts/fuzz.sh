#!/usr/bin/env bash
# libFuzzer harnesses for the parsers (Fuzz/, a separate package; CI never builds or runs it).
#   scripts/fuzz.sh list            the harnesses
#   scripts/fuzz.sh NAME [SECONDS]  build, seed Fuzz/.corpus/NAME, fuzz NAME for SECONDS (default 60)
# Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 -max_len=4096" scripts/fuzz.sh gguf 600
# Rerun one input (a crash file):  scripts/fuzz.sh NAME 0 path/to/crash-…
# Findings (crash-*, timeout-*, oom-*, leak-*) land in Fuzz/.artifacts/NAME/; corpus and
# artefacts are git-ignored. Only crashes, hangs (-timeout) and runaway memory
# (-rss_limit_mb, -malloc_limit_mb) are findings: the harnesses swallow every thrown error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
name="${1:-}"; seconds="${2:-60}"; shift $(( $# > 2 ? 2 : $# )) || true
[ -n "$name" ] || { echo "usage: $0 list | NAME [SECONDS] [input files…]" >&2; exit 2; }

# Instrumentation for every Swift module (ours and the main package's): ASan plus the coverage
# libFuzzer reads (inline 8-bit counters, PC table, comparison tracing). The harness target links
# libFuzzer itself (Fuzz/Package.swift). Not `--sanitize=fuzzer`: with it SwiftPM compiles every
# executable as a library, which breaks the main package's EmbedFormatsTool.
flags=(-c release -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)
echo "== building Fuzz/ (release, ASan + libFuzzer coverage)" >&2
(cd Fuzz && swift build "${flags[@]}" >&2)
bin="$(cd Fuzz && swift build "${flags[@]}" --show-bin-path)/tramontane-fuzz"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:detect_odr_violation=0}"

if [ "$name" = list ]; then
    TRAMONTANE_FUZZ=list "$bin" -runs=1 2>/dev/null
    exit 0
fi

dict="Fuzz/dictionaries/$name.dict"
[ -f "$dict" ] || { echo "no harness $name (no $dict); see $0 list" >&2; exit 2; }
corpus="Fuzz/.corpus/$name"; artifacts="Fuzz/.artifacts/$name"
mkdir -p "$corpus" "$artifacts"

if [ "$seconds" = 0 ] && [ $# -gt 0 ]; then
    TRAMONTANE_FUZZ="$name" exec "$bin" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25 "$@"
fi

# Seeds: fixtures (and .cache/models when scripts/fetch-models.sh has run), hand seeds in
# Fuzz/seeds, small synthetic files from the harness binary. Copied, never moved: libFuzzer
# adds to the corpus folder as it finds new coverage.
made="Fuzz/.corpus/.made"
mkdir -p "$made"
TRAMONTANE_FUZZ=make-seeds TRAMONTANE_FUZZ_SEEDS="$root/$made" "$bin" -runs=1 >/dev/null 2>&1 || echo "make-seeds failed" >&2
seed() { for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$corpus/seed-$(echo "$f" | tr '/' '_')"; done; true; }
fx=Tests/Fixtures
case "$name" in
    safetensors) seed $fx/*/*.safetensors $fx/*/*/*.safetensors "$made"/safetensors/* ;;
    imatrix) seed "$made"/imatrix/* "$made"/safetensors/* $fx/quant/ggml-random.safetensors ;;
    pytorch) seed "$made"/pytorch/* $fx/tiny-mistral/hf-pytorch-f16/pytorch_model.bin $fx/tiny-mistral/native-pth-bf16/consolidated.00.pth ;;
    gguf) seed "$made"/gguf/* $fx/tiny-mixtral/gguf-stacked/tiny-mixtral.gguf ;;
    tmt) seed "$made"/tmt/* ;;
    tmt-directory) seed "$made"/tmt-directory/* ;;
    gguf-tokenizer) seed "$made"/gguf-tokenizer/* ;;
    sentencepiece) seed $fx/tokenizers/*.model* ;;
    tekken) seed Fuzz/seeds/tekken/* ;;
    config) seed $fx/*/*/config.json $fx/*/*/params.json ;;
    tokenizer-json)
        seed $fx/tokenizers/smollm2-tokenizer.json
        # A small one too: the first 400 tokens and the merges among them.
        python3 - "$fx/tokenizers/smollm2-tokenizer.json" "$corpus/seed-small-tokenizer.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
vocab = {t: i for t, i in d["model"]["vocab"].items() if i < 400}
merges = [m for m in d["model"]["merges"] if (m if isinstance(m, str) else " ".join(m)).replace(" ", "") in vocab][:100]
d["model"]["vocab"], d["model"]["merges"] = vocab, merges
d["added_tokens"] = [a for a in d.get("added_tokens", []) if a["id"] < 400]
open(sys.argv[2], "w").write(json.dumps(d))
PY
        ;;
    sharded)
        # index.json, config.json and the three shards, framed by the line --8<-- (see Harness.swift).
        seed "$made"/sharded/*
        s=$fx/tiny-mistral/hf-sharded-bf16
        { cat $s/model.safetensors.index.json; printf '\n--8<--\n'; cat $s/config.json
          for i in 1 2 3; do printf '\n--8<--\n'; cat $s/model-0000$i-of-00003.safetensors; done; } > "$corpus/seed-hf-sharded-bf16"
        ;;
esac
echo "== fuzzing $name for ${seconds}s ($(ls "$corpus" | wc -l) inputs in $corpus)" >&2
log="Fuzz/.artifacts/$name.log"
set +e
TRAMONTANE_FUZZ="$name" "$bin" "$corpus" -dict="$dict" -max_total_time="$seconds" \
    -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-1048576}" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} 2>&1 | tee "$log" | grep -E '^#[0-9]+.*(INITED|DONE|pulse)|ERROR|SUMMARY|Test unit written|==[0-9]+==|deadly signal' >&2
status=${PIPESTATUS[0]}
set -e
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
echo "== $name: ${seconds}s, execs ${execs:-?}, cov $(echo "$last" | grep -o 'cov: [0-9]*' | cut -d' ' -f2), ft $(echo "$last" | grep -o 'ft: [0-9]*' | cut -d' ' -f2), exit $status"
found=$(ls "$artifacts" 2>/dev/null | grep -E '^(crash|timeout|oom|leak|slow-unit)-' || true)
if [ -n "$found" ]; then echo "findings in $artifacts/:"; echo "$found"; else echo "findings: none"; fi
echo "log: $log"
exit $status
