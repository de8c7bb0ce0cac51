"""The one place that knows where the test fixtures and the real public annotation files live.

Two fixture roots with the same layout (``data/``, ``models/``, ``metrics/``, ``native/``, ``manifests/``):

* the **bundle**, ``tests/fixtures/`` (committed; a compact subset written by
  ``scripts/make_test_fixtures.py``): always present, so a bare clone runs a parity test for every
  model x test set x preset;
* the **full set**: ``$VSSLEVAL_FIXTURES``, else ``$VSSLEVAL_SHARED/fixtures``, else
  ``<repo>/../shared/fixtures``. When present it *replaces* the bundle (:data:`FX`): the bundle is
  a subset of it (``tests/test_fixtures.py`` regenerates it byte for byte), so running the bundle
  too would compare the same golden values twice. Tests that need it (the end-to-end engine
  parity) skip on a bare clone, saying so; in CI (``VSSLEVAL_REQUIRE_FULL_FIXTURES=1``, see
  ``tests/conftest.py``) such a skip is a failure.

The models under test are read from the root's goldens and manifests (:func:`juanola_models`,
:func:`native_models`), never listed by hand.

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
#: the root the parity tests run on: the full set when present, else the bundle (never both)
FX = FULL if HAVE_FULL else BUNDLE
#: the manifests (weight layouts) are the same in both roots (older name of :data:`FX`)
BEST = FX

requires_full = pytest.mark.skipif(not HAVE_FULL, reason=NO_FULL_REASON)


def sources(full_only: bool = False) -> list:
    """``pytest.param`` list for ``@pytest.mark.parametrize("fx", sources())``: one root, the full
    set when present, else the bundle. ``full_only``: the full set, skipped with the reason when
    absent (the end-to-end level, docs/testing.md)."""
    if full_only:
        return [pytest.param(FULL, id="full", marks=requires_full)]
    return [pytest.param(FX, id=FX.name)]


#: marks a parity check (or one parametrization of it) whose golden values a full-set test compares:
#: a check of the bundle's own files (the full-set twin compares every sample), or a lower level
#: that the end-to-end engine test (``tests/engine/test_engine_parity.py``) covers. ``tests/conftest.py``
#: deselects it when the full set is present; a bare clone runs it (docs/testing.md)
bundle_only = pytest.mark.bundle_only


# -- the models under test, from the fixtures (one list, docs/testing.md) ---------------------------
def juanola_models(fx: Fixtures | None = None) -> tuple[str, ...]:
    """The models of the ``juanola2025`` golden runs: every weight manifest ``manifests/<m>.json``
    with golden maps ``models/<m>_vggss.npz`` (the OGL prior's weights have a manifest, no maps)."""
    fx = fx or FX
    names = sorted(p.stem for p in fx.manifests.glob("*.json") if (fx.models / f"{p.stem}_vggss.npz").is_file())
    assert names, f"no juanola2025 golden runs under {fx.root} (broken checkout?)"
    return tuple(names)


def native_models(fx: Fixtures | None = None) -> tuple[str, ...]:
    """The models of the ``native`` golden runs: every ``native/<m>.npz`` (SACL's two weight
    manifests, ``sacl_frame``/``sacl_sound``, belong to one run)."""
    fx = fx or FX
    names = sorted(p.stem for p in fx.native.glob("*.npz"))
    assert names, f"no native golden runs under {fx.root} (broken checkout?)"
    return tuple(names)


def manifest_files(fx: Fixtures | None = None) -> list[str]:
    """Every weight manifest of a root, relative to it (``manifests/``, then ``native/manifests/``)."""
    fx = fx or FX
    return [str(p.relative_to(fx.root)) for d in (fx.manifests, fx.native_manifests) for p in sorted(d.glob("*.json"))]


def script(relpath: str):
    """The module of ``scripts/<relpath>`` (a script, not a package), loaded from this checkout."""
    import importlib.util

    path = ROOT / "scripts" / relpath
    spec = importlib.util.spec_from_file_location(f"{path.stem}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


#: Wall-clock limit, in seconds, of a subprocess or a wait in a test: a guard against a hang, never
#: a speed check (docs/testing.md, "Determinism"), so far above what any of them needs on a loaded machine
HANG_S = 900


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


def rule_state_dict(path: str | Path) -> dict:
    """The bare state dict the weight rule gives for a manifest (cached by the path's text, whether
    given as a ``str`` or a ``Path``; copy before mutating)."""
    return _rule_state_dict(str(path))


@functools.lru_cache(maxsize=None)
def _rule_state_dict(path: str) -> dict:
    import weight_rule

    return weight_rule.state_dict(manifest(path))


def default_synthetic_set(tmp_path_factory, layout: str) -> Path:
    """A cache folder whose ``synthetic/`` holds the default (n=200) synthetic set of ``layout``,
    generated once per test session and shared by its xdist workers (``cross_worker.build_once``):
    the modules that need it (tests/data/test_synthetic.py, tests/test_wheel.py) would otherwise each
    generate it. Read-only: its users link it into a cache of their own (:func:`linked_synthetic_cache`)."""
    from cross_worker import build_once
    from vssleval.data.synthetic import default_synthetic_dir
    from vssleval.data.synthetic.generate import GENERATOR_VERSION

    return build_once(tmp_path_factory, f"synthetic-{layout}-default-v{GENERATOR_VERSION}",
                      lambda folder: default_synthetic_dir(layout, root=folder))


def linked_synthetic_cache(tmp_path_factory, cache: Path, layouts=("vggss", "is3")) -> Path:
    """``cache``, a new ``$VSSLEVAL_CACHE`` folder, with the session's default synthetic sets of
    ``layouts`` linked into its ``synthetic/`` (what else a command writes into its cache stays in
    ``cache``, never in the shared sets)."""
    (cache / "synthetic").mkdir(parents=True)
    for layout in layouts:
        for data in (default_synthetic_set(tmp_path_factory, layout) / "synthetic").iterdir():
            (cache / "synthetic" / data.name).symlink_to(data, target_is_directory=True)
    return cache
