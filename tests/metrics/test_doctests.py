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
