"""A wheel works outside the checkout: build it, install it into a fresh venv, run the CLI from an
empty directory. Also an editable install of a copy of the tree (what scripts/setup_env.sh does).

No network: the wheel is built with the setuptools already installed, by the build backend that
``pyproject.toml`` names, called as a PEP 517 front-end (``pip wheel --no-build-isolation``, ``python
-m build --no-isolation``) calls it (:func:`_build_wheel`), and installed by pip with ``--no-deps
--no-index --no-compile`` (the test imports the installed modules a
few times only: compiling every one of them up front costs more than it saves). torch and the other
dependencies are not reinstalled: a ``.pth`` file in the new venv adds the folders they are
installed in, after the venv's own site-packages, so the wheel's ``vssleval`` is the one imported (asserted).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import shared
from shared import ROOT

pytestmark = pytest.mark.slow

DEPENDENCIES = ("torch", "torchvision", "numpy", "scipy", "PIL", "tqdm", "yaml", "soundfile", "matplotlib")
SOURCES = ("pyproject.toml", "setup.py", "README.md", "vssleval", "configs")


def _copy_tree(dest: Path) -> Path:
    """The files a build needs, without caches, build leftovers or large user checkpoints; plus a
    stand-in zoo checkpoint that must NOT end up in the wheel."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_resources")
    dest.mkdir()
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    (dest / "checkpoints").mkdir()
    for name in ("synth-ezvsl.pth", "synth-ezvsl.json"):
        shutil.copy2(ROOT / "checkpoints" / name, dest / "checkpoints" / name)
    (dest / "checkpoints" / "ezvsl.pth").write_bytes(b"a user's zoo checkpoint")
    return dest


def _dependency_dirs() -> list[str]:
    """The site folders the running interpreter imports the runtime dependencies from."""
    dirs: list[str] = []
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is not installed in the test environment"
        origin = Path(spec.origin)
        folder = origin.parent.parent if origin.name == "__init__.py" else origin.parent
        if str(folder) not in dirs:
            dirs.append(str(folder))
    return dirs


def _venv(path: Path) -> Path:
    """A fresh venv without pip (the test's pip installs into it with --python)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "zz_test_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    return python


def _build_wheel(src: Path, dist: Path) -> Path:
    """The wheel of the tree ``src``, built in ``dist`` by ``build_wheel`` of the backend that its
    ``pyproject.toml`` names, in a new process in ``src``: what ``pip wheel --no-build-isolation``
    does in its own backend process, without pip's start-up around it (0.9 CPU-second of 1.5)."""
    backend = re.search(r'^build-backend\s*=\s*"([^"]+)"', (src / "pyproject.toml").read_text(), re.M).group(1)
    module, _, attr = backend.partition(":")
    code = (f"import importlib, sys; backend = importlib.import_module({module!r})"
            + "".join(f".{a}" for a in attr.split(".") if a) + "; print(backend.build_wheel(sys.argv[1]))")
    name = subprocess.run([sys.executable, "-c", code, str(dist)], cwd=src, check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]
    return dist / name


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
                   check=True, capture_output=True, text=True)


