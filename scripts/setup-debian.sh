#!/usr/bin/env bash
# Installs the C libraries Tramontane uses on Debian: zstd (linked) and OpenBLAS (loaded at run time
# by the inference engine, Sources/Inference/BLAS.swift); tmux for the chat test, which types into a
# terminal as a person does.
set -euo pipefail
need=()
for p in libzstd-dev libopenblas0 tmux; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
