"""Model registry (timm-style, by name), model configs, builder and user-model loading.

Three ways a model gets a name:
* built in: declared in :data:`BUILTIN` (name -> its module in this package), registered by
  ``@register_model("ezvsl")`` in that module when the model is first built; config
  ``configs/models/ezvsl.yaml``;
* installed: an entry point in group ``vssleval.models`` (``name = "pkg.module:ClassOrFactory"``);
  its config is the object's ``config_path`` / ``default_config`` attribute, else
  ``configs/models/<name>.yaml`` when present;
* a file: ``load_model_file("path/to/my_model.py:MyModel")`` (the CLI's ``--model-file``); its
  config is ``path/to/my_model.yaml`` when present.

A factory is called as ``factory(**config["model"])`` and must return an ``nn.Module`` with
``encode_image``, ``encode_audio`` and ``localize``.

Listing the models and reading their configs imports no torch (``vssleval models``, the CLI's
parser: docs/performance.md): like an entry point, a built-in model's module is imported when the
model is first built (:meth:`ModelEntry.resolve`), and this module imports torch inside the
functions that build or compare weights.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from vssleval.errors import VsslevalError, describe_raise, did_you_mean
from vssleval.resources import find_checkpoint, missing_resource
from vssleval.resources import model_config_dir as _packaged_model_config_dir
from vssleval.yaml_io import read_yaml_mapping

if TYPE_CHECKING:  # annotations only: this module imports torch where it builds a model
    import torch
    from torch import nn

from vssleval.vocabulary import DEFAULT_PRESET, PRESETS  # noqa: F401  (re-exported)

ENTRY_POINT_GROUP = "vssleval.models"

#: The built-in models: name -> the module of this package whose ``@register_model(name)`` registers it,
#: imported when the model is first built (``tests/test_cli_light.py`` checks that the modules register
#: exactly these names).
BUILTIN = {"aclssl": "aclssl", "center": "baselines", "ezvsl": "ezvsl", "fnac": "fnac", "full": "baselines",
           "lvs": "lvs", "ogl": "ogl", "random": "baselines", "sacl": "sacl", "slavc": "slavc",
           "sslalign": "sslalign", "ssltie": "ssltie", "synth-ezvsl": "synth_ezvsl"}


@dataclass
class ModelEntry:
    """One registered model: how to build it and where its config lives."""

    name: str
    factory: Callable[..., nn.Module] | None
    source: str
    config_path: Path | None = None
    default_config: dict[str, Any] | None = None
    entry_point: Any = field(default=None, repr=False)
    #: a built-in model's module (:data:`BUILTIN`), imported on first use
    module: str | None = None

    def resolve(self) -> Callable[..., nn.Module]:
        if self.factory is None and self.module is not None:
            importlib.import_module(self.module)  # its @register_model fills in the factory
            if self.factory is None:
                raise VsslevalError(f"{self.module} registers no model {self.name!r} (vssleval.models.registry.BUILTIN)")
        if self.factory is None:  # lazily import an entry point on first use
            try:
                self.factory = self.entry_point.load()
            except Exception as exc:  # noqa: BLE001 - a broken plug-in must not look like a bug here
                raise VsslevalError(f"cannot import model {self.name!r} from entry point "
                                    f"{self.entry_point.value!r}: {exc}") from exc
            if self.config_path is None and getattr(self.factory, "config_path", None):
                self.config_path = Path(self.factory.config_path)
            if self.default_config is None and getattr(self.factory, "default_config", None):
                self.default_config = dict(self.factory.default_config)
        return self.factory


_ENTRY_POINTS_SCANNED = False


def model_config_dir() -> Path:
    """``configs/models`` of the checkout (override with ``VSSLEVAL_MODEL_CONFIGS``)."""
    return _packaged_model_config_dir()


_REGISTRY: dict[str, ModelEntry] = {
    name: ModelEntry(name, None, "builtin", model_config_dir() / f"{name}.yaml", module=f"{__package__}.{module}")
    for name, module in BUILTIN.items()}


def register_model(name: str, *, source: str = "builtin", config_path: str | Path | None = None):
    """Decorator: register a class or factory under ``name`` (must be new)."""

    def wrap(factory: Callable[..., nn.Module]):
        entry = _REGISTRY.get(name)
        if entry is not None and entry.factory is None and entry.module == getattr(factory, "__module__", None):
            entry.factory = factory  # a built-in model's module, imported by ModelEntry.resolve
            return factory
        if entry is not None and entry.factory is not factory:
            raise VsslevalError(f"model name {name!r} is already registered ({entry.source})")
        path = Path(config_path) if config_path else None
        if path is None and source == "builtin":
            path = model_config_dir() / f"{name}.yaml"
        _REGISTRY[name] = ModelEntry(name, factory, source, path)
        return factory

    return wrap


def _scan_entry_points() -> None:
    global _ENTRY_POINTS_SCANNED
    if _ENTRY_POINTS_SCANNED:
        return
    _ENTRY_POINTS_SCANNED = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            path = model_config_dir() / f"{ep.name}.yaml"
            _REGISTRY[ep.name] = ModelEntry(ep.name, None, f"entry point {ep.value}",
                                            path if path.is_file() else None, entry_point=ep)


def list_models() -> list[str]:
    """Names of every registered model (built in, installed entry points, loaded files)."""
    _scan_entry_points()
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    _scan_entry_points()
    if name not in _REGISTRY:
        raise VsslevalError(f"unknown model {name!r}{did_you_mean(name, list_models())}; registered models: "
                            f"{', '.join(list_models())}. "
                            "A model of your own: --model-file path.py:ClassName or an entry point "
                            f"in group {ENTRY_POINT_GROUP!r}")
    return _REGISTRY[name]


def load_model_config(name_or_path: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A model's config dict (``model``, ``checkpoint``, ``thresholds``, ``presets``).

    Accepts a registered name, a YAML path or an already-parsed mapping. Every YAML is read by
    :func:`vssleval.yaml_io.read_yaml_mapping` (safe, one-line errors) and every config's sections
    are checked for their types (:func:`check_config_sections`) before anything uses them.
    """
    if isinstance(name_or_path, Mapping):
        return check_config_sections(dict(name_or_path), "the model config given")
    path = Path(name_or_path)
    builtin = False
    if path.suffix not in (".yaml", ".yml"):
        entry = get_entry(str(name_or_path))
        if entry.module is None:  # a plug-in's config may be an attribute of its class (a built-in's is its YAML)
            entry.resolve()
        if entry.config_path is None:
            return check_config_sections(dict(entry.default_config or {"name": entry.name}),
                                         f"the default config of model {entry.name!r}")
        path = entry.config_path
        builtin = entry.source == "builtin"
    if not path.is_file():
        if builtin:  # package data: say which file and how vssleval was installed
            raise missing_resource(path.name, "model_configs", f"the config of built-in model {name_or_path!r}")
        raise VsslevalError(f"model config not found: {path}")
    return check_config_sections(read_yaml_mapping(path, "model config"), f"model config {path}")


