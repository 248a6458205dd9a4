#!/usr/bin/env bash
# The whole test suite: unit tests next to the code, end-to-end tests in
# tests/ (they spawn real redis-server, TLS, upstream and gateway processes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo test --all-targets "$@"
