"""Reading the released checkpoints safely and loading them strictly.

Containers understood (each model's YAML ``checkpoint:`` block names its official one, but any of
them is accepted, since users re-save files): a bare state dict, or a dict holding it under
``model`` (EZ-VSL, SLAVC, FNAC), ``model_state_dict`` (LVS, SSL-Align) or ``state_dict``
(SSL-TIE). Leading ``module.`` prefixes (DataParallel/DDP) are stripped. SACL ships two bare
files, one per tower; the ``parts:`` block maps each to its module prefix.

Safety: files are read with ``torch.load(weights_only=True)``. The official EZ-VSL/SLAVC/FNAC
files also hold numpy float64 best-metric scalars, so exactly the globals needed to rebuild numpy
scalars are allow-listed (``SAFE_NUMPY_GLOBALS``); nothing else. ``trust=True`` unpickles
arbitrary objects, with a warning, for files whose source the user trusts.

Identity: every file read is hashed (sha256), and the model remembers ``checkpoint_files`` (part,
path, sha256) and ``checkpoint_sha256`` so a run records exactly which bytes it used. A YAML block
with ``sha256_in_name: true`` (torchvision's files, e.g. the OGL prior's ``resnet18-f37072fd.pth``)
declares that each official file name carries the start of the file's sha256 after its last dash:
a file under that name whose sha256 does not start so is refused, whoever found it (the default
look-up or the user), and a file under another name is used with a one-line note that it is not
the official file (:func:`verify_name_hash`; docs/models.md §12).

Strictness: the key set after unwrapping must equal the model's, with equal shapes. Otherwise a
:class:`VsslevalError` lists missing / unexpected / mis-shaped keys and names the registered model
whose key set the file matches best. Known training-only keys are dropped only when the YAML
lists them in ``ignore_keys`` (SSL-Align's training-model extras): the official SSL-Align loader
is ``strict=False``, which would silently keep random weights for any absent key; here it is
strict on every key the heatmap uses.
Facts: docs/models.md §2.7.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from vssleval.errors import VsslevalError
from vssleval.fingerprint import file_sha256  # the one file-hashing helper
# Hugging Face parts are found without torch (`vssleval models`); resolve_hf_folder is re-exported
from vssleval.resources import config_differences, resolve_hf_folder, where_official, where_part

log = logging.getLogger(__name__)

CONTAINER_KEYS = ("model", "model_state_dict", "state_dict")
_SHOW = 8  # keys listed per category in an error message


def _numpy_globals() -> list[Any]:
    """The globals a pickled numpy scalar needs: ``scalar`` (under its numpy 1 and 2 paths),
    ``dtype`` and the concrete dtype classes numpy >= 1.25 pickles."""
    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    out: list[Any] = [scalar, (scalar, "numpy.core.multiarray.scalar"),
                      (scalar, "numpy._core.multiarray.scalar"), np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        for cls in ("Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType",
                    "BoolDType"):
            if hasattr(dtypes, cls):
                out.append(getattr(dtypes, cls))
    return out


SAFE_NUMPY_GLOBALS = _numpy_globals()


def _allow(globals_: list[Any]):
    """``torch.serialization.safe_globals`` (torch >= 2.5); on older torch, nothing is allowed
    beyond torch's defaults, and a file with numpy scalars then asks for ``trust``."""
    ctx = getattr(torch.serialization, "safe_globals", None)
    return ctx(globals_) if ctx is not None else contextlib.nullcontext()


#: How torch's weights-only unpickler words a refused global: "Unsupported global: GLOBAL x.y was
#: not an allowed global" (a module it may import) or "unsupported GLOBAL x.y whose module x is
#: blocked" (torch >= 2.6 for modules such as os/posix/subprocess).
_REFUSED_GLOBAL = re.compile(r"unsupported global", re.IGNORECASE)


def _refused_global(message: str) -> str | None:
    """The line of a weights-only error that names a refused global, or None for other errors."""
    if "Weights only load failed" not in message:
        return None
    for line in message.splitlines():
        if _REFUSED_GLOBAL.search(line):
            return line.split("WeightsUnpickler error:")[-1].strip()
    return None


