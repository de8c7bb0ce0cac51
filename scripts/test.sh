#!/usr/bin/env bash
# README command (b): set up the environment if needed, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
exec "$VSSLEVAL_PY" -m pytest "$@"
