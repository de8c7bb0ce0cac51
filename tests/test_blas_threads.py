"""The suite's BLAS rule (``tests/conftest.py::_blas_workers_share``): in an xdist worker, NumPy's
OpenBLAS runs on the worker's share of the cores. The variable only counts if it was set before
NumPy was first imported, so this fails if a conftest import ever loads NumPy first."""

from __future__ import annotations

import os

import pytest


def test_numpy_blas_runs_the_workers_share():
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers <= 1:
        pytest.skip("one process (-n 0): BLAS keeps its default, as torch does")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy as np

    np.ones((2, 2)) @ np.ones((2, 2))  # the BLAS is loaded
    want = int(os.environ["OPENBLAS_NUM_THREADS"])
    pools = [p for p in threadpoolctl.threadpool_info() if p["internal_api"] == "openblas"]
    assert pools, "NumPy's OpenBLAS not found"
    assert all(p["num_threads"] == want for p in pools), pools