#: torchvision's file names, ``<name>-<first hex digits of the file's sha256>.<extension>``; torch.hub's
#: own hash check reads the same part of the name.
_NAME_HASH = re.compile(r"-([0-9a-f]{6,64})\.[A-Za-z0-9]+$")


def name_sha256_prefix(name: str) -> str | None:
    """The sha256 prefix a torchvision-style file name carries (``resnet18-f37072fd.pth`` ->
    ``f37072fd``), or None."""
    m = _NAME_HASH.search(name)
    return m.group(1) if m else None


def _official_names(ckpt_cfg: Mapping[str, Any]) -> list[str]:
    if ckpt_cfg.get("file"):
        return [str(ckpt_cfg["file"])]
    return [str(f) for f in (ckpt_cfg.get("parts") or {}).values()]


def verify_name_hash(path: Path, sha256: str, ckpt_cfg: Mapping[str, Any], model_name: str) -> str | None:
    """Check a weights file against the hash its official name carries (YAML ``sha256_in_name``).

    Returns None when there is nothing to say, a one-line note for a file under another name whose
    bytes are not the official file's; raises :class:`VsslevalError` for a file under an official
    name whose sha256 does not start with that name's prefix. Such a file is refused even when the
    user names it: the name claims the official weights, and a run would record it as such while
    its numbers come from other bytes (a truncated download, a re-saved or retrained file); renaming
    it is the way to evaluate other weights on purpose.
    """
    if not ckpt_cfg.get("sha256_in_name"):
        return None
    official = _official_names(ckpt_cfg)
    prefixes = [p for p in map(name_sha256_prefix, official) if p]
    expected = name_sha256_prefix(path.name) if path.name in official else None
    if expected is not None:
        if not sha256.startswith(expected):
            raise VsslevalError(
                f"{path} is named as {model_name}'s official weights file but is not it: its sha256 starts "
                f"{sha256[:len(expected)]}, the name says {expected}. Get the official file from "
                f"{where_official(ckpt_cfg)}, or, to use other weights on purpose, give the file another "
                "name and pass it explicitly")
        return None
    if any(sha256.startswith(p) for p in prefixes):
        return None  # the official bytes under another name
    return (f"{path} is not the official weights file of {model_name} ({', '.join(official)}, from "
            f"{where_official(ckpt_cfg)}): used as given, its sha256 {sha256} is recorded in the run")


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A ``.safetensors`` file as a state dict (needs the optional extra ``aclssl``: safetensors)."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise VsslevalError(f"{path} is a .safetensors file, which needs the package safetensors: "
                            "pip install safetensors (in the repository checkout: pip install -e '.[aclssl]')") from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - the library raises its own error types for bad bytes
        raise VsslevalError(f"cannot read checkpoint {path}: not a valid safetensors file "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                            "Download it again.") from exc


