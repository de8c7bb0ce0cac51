"""Byte-compile the modules that vssleval imports (with ``test``: its test suite's too).

``scripts/setup_env.sh`` installs with ``pip install --no-compile``. By default pip byte-compiles
every module of every package it installs: for torch, torchvision, scipy, sympy, scikit-learn and
the rest, about 10,000 files and 40 s on one core, most of them never imported by anything we run.
Instead, this script imports what the package and its tests use, once, with bytecode writing on, so
each module that is really imported finds its ``.pyc`` from then on, as it would after pip's
compile (docs/testing.md, "Times"). A module missed here is compiled the first time something
imports it, as Python always does: nothing depends on this list being complete.

Usage: ``python scripts/compile_imported.py [--torch | --torch-done | --torch-build] [test]`` (setup_env.sh runs
it with ``PYTHONDONTWRITEBYTECODE`` unset). ``--torch`` compiles :data:`TORCH` only and exits 1 if
one of them failed to import; ``--torch-done`` says such a run succeeded, so the rest skips the
modules of :data:`TORCH` that nothing else imports (torch's compiler stack alone costs seconds to
import again). The rest ends by printing which torch build the venv has and whether it can use
a GPU here (it has imported torch by then: a process of its own would import it again);
``--torch-build`` prints just that line (setup_env.sh's fallback when the compile fails).
"""

from __future__ import annotations

import ast
import compileall
import importlib
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: torch and torchvision, with what is imported on demand, not named in an import statement of the
#: package: torch's compiler stack (torchvision's models pull it in) and the launcher that
#: ``torchrun`` runs. Half of the whole compile; ``--torch`` does just this, and setup_env.sh runs it
#: while pip installs the rest (it needs nothing else).
TORCH = ("torch", "torch._dynamo", "torch.distributed.run", "torchvision", "torchvision.models")

#: What every pytest process loads, whichever tests it runs (pytest, its plugins, xdist's channel):
#: compiled whole, as pip would have.
TEST_PACKAGES = ("_pytest", "pytest", "pluggy", "xdist", "execnet", "hypothesis", "_hypothesis_pytestplugin")


def import_quietly(name: str) -> bool:
    """Import ``name``; False where it (an optional extra, say) is not installed or fails."""
    try:
        importlib.import_module(name)
    except (Exception, SystemExit):  # noqa: BLE001 - a missing optional dependency: less to compile
        return False
    return True


def vssleval_modules() -> list[str]:
    """Every module of the package, by its file name (``__main__`` modules are not imported: they
    run the command line)."""
    package = ROOT / "vssleval"
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported_names(folder: Path) -> list[str]:
    """Every absolute module name that an ``import`` or ``from ... import`` anywhere in ``folder``'s
    files names, those inside functions included (many imports here are deferred, for start-up
    time). ``from a import b`` gives ``a`` and ``a.b``, which may be a module."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")
    return sorted(n for n in names if n.split(".")[0] not in ("tests", "conftest", "__future__")
                  and "__main__" not in n.split("."))


def compile_packages(names: tuple[str, ...]) -> None:
    """Byte-compile the installed packages (or single modules) ``names`` whole."""
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                compileall.compile_dir(folder, quiet=1)
        elif spec.origin and spec.origin.endswith(".py"):
            compileall.compile_file(spec.origin, quiet=1)


def import_what_saving_imports() -> None:
    """Pillow's image plugins and matplotlib's PNG and PDF writers (the PDF one subsets fonts with
    fontTools) are imported when a picture is first read or a figure first saved, not before."""
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    Image.init()
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().imshow([[0.0, 1.0]])
    fig.suptitle("0.5")
    for fmt in ("png", "pdf"):
        fig.savefig(io.BytesIO(), format=fmt)


def torch_build_line() -> str:
    """One line: the installed torch's version and build, and whether CUDA is usable here."""
    import torch

    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    usable = "usable" if torch.cuda.is_available() else "not usable on this machine (runs on the CPU)"
    return f"[setup] torch {torch.__version__}, {build}; CUDA {usable}"


def main(argv: list[str]) -> int:
    if "--torch-build" in argv:
        print(torch_build_line(), file=sys.stderr)
        return 0
    if "--torch" in argv:
        return 0 if all([import_quietly(name) for name in TORCH]) else 1
    test = "test" in argv
    wanted = ([] if "--torch-done" in argv else list(TORCH)) + vssleval_modules() + imported_names(ROOT / "vssleval")
    if test:
        wanted += imported_names(ROOT / "tests")
    for name in dict.fromkeys(wanted):
        import_quietly(name)
    import_what_saving_imports()
    # this checkout's own files (its __main__ modules included)
    compileall.compile_dir(str(ROOT / "vssleval"), quiet=1)
    if test:
        compile_packages(TEST_PACKAGES)
    who = "vssleval and its tests import" if test else "vssleval imports"
    print(f"[setup] byte-compiled the modules that {who}", file=sys.stderr)
    print(torch_build_line(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
