"""Where vssleval finds its files: the model and dataset YAMLs, the embedded checkpoint, and the
users' checkpoints of the zoo models. Every caller goes through this module.

Package data has one source of truth, the repository's top-level ``configs/models``,
``configs/datasets`` and ``checkpoints/``; how it is reached depends on how vssleval runs:

* source checkout (``python -m vssleval`` in the repository) or editable install: those folders,
  beside the ``vssleval/`` package;
* wheel (a regular ``pip install``): copies inside the package, ``vssleval/_resources/<same path>``;
  ``setup.py`` maps the sub-packages ``vssleval._resources.*`` onto the top-level folders when the
  wheel is built, so nothing is stored twice in the repository.

``$VSSLEVAL_MODEL_CONFIGS`` / ``$VSSLEVAL_DATASET_CONFIGS`` replace the YAML folders.

A zoo model's checkpoint (its YAML ``checkpoint.file`` or ``checkpoint.parts``) is looked up, when
none is given, in ``$VSSLEVAL_CHECKPOINTS``, then ``./checkpoints`` (the current directory); a
checkpoint block with ``shipped: true`` (the embedded ``synth-ezvsl``) is read from the package's
own ``checkpoints`` instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import unquote, urlparse

from vssleval.errors import VsslevalError

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_ROOT = PACKAGE_DIR / "_resources"   # a wheel's copies
CHECKOUT_ROOT = PACKAGE_DIR.parent           # a source checkout / editable install

# kind -> (path relative to the repository root / to vssleval/_resources, environment override)
RESOURCES: dict[str, tuple[str, str | None]] = {
    "model_configs": ("configs/models", "VSSLEVAL_MODEL_CONFIGS"),
    "dataset_configs": ("configs/datasets", "VSSLEVAL_DATASET_CONFIGS"),
    "checkpoints": ("checkpoints", None),
}
CHECKPOINTS_ENV = "VSSLEVAL_CHECKPOINTS"


def _is_checkout() -> bool:
    """The package sits in a repository (its ``pyproject.toml`` beside it), not in site-packages."""
    return (CHECKOUT_ROOT / "pyproject.toml").is_file()


def candidate_dirs(kind: str) -> list[Path]:
    """Where ``kind`` (a key of :data:`RESOURCES`) may live, in lookup order (env override alone)."""
    rel, env = RESOURCES[kind]
    if env and os.environ.get(env):
        return [Path(os.environ[env]).expanduser()]
    dirs = [PACKAGED_ROOT / rel]
    if _is_checkout():
        dirs.append(CHECKOUT_ROOT / rel)
    return dirs


def resource_dir(kind: str) -> Path:
    """The folder of ``kind``: the first candidate that exists, else the first candidate.

    Never raises (the model registry calls it at import time); use :func:`require_file` or
    :func:`require_dir` where the files are needed.
    """
    dirs = candidate_dirs(kind)
    return next((d for d in dirs if d.is_dir()), dirs[0])


def model_config_dir() -> Path:
    """``configs/models`` (or ``$VSSLEVAL_MODEL_CONFIGS``)."""
    return resource_dir("model_configs")


def dataset_config_dir() -> Path:
    """``configs/datasets`` (or ``$VSSLEVAL_DATASET_CONFIGS``)."""
    return resource_dir("dataset_configs")


def shipped_checkpoint_dir() -> Path:
    """The folder of the embedded checkpoint (``checkpoints/`` of the repository or the wheel)."""
    return resource_dir("checkpoints")


# -- how vssleval was installed (for error messages) ---------------------------------------------
def install_kind() -> str:
    """``"editable"`` (``pip install -e`` of this checkout), ``"source"`` (a checkout imported
    without such an install) or ``"wheel"`` (a regular install into site-packages).

    Decided by where the package sits first: a package beside its ``pyproject.toml`` is a
    checkout, whatever metadata is found (the editable install's ``vssleval.egg-info`` in the
    checkout carries no ``direct_url.json``), then by the installed distribution's
    ``direct_url.json``.
    """
    if not _is_checkout():
        return "wheel"
    try:
        dists = [d for d in metadata.distributions(name="vssleval")]
    except Exception:  # noqa: BLE001 - unreadable metadata must not break an error message
        dists = []
    for dist in dists:
        try:
            info = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        url = urlparse(str(info.get("url", "")))
        if (info.get("dir_info") or {}).get("editable") and url.scheme == "file" \
                and Path(unquote(url.path)).resolve() == CHECKOUT_ROOT:
            return "editable"
    return "source"


def describe_install() -> str:
    """A sentence for error messages: version, install kind and where the package is."""
    kind = install_kind()
    how = {"wheel": "installed from a wheel (regular pip install)",
           "editable": "an editable install (pip install -e)",
           "source": "run from a source checkout"}[kind]
    from vssleval import __version__

    return f"vssleval {__version__} is {how}, package at {PACKAGE_DIR}"


def _fix(kind: str) -> str:
    rel, env = RESOURCES[kind]
    override = f", or set ${env} to a folder that holds them" if env else ""
    if install_kind() == "wheel":
        return (f"The wheel should carry it as package data (vssleval/_resources/{rel}); rebuild it from a "
                f"complete checkout (pip wheel .) and reinstall with pip install --force-reinstall{override}")
    return f"Restore the repository's {rel}/ folder (git checkout -- {rel}){override}"


def missing_resource(name: str, kind: str, what: str) -> VsslevalError:
    """The error for a package-data file (``name``, or a pattern) that is not where it should be."""
    rel, env = RESOURCES[kind]
    if env and os.environ.get(env):
        return VsslevalError(f"{what} ({name}) not found in ${env}={os.environ[env]}; put it there "
                             f"or unset ${env} to use the packaged {rel}")
    looked = " or ".join(str(d) for d in candidate_dirs(kind))
    return VsslevalError(f"vssleval cannot find its package data: {what} ({name}) is missing; looked in "
                         f"{looked}. {describe_install()}. {_fix(kind)}")


def require_file(kind: str, name: str, what: str) -> Path:
    """The first ``<candidate folder>/<name>`` that exists, or a :func:`missing_resource` error."""
    for d in candidate_dirs(kind):
        if (d / name).is_file():
            return d / name
    raise missing_resource(name, kind, what)


def require_dir(kind: str, pattern: str, what: str) -> Path:
    """The first candidate folder of ``kind`` that holds a file matching ``pattern``, or an error."""
    for d in candidate_dirs(kind):
        if d.is_dir() and any(d.glob(pattern)):
            return d
    raise missing_resource(pattern, kind, what)


# -- checkpoints of the zoo models ------------------------------------------------------------------
def checkpoint_search_dirs() -> list[tuple[str, Path]]:
    """``(label, folder)`` where a zoo model's official file is looked for, in order:
    ``$VSSLEVAL_CHECKPOINTS`` (when set), then ``./checkpoints`` of the current directory."""
    out: list[tuple[str, Path]] = []
    env = os.environ.get(CHECKPOINTS_ENV)
    if env:
        out.append((f"${CHECKPOINTS_ENV}", Path(env).expanduser()))
    out.append(("./checkpoints", Path.cwd() / "checkpoints"))
    return out


@dataclass
class CheckpointLookup:
    """The outcome of :func:`find_checkpoint`.

    ``checkpoint`` is what to pass to ``build_model`` (a file, or the folder of a multi-file
    model) or ``None``; ``files`` the official files found; ``looked`` every path tried, in order;
    ``source`` the label of the place that answered.
    """

    official: list[str]
    checkpoint: str | None = None
    files: list[Path] = field(default_factory=list)
    looked: list[Path] = field(default_factory=list)
    source: str | None = None

    @property
    def found(self) -> bool:
        return self.checkpoint is not None

    def describe_looked(self) -> str:
        return ", ".join(str(p) for p in self.looked) or "(nowhere: the model has no official file name)"


def hf_cache_dirs() -> list[Path]:
    """Hugging Face hub caches, in the order ``huggingface_hub`` uses: ``$HF_HUB_CACHE``, then
    ``$HF_HOME/hub``, then ``$XDG_CACHE_HOME/huggingface/hub``, then ``~/.cache/huggingface/hub``."""
    out = []
    if os.environ.get("HF_HUB_CACHE"):
        out.append(Path(os.environ["HF_HUB_CACHE"]).expanduser())
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    if os.environ.get("XDG_CACHE_HOME"):
        out.append(Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub")
    out.append(Path.home() / ".cache" / "huggingface" / "hub")
    return list(dict.fromkeys(out))


def hf_snapshot(repo_id: str, weights: Sequence[str]) -> tuple[Path | None, list[Path]]:
    """The snapshot folder of ``repo_id`` (``owner/name``) in a local Hugging Face cache that holds
    one of ``weights``: the one ``refs/main`` names, else the most recently modified. Returns
    ``(folder or None, the repository folders looked in)``; nothing is downloaded."""
    looked = []
    for cache in hf_cache_dirs():
        repo = cache / ("models--" + repo_id.replace("/", "--"))
        looked.append(repo)
        snaps = repo / "snapshots"
        if not snaps.is_dir():
            continue
        ref = repo / "refs" / "main"
        main = ref.read_text().strip() if ref.is_file() else None
        try:
            cands = [d for d in snaps.iterdir() if d.is_dir() and any((d / w).is_file() for w in weights)]
        except OSError:  # an unreadable cache is a cache without the model
            continue
        if not cands:
            continue
        chosen = next((d for d in cands if d.name == main), None)
        return chosen or max(cands, key=lambda d: d.stat().st_mtime), looked
    return None, looked


def where_official(ckpt_cfg: Mapping[str, Any]) -> str:
    """Where the official file comes from: the URL that opens the YAML's ``official_release``."""
    release = str(ckpt_cfg.get("official_release") or "").strip()
    return release.split()[0] if release else "the model's YAML (checkpoint.official_release)"


