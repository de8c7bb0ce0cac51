"""The one place that knows where the test fixtures and the real public annotation files live.

Two fixture roots with the same layout (``data/``, ``models/``, ``metrics/``, ``native/``, ``manifests/``):

* the **bundle**, ``tests/fixtures/`` (committed; a compact subset written by
  ``scripts/make_test_fixtures.py``): always present, so a bare clone runs a parity test for every
  model x test set x preset;
* the **full set**: ``$VSSLEVAL_FIXTURES``, else ``$VSSLEVAL_SHARED/fixtures``, else
  ``<repo>/../shared/fixtures``. Tests that need it skip on a bare clone, saying so; in CI
  (``VSSLEVAL_REQUIRE_FULL_FIXTURES=1``, see ``tests/conftest.py``) such a skip is a failure.

The real public annotation files (vggss.json, the Flickr lists, the ``*_plus_silent.csv`` lists) are
never copied into the tree: ``$VSSLEVAL_METADATA``, else ``$VSSLEVAL_SHARED/metadata``, else
``<repo>/../shared/metadata``. See ``docs/testing.md``.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VSSLEVAL_SHARED") or ROOT.parent / "shared").resolve()
FULL_ROOT = Path(os.environ.get("VSSLEVAL_FIXTURES") or SHARED / "fixtures").resolve()
BUNDLE_ROOT = ROOT / "tests" / "fixtures"
METADATA = Path(os.environ.get("VSSLEVAL_METADATA") or SHARED / "metadata").resolve()

#: the full set counts as present when its checksum list is there (a folder of that name alone is not enough)
HAVE_FULL = (FULL_ROOT / "SHA256SUMS").is_file()
NO_FULL_REASON = (f"needs the full fixture set (not found at {FULL_ROOT}); set VSSLEVAL_FIXTURES=DIR, the "
                  "folder holding its SHA256SUMS (docs/testing.md)")


@dataclass(frozen=True)
class Fixtures:
    """One fixture root. ``full`` is True for the complete set (24 samples per test set, every array)."""

    name: str
    root: Path
    full: bool

    @property
    def data_vggss(self) -> Path:
        return self.root / "data" / "vggss"

    @property
    def data_is3(self) -> Path:
        return self.root / "data" / "is3"

    def data(self, testset: str) -> Path:
        return self.root / "data" / testset

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def native(self) -> Path:
        return self.root / "native"

    @property
    def native_metrics(self) -> Path:
        """each model repository's own evaluator run on the native maps and adversarial cases"""
        return self.root / "native_metrics"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def native_manifests(self) -> Path:
        return self.root / "native" / "manifests"

    def __str__(self) -> str:
        return self.name


BUNDLE = Fixtures("bundle", BUNDLE_ROOT, full=False)
FULL = Fixtures("full", FULL_ROOT, full=True)
#: the manifests (weight layouts) are the same in both roots: read the full ones when present
BEST = FULL if HAVE_FULL else BUNDLE

requires_full = pytest.mark.skipif(not HAVE_FULL, reason=NO_FULL_REASON)


def sources(full_only: bool = False) -> list:
    """``pytest.param`` list for ``@pytest.mark.parametrize("fx", sources())``: the bundle (always) and
    the full set (skipped, with the reason, when absent)."""
    params = [] if full_only else [pytest.param(BUNDLE, id="bundle")]
    return params + [pytest.param(FULL, id="full", marks=requires_full)]


def require(path: Path) -> Path:
    """Return ``path``, failing (not skipping) the test if it is absent: a file missing from a root
    that is present is a broken checkout, not an optional file."""
    if not path.exists():
        pytest.fail(f"fixture file missing: {path} (regenerate the bundle with "
                    "`python scripts/make_test_fixtures.py`, or fix VSSLEVAL_FIXTURES)")
    return path


def metadata(name: str) -> Path:
    """A real public annotation file, or a skip that says how to get it (never vendored)."""
    path = METADATA / name
    if not path.is_file():
        pytest.skip(f"needs the public annotation file {name} (not found in {METADATA}): run "
                    "`vssleval fetch-metadata <dataset> --dest DIR` and set VSSLEVAL_METADATA=DIR")
    return path


# -- the weight rule ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def manifest(path: str | Path) -> dict:
    """A weight manifest (``manifests/<model>.json``) as a dict (cached; do not mutate). A bundled
    native manifest may say ``tensors_same_as``: its tensor list is the one of that manifest."""
    path = Path(path)
    m = json.loads(require(path).read_text())
    if "tensors_same_as" in m:
        root = path.parents[2] if path.parent.name == "manifests" and path.parent.parent.name == "native" else path.parents[1]
        m = {**m, "tensors": manifest(str(root / m["tensors_same_as"]))["tensors"]}
    return m


@functools.lru_cache(maxsize=None)
def rule_state_dict(path: str | Path) -> dict:
    """The bare state dict the weight rule gives for a manifest (cached; copy before mutating)."""
    import weight_rule

    return weight_rule.state_dict(manifest(str(path)))