#: The sections of a model config that hold a mapping (or nothing), and what each is for.
MAPPING_SECTIONS = {"model": "the model's constructor arguments", "checkpoint": "its weights files",
                    "thresholds": "its universal thresholds", "presets": "its preprocessing presets by name"}
#: The blocks of one preset that hold a mapping (or nothing): docs/models.md §2-§4.
PRESET_BLOCKS = ("audio", "image", "map")


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if len(repr(value)) <= 40 else type(value).__name__


def check_config_sections(cfg: dict[str, Any], where: str) -> dict[str, Any]:
    """``cfg`` when each section that must be a mapping is one (or empty), and each preset is a
    mapping of ``audio`` / ``image`` / ``map`` blocks; else a :class:`VsslevalError` naming the
    section, ``where`` the config came from and what was found (a YAML typo such as ``model: 5``
    would otherwise surface as a TypeError deep inside the model or the pipelines)."""
    for key, what in MAPPING_SECTIONS.items():
        value = cfg.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise VsslevalError(f"{where}: `{key}:` must be a mapping ({what}), got {_kind(value)}")
    for preset, block in (cfg.get("presets") or {}).items():
        check_preset_block(block, f"{where}: preset {preset!r}")
    for key in ("thresholds", "compat_thresholds"):  # read as floats when the run is scored, hours later
        for name, value in (cfg.get(key) or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                    or value in (float("inf"), float("-inf")):
                raise VsslevalError(f"{where}: `{key}: {name}` must be a finite number, got {_kind(value)}")
    _check_checkpoint_block(dict(cfg.get("checkpoint") or {}), where)
    if cfg.get("native_evaluator") is not None and not isinstance(cfg["native_evaluator"], str):
        raise VsslevalError(f"{where}: `native_evaluator:` must be an evaluator's name, got "
                            f"{_kind(cfg['native_evaluator'])}")
    by_layout = cfg.get("native_evaluator_by_layout")
    if by_layout is not None and (not isinstance(by_layout, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in by_layout.items())):
        raise VsslevalError(f"{where}: `native_evaluator_by_layout:` must map test-set layouts to evaluator "
                            f"names, got {_kind(by_layout)}")
    return cfg


def _check_checkpoint_block(block: dict[str, Any], where: str) -> None:
    """The types of a ``checkpoint:`` block (docs/models.md §2.7): file names are text, ``parts`` maps
    module prefixes to file names, ``ignore_keys`` is a list of patterns."""
    for key in ("file", "container_key", "official_release"):
        if block.get(key) is not None and not isinstance(block[key], str):
            raise VsslevalError(f"{where}: `checkpoint: {key}` must be text, got {_kind(block[key])}")
    parts = block.get("parts")
    if parts is not None and (not isinstance(parts, Mapping)
                              or not all(isinstance(k, str) and isinstance(v, str) for k, v in parts.items())):
        raise VsslevalError(f"{where}: `checkpoint: parts` must map module prefixes to file names, got {_kind(parts)}")
    for key in ("hf_folders", "part_releases", "part_config"):
        value = block.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise VsslevalError(f"{where}: `checkpoint: {key}` must map part prefixes to entries, got {_kind(value)}")
    for prefix, spec in (block.get("hf_folders") or {}).items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("repo_id"), str) \
                or not isinstance(spec.get("weights"), list) \
                or not isinstance(spec.get("expect_config") or {}, Mapping):
            raise VsslevalError(f"{where}: `checkpoint: hf_folders: {prefix}` must be {{repo_id: owner/name, "
                                f"weights: [file names], expect_config: {{key: value}} (optional)}}, got {_kind(spec)}")
    for prefix, spec in (block.get("part_config") or {}).items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("key"), str) \
                or not isinstance(spec.get("expect"), Mapping):
            raise VsslevalError(f"{where}: `checkpoint: part_config: {prefix}` must be {{key: entry of the "
                                f"container, expect: {{setting: value}}}}, got {_kind(spec)}")
    ignore = block.get("ignore_keys")
    if ignore is not None and (not isinstance(ignore, list) or not all(isinstance(k, str) for k in ignore)):
        raise VsslevalError(f"{where}: `checkpoint: ignore_keys` must be a list of key patterns, got {_kind(ignore)}")
    for key in ("shipped", "sha256_in_name"):
        if block.get(key) is not None and not isinstance(block[key], bool):
            raise VsslevalError(f"{where}: `checkpoint: {key}` must be true or false, got {_kind(block[key])}")


