"""Build hook: ship the repository's YAMLs and embedded checkpoint as package data.

``configs/models``, ``configs/datasets`` and ``checkpoints/`` stay at the top of the repository
(the one copy); these sub-packages map them into the wheel as ``vssleval/_resources/<same path>``,
where :mod:`vssleval.resources` looks first. Everything else is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

RESOURCES = {
    "vssleval._resources.configs.models": "configs/models",
    "vssleval._resources.configs.datasets": "configs/datasets",
    "vssleval._resources.checkpoints": "checkpoints",
}

setup(
    packages=find_packages(include=["vssleval", "vssleval.*"]) + list(RESOURCES),
    package_dir=RESOURCES,
    package_data={
        # `vssleval new-model`'s templates; the published numbers (vssleval/published.py); report.html's
        # inline styles and scripts
        "vssleval": ["py.typed", "templates/*.tmpl", "published.yaml",
                     "report/assets/*.css", "report/assets/*.js"],
        "vssleval._resources.configs.models": ["*.yaml"],
        "vssleval._resources.configs.datasets": ["*.yaml"],
        # only the embedded model: zoo checkpoints a user keeps in checkpoints/ must not be packed
        "vssleval._resources.checkpoints": ["synth-ezvsl.pth", "synth-ezvsl.json"],
    },
    include_package_data=False,
)