def _env(tmp: Path, cache: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VSSLEVAL_MODEL_CONFIGS", "VSSLEVAL_DATASET_CONFIGS", "VSSLEVAL_CHECKPOINTS")}
    env.update(VSSLEVAL_CACHE=str(cache or tmp / "cache"), OMP_NUM_THREADS="1", PYTHONNOUSERSITE="1")
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], expect: int = 0) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=shared.HANG_S)
    assert proc.returncode == expect, f"{cmd} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def _where(python: Path, cwd: Path, env: dict[str, str]) -> tuple[Path, str]:
    out = _run([str(python), "-c", "import vssleval, vssleval.resources as r; "
                "print(vssleval.__file__); print(r.install_kind())"], cwd, env)
    file, kind = out.strip().splitlines()[-2:]
    return Path(file), kind


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path, tmp_path_factory):
    src = _copy_tree(tmp_path / "src")
    wheel = _build_wheel(src, tmp_path / "dist")
    assert wheel.name.startswith("vssleval-") and wheel.suffix == ".whl" and wheel.is_file(), wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("configs/models/synth-ezvsl.yaml", "configs/models/ezvsl.yaml", "configs/datasets/synthetic-is3.yaml",
                "checkpoints/synth-ezvsl.pth", "checkpoints/synth-ezvsl.json"):
        assert f"vssleval/_resources/{rel}" in names, rel
    assert not any(n.endswith("ezvsl.pth") and "synth" not in n for n in names), "a user checkpoint was packed"
    assert {"vssleval/templates/model.py.tmpl", "vssleval/templates/model.yaml.tmpl"} <= names  # new-model

    venv = tmp_path / "venv"
    python = _venv(venv)
    _pip("--python", str(python), "install", "--no-deps", "--no-index", "--no-compile", str(wheel))
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    # the embedded benchmark's 200 records, generated once per session (tests/shared.py); the wheel's
    # own code reads them, and the synthetic generator itself is tested in tests/data/test_synthetic.py
    env = _env(tmp_path, shared.linked_synthetic_cache(tmp_path_factory, tmp_path / "cache", ["is3"]))
    file, kind = _where(python, cwd, env)
    assert venv in file.parents and kind == "wheel", (file, kind)

    cli = str(venv / "bin" / "vssleval")
    listing = _run([cli, "models"], cwd, env)
    assert "synth-ezvsl" in listing and str(venv) in listing  # the shipped file, found in the venv
    _run([cli, "evaluate", "--model", "synth-ezvsl", "--dataset", "synthetic-is3", "--seeds", "1", "--limit", "8",
          "--device", "cpu", "--out", "X"], cwd, env)
    metrics = json.loads((cwd / "X" / "metrics.json").read_text())
    assert math.isfinite(metrics["ciou"]) and metrics["n_samples"] == 8
    # --no-maps: the overlays and the threshold sweep read the run's store and the data set, no package
    # data (tests/report/ draws them); the page and its styles and scripts are what the wheel must carry.
    # Such a report reads the run's files and draws with matplotlib, without torch (docs/performance.md
    # §8): the interpreter's import log (PYTHONPROFILEIMPORTTIME) names no torch module
    imports = _run([cli, "report", "X", "--out", "Y", "--format", "md,html", "--no-maps"], cwd,
                   {**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert re.search(r"\|\s*vssleval\.api\.html_report$", imports, re.M)  # the log is there
    assert not re.search(r"\|\s*torch(\.\S*)?$", imports, re.M), "report --no-maps imported torch"
    assert (cwd / "Y" / "report.md").is_file()
    page = (cwd / "Y" / "report.html").read_text()  # its styles and scripts are the wheel's package data
    assert "window.vssleval" in page and "table.sortable" in page
    _run([cli, "new-model", "wheel_net", "--out", "M"], cwd, env)  # its templates are the wheel's package data
    assert "class WheelNetModel(VsslModel)" in (cwd / "M" / "wheel_net.py").read_text()
    # the published numbers are package data too (vssleval/published.yaml, docs/published.md)
    assert "cIoU@0.5 37.18 %, AUC 38.75 %" in _run([cli, "published", "--model", "ezvsl", "--dataset", "vggss"], cwd, env)

    # package data gone from the install: an error naming the file and the install kind, exit 2
    shipped = file.parent / "_resources" / "checkpoints" / "synth-ezvsl.pth"
    shipped.unlink()
    out = _run([cli, "evaluate", "--model", "synth-ezvsl", "--dataset", "synthetic-is3", "--seeds", "1",
                "--limit", "2", "--device", "cpu", "--out", "Z"], cwd, env, expect=2)
    assert "synth-ezvsl.pth" in out and "installed from a wheel" in out and "Traceback" not in out


def test_editable_install_reads_the_tree(tmp_path):
    src = _copy_tree(tmp_path / "src")
    python = _venv(tmp_path / "venv")
    _pip("--python", str(python), "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-compile", "-e",
         str(src))
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = _env(tmp_path)
    file, kind = _where(python, cwd, env)
    assert file == src / "vssleval" / "__init__.py" and kind == "editable", (file, kind)
    out = _run([str(python), "-c", "from vssleval import resources as r; "
                "print(r.model_config_dir()); print(r.dataset_config_dir()); print(r.shipped_checkpoint_dir())"], cwd, env)
    assert out.split() == [str(src / "configs" / "models"), str(src / "configs" / "datasets"), str(src / "checkpoints")]
    assert not (src / "vssleval" / "_resources").exists()  # nothing copied into the tree
