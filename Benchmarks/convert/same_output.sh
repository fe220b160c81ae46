#!/usr/bin/env bash
# Whether two builds of tramontane convert a checkpoint to the same file: every byte before the
# directory (header, tensor chunks, blobs) must be equal — the directory holds the provenance
# (time, command line), so it may differ — and the tensors' SHA-256 of `inspect --hash` too.
# Usage: Benchmarks/convert/same_output.sh OLD_BINARY NEW_BINARY INPUT [convert options...]
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,5p' "$0"; exit 2; }
old=$1; new=$2; input=$3; shift 3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
data() {   # the bytes before the directory (offset at trailer bytes 16..24)
    python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
(off,) = struct.unpack_from("<Q", b, len(b) - 64 + 16)
sys.stdout.buffer.write(b[:off])
PY
}
"$old" convert "$input" -o "$work/old.tmt" --no-source-hash "$@" > /dev/null
"$new" convert "$input" -o "$work/new.tmt" --no-source-hash "$@" > /dev/null
data "$work/old.tmt" > "$work/old.data"; data "$work/new.tmt" > "$work/new.data"
hashes() { "$1" inspect "$2" --hash --json | python3 -c "import json, sys
for t in json.load(sys.stdin)['tensors']: print(t['name'], t['dtype'], t['sha256'])"; }
if cmp -s "$work/old.data" "$work/new.data" && [ "$(hashes "$old" "$work/old.tmt")" = "$(hashes "$new" "$work/new.tmt")" ]; then
    echo "convert $(basename "$input") $*: identical ($(stat -c %s "$work/old.data") bytes before the directory)"
else
    echo "convert $(basename "$input") $*: DIFFERENT"; cmp "$work/old.data" "$work/new.data" | head -3 || true; exit 1
fi
