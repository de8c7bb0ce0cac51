#!/usr/bin/env bash
# Creates .venv (if missing) and installs vssleval into it. Sourced by eval_models.sh,
# infer_models.sh and scripts/test.sh; sets $VSSLEVAL_PY to the venv's python.
#
# Environment knobs:
#   VSSLEVAL_VENV   where the virtual environment lives (default: <repo>/.venv)
#   VSSLEVAL_TORCH  the torch/torchvision requirement installed first
#                   (default: "torch==2.14.1 torchvision==0.29.1"; set it to match your CUDA build)
#   VSSLEVAL_PYTHON an interpreter that already has vssleval and torch: used as it is, nothing is
#                   created or installed (tests/test_docs_commands.py runs the README's commands so)
set -euo pipefail
if [ -n "${VSSLEVAL_PYTHON:-}" ]; then
  VSSLEVAL_PY="$VSSLEVAL_PYTHON"
  export VSSLEVAL_PY
  return 0 2>/dev/null || exit 0
fi
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_venv="${VSSLEVAL_VENV:-$_root/.venv}"
_torch="${VSSLEVAL_TORCH:-torch==2.14.1 torchvision==0.29.1}"
if [ ! -x "$_venv/bin/python" ]; then
  echo "[setup] creating virtual environment $_venv" >&2
  python3 -m venv "$_venv"
fi
VSSLEVAL_PY="$_venv/bin/python"
_stamp="$_venv/.vssleval-installed"
# What the install depends on: this checkout's path and its build files' contents (not their
# times, which every fresh clone renews). A venv shared by several checkouts (VSSLEVAL_VENV) is
# reinstalled only when one of them really differs from what is installed.
_want="$_root $(cat "$_root/pyproject.toml" "$_root/setup.py" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_want" ]; then
  if ! "$VSSLEVAL_PY" -c "import torch, torchvision" 2>/dev/null; then
    echo "[setup] installing $_torch (first run only)" >&2
    # shellcheck disable=SC2086  # the spec is a list of requirements
    "$VSSLEVAL_PY" -m pip install --disable-pip-version-check -q $_torch
  fi
  echo "[setup] installing vssleval and its test dependencies" >&2
  "$VSSLEVAL_PY" -m pip install --disable-pip-version-check -q -e "$_root[test]"
  printf '%s' "$_want" > "$_stamp"
fi
export VSSLEVAL_PY
