#!/usr/bin/env bash
# README command (a): the main job on the embedded default (no downloads needed).
# Sets up .venv on first use, generates the synthetic benchmark, then evaluates every model whose
# checkpoint is present plus the embedded ones, and writes a report.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
exec "$VSSLEVAL_PY" scripts/main_job.py "$@"
