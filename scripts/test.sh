#!/usr/bin/env bash
# The test command: fetches the small real model once (sha256-checked), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh >/dev/null
swift build --build-tests
swift test --skip-build "$@"
