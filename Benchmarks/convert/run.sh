#!/usr/bin/env bash
# Conversion benchmark (issue 2): a synthetic BF16 checkpoint with Mistral-7B tensor shapes,
# sharded, converted with each codec. Reports conversion MB/s, peak RSS (/usr/bin/time -v),
# compressed ratio, and decode+verify MB/s on one core. Runs twice (2 and 6 layers) to show
# that peak RSS does not grow with model size.
# Usage: Benchmarks/convert/run.sh [WORK_DIR]   (needs ~12 GB free; python3 with numpy)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/tramontane-bench}"
mkdir -p "$work"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
"$root/scripts/build-release.sh" >/dev/null
bin="$root/.build/release/tramontane"

printf "| layers | input GB | codec | convert MB/s | peak RSS MiB | ratio | decode+verify MB/s (1 core) |\n|---|---|---|---|---|---|---|\n"
for layers in 2 6; do
    src="$work/synth-$layers"
    [ -f "$src/config.json" ] || python3 "$root/Benchmarks/convert/make_synthetic.py" "$src" "$layers" 2>/dev/null
    gb=$(du -b "$src"/*.safetensors | awk '{s+=$1} END {printf "%.2f", s/1e9}')
    for codec in raw zstd shuffle-zstd; do
        out="$work/out-$layers-$codec.tmt"
        # Every conversion hashes its sources (an empty digest cache each time), as a first
        # conversion of a download does.
        cache=$(mktemp -d)
        json=$(TRAMONTANE_CACHE_DIR="$cache" /usr/bin/time -v -o "$work/time.txt" "$bin" convert "$src" -o "$out" --force --codec "$codec" --json)
        rm -rf "$cache"
        rss=$(awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$work/time.txt")
        mbs=$(echo "$json" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["mb_per_second"])')
        ratio=$(echo "$json" | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["ratio"])')
        # Decoding speed, not the disk's: the output was written around the page cache
        # (O_DIRECT), so read it once before timing `verify`.
        cat "$out" > /dev/null
        dec=$("$bin" verify "$out" --threads 1 --json | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["mb_per_second"])')
        echo "| $layers | $gb | $codec | $mbs | $rss | $ratio | $dec |"
        rm -f "$out"
    done
done
