#!/usr/bin/env bash
# Runs tests under a sanitizer: scripts/sanitize.sh address|thread [swift test --filter args...]
# (default: the pipeline tests, which run readers, quantizer, write-behind and writer together).
# Builds into .build-asan / .build-tsan so the normal build is left alone. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"; shift || true
case "$kind" in
    address) dir=.build-asan ;;
    thread) dir=.build-tsan ;;
    *) echo "usage: $0 address|thread [--filter REGEX]" >&2; exit 2 ;;
esac
scripts/fetch-models.sh >/dev/null
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(--filter PipelineTests)
swift build --build-tests --scratch-path "$dir" --sanitize="$kind"
# ASan's leak checker reports the Swift runtime's one-time allocations at exit: not our bugs.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}" TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}" \
    swift test --skip-build --scratch-path "$dir" --sanitize="$kind" "${args[@]}"
