"""scripts/requirements_of.py: what scripts/setup_env.sh installs beside torch, read from pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import requirements_of  # noqa: E402  (a script, not a package module)


def test_the_projects_requirements_without_torch(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["torch>=2.1", "numpy>=1.24", "TorchVision >= 0.16", '
                         '"scipy"]\n[project.optional-dependencies]\ntest = ["pytest>=7", "numpy>=1.24"]\n'
                         'video = ["av>=14"]\n')
    assert requirements_of.requirements(pyproject, []) == ["numpy>=1.24", "scipy"]
    assert requirements_of.requirements(pyproject, ["test", "video", "nope"]) == [
        "numpy>=1.24", "scipy", "pytest>=7", "av>=14"]
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "requirements_of.py"), str(pyproject), ",test"],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["numpy>=1.24", "scipy", "pytest>=7"]


def test_names_compare_as_pip_compares_them():
    assert [requirements_of.project_name(r) for r in ("Torch_Vision>=1", "torch", "py.yaml ; python_version>'3'")] == [
        "torch-vision", "torch", "py-yaml"]


def test_this_projects_list_has_every_requirement_but_torchs():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    got = requirements_of.requirements(ROOT / "pyproject.toml", ["test"])
    assert {requirements_of.project_name(r) for r in project["dependencies"]} - {
        requirements_of.project_name(r) for r in got} == {"torch", "torchvision"}
    assert set(project["optional-dependencies"]["test"]) <= set(got)
