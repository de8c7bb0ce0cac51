"""The checks of the run options of :func:`vssleval.evaluate` and :func:`vssleval.infer` (docs/api.md,
"Arguments are checked first"); :data:`vssleval.api.options.RUN_OPTIONS` names the check of each.

The CLI hands these functions the values it parsed, so every check here also guards ``vssleval
evaluate`` / ``infer``; where both can make the same mistake they get the same message, naming the
CLI flag (``--seeds``, ``--neg``, ``--batch-size``, ...), which each check is given. Numbers go through :mod:`vssleval.limits`,
negatives through :func:`vssleval.engine.spec.parse_negatives`, seeds through
:func:`vssleval.limits.check_seeds`. Each check refuses the wrong *type* as well as the wrong value:
``batch_size=True`` (a bool is an int in Python), ``neg=['silence', 3]``, ``skip_bad="no"`` (a
non-empty text is true), ``out=5``.

The module imports neither numpy nor torch nor the engine (the CLI builds its parser from the
options that name these checks, docs/performance.md): a value can only be a numpy bool or a torch
module when numpy or torch is already imported, so the type tests look them up in ``sys.modules``
(:func:`_instance_of`), and negatives are parsed by the engine's function when a run is checked.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from vssleval.errors import VsslevalError

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?", re.IGNORECASE)


def _kind(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text}" if len(text) <= 60 else type(value).__name__


def _instance_of(value: Any, module: str, path: str) -> bool:
    """``isinstance(value, <module>.<path>)`` without importing ``module``: when it is not imported,
    no object of its classes exists (``_instance_of(x, "torch", "nn.Module")``)."""
    found = sys.modules.get(module)
    for part in path.split("."):
        found = getattr(found, part, None)
    return isinstance(found, type) and isinstance(value, found)


def check_switch(flag: str, value: Any) -> bool:
    """``value`` as a bool when it is one (numpy's included); a text such as ``"no"`` is refused, not
    taken as true. ``flag`` names the option in the message (``--skip-bad``)."""
    if isinstance(value, bool) or _instance_of(value, "numpy", "bool_"):
        return bool(value)
    raise VsslevalError(f"{flag} is a switch: pass True or False, got {_kind(value)}")


def check_path(flag: str, value: Any) -> str | None:
    """A path argument as text (None stays None); a non-path or an empty text is refused (``""`` would
    mean the current folder)."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise VsslevalError(f"{flag} must be a path (a str or pathlib.Path), got {_kind(value)}")
    text = os.fspath(value)
    if isinstance(text, bytes) or not str(text).strip():
        raise VsslevalError(f"{flag} must be a non-empty path, got {value!r}")
    if "\0" in text:
        raise VsslevalError(f"{flag} {text!r} holds a NUL character, which no file name can")
    return str(text)


def check_checkpoint(value: Any) -> Any:
    """``checkpoint=``: a path, a list of paths (a model shipped as several files, in its YAML's
    ``parts`` order) or ``{part: path}``; None for the model's default."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        for part, path in value.items():
            if not isinstance(part, str):
                raise VsslevalError(f"--checkpoint as a mapping takes {{part name: path}}, got the key {_kind(part)}")
            check_path("--checkpoint", path)
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise VsslevalError("--checkpoint as a list must name at least one file")
        return [check_path("--checkpoint", v) for v in value]
    return check_path("--checkpoint", value)


def check_name(what: str, value: Any, listing: str) -> str:
    """A registered name (model, dataset): a non-empty text."""
    if not isinstance(value, str) or not value.strip():
        raise VsslevalError(f"{what} must be a name ({listing}), got {_kind(value)}{_several(value)}")
    return value


def _several(value: Any) -> str:
    """For a list where one name is expected: the function that takes several."""
    return ("; several models or datasets: vssleval.evaluate_many(models, datasets, out=...)"
            if isinstance(value, (list, tuple)) else "")


def check_model(model: Any) -> Any:
    """A registered name, ``"path.py:Class"`` or an in-memory ``nn.Module``."""
    if _instance_of(model, "torch", "nn.Module"):
        return model
    if not isinstance(model, str) or not model.strip():
        raise VsslevalError(f"model must be a registered name (`vssleval models`), 'path.py:ClassName' or a "
                            f"torch.nn.Module, got {_kind(model)}{_several(model)}")
    return model


def check_preset(value: Any) -> Any:
    """A preset name, a preset block (a mapping; its blocks are checked with the model's config,
    :func:`vssleval.models.registry.check_preset_block`), or None for the model's own."""
    if value is None or isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value.strip():
        raise VsslevalError(f"--preset must be a preset name (juanola2025, native) or, for an unregistered "
                            f"in-memory model, a preset block {{'audio': ..., 'image': ..., 'map': ...}}; "
                            f"got {_kind(value)}")
    return value


def check_device(value: Any) -> str:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` (or a ``torch.device``), as text."""
    text = str(value) if type(value).__name__ == "device" and type(value).__module__ == "torch" else value
    if not isinstance(text, str) or not _DEVICE.fullmatch(text.strip()):
        raise VsslevalError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N or mps")
    return text.strip()


def check_amp(value: Any) -> str | None:
    """``None`` (fp32) or ``"bf16"`` (whether the device computes bf16 is checked by the engine)."""
    if value is None or value == "bf16":
        return value
    raise VsslevalError(f"unknown --amp {value!r}; use bf16 or leave it unset for fp32")


def check_neg(value: Any) -> tuple[str, ...] | None:
    """``neg=``: None (the protocol's default), a text (``"silence,noise"``, ``"all"``, ``"none"``) or a
    sequence of negative names, parsed by the CLI's :func:`~vssleval.engine.spec.parse_negatives`."""
    from vssleval.engine.spec import parse_negatives  # a run is being checked: the engine is needed anyway

    return None if value is None else parse_negatives(value)
