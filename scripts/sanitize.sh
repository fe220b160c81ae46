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
# The Swift runtime's backtracer does not run under a sanitizer: under TSan it cannot suspend the
# crashed process's threads (TSan's runtime CHECK-fails), under ASan its memory server's page-sized
# reads of the stack hit ASan's red zones (stack-buffer-underflow in CrashHandlerLinux.cpp). So
# the test of SIGQUIT under the backtracer is left out here; the normal suite runs it.
args+=(--skip testSIGQUITUnderSwiftsBacktracerCarriesOn)
swift build --build-tests --scratch-path "$dir" --sanitize="$kind"
# ASan's leak checker reports the Swift runtime's one-time allocations at exit: not our bugs.
# Sanitized builds run several times slower: the subprocess tests' time limits are scaled.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}" TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}" \
    TRAMONTANE_TEST_TIMEOUT_SCALE="${TRAMONTANE_TEST_TIMEOUT_SCALE:-10}" \
    swift test --skip-build --scratch-path "$dir" --sanitize="$kind" "${args[@]}"
