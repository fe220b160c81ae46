#!/usr/bin/env bash
# Tokenizers on hostile input, and the same binaries on ordinary text (hardening, issue item 6).
# For each binary: encode time (`tokenize --json`, encoding alone) of 20 KB of one letter, one
# pre-token, with tekken, SmolLM2's tokenizer.json and GGUF, and SentencePiece v1; and the
# whole-process time of loading a SentencePiece v1 model with one appended 20 000-character piece.
# Then, interleaved across the binaries, the median encode MB/s over ROUNDS runs of
# formats/eval/default.txt repeated 8 times (290 KB, as tokenizers/run.sh uses).
# Usage: Benchmarks/tokenizers/hostile.sh [BINARY...]   (default .build/release/tramontane)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[ $# -gt 0 ] || set -- "$root/.build/release/tramontane"
rounds="${ROUNDS:-7}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gguf="$("$root/scripts/fetch-models.sh")"
tekken="$root/.cache/models/tekken_240911.json"
hf="$root/Tests/Fixtures/tokenizers/smollm2-tokenizer.json"
v1="$root/Tests/Fixtures/tokenizers/tokenizer.model.v1"
python3 -c "import sys; open(sys.argv[1], 'w').write('a' * 20000)" "$work/a20k.txt"
python3 - "$v1" "$work/long.model" <<'PY'
import struct, sys
def varint(n):
    out = b''
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | 0x80 if n else b])
        if not n: return out
def field(number, payload): return varint(number << 3 | 2) + varint(len(payload)) + payload
piece = "\u2581" + "a" * 20000
entry = field(1, piece.encode()) + varint(2 << 3 | 5) + struct.pack('<f', -1e9)
open(sys.argv[2], 'wb').write(open(sys.argv[1], 'rb').read() + field(1, entry))
PY
for i in 1 2 3 4 5 6 7 8; do cat "$root/formats/eval/default.txt"; done > "$work/text.txt"
seconds() { python3 -c "import json, sys; print('%.4f' % json.load(sys.stdin)['seconds'])"; }
for bin in "$@"; do
    echo "$bin"
    for src in "$tekken" "$hf" "$gguf" "$v1"; do
        echo "  20 KB of 'a', $(basename "$src"): encode $("$bin" tokenize "$src" --file "$work/a20k.txt" --json | seconds) s"
    done
    /usr/bin/time -f "  SentencePiece v1 + one 20 000-character piece, load and encode 'hello': %e s wall" \
        "$bin" tokenize "$work/long.model" --text hello > /dev/null
done
echo "ordinary text (290 KB), median encode MB/s of $rounds interleaved runs:"
for src in "$v1" "$root/Tests/Fixtures/tokenizers/mistral_instruct_tokenizer_240323.model.v3" "$tekken" "$hf" "$gguf"; do
    : > "$work/mbs"
    for r in $(seq "$rounds"); do
        for bin in "$@"; do
            echo "$bin $("$bin" tokenize "$src" --file "$work/text.txt" --json | python3 -c "import json, sys; print(json.load(sys.stdin)['mb_per_second'])")" >> "$work/mbs"
        done
    done
    python3 - "$work/mbs" "$(basename "$src")" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    b, v = line.rsplit(' ', 1); runs[b].append(float(v))
print("  %-45s %s" % (sys.argv[2], "  ".join("%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v)) for v in runs.values())))
PY
done
