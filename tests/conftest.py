"""Suite-wide rules: which tests must run where (docs/testing.md).

``parity`` marks a test against the reference goldens; ``metadata`` marks one that reads the real
public annotation files. On a bare clone the ones that need the full fixture set or those files skip,
saying why. With ``VSSLEVAL_REQUIRE_FULL_FIXTURES=1`` (set by ``.ci/run``, not by
``scripts/test.sh``) the session refuses to start without the full set and the public files, and a
skipped ``parity`` or ``metadata`` test counts as a failure: CI may not silently lose coverage.

With the full set present, a parity check marked ``bundle_only`` is deselected (counted in pytest's
"deselected" total, never a skip): a full-set test compares the same golden values, from all the
samples or end to end from raw files (docs/testing.md, "What runs where").

Hypothesis runs derandomized, without an example database and without deadlines or the too-slow
health check: the same examples on every run and every machine, whatever the load, so CI cannot
flake on a draw or a timing. ``VSSLEVAL_HYPOTHESIS=explore`` draws fresh examples on each run
for a local hunt (docs/testing.md).

Every test starts from the same global random state (Python's, NumPy's and torch's generators
seeded to 0): a test that draws from them without a seed of its own (``torch.randn``) sees the same
numbers whichever tests ran before it, in whatever order.
"""

from __future__ import annotations

import collections
import hashlib
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import shared
import cross_worker
from cross_worker import build_once

STRICT_ENV = "VSSLEVAL_REQUIRE_FULL_FIXTURES"
#: Fixtures that build whole evaluation runs, data sets of video clips or generated data sets of
#: hundreds of samples: a test that needs one (directly or through another fixture) is marked
#: ``slow``, so the fast loop ``-m "not slow and not parity"`` stays well under a minute without a
#: hand-kept list of tests (docs/testing.md, "The fast loop").
SLOW_FIXTURES = frozenset({"runs", "api_run", "three", "small_is3", "originals", "folders", "cache",
                           "random_resnet18", "nan_run", "baseline"})
HYPOTHESIS_ENV = "VSSLEVAL_HYPOTHESIS"
BUNDLE_ONLY_MARK = "bundle_only"

# Registered at import, before any test module builds its own ``settings(...)`` on top of the
# loaded profile. Timing (deadline, too_slow) is no property of the code under test: a loaded
# machine must not turn it into a failure.
_TIMING_FREE = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("vssleval", derandomize=True, database=None, print_blob=True, **_TIMING_FREE)
settings.register_profile("explore", derandomize=False, database=None, **_TIMING_FREE)
settings.load_profile(os.environ.get(HYPOTHESIS_ENV) or "vssleval")
MUST_RUN = ("parity", "metadata")


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


#: Roughly the most the suite holds under the temporary folder at once, in GiB (runs, stores, a
#: wheel build; docs/testing.md). Below it the header warns: a full disk shows up as errors in
#: whichever test happens to write next, far from the cause.
TMP_PEAK_GIB = 3.5


def pytest_report_header(config):
    tmp = tempfile.gettempdir()
    free = shutil.disk_usage(tmp).free / 2 ** 30
    line = f"temporary folder: {tmp} ({free:.1f} GiB free)"
    if free < TMP_PEAK_GIB:
        line += (f"; WARNING: the suite writes up to about {TMP_PEAK_GIB:g} GiB there and may fail with "
                 "'No space left on device': free space or set TMPDIR to a larger disk")
    return line


@pytest.fixture(autouse=True)
def _same_global_random_state():
    """Seed the global generators before each test: its draws do not depend on the tests before it
    (``tests/frontends/test_parity_juanola2025.py`` reseeds NumPy's, as vssl_eval does)."""
    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def rule_state_dict():
    """``rule_state_dict(manifest_path) -> bare state dict`` of the fixtures' weight rule (cached)."""
    return shared.rule_state_dict


