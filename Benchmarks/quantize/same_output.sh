#!/usr/bin/env bash
# Whether two builds of tramontane quantize a checkpoint to the same tensors: compares the
# per-tensor SHA-256 of `inspect --hash` (the provenance, which names the binary, may differ).
# How "output bit-identical" claims in commits and Benchmarks/README.md were checked.
# Usage: Benchmarks/quantize/same_output.sh OLD_BINARY NEW_BINARY INPUT TYPE [quantize options...]
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,5p' "$0"; exit 2; }
old=$1; new=$2; input=$3; type=$4; shift 4
extra=("$@")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
hashes() {
    "$1" quantize "$input" -o "$work/$2.tmt" --type "$type" --no-source-hash --json "${extra[@]}" > /dev/null
    "$1" inspect "$work/$2.tmt" --hash --json | python3 -c "import json, sys
for t in json.load(sys.stdin)['tensors']: print(t['name'], t['dtype'], t['sha256'])"
}
a=$(hashes "$old" old); b=$(hashes "$new" new)
if [ "$a" = "$b" ]; then echo "$type $*: identical ($(wc -l <<< "$a") tensors)"; else echo "$type $*: DIFFERENT"; diff <(echo "$a") <(echo "$b") | head; exit 1; fi
