"""Suite-wide rules: which tests must run where (docs/testing.md).

``parity`` marks a test against the reference goldens; ``metadata`` marks one that reads the real
public annotation files. On a bare clone the ones that need the full fixture set or those files skip,
saying why. With ``VSSLEVAL_REQUIRE_FULL_FIXTURES=1`` (set by ``.ci/run``, not by
``scripts/test.sh``) the session refuses to start without the full set and the public files, and a
skipped ``parity`` or ``metadata`` test counts as a failure: CI may not silently lose coverage.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

import shared

STRICT_ENV = "VSSLEVAL_REQUIRE_FULL_FIXTURES"
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
def _isolated_model_registry():
    """Each test sees the registry as the package left it: a plug-in a test registers from a file in
    its tmp_path is gone afterwards (pytest deletes a passed test's tmp_path; a later test listing
    the models would find a plug-in whose YAML no longer exists)."""
    from vssleval.models import registry

    saved = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def pytest_configure(config):
    if not strict():
        return
    missing = []
    if not shared.HAVE_FULL:
        missing.append(f"the full fixture set ({shared.FULL_ROOT}/SHA256SUMS; set VSSLEVAL_FIXTURES=DIR)")
    if not shared.METADATA.is_dir() or not any(shared.METADATA.iterdir()):
        missing.append(f"the public annotation files ({shared.METADATA}; set VSSLEVAL_METADATA=DIR)")
    if missing:
        raise pytest.UsageError(f"{STRICT_ENV}=1 but missing: " + "; ".join(missing))


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