def _write_official(manifest_path: str, folder: Path) -> None:
    """The rule weights of a manifest (``tests/weight_rule.py``) saved in the container the manifest
    names (top-level key, key prefix, file name), plus the non-tensor entries the released files
    carry (epoch, a numpy best-metric scalar), so safe loading is exercised too."""
    import numpy as np
    import torch

    import weight_rule

    manifest = shared.manifest(manifest_path)
    obj = weight_rule.wrap_checkpoint(manifest, shared.rule_state_dict(manifest_path))
    if manifest["checkpoint"].get("container_key"):
        obj["epoch"] = 17
        obj["best_cIoU"] = np.mean([0.25, 0.5])  # numpy float64, as the EZ-family files hold
    torch.save(obj, folder / manifest["checkpoint"]["file"])


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory):
    """``official_checkpoint(manifest_path, folder=None) -> Path``: the official file name of the
    rule weights of a manifest in the official container (:func:`_write_official`).

    Generating and saving them takes up to a second per model, and the engine and model tests
    want the same files: each is written once per session, by the first worker that asks, and
    shared by all workers (``cross_worker.build_once``); tests only read it. ``folder``: a
    per-worker folder of that name holding a link to the file, for a model whose parts are
    passed as one folder (SACL's two files)."""
    links = None

    def get(path, folder: str | None = None) -> Path:
        nonlocal links
        path = str(path)
        stem = Path(path).stem
        key = f"checkpoint-{stem}-{hashlib.sha256(path.encode()).hexdigest()[:12]}"
        file = build_once(tmp_path_factory, key, lambda out: _write_official(path, out)) / \
            shared.manifest(path)["checkpoint"]["file"]
        if folder is None:
            return file
        links = links or tmp_path_factory.mktemp("checkpoint-folders")
        link = links / folder / file.name
        if not link.exists():
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(file)
        return link

    return get


@pytest.fixture(scope="session")
def docs_cache(tmp_path_factory) -> Path:
    """One synthetic-benchmark cache (``VSSLEVAL_CACHE``) for every page that tests/test_docs_commands.py
    and tests/test_docs_readme.py run. It lies in the folder the session's pytest-xdist workers share
    (``cross_worker.session_root``), so a benchmark that one worker's page generated is read by the
    pages of the other: the cache generates each benchmark atomically (a temporary folder, then a
    rename), so two workers asking at once both get a complete one. The two default sets (the main
    job's) are the session's own (``shared.linked_synthetic_cache``), generated once for these
    pages and tests/data/test_synthetic.py: a newcomer's cache is cold, and the generation is the
    same code either way."""
    return cross_worker.build_once(tmp_path_factory, "docs-cache",
                                   lambda cache: shared.linked_synthetic_cache(tmp_path_factory, cache))


@pytest.fixture(autouse=True)
def _isolated_model_registry():
    """Each test sees the registry as the package left it: a plug-in a test registers from a file in
    its tmp_path is gone afterwards (pytest deletes a passed test's tmp_path; a later test listing
    the models would find a plug-in whose YAML no longer exists)."""
    from vssleval.models import registry

    saved = dict(registry._REGISTRY)
    yield
    if registry._REGISTRY != saved:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(saved)
        # the key layouts are cached by model name: a later plug-in of the same name may differ
        registry._expected_shapes.cache_clear()


#: The most workers ``-n auto`` starts (``bash scripts/test.sh`` passes it; pytest-xdist): each worker
#: imports torch and builds the session fixtures again (about 1.5 GB resident each), so a
#: many-core machine would gain little past this and could run out of memory.
MAX_AUTO_WORKERS = 4


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def pytest_xdist_auto_num_workers(config):
    return max(1, min(MAX_AUTO_WORKERS, _usable_cores()))