def check_preset_block(block: Any, where: str) -> dict[str, Any]:
    """One preset (``{audio: {...}, image: {...}, map: {...}}``, each optional) as a dict, or a
    :class:`VsslevalError` naming the block that is not a mapping."""
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        raise VsslevalError(f"{where} must be a mapping of {', '.join(PRESET_BLOCKS)} blocks (as in a model "
                            f"YAML, docs/models.md §3-§4), got {_kind(block)}")
    for key in PRESET_BLOCKS:
        value = block.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise VsslevalError(f"{where}: `{key}` must be a mapping (a preset block as in a model YAML, "
                                f"docs/models.md §3-§4), got {_kind(value)}")
    return dict(block)


def preset_block(cfg: Mapping[str, Any], preset: str, name: str) -> dict[str, Any]:
    """``cfg['presets'][preset]``; a config without presets gives ``{}`` for any preset."""
    presets = cfg.get("presets")
    if not presets:
        return {}
    if not isinstance(presets, Mapping):
        raise VsslevalError(f"model {name!r}: `presets:` must be a mapping of preset names to blocks, "
                            f"got {_kind(presets)}")
    if not isinstance(preset, str) or preset not in presets:
        raise VsslevalError(f"model {name!r} has no preset {preset!r}; presets: {sorted(map(str, presets))}")
    return check_preset_block(presets[preset], f"preset {preset!r} of model {name!r}")


