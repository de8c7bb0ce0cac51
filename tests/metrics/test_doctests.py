"""The examples in ``vssleval.metrics`` docstrings run, and every public metric has one.

The examples are small hand-computed cases (their comments show the arithmetic), so a change
of a metric's semantics fails here as well as in the golden parity tests.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import vssleval.metrics as metrics

MODULES = sorted(m.name for m in pkgutil.walk_packages(metrics.__path__, prefix="vssleval.metrics."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run pytest --doctest-modules {name.replace('.', '/')}.py)"


def test_every_public_function_and_class_has_an_example():
    finder = doctest.DocTestFinder(recurse=False)
    missing = []
    for name in metrics.__all__:
        obj = getattr(metrics, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue  # constants (GRID, OPS, PROTOCOLS, SCHEMA_VERSION)
        tests = finder.find(obj, name, globs={})
        if not any(t.examples for t in tests):
            missing.append(name)
    assert not missing, f"public metrics without a docstring example: {missing}"


def test_numpy_only_use_imports_no_torch():
    """``from vssleval.metrics import ciou`` on NumPy arrays (docs/api.md §7) imports no torch: the
    kernels import it where a tensor is handled (``metrics/_array.py``), so a NumPy-only script
    does not pay ``import torch`` (2-5 CPU-seconds). A fresh interpreter, since this one holds torch."""
    import subprocess
    import sys

    probe = ("import sys, numpy as np; from vssleval.metrics import ciou, pia, auc, minmax_normalize; "
             "gt = np.zeros((1, 4, 4)); gt[0, :2, :2] = 1; m = np.zeros((1, 4, 4), bool); m[0, :2, :3] = True; "
             "print(ciou(m, gt)[0], minmax_normalize(gt)[0, 0, 0]); "
             "print(sorted(n for n in sys.modules if n == 'torch' or n.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"{2 / 3} 1.0", "[]"]
