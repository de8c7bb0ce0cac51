#!/usr/bin/env bash
# README command (b): set up the environment if needed, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh test
# -n auto: one pytest-xdist worker per core (at most 4, tests/conftest.py), a test module per
# worker at a time (its module fixtures are built once); pass -n 0 to run in
# one process (e.g. with -s or a debugger)
exec "$VSSLEVAL_PY" -m pytest -n auto --dist loadfile "$@"
