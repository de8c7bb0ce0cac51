"""What a run is: the model, the data, the negatives and the seeds, as one recorded configuration."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from vssleval import limits
from vssleval.data.checks import DEFAULT_MAX_SKIP_FRACTION, validate_max_skip_fraction
from vssleval.errors import VsslevalError
from vssleval.fingerprint import file_sha256  # the one file-hashing helper (re-exported here)
from vssleval.metrics.protocols import PROTOCOLS
from vssleval.vocabulary import NEGATIVES

#: The seed labels of the official protocol (vssl_eval's ``random_seeds``). There they were inert
#: (docs/protocols.md §2.4); here seed s drives every noise and offscreen draw as a function of
#: (s, sample index), so ``--seeds K`` takes the first K of these, then 10000, 10001, ...
PROTOCOL_SEEDS = (1234, 2345, 3456, 4567, 5678, 6789, 7890, 8901, 9012, 9999)


def seed_list(k: int) -> list[int]:
    """The first ``k`` run seeds."""
    k = limits.check("seeds", k)
    extra = [10000 + i for i in range(max(0, k - len(PROTOCOL_SEEDS)))]
    return list(PROTOCOL_SEEDS[:k]) + extra


def parse_negatives(value: Any) -> tuple[str, ...]:
    """``--neg silence|noise|offscreen|all|none`` (comma-separated lists allowed; the API also takes a
    list or tuple of these names) -> ordered tuple (``none``: the positive audio only, e.g. for
    ``--protocol native``). Anything else -- a name that is no negative, a value that is not text,
    ``all`` or ``none`` beside other names -- is one :class:`VsslevalError`, the same for the CLI and
    the API."""
    usage = f"use one of {', '.join(NEGATIVES)}, a comma-separated list, all or none"
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = [part for item in value for part in (item.split(",") if isinstance(item, str) else [item])]
    else:
        raise VsslevalError(f"--neg {value!r}: {usage} (a text, or a list of names)")
    if not all(isinstance(p, str) for p in items):
        odd = next(p for p in items if not isinstance(p, str))
        raise VsslevalError(f"--neg {value!r}: {odd!r} is not a name; {usage}")
    parts = [p.strip() for p in items if p.strip()]
    if parts in (["all"], ["none"]):
        return NEGATIVES if parts == ["all"] else ()
    alone = [p for p in parts if p in ("all", "none")]
    if alone:
        raise VsslevalError(f"--neg {value!r}: {alone[0]!r} stands alone (it means "
                            f"{'every negative' if alone[0] == 'all' else 'no negative'}); {usage}")
    bad = [p for p in parts if p not in NEGATIVES]
    if bad or not parts:
        raise VsslevalError(f"--neg {value!r}: {usage}")
    return tuple(n for n in NEGATIVES if n in parts)


def check_protocol(value: Any) -> str:
    """``value`` when it names a protocol of :data:`vssleval.metrics.PROTOCOLS` (the ``--protocol``
    option of the CLI and the API, and ``RunSpec.protocol``), else one :class:`VsslevalError`."""
    if not isinstance(value, str) or value not in PROTOCOLS:
        raise VsslevalError(f"unknown --protocol {value!r}; use {' or '.join(PROTOCOLS)}")
    return value


def missing_path_reason(path: str | Path) -> str:
    """Why ``path`` cannot be opened, in words: ``does not exist``, or, for a symbolic link that
    resolves to nothing, which link and why (a dangling target or a loop)."""
    path = Path(path)
    if not path.is_symlink():
        return "does not exist"
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 raises RuntimeError for a loop
        return "is a symbolic link that loops back on itself"
    except OSError as exc:
        if "loop" in str(exc).lower() or getattr(exc, "errno", None) == 40:  # ELOOP
            return "is a symbolic link that loops back on itself"
    return f"is a symbolic link to {os.readlink(path)}, which does not exist"


def checkpoint_files(checkpoint: str | None) -> list[Path]:
    """The files a ``--checkpoint`` value names: one file, ``"a.pth,b.pth"``, or a folder's files."""
    if not checkpoint:
        return []
    paths = [Path(c.strip()) for c in str(checkpoint).split(",") if c.strip()]
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path])
    return files


def checkpoint_sha256(checkpoint: str | None, parts: list[Path] | None = None,
                      hashed: Mapping[str, str] | None = None) -> str | dict[str, str] | None:
    """sha256 of the checkpoint file, or ``{file name: sha256}`` for a model shipped as several files
    (SACL: a folder or ``"a.pth,b.pth"``); ``parts`` are the files the model actually loaded.
    ``hashed``: ``{path: sha256}`` of files already hashed as they were read (the model's
    ``checkpoint_files``), taken instead of reading a file of the same path again."""
    files = parts if parts is not None else checkpoint_files(checkpoint)
    if not files:
        return None
    hashed = hashed or {}

    def sha256(f) -> str:
        return hashed.get(str(f)) or file_sha256(f)

    if len(files) == 1 and Path(str(checkpoint)).is_file():
        return sha256(files[0])
    return {Path(f).name: sha256(f) for f in files}