def read_checkpoint(path: str | Path, trust: bool = False) -> Any:
    """``torch.load`` one file on the CPU, safely unless ``trust`` (``.safetensors`` files through
    :func:`read_safetensors`, which runs no code); errors become VsslevalError."""
    path = Path(path)
    if path.is_dir():
        raise VsslevalError(f"checkpoint {path} is a directory, not a weights file: pass the file itself")
    if not path.is_file():
        raise VsslevalError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    if trust:
        warnings.warn(f"loading {path} with full unpickling (trust_checkpoint=True): this can run "
                      "arbitrary code; do it only for files from a source you trust", stacklevel=2)
    try:
        if trust:
            return torch.load(path, map_location="cpu", weights_only=False)
        with _allow(SAFE_NUMPY_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # only a refused *global* means "Python objects inside"; other unpickler errors
        # (e.g. "Unsupported operand") mean the bytes are not a pickle at all
        refused = _refused_global(str(exc))
        if refused is not None:
            raise VsslevalError(
                f"checkpoint {path} holds Python objects that safe loading does not allow ({refused}); "
                "nothing in it was run. If, and only if, you trust the file's source, pass "
                "--trust-checkpoint (trust_checkpoint=True): full unpickling executes any code the file "
                "contains."
            ) from exc
        detail = str(exc).split("WeightsUnpickler error:")[-1].strip().splitlines()
        raise VsslevalError(f"cannot read checkpoint {path}: not a valid torch file "
                            f"({detail[0] if detail else type(exc).__name__}). Download it again.") from exc
    except (RuntimeError, EOFError, ValueError, OSError, KeyError) as exc:
        raise VsslevalError(f"cannot read checkpoint {path}: the file is truncated or not a torch "
                            f"checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                            "Download it again.") from exc


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def extract_state_dict(obj: Any, path: str | Path, preferred: str | None = None) -> dict[str, torch.Tensor]:
    """Unwrap a container to a bare ``{key: tensor}`` dict with leading ``module.`` removed."""
    if isinstance(obj, torch.nn.Module):  # only reachable with trust=True
        obj = obj.state_dict()
    if not _is_state_dict(obj):
        keys = [preferred] if preferred else []
        keys += [k for k in CONTAINER_KEYS if k != preferred]
        inner = next((obj[k] for k in keys if isinstance(obj, Mapping) and k in obj), None)
        if inner is None and isinstance(obj, Mapping) and obj and all(_is_state_dict(v) for v in obj.values()):
            # one state dict per sub-module, keyed by its name (ACL-SSL's Param_best.pth:
            # {'audio_proj': ..., 'masker_i': ...}): the keys become '<name>.<key>'
            inner = {f"{name}.{k}": v for name, sd in obj.items() for k, v in sd.items()}
        if not _is_state_dict(inner):
            found = sorted(map(str, obj))[:12] if isinstance(obj, Mapping) else type(obj).__name__
            raise VsslevalError(f"checkpoint {path} holds no state dict: expected a dict of tensors or a "
                                f"dict with one of {list(CONTAINER_KEYS)}, found {found}")
        obj = inner
    out: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        while key.startswith("module."):
            key = key[len("module."):]
        out[key] = value
    return out


def check_part_config(obj: Any, path: Path, prefix: str, ckpt_cfg: Mapping[str, Any], model_name: str) -> None:
    """Refuse a part whose container stores a configuration that differs from the YAML's
    ``part_config.<part>`` (``{key: entry of the container, expect: {setting: value}}``): BEATs'
    ``cfg`` holds settings (pre- or post-norm, deep norm, the gated relative position bias, the
    number of attention heads) that change the network without changing a weight's shape."""
    spec = (ckpt_cfg.get("part_config") or {}).get(prefix)
    if not spec:
        return
    where = f"the official {prefix!r} part: {where_part(ckpt_cfg, prefix)}"
    stored = obj.get(spec["key"]) if isinstance(obj, Mapping) else None
    if not isinstance(stored, Mapping):
        raise VsslevalError(f"{model_name}: {path} (part {prefix!r}) has no {spec['key']!r} entry holding its "
                            f"configuration; {where}")
    wrong = config_differences(stored, spec.get("expect") or {})
    if wrong:
        raise VsslevalError(f"{model_name}: {path} (part {prefix!r}) stores another configuration than the one "
                            f"this model is built for in {spec['key']!r} ({'; '.join(wrong)}); {where}")


def resolve_parts(checkpoint: Any, ckpt_cfg: Mapping[str, Any], model_name: str) -> list[tuple[str, Path]]:
    """Map the user's ``checkpoint`` argument to ``[(module_prefix, file)]``.

    Single-file models: a file path, or a directory holding the official file name.
    Multi-file models (``parts: {prefix: file name}``): a directory holding the official names,
    a ``{prefix: path}`` dict, a sequence of paths in ``parts`` order, or ``"a.pth,b.pth"``.
    """
    parts: dict[str, str] = dict(ckpt_cfg.get("parts") or {})
    if not parts:
        path = Path(checkpoint)
        if path.is_dir():
            name = ckpt_cfg.get("file")
            if not name or not (path / name).is_file():
                raise VsslevalError(f"{path} is a directory; expected the {model_name} checkpoint "
                                    f"{name or '(file)'} inside it, or pass the file itself")
            path = path / name
        return [("", path)]
    if isinstance(checkpoint, Mapping):
        missing = sorted(set(parts) - set(checkpoint))
        if missing:
            raise VsslevalError(f"{model_name} needs one file per part {sorted(parts)}; missing {missing}")
        return [(p, Path(checkpoint[p])) for p in parts]
    if isinstance(checkpoint, str) and "," in checkpoint:
        checkpoint = [c.strip() for c in checkpoint.split(",")]
    if len(parts) == 1 and not isinstance(checkpoint, (list, tuple)) and Path(checkpoint).is_file():
        return [(next(iter(parts)), Path(checkpoint))]
    if isinstance(checkpoint, (list, tuple)):
        if len(checkpoint) != len(parts):
            raise VsslevalError(f"{model_name} needs {len(parts)} checkpoint files "
                                f"({', '.join(parts.values())}), got {len(checkpoint)}")
        return [(p, Path(c)) for p, c in zip(parts, checkpoint)]
    folder = Path(checkpoint)
    if not folder.is_dir():
        raise VsslevalError(f"{model_name} ships as {len(parts)} files ({', '.join(parts.values())}): pass "
                            f"their folder, a list of paths or 'a.pth,b.pth'; got {folder}")
    return [(p, folder / name) for p, name in parts.items()]


def _describe(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    more = f" ... (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else ""
    return ", ".join(keys[:_SHOW]) + more


def match_state_dict(
    expected: Mapping[str, torch.Tensor],
    given: Mapping[str, torch.Tensor],
    ignore: Iterable[str] = (),
) -> tuple[dict[str, torch.Tensor], list[str], list[str], list[str], list[str]]:
    """Compare key sets and shapes. Returns ``(kept, missing, unexpected, mis_shaped, ignored)``."""
    ignore = list(ignore)
    kept, ignored = {}, []
    for k, v in given.items():
        if k not in expected and any(fnmatch.fnmatchcase(k, pat) for pat in ignore):
            ignored.append(k)
        else:
            kept[k] = v
    missing = [k for k in expected if k not in kept]
    unexpected = [k for k in kept if k not in expected]
    mis_shaped = [f"{k} {tuple(kept[k].shape)} != {tuple(expected[k].shape)}"
                  for k in kept if k in expected and tuple(kept[k].shape) != tuple(expected[k].shape)]
    return kept, missing, unexpected, mis_shaped, ignored


@dataclass
class CheckpointParts:
    """A checkpoint's files, read and checked, not yet matched against a model.

    ``parts``: ``(prefix, path, state dict)`` per file, the state dict's keys without the prefix;
    ``records``: ``{"part", "path", "sha256"}`` per file; ``notes``: lines to show the user.
    """

    parts: list[tuple[str, Path, dict[str, torch.Tensor]]]
    records: list[dict[str, str]]
    notes: list[str]


def read_parts(checkpoint: Any, ckpt_cfg: Mapping[str, Any], model_name: str, trust: bool = False) -> CheckpointParts:
    """Locate, hash and read every file of ``checkpoint`` and check each part's stored
    configuration; nothing here needs the model, so :func:`vssleval.models.registry.build_model`
    calls it before building the network (a wrong or missing file is named at once, not after the
    seconds a ViT-B/16 takes to initialise)."""
    records, notes, parts = [], [], []
    # every part is located before any is read: a missing one is named at once, not after
    # minutes of reading the others
    located, absent = [], []
    for prefix, path in resolve_parts(checkpoint, ckpt_cfg, model_name):
        try:
            path = resolve_hf_folder(prefix, path, ckpt_cfg, model_name)
        except VsslevalError as exc:
            absent.append(str(exc).removeprefix(f"{model_name}: "))
            continue
        if not path.exists() and prefix:
            absent.append(f"its part {prefix!r} is missing: {path} does not exist; get it from "
                          f"{where_part(ckpt_cfg, prefix)}")
        located.append((prefix, path))
    if absent:  # every missing part, in one line
        raise VsslevalError(f"{model_name}: " + "; ".join(absent))
    for prefix, path in located:
        if not path.is_file():  # before hashing: the same message read_checkpoint gives
            read_checkpoint(path, trust)
        try:
            sha256 = file_sha256(path)
        except OSError as exc:
            raise VsslevalError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
        note = verify_name_hash(path, sha256, ckpt_cfg, model_name)
        if note:
            notes.append(note)
        records.append({"part": prefix, "path": str(path), "sha256": sha256})
        obj = read_checkpoint(path, trust)
        check_part_config(obj, path, prefix, ckpt_cfg, model_name)
        parts.append((prefix, path, extract_state_dict(obj, path, ckpt_cfg.get("container_key"))))
    return CheckpointParts(parts, records, notes)


def load_into(
    model: torch.nn.Module,
    checkpoint: Any,
    ckpt_cfg: Mapping[str, Any],
    model_name: str,
    trust: bool = False,
    guess: Callable[[Mapping[str, torch.Tensor]], str] | None = None,
) -> list[Path]:
    """Strictly load ``checkpoint`` (what :func:`read_parts` takes, or its result) into ``model``;
    return the files read.

    ``guess(state_dict)`` returns a sentence naming the registered model a mismatching file most
    likely belongs to (see :func:`vssleval.models.registry.guess_model`).

    Sets on ``model``: ``checkpoint_files`` (``[{"part", "path", "sha256"}]``, one per file read),
    ``checkpoint_sha256`` (the one file's sha256, or ``{file name: sha256}`` for several) and
    ``checkpoint_notes`` (lines to show the user, e.g. "not the official file").
    """
    read = checkpoint if isinstance(checkpoint, CheckpointParts) else read_parts(checkpoint, ckpt_cfg, model_name, trust)
    expected = model.state_dict()
    merged: dict[str, torch.Tensor] = {}
    files = []
    for prefix, path, sd in read.parts:
        part = {(f"{prefix}." if prefix else "") + k: v for k, v in sd.items()}
        kept, missing, unexpected, mis_shaped, _ = match_state_dict(
            {k: v for k, v in expected.items() if not prefix or k.startswith(prefix + ".")},
            part, ckpt_cfg.get("ignore_keys") or ())
        if missing or unexpected or mis_shaped:
            lines = [f"checkpoint {path} does not fit model {model_name!r}"
                     + (f" (part {prefix!r})" if prefix else "") + " under strict loading:"]
            if missing:
                lines.append(f"  missing keys ({len(missing)}): {_describe(missing)}")
            if unexpected:
                lines.append(f"  unexpected keys ({len(unexpected)}): {_describe(unexpected)}")
            if mis_shaped:
                lines.append(f"  wrong shapes ({len(mis_shaped)}): {_describe(mis_shaped)}")
            if guess is not None:
                lines.append("  " + guess(sd))
            if prefix and (ckpt_cfg.get("part_releases") or {}).get(prefix):
                lines.append(f"  the official {prefix!r} part: {where_part(ckpt_cfg, prefix)}")
            raise VsslevalError("\n".join(lines))
        dropped = len(part) - len(kept)
        if dropped:
            log.info("%s: dropped %d training-only keys listed in ignore_keys", path, dropped)
        merged.update(kept)
        files.append(path)
    left = [k for k in expected if k not in merged]
    if left:  # a multi-part layout that does not cover the whole model
        raise VsslevalError(f"checkpoint for {model_name!r} leaves keys unset: {_describe(left)}")
    # every key matched above, so a strict load cannot leave any tensor at its random init
    model.load_state_dict(merged, strict=True)
    records = read.records
    model.checkpoint_files = records
    model.checkpoint_sha256 = (records[0]["sha256"] if len(records) == 1
                               else {Path(r["path"]).name: r["sha256"] for r in records})
    model.checkpoint_notes = read.notes
    return files