def where_part(ckpt_cfg: Mapping[str, Any], prefix: str) -> str:
    """Where one part's official file is published: ``part_releases.<prefix>``, else the model's release."""
    release = str((ckpt_cfg.get("part_releases") or {}).get(prefix) or "").strip()
    return release or where_official(ckpt_cfg)


def resolve_hf_folder(prefix: str, path: Path, ckpt_cfg: Mapping[str, Any], model_name: str) -> Path:
    """The weights file of a part published as a Hugging Face model folder (YAML ``hf_folders``).

    ``path`` may be that folder (its first ``weights`` file present is used) or a weights file. When
    the folder does not exist, the local Hugging Face cache of ``repo_id`` is searched
    (:func:`hf_snapshot`); nothing is downloaded. Other parts pass through.
    """
    spec = (ckpt_cfg.get("hf_folders") or {}).get(prefix)
    if not spec or path.is_file():
        return path
    weights = [str(w) for w in spec.get("weights") or ()]
    folder, looked = path, [path]
    if not path.is_dir():
        folder, cache = hf_snapshot(str(spec["repo_id"]), weights)
        looked += cache
        if folder is None:
            raise VsslevalError(f"{model_name}: its part {prefix!r} ({spec['repo_id']}, a folder with config.json "
                                f"and {' or '.join(weights)}) was not found (looked in {', '.join(map(str, looked))}); "
                                f"get it from {where_part(ckpt_cfg, prefix)}")
    found = next((folder / w for w in weights if (folder / w).is_file()), None)
    if found is None:
        raise VsslevalError(f"{model_name}: the folder {folder} of part {prefix!r} holds none of {weights}; "
                            f"get the files from {where_part(ckpt_cfg, prefix)}")
    check_hf_config(folder, spec.get("expect_config") or {}, prefix, ckpt_cfg, model_name)
    return found


