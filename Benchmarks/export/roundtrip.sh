#!/usr/bin/env bash
# HF BF16 → .tmt (lossless convert) → export --to safetensors --dtype bf16, for the tiny fixtures:
# `inspect --hash` of the original and the export, and every tensor's dtype, shape and bytes.
# Usage: Benchmarks/export/roundtrip.sh [WORKDIR]   (PYTHON=... for the byte comparison)
set -uo pipefail
cd "$(dirname "$0")/../.."
T=${TRAMONTANE:-.build/debug/tramontane}
PY=${PYTHON:-/work/peers/venv/bin/python}
W=${1:-/tmp/tramontane-export-roundtrip}
mkdir -p "$W"
hashes() { $T inspect "$1" --hash --json 2>/dev/null | $PY -c 'import json,sys; [print(t["name"], t["sha256"]) for t in json.load(sys.stdin)["tensors"]]'; }
for m in tiny-mistral/hf-sharded-bf16 tiny-mixtral/hf-bf16; do
    n=${m%%/*}
    $T convert "Tests/Fixtures/$m" -o "$W/$n.tmt" --no-source-hash --force >/dev/null 2>&1
    $T export "$W/$n.tmt" -o "$W/$n" --to safetensors --dtype bf16 --force >/dev/null 2>&1
    diff <(hashes "Tests/Fixtures/$m") <(hashes "$W/$n") >/dev/null && echo "$n: inspect --hash identical" || echo "$n: inspect --hash DIFFERS"
    $PY - "Tests/Fixtures/$m" "$W/$n" <<'EOF'
import glob, json, struct, sys
def tensors(d):
    out = {}
    for f in sorted(glob.glob(d + "/*.safetensors")):
        b = open(f, "rb").read()
        n = struct.unpack("<Q", b[:8])[0]
        for k, v in json.loads(b[8:8 + n]).items():
            if k != "__metadata__":
                s, e = v["data_offsets"]
                out[k] = (v["dtype"], v["shape"], b[8 + n + s:8 + n + e])
    return out
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
same = sum(1 for k in a if b.get(k) == a[k])
print(f"  {len(a)} tensors, {same} with the same dtype, shape and bytes; same names: {set(a) == set(b)}; same order in the files: {list(a) == list(b)}")
EOF
done
