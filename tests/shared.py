"""The one place that knows where ``../shared`` (specs, golden fixtures, real metadata) lives.

CI clones the project with ``shared/`` beside the clone; ``VSSLEVAL_SHARED`` overrides the location.
Tests must only read from here, never copy these files into the project tree.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VSSLEVAL_SHARED", ROOT.parent / "shared")).resolve()
FIXTURES = SHARED / "fixtures"
METADATA = SHARED / "metadata"
SPECS = SHARED / "specs"
DATA_VGGSS = FIXTURES / "data" / "vggss"
DATA_IS3 = FIXTURES / "data" / "is3"
MANIFESTS = FIXTURES / "manifests"
GOLDEN_MODELS = FIXTURES / "models"
GOLDEN_METRICS = FIXTURES / "metrics"
NATIVE = FIXTURES / "native"


def require(path: Path) -> Path:
    """Return ``path``, failing (not skipping) the test if the shared folder is absent.

    The shared fixtures are part of the test contract: a missing file is a broken checkout, not a
    reason to silently skip parity tests.
    """
    if not path.exists():
        pytest.fail(f"shared fixture missing: {path} (set VSSLEVAL_SHARED to the shared/ folder)")
    return path


def load_make_weights():
    """Import the fixtures' ``make_weights.py`` (the deterministic weight rule) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_weights", require(FIXTURES / "make_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def manifest(path: str | Path) -> dict:
    """A fixtures manifest (``manifests/<model>.json``) as a dict (cached; do not mutate)."""
    return json.loads(require(Path(path)).read_text())


@functools.lru_cache(maxsize=None)
def rule_state_dict(path: str | Path) -> dict:
    """The bare state dict the fixtures' weight rule gives for a manifest (cached; copy before mutating)."""
    return load_make_weights().state_dict_from_manifest(manifest(str(path)))