def _workers_share() -> int | None:
    """The threads one xdist worker may use: its share of the usable cores (at least 1); None
    outside xdist or with a single worker (then BLAS and torch keep their defaults)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    return max(1, _usable_cores() // workers) if workers > 1 else None


def _blas_workers_share() -> None:
    """In an xdist worker, give NumPy's and SciPy's BLAS (OpenBLAS) the worker's share of the cores,
    as :func:`_share_the_cores` gives torch: with a pool of two BLAS threads in each of two workers
    on two cores, a small product (``upsample_into``'s 224 x 14 x 224, one per map) spends most of
    its CPU time in threads waiting for a core (tests/metrics/test_parity.py, one process on a busy
    machine: 17 -> 10 CPU-s with one thread). OpenBLAS reads the variable when it is loaded, so this
    runs at this file's import, before anything imports NumPy; the processes the tests start inherit
    it. A value set outside wins."""
    share = _workers_share()
    if share is not None:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(share))


_blas_workers_share()


def _share_the_cores() -> None:
    """In an xdist worker, give torch the worker's share of the cores: two workers on two cores,
    each with torch's default of two threads, would oversubscribe the machine."""
    share = _workers_share()
    if share is not None:
        import torch

        torch.set_num_threads(share)


def pytest_configure(config):
    _share_the_cores()
    if getattr(config.option, "loadscopereorder", None):
        # pytest-xdist (3.x) would hand the modules out by their number of tests, not in the order
        # of _heavy_modules_first below, so a costly module of few tests (README's run) would start
        # last and run alone at the end
        config.option.loadscopereorder = False
    if not strict():
        return
    missing = []
    if not shared.HAVE_FULL:
        missing.append(f"the full fixture set ({shared.FULL_ROOT}/SHA256SUMS; set VSSLEVAL_FIXTURES=DIR)")
    if not shared.METADATA.is_dir() or not any(shared.METADATA.iterdir()):
        missing.append(f"the public annotation files ({shared.METADATA}; set VSSLEVAL_METADATA=DIR)")
    if missing:
        raise pytest.UsageError(f"{STRICT_ENV}=1 but missing: " + "; ".join(missing))


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects on the marks given here
def pytest_collection_modifyitems(config, items):
    """Mark the tests needing a ``SLOW_FIXTURES`` fixture ``slow``; with the full set present, drop
    the ``bundle_only`` checks (a full-set test covers them)."""
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if shared.HAVE_FULL:
        covered = [item for item in items if item.get_closest_marker(BUNDLE_ONLY_MARK)]
        if covered:
            config.hook.pytest_deselected(items=covered)
            items[:] = [item for item in items if not item.get_closest_marker(BUNDLE_ONLY_MARK)]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _heavy_modules_first(items)


def _module(item) -> str:
    return item.nodeid.split("::", 1)[0]


def _heavy_modules_first(items) -> None:
    """Under xdist a worker takes one test module at a time (``--dist loadfile``) in collection
    order, so a heavy module collected late would run alone at the end while the other workers
    idle. The modules marked ``heavy(cpu_s)`` go first, the costliest first (README's run, ACL-SSL's
    evaluation runs), then those with more ``slow`` tests; the order inside a module is kept (a
    stable sort, the same on every worker, as xdist requires; :func:`pytest_configure` stops xdist
    from reordering the modules by their number of tests)."""
    heavy: dict[str, float] = {}
    for item in items:
        mark = item.get_closest_marker("heavy")
        if mark:
            heavy[_module(item)] = max(heavy.get(_module(item), 0.0), float(mark.args[0]))
    slow = collections.Counter(_module(item) for item in items if item.get_closest_marker("slow"))
    first_seen = {m: i for i, m in enumerate(dict.fromkeys(_module(item) for item in items))}
    items.sort(key=lambda item: (-heavy.get(_module(item), 0.0), -slow[_module(item)], first_seen[_module(item)]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (strict() and report.skipped):
        return
    marks = [m for m in MUST_RUN if item.get_closest_marker(m)]
    if marks:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"{marks[0]} test skipped under {STRICT_ENV}=1 (it must run in CI): {reason}"
