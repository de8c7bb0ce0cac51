#!/usr/bin/env bash
# Dump heatmaps (and overlay PNGs) for every available model on the embedded default.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
exec "$VSSLEVAL_PY" scripts/main_job.py --infer-only "$@"
