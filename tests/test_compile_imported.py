"""scripts/compile_imported.py: the module list that scripts/setup_env.sh byte-compiles after its
``pip install --no-compile`` (docs/testing.md, "Times")."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import compile_imported  # noqa: E402  (a script, not a package module)


def test_every_module_of_the_package_is_listed_by_its_import_name():
    names = compile_imported.vssleval_modules()
    files = {p for p in (ROOT / "vssleval").rglob("*.py") if p.name != "__main__.py"}
    assert len(names) == len(set(names)) == len(files)
    assert {"vssleval", "vssleval.cli", "vssleval.engine", "vssleval.report.figures"} <= set(names)
    assert not any(n.endswith("__main__") or n.endswith("__init__") for n in names)
    for name in names:  # each name finds the very file it was made from
        origin = Path(importlib.util.find_spec(name).origin).resolve()
        assert origin in files, (name, origin)


def test_a_missing_optional_module_is_skipped_not_fatal():
    assert compile_imported.import_quietly("json")
    assert not compile_imported.import_quietly("vssleval_no_such_module")



def test_the_torch_part_fails_when_one_of_its_modules_does_not_import(monkeypatch):
    """setup_env.sh skips :data:`TORCH` in the second part only after a ``--torch`` run that
    imported every one of them: a failed one is compiled again there."""
    monkeypatch.setattr(compile_imported, "TORCH", ("json", "csv"))
    assert compile_imported.main(["--torch"]) == 0
    monkeypatch.setattr(compile_imported, "TORCH", ("json", "vssleval_no_such_module"))
    assert compile_imported.main(["--torch"]) == 1


def test_the_build_line_names_the_installed_torch(capsys):
    import torch

    assert compile_imported.main(["--torch-build"]) == 0
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"[setup] torch {torch.__version__}, ")
    assert re.search(r"(CUDA [\d.]+ build|CPU-only build); CUDA (usable|not usable on this machine)", line), line