def package_versions() -> dict[str, str]:
    import numpy
    import scipy
    import torch

    import vssleval

    return {"vssleval": vssleval.__version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "torchvision": torchvision_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "platform": platform.platform()}


def torchvision_version() -> str:
    """torchvision's ``__version__`` (with its build tag, e.g. ``0.29.1+cu130``), without importing it
    where it is not imported yet: ``import torchvision`` imports all of ``torchvision.ops`` and with it
    ``torch._dynamo``, 2-5 CPU-seconds that a run whose model needs no torchvision (the baselines,
    ACL-SSL, a maps file) would pay only to record the version. The installed package's
    ``version.py`` states it; the distribution's metadata, which lacks the build tag, is the fallback."""
    import importlib.util
    import re
    from importlib import metadata

    module = sys.modules.get("torchvision")
    if module is not None:
        return module.__version__
    try:
        spec = importlib.util.find_spec("torchvision")
        folder = Path(next(iter(spec.submodule_search_locations)))
        found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", (folder / "version.py").read_text(), re.M)
        if found:
            return found.group(1)
    except (AttributeError, OSError, StopIteration, TypeError, ValueError):
        pass
    try:
        return metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        return "not installed"


@dataclass
class RunSpec:
    """Everything that determines a run's maps (and a few things recorded beside them).

    ``noise_bank`` = 0 draws an independent noise clip for every (seed, sample); K > 0 draws K clips
    per seed and assigns one to each sample by the sampler (see :mod:`vssleval.engine.runner`).

    Why the default is 0 (independent noise): it is the protocol as defined -- one N(0,1) draw per
    sample and seed -- so a default run's noise numbers carry no extra design choice. A bank keeps
    every sample's noise exactly N(0,1) (no bias) but makes samples sharing a slot share the
    realisation, so a seed's noise metrics rest on K instead of N independent draws and vary more
    between seeds. The engine already reuses image, positive, silence and offscreen features, so
    independent noise costs S x N audio forwards and still meets the >= 6x target at 10 seeds
    (``scripts/bench_engine.py`` measures both settings and prints the noise metrics under each);
    ``--noise-bank K`` is for sweeps and quick looks, and K is recorded in the run's configuration.
    """

    model: str
    dataset: str
    data_dir: str | None = None
    checkpoint: str | None = None
    model_file: str | None = None
    preset: str = "juanola2025"
    protocol: str = "vssleval"
    negatives: tuple[str, ...] = NEGATIVES
    seeds: list[int] = field(default_factory=lambda: seed_list(10))
    noise_bank: int = 0
    batch_size: int = 32
    num_workers: int = 0
    device: str = "auto"
    amp: str | None = None
    skip_bad: bool = False
    trust_checkpoint: bool = False
    ogl_weights: str | None = None
    limit: int | None = None
    max_skip_fraction: float = DEFAULT_MAX_SKIP_FRACTION
    #: score non-finite maps instead of stopping (recorded, but not part of the run's identity: the
    #: maps do not depend on it, so a store can be rescored with it)
    allow_nonfinite: bool = False

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        limits.validate(batch_size=self.batch_size, noise_bank=self.noise_bank, workers=self.num_workers,
                        limit=self.limit, seeds=len(self.seeds))
        for seed in self.seeds:
            limits.check("seed_values", seed)
        self.max_skip_fraction = validate_max_skip_fraction(self.max_skip_fraction)
        checkpoints = [c.strip() for c in str(self.checkpoint).split(",")] if self.checkpoint else []
        for label, path in ([("--checkpoint", c) for c in checkpoints] + [("--data-dir", self.data_dir),
                            ("--ogl-weights", self.ogl_weights)]):
            if path is not None and not Path(path).exists():
                raise VsslevalError(f"{label} {path} {missing_path_reason(path)}")
        if self.data_dir is not None and not Path(self.data_dir).is_dir():
            raise VsslevalError(f"--data-dir {self.data_dir} is a file, not a folder: pass the dataset's folder "
                                f"(the one that holds the media and annotation files)")

    def to_config(self, checkpoint_parts: list[Path] | None = None,
                  hashed: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON configuration recorded in the store and every output.

        ``checkpoint_parts``: the files the model loaded (a multi-file checkpoint's folder may hold
        others); by default every file ``--checkpoint`` names. ``hashed``: ``{path: sha256}`` of the
        files the model hashed as it read them (:func:`checkpoint_sha256`).
        """
        cfg = asdict(self)
        # a gate checked at every start (docs/datasets.md §8), not part of what the maps are: a resumed
        # run may raise it; the skips themselves are recorded (Engine.config: "skipped")
        cfg.pop("max_skip_fraction")
        cfg["negatives"] = list(self.negatives)
        cfg["checkpoint_sha256"] = checkpoint_sha256(self.checkpoint, checkpoint_parts, hashed)
        cfg["versions"] = package_versions()
        return cfg
