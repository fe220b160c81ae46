#!/usr/bin/env bash
# The test command: fetches the small real model once (sha256-checked), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh >/dev/null
swift build --build-tests
# The fetched models are there now: a test that cannot find one fails instead of skipping.
TRAMONTANE_REQUIRE_FETCHED=1 swift test --skip-build "$@"
