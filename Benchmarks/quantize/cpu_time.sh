#!/usr/bin/env bash
# CPU time of `quantize` for two or more builds of tramontane, runs interleaved, best of RUNS:
# the user CPU time (summed over threads) is steadier than wall time on a shared machine, so
# this is how kernel changes were compared (Benchmarks/README.md, "What changed").
# Usage: Benchmarks/quantize/cpu_time.sh RUNS TYPE INPUT.gguf BINARY BINARY...
#   e.g. cpu_time.sh 5 q4_0 /tmp/tramontane-qbench/mistral7b-layer-f32.gguf old/tramontane .build/release/tramontane
# (make the input with quantize/run.sh; THREADS=N to change the default of 2; FIRST_RUN=1 times
# the first run over the file instead: the source hashed, with an empty digest cache each run;
# WARM_CACHE=1 gives each build one digest cache, filled by an untimed run first, as a user's
# second and later runs over a file see it: source digests and checked tokenizers remembered)
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,7p' "$0"; exit 2; }
runs=$1; type=$2; input=$3; shift 3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ -n "${WARM_CACHE:-}" ]; then
    i=0
    for b in "$@"; do
        mkdir -p "$work/warm-$i"
        TRAMONTANE_CACHE_DIR="$work/warm-$i" "$b" quantize "$input" -o "$work/out-$i.tmt" --type "$type" --no-source-hash > /dev/null 2>&1
        rm -f "$work/out-$i.tmt"
        i=$((i + 1))
    done
fi
for r in $(seq "$runs"); do
    i=0
    for b in "$@"; do
        hash=(--no-source-hash); cache=""
        if [ -n "${FIRST_RUN:-}" ]; then hash=(); cache=$(mktemp -d "$work/cache.XXXX"); fi
        [ -z "${WARM_CACHE:-}" ] || cache="$work/warm-$i"
        # Removed rather than replaced with --force, which builds before it do not know.
        rm -f "$work/out-$i.tmt"
        TRAMONTANE_CACHE_DIR="$cache" /usr/bin/time -f "%U %e %S" -a -o "$work/times-$i" "$b" quantize "$input" -o "$work/out-$i.tmt" --type "$type" \
            "${hash[@]}" --threads "${THREADS:-2}" --json > /dev/null 2>&1
        [ -z "${FIRST_RUN:-}" ] || rm -rf "$cache"
        i=$((i + 1))
    done
done
i=0
for b in "$@"; do
    python3 - "$work/times-$i" "$b" "$(stat -c %s "$input")" <<'PY'
import sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l[:1].isdigit()]
user, walls = min(r[0] for r in rows), sorted(r[1] for r in rows)
cpu = sorted(r[0] + r[2] for r in rows)
print("%s: best user %.2f s, best wall %.2f s, median wall %.2f s, median user+sys %.2f s, %.0f MB/s at best wall"
      % (sys.argv[2], user, walls[0], walls[len(walls) // 2], cpu[len(cpu) // 2], int(sys.argv[3]) / 1e6 / walls[0]))
PY
    i=$((i + 1))
done