def _instantiate(entry: ModelEntry, cfg: Mapping[str, Any]) -> nn.Module:
    from torch import nn

    from vssleval.models.base import check_model_interface

    factory = entry.resolve()
    kwargs = dict(cfg.get("model") or {})
    try:
        model = factory(**kwargs)
    except TypeError as exc:
        raise VsslevalError(f"model {entry.name!r}: bad 'model:' options {sorted(kwargs)}: {exc}") from exc
    except VsslevalError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plug-in's constructor failed: one line, with its own line
        if entry.source == "builtin":
            raise
        raise VsslevalError(f"model {entry.name!r} ({entry.source}): building it raised {describe_raise(exc)}; "
                            "fix its constructor or the YAML's `model:` options") from exc
    if not isinstance(model, nn.Module):
        raise VsslevalError(f"model {entry.name!r} ({entry.source}) did not return a torch.nn.Module")
    check_model_interface(model, entry.source)
    return model


@functools.lru_cache(maxsize=None)
def _expected_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a registered model, built on the meta device (no memory) and without its
    initialisers (``skipped_init``): a random draw on the meta device imports ``torch._dynamo``
    on first use, 2-3 CPU-seconds before the first "belongs to" guess of a process."""
    import torch

    from vssleval.models.deferred_init import skipped_init

    entry = get_entry(name)
    with torch.device("meta"), skipped_init():
        model = _instantiate(entry, load_model_config(name))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def guess_model(state_dict: Mapping[str, torch.Tensor]) -> str:
    """A sentence naming the registered model(s) whose key layout ``state_dict`` matches best.

    Scores are matching (key, shape) pairs over the larger of the two key sets; a model shipped
    as several files (``checkpoint.parts``) is compared part by part.
    """
    given = {k: tuple(v.shape) for k, v in state_dict.items()}
    scores: list[tuple[float, str, int, int]] = []
    for name in list_models():
        try:
            shapes = _expected_shapes(name)
            parts = (load_model_config(name).get("checkpoint") or {}).get("parts") or {}
        except Exception:  # noqa: BLE001 - an unbuildable plug-in cannot be a candidate
            continue
        layouts = {name: shapes}
        for prefix, fname in parts.items():
            layouts[f"{name} (its {fname})"] = {k[len(prefix) + 1:]: s for k, s in shapes.items()
                                                 if k.startswith(prefix + ".")}
        for label, exp in layouts.items():
            if not exp:
                continue
            hits = sum(1 for k, s in given.items() if exp.get(k) == s)
            scores.append((hits / max(len(given), len(exp)), label, hits, len(exp)))
    if not scores:
        return "no registered model to compare with"
    best = max(s[0] for s in scores)
    top = [s for s in scores if s[0] == best]
    names = " or ".join(repr(s[1]) for s in top)
    if best < 0.5:
        return (f"its keys match no registered model well (closest: {names}, "
                f"{top[0][2]} of {top[0][3]} keys)")
    return f"this file most likely belongs to {names} ({top[0][2]} of {top[0][3]} keys match)"


def build_model(
    name: str,
    checkpoint: Any = None,
    preset: str = DEFAULT_PRESET,
    trust_checkpoint: bool = False,
    device: str | torch.device = "cpu",
    *,
    config: str | Path | Mapping[str, Any] | None = None,
    random_init: bool = False,
) -> nn.Module:
    """Build a registered model, load its checkpoint strictly and put it in eval mode.

    Args:
        name: a registered name (:func:`list_models`) or ``"path.py:ClassName"``.
        checkpoint: file path; or, for models shipped as several files (SACL), their folder, a
            ``{part: path}`` dict, a list in the YAML's ``parts`` order or ``"a.pth,b.pth"``.
        preset: preset whose ``map:`` block sets the raw-map rule (``native`` / ``juanola2025``).
        trust_checkpoint: unpickle arbitrary objects (warns); default is ``weights_only`` loading.
        device: where the model lives.
        config: override the model's YAML (path or dict).
        random_init: allow building a model that needs weights without any (tests, training).

    Returns the model with attributes ``name``, ``preset_name``, ``config``, ``map_rule``.
    """
    from vssleval.models.checkpoint import load_into, read_parts
    from vssleval.models.deferred_init import all_loaded, skipped_init
    from vssleval.models.maps import MapRule

    if ":" in name and name.rsplit(":", 1)[0].endswith(".py"):
        name = load_model_file(name, config=config)
    entry = get_entry(name)
    cfg = load_model_config(config if config is not None else name)
    block = preset_block(cfg, preset, name)
    ckpt_cfg = dict(cfg.get("checkpoint") or {})
    if checkpoint is not None:  # read and checked before the network is built: a bad file fails fast
        checkpoint = read_parts(checkpoint, ckpt_cfg, name, trust=trust_checkpoint)
        # the strict load below overwrites every weight: skip drawing them (models/deferred_init.py),
        # unless the network keeps an initialised tensor that no load writes
        with skipped_init() as skipped:
            model = _instantiate(entry, cfg)
        if not all_loaded(model, skipped):
            model = _instantiate(entry, cfg)
    else:
        model = _instantiate(entry, cfg)
    model.name = name
    model.preset_name = preset
    model.config = cfg
    model.map_rule = MapRule.from_config(block.get("map"))
    if checkpoint is None and getattr(model, "needs_checkpoint", True) and not random_init:
        checkpoint = default_checkpoint(model, name, ckpt_cfg)
        model.checkpoint_source = checkpoint  # where the weights came from, for the run's record
    if checkpoint is not None:
        load_into(model, checkpoint, ckpt_cfg, name, trust=trust_checkpoint, guess=guess_model)
    return model.to(device).eval()


def default_checkpoint(model: nn.Module, name: str, ckpt_cfg: Mapping[str, Any]) -> Any:
    """The checkpoint of a model built without one: a shipped model's own file (its
    ``default_checkpoint()``); else the official file(s) found by
    :func:`vssleval.resources.find_checkpoint` (``$VSSLEVAL_CHECKPOINTS``, then ``./checkpoints``);
    else the model's ``default_checkpoint()`` (OGL: torch's hub cache); else an error naming every
    place looked."""
    default = getattr(model, "default_checkpoint", None)
    if ckpt_cfg.get("shipped") and callable(default):
        return default()
    lookup = find_checkpoint(ckpt_cfg)
    if lookup.found:
        return lookup.checkpoint
    if callable(default):
        return default()  # e.g. OGL: torchvision's ImageNet file, or a clear error
    official = ", ".join(lookup.official)
    raise VsslevalError(f"model {name!r} needs a checkpoint (official file: {official or 'see its YAML'}); "
                        f"none given and none found (looked for {lookup.describe_looked()}). Pass "
                        "checkpoint=... / --checkpoint, or put the file in $VSSLEVAL_CHECKPOINTS or ./checkpoints; "
                        "never random weights")


def split_model_file(spec: str) -> tuple[str, str]:
    """``"path/to/file.py:ClassName"`` -> ``(path, class name)``; any other form is a VsslevalError."""
    file_part, sep, cls_name = str(spec).rpartition(":")
    if not sep or not file_part.endswith(".py") or not cls_name:
        raise VsslevalError(f"--model-file expects PATH.py:CLASS, i.e. path.py:ClassName "
                            f"(e.g. tiny_model.py:TinyModel); got {spec!r}")
    return file_part, cls_name


def load_model_file(spec: str, config: str | Path | Mapping[str, Any] | None = None) -> str:
    """Register the class named in ``"path/to/file.py:ClassName"``; return its registered name.

    The name is the class's ``model_name`` attribute, else the lower-cased class name. The
    config is ``config`` if given, else ``path/to/file.yaml`` when it exists, else an empty one.
    """
    file_part, cls_name = split_model_file(spec)
    path = Path(file_part).expanduser().resolve()
    if not path.is_file():
        raise VsslevalError(f"model file not found: {path}")
    mod_name = "vssleval_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module = sys.modules.get(mod_name)
    if module is None:
        spec_obj = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec_obj)
        try:
            spec_obj.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - report the user's import error as input error
            raise VsslevalError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
        sys.modules[mod_name] = module
    cls = getattr(module, cls_name, None)
    if cls is None or not callable(cls):
        raise VsslevalError(f"{path} defines no class or factory {cls_name!r}")
    name = getattr(cls, "model_name", None) or cls_name.lower()
    if config is None and path.with_suffix(".yaml").is_file():
        config = path.with_suffix(".yaml")
    entry = _REGISTRY.get(name)
    if entry is not None and entry.factory is not cls:
        raise VsslevalError(f"{spec}: model name {name!r} is already registered ({entry.source}); "
                            "set a different `model_name` on the class")
    new = ModelEntry(name, cls, f"file {path}")
    if isinstance(config, Mapping):
        new.default_config = dict(config)
    elif config is not None:
        new.config_path = Path(config)
    _REGISTRY[name] = new
    return name
