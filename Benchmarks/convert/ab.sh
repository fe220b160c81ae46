#!/usr/bin/env bash
# convert with two or more builds of tramontane on the same input, runs interleaved: median and
# best wall time, median user+sys CPU, and peak RSS (/usr/bin/time -v) per build.
# Usage: Benchmarks/convert/ab.sh RUNS INPUT BINARY BINARY... [-- convert options]
#   e.g. ab.sh 3 /tmp/hf2 old/tramontane .build/release/tramontane -- --codec zstd
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,5p' "$0"; exit 2; }
runs=$1; input=$2; shift 2
bins=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
[ $# -gt 0 ] && shift
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for r in $(seq "$runs"); do
    for i in "${!bins[@]}"; do
        rm -f "$work/out.tmt"
        /usr/bin/time -v -o "$work/t" "${bins[$i]}" convert "$input" -o "$work/out.tmt" --no-source-hash "$@" > /dev/null 2>&1
        awk -F': ' '/Elapsed \(wall/ {n=split($2,a,":"); w=(n==3? a[1]*3600+a[2]*60+a[3] : a[1]*60+a[2])} /User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {m=$2} END {print w, u+s, m/1024}' "$work/t" >> "$work/times-$i"
    done
done
bytes=$(du -sb "$input" | cut -f1)
for i in "${!bins[@]}"; do
    python3 - "$work/times-$i" "${bins[$i]}" "$bytes" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
w = sorted(r[0] for r in rows); c = [r[1] for r in rows]; m = [r[2] for r in rows]
mb = int(sys.argv[3]) / 1e6
print(f"{sys.argv[2]}: median wall {statistics.median(w):.2f} s ({mb / statistics.median(w):.0f} MB/s), best {w[0]:.2f} s, "
      f"median user+sys {statistics.median(c):.2f} s, peak RSS {max(m):.0f} MiB")
PY
done
