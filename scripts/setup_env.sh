#!/usr/bin/env bash
# Creates .venv (if missing) and installs vssleval into it. Sourced by eval_models.sh and
# infer_models.sh (runtime dependencies only) and by scripts/test.sh (`source scripts/setup_env.sh
# test`: the test extras too); sets $VSSLEVAL_PY to the venv's python.
#
# Environment knobs:
#   VSSLEVAL_VENV   where the virtual environment lives (default: <repo>/.venv)
#   VSSLEVAL_TORCH  the torch/torchvision requirement installed first
#                   (default: "torch==2.14.1 torchvision==0.29.1"; set it to match your CUDA build,
#                   or add "--index-url https://download.pytorch.org/whl/cpu" for the CPU-only build)
#   VSSLEVAL_EXTRAS more extras of vssleval to install, comma-separated (e.g. "video,aclssl")
#   VSSLEVAL_PYTHON an interpreter that already has vssleval and torch: used as it is, nothing is
#                   created or installed (tests/test_docs_readme.py runs the README's commands so)
set -euo pipefail
if [ -n "${VSSLEVAL_PYTHON:-}" ]; then
  VSSLEVAL_PY="$VSSLEVAL_PYTHON"
  export VSSLEVAL_PY
  return 0 2>/dev/null || exit 0
fi
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_venv="${VSSLEVAL_VENV:-$_root/.venv}"
_torch="${VSSLEVAL_TORCH:-torch==2.14.1 torchvision==0.29.1}"
_extras_of() { printf '%s\n' ${1//,/ } | sed '/^$/d' | sort -u | paste -sd, -; }
_need=$(_extras_of "${1:-},${VSSLEVAL_EXTRAS:-}")
if [ ! -x "$_venv/bin/python" ]; then
  echo "[setup] creating virtual environment $_venv" >&2
  python3 -m venv "$_venv"
fi
VSSLEVAL_PY="$_venv/bin/python"
_stamp="$_venv/.vssleval-installed"
# What the install depends on: this checkout's path and its build files' contents (not their
# times, which every fresh clone renews). A venv shared by several checkouts (VSSLEVAL_VENV) is
# reinstalled only when one of them really differs from what is installed. The stamp's second line
# lists the extras installed: a venv made by the tests serves the main job as it is.
_want="$_root $(cat "$_root/pyproject.toml" "$_root/setup.py" | sha256sum | cut -d' ' -f1)"
_have_line=""; _have_extras=""
if [ -f "$_stamp" ]; then
  _have_line=$(sed -n 1p "$_stamp")
  _have_extras=$(sed -n 2p "$_stamp")
fi
_all=$(_extras_of "$_need,$_have_extras")
if [ "$_have_line" != "$_want" ] || [ "$_all" != "$_have_extras" ]; then
  # --no-compile: pip would byte-compile every module it installs (about 40 s on one core, most
  # of it never imported); scripts/compile_imported.py compiles what is imported, in a third of that
  _pip=("$VSSLEVAL_PY" -m pip install --disable-pip-version-check -q --no-compile)
  if ! "$VSSLEVAL_PY" -c "import torch, torchvision" 2>/dev/null; then
    echo "[setup] installing $_torch (first run only)" >&2
    # shellcheck disable=SC2086  # the spec is a list of requirements (and pip options)
    "${_pip[@]}" $_torch
  fi
  # torch's share of the byte-compiling (half of it) runs beside pip's install of the rest, on the
  # other core; its output is dropped: it imports torch while pip may still be writing numpy
  env -u PYTHONDONTWRITEBYTECODE "$VSSLEVAL_PY" "$_root/scripts/compile_imported.py" --torch >/dev/null 2>&1 &
  _torch_compile=$!
  # the editable install is built with the venv's own setuptools where it can build wheels by itself
  # (70.1 and newer): an isolated build would first install setuptools again, several seconds
  _isolation=()
  if "$VSSLEVAL_PY" -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 71)" 2>/dev/null; then
    _isolation=(--no-build-isolation)
  fi
  echo "[setup] installing vssleval${_all:+ with the extras $_all}" >&2
  "${_pip[@]}" ${_isolation[@]+"${_isolation[@]}"} -e "$_root${_all:+[$_all]}"
  _torch_done=()
  if wait "$_torch_compile"; then _torch_done=(--torch-done); fi
  # the rest of the compile; it ends by printing which torch build this venv has, and whether it
  # can use a GPU here
  env -u PYTHONDONTWRITEBYTECODE "$VSSLEVAL_PY" "$_root/scripts/compile_imported.py" \
    ${_torch_done[@]+"${_torch_done[@]}"} ${_all//,/ } \
    || { echo "[setup] byte-compiling the imported modules failed: they compile on first use" >&2
         "$VSSLEVAL_PY" "$_root/scripts/compile_imported.py" --torch-build || true; }
  printf '%s\n%s\n' "$_want" "$_all" > "$_stamp"
  echo "[setup] $_venv takes $(du -sh "$_venv" 2>/dev/null | cut -f1) on disk" >&2
fi
export VSSLEVAL_PY