def check_hf_config(folder: Path, expected: Mapping[str, Any], prefix: str, ckpt_cfg: Mapping[str, Any],
                    model_name: str) -> None:
    """Refuse a Hugging Face folder whose ``config.json`` differs from ``expected`` (YAML
    ``hf_folders.<part>.expect_config``; dotted keys reach nested entries, e.g.
    ``vision_config.patch_size``): settings such as the decoder's extract layers change the network
    without changing any weight's shape, so the strict key check alone would not notice them."""
    if not expected:
        return
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VsslevalError(f"{model_name}: the folder {folder} of part {prefix!r} has no config.json; get the "
                            f"whole folder from {where_part(ckpt_cfg, prefix)}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VsslevalError(f"{model_name}: cannot read {path} ({type(exc).__name__}: {exc}); get the whole "
                            f"folder again from {where_part(ckpt_cfg, prefix)}") from exc
    wrong = config_differences(config, expected)
    if wrong:
        raise VsslevalError(f"{model_name}: {path} is not the configuration this model is built for "
                            f"({'; '.join(wrong)}); the official folder is {where_part(ckpt_cfg, prefix)}")


def config_differences(config: Any, expected: Mapping[str, Any]) -> list[str]:
    """``"key = value, expected want"`` for each entry of ``expected`` that ``config`` does not hold
    (dotted keys reach nested mappings; an absent key is a difference)."""
    wrong = []
    for key, want in expected.items():
        value: Any = config
        for step in str(key).split("."):
            value = value.get(step, _ABSENT) if isinstance(value, Mapping) else _ABSENT
        if value != want:
            wrong.append(f"{key} = {'(absent)' if value is _ABSENT else json.dumps(value)}, expected {json.dumps(want)}")
    return wrong


