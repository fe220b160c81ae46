#!/usr/bin/env bash
# Installs the C libraries Tramontane links (zstd; OpenBLAS for the inference engine) on Debian.
set -euo pipefail
need=()
for p in libzstd-dev libopenblas-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
