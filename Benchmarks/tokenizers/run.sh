#!/usr/bin/env bash
# Tokenizer benchmark (issue 5): encoding throughput, single thread, of Tramontane's tokenizers
# against sentencepiece, mistral_common's tekken and Hugging Face tokenizers on the same text
# (formats/eval/default.txt repeated 8 times, ~290 KB), and whether both produce the same ids.
# Usage: Benchmarks/tokenizers/run.sh [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/tramontane-tbench}"
mkdir -p "$work/tok"
venv="$work/venv"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install -q sentencepiece tokenizers mistral-common==1.13.1 transformers gguf; }
gguf="$("$root/scripts/fetch-models.sh")"
cp "$root/Tests/Fixtures/tokenizers/"*.model* "$root/.cache/models/tekken_240911.json" "$work/tok/"
for i in 1 2 3 4 5 6 7 8; do cat "$root/formats/eval/default.txt"; done > "$work/text.txt"
"$root/scripts/build-release.sh" >/dev/null
bin="$root/.build/release/tramontane"
"$venv/bin/python" "$root/Benchmarks/tokenizers/python_side.py" "$work/text.txt" "$work/tok" "$gguf" 2>/dev/null > "$work/python.jsonl"
echo "| tokenizer | Tramontane MB/s | peer MB/s | peer | same ids |"
echo "|---|---|---|---|---|"
for pair in "tokenizer.model.v1:$work/tok/tokenizer.model.v1:sentencepiece" \
            "mistral_instruct_tokenizer_240323.model.v3:$work/tok/mistral_instruct_tokenizer_240323.model.v3:sentencepiece" \
            "tekken_240911.json:$work/tok/tekken_240911.json:mistral_common (tiktoken)" \
            "smollm2 (GGUF):$gguf:HF tokenizers"; do
    IFS=: read -r name src peer <<< "$pair"
    "$bin" tokenize "$src" --file "$work/text.txt" --json > "$work/ours.json"
    python3 - "$work/ours.json" "$work/python.jsonl" "$name" "$peer" <<'PY'
import hashlib, json, sys
ours = json.load(open(sys.argv[1]))
peer = next(json.loads(l) for l in open(sys.argv[2]) if json.loads(l)["tokenizer"] == sys.argv[3])
same = hashlib.sha256(",".join(map(str, ours["ids"])).encode()).hexdigest() == peer["ids_sha256"]
print("| %s | %.2f | %.2f | %s | %s |" % (sys.argv[3], ours["mb_per_second"], peer["mb_per_second"], sys.argv[4], "yes" if same else "NO"))
PY
done