_ABSENT = object()


def _part_present(folder: Path, prefix: str, name: str, ckpt_cfg: Mapping[str, Any]) -> bool:
    """A part is present in ``folder`` as a file, as a folder (Hugging Face parts), or, for a part
    declared under ``hf_folders``, in the local Hugging Face cache."""
    path = folder / name
    if path.is_file():
        return True
    spec = (ckpt_cfg.get("hf_folders") or {}).get(prefix)
    if not spec:
        return False
    return path.is_dir() or hf_snapshot(spec["repo_id"], spec.get("weights") or ())[0] is not None


def official_files(ckpt_cfg: Mapping[str, Any]) -> list[str]:
    """The official file name(s) of a YAML ``checkpoint:`` block (``file``, or ``parts``' values)."""
    if ckpt_cfg.get("file"):
        return [str(ckpt_cfg["file"])]
    return [str(f) for f in (ckpt_cfg.get("parts") or {}).values()]


def find_checkpoint(ckpt_cfg: Mapping[str, Any], given: Any = None,
                    dirs: Sequence[Path] | None = None) -> CheckpointLookup:
    """Find a model's checkpoint: ``given`` (``--checkpoint``) as it is; else, for a shipped one
    (``shipped: true``), the package's ``checkpoints``; else the official file(s) in
    ``dirs`` (default :func:`checkpoint_search_dirs`), first folder that holds all of them."""
    names = official_files(ckpt_cfg)
    look = CheckpointLookup(official=names)
    if given is not None:
        look.checkpoint, look.source = given, "--checkpoint"
        look.files = [Path(str(given))] if not isinstance(given, (Mapping, list, tuple)) else []
        return look
    if not names:
        return look
    if ckpt_cfg.get("shipped"):
        places = [("shipped with vssleval", d) for d in candidate_dirs("checkpoints")]
    elif dirs is not None:
        places = [(str(d), Path(d)) for d in dirs]
    else:
        places = checkpoint_search_dirs()
    parts = dict(ckpt_cfg.get("parts") or {}) or {"": names[0]}
    for label, folder in places:
        paths = [folder / n for n in names]
        look.looked.extend(paths)
        if all(_part_present(folder, prefix, name, ckpt_cfg) for prefix, name in parts.items()):
            look.files, look.source = paths, label
            look.checkpoint = str(paths[0] if ckpt_cfg.get("file") else folder)
            return look
    return look
