"""Print the requirements of this package that ``scripts/setup_env.sh`` installs beside torch, one per
line: ``[project] dependencies`` and the named extras' lists of ``pyproject.toml``, without torch and
torchvision (those come from the torch spec the script installs meanwhile, ``$VSSLEVAL_TORCH``).

Usage: ``python scripts/requirements_of.py PYPROJECT EXTRAS`` (EXTRAS: comma-separated, may be
empty). Standard library only: it runs before anything is installed. On Python 3.10 (no
``tomllib``) it prints nothing, and setup_env.sh installs everything after torch, as one step.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: installed by the torch spec, never here (a range here could pull another build of torch)
TORCH_PACKAGES = ("torch", "torchvision")


def project_name(requirement: str) -> str:
    """A requirement's project name, normalised as pip compares them (PEP 503)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", name.group(1)).lower() if name else ""


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """The dependencies and the ``extras``' optional dependencies, in file order, without torch's."""
    import tomllib

    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    wanted = list(project.get("dependencies", []))
    for extra in extras:
        wanted += optional.get(extra, [])
    return [r for r in dict.fromkeys(wanted) if project_name(r) not in TORCH_PACKAGES]


def main(argv: list[str]) -> int:
    extras = [e for e in (argv[1] if len(argv) > 1 else "").split(",") if e]
    try:
        import tomllib  # noqa: F401  (Python 3.11 and newer)
    except ImportError:
        return 0
    print("\n".join(requirements(Path(argv[0]), extras)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
