"""The heatmap store: every raw low-resolution map of a run, resumable and written atomically.

Format (one directory per run, ``RUN/store/``)::

    config.json            the run configuration (model, checkpoint sha256, preset, protocol,
                           dataset, seeds, noise bank, batch size, versions, ...)
    shard-000000.npz       one per batch of samples, written atomically (temp file + rename):
        index          int64  [n]            dataset positions of the samples
        ids            str    [n]            sample ids
        positive       float32 [n,h,w]       raw map under the positive audio
        silence        float32 [n,h,w]       raw map under digital silence
        noise          float32 [S,n,h,w]     raw map under the noise draw of each seed
        offscreen      float32 [S,n,h,w]     raw map under the offscreen clip of each seed
        offscreen_ids  str    [S,n]          which clip was used as offscreen audio
        ogl            float32 [n,7,7]       object prior (optional, when the run computes it)
    COMPLETE               written last, holding the number of shards, when every shard exists

Why sharded ``.npz`` rather than HDF5 or zarr: it needs nothing beyond NumPy (anyone can read a
store without vssleval), each shard is written with a single atomic rename so a killed run leaves
only complete shards (HDF5 files can be corrupted by a kill mid-write), resuming is "skip the
shards that exist", and under ``torchrun`` every rank writes its own shards without locking.
Shards are numbered by batch position, so the batch size is part of the run's identity.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from vssleval.errors import VsslevalError
from vssleval.io_utils import atomic_path, ensure_output_dir, write_json_atomic, write_text_atomic

CONFIG_FILE = "config.json"
COMPLETE_FILE = "COMPLETE"
_SHARD_RE = re.compile(r"^shard-(\d{6})\.npz$")

#: Configuration keys that do not change the maps: they are recorded, but a resumed run may differ.
VOLATILE_KEYS = frozenset({"device", "num_workers", "versions", "started", "command", "amp_note", "world_size",
                           "allow_nonfinite"})


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in VOLATILE_KEYS}


def _describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diffs[:8]) + (" ..." if len(diffs) > 8 else "")


class HeatmapStore:
    """A run's raw maps on disk (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, config: dict[str, Any], resume: bool = False,
               overwrite: bool = False) -> "HeatmapStore":
        """Open ``root`` for writing a run with ``config``.

        An existing store with the same configuration is resumed only with ``resume=True``; with
        another configuration it is refused unless ``overwrite=True`` (which deletes its shards).
        Both flags together mean "make this folder hold this run": resume it when the configuration
        is the same, replace it when not (what a re-run of a whole job wants).
        """
        store = cls(root)
        cfg_path = store.root / CONFIG_FILE
        if cfg_path.exists():
            old = store.config
            same = _identity(old) == _identity(json.loads(json.dumps(config)))
            if overwrite and not (same and resume):
                store._clear()
            elif not same:
                raise VsslevalError(
                    f"{store.root} holds a run with another configuration "
                    f"({_describe_difference(_identity(old), _identity(config))}); "
                    "choose another --out, or pass --overwrite to replace it"
                )
            elif not resume:
                state = "a complete" if store.is_complete() else "an unfinished"
                raise VsslevalError(
                    f"{store.root} already holds {state} run with this configuration "
                    f"({len(store.shard_numbers())} shards); pass --resume to continue it or "
                    "--overwrite to start again"
                )
        ensure_output_dir(store.root, what="run folder")
        store._remove_stale_temp_files()
        write_json_atomic(cfg_path, config)
        return store

    def _remove_stale_temp_files(self) -> None:
        """Delete the temp files of writes that a SIGKILL interrupted before their rename.

        They never count as shards (the name pattern excludes them) but would litter the store;
        only the process opening the store for writing runs this, before any rank writes.
        """
        for path in self.root.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    @classmethod
    def open(cls, root: str | Path) -> "HeatmapStore":
        """Open an existing store for reading (``root`` may be a run directory or its store)."""
        root = Path(root)
        for candidate in (root, root / "store"):
            if (candidate / CONFIG_FILE).is_file():
                return cls(candidate)
        raise VsslevalError(f"no heatmap store at {root} (expected {root}/store/{CONFIG_FILE}); "
                            "run `vssleval infer` or `vssleval evaluate` first")

    def _clear(self) -> None:
        for path in self.root.glob("shard-*.npz"):
            path.unlink()
        for name in (COMPLETE_FILE, CONFIG_FILE):
            (self.root / name).unlink(missing_ok=True)

    # -- contents --------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return json.loads((self.root / CONFIG_FILE).read_text(encoding="utf-8"))

    def shard_path(self, number: int) -> Path:
        return self.root / f"shard-{number:06d}.npz"

    def has_shard(self, number: int) -> bool:
        return self.shard_path(number).is_file()

    def shard_numbers(self) -> list[int]:
        return sorted(int(m.group(1)) for p in self.root.iterdir() if (m := _SHARD_RE.match(p.name)))

    def write_shard(self, number: int, arrays: dict[str, np.ndarray]) -> None:
        """Write one shard atomically; a kill leaves either the whole shard or nothing."""
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        pickled = [k for k, v in arrays.items() if v.dtype == object]
        if pickled:  # stores must stay readable with allow_pickle=False
            raise TypeError(f"shard arrays {pickled} have dtype object; store numbers or fixed-width strings")
        with atomic_path(self.shard_path(number)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    def read_shard(self, number: int) -> dict[str, np.ndarray]:
        path = self.shard_path(number)
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # corrupted despite atomic writes
            raise VsslevalError(f"cannot read heatmap shard {path}: {exc}; delete it and rerun with --resume") from exc

    def iter_shards(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield the shards in dataset order, one at a time (memory stays flat)."""
        for number in self.shard_numbers():
            yield self.read_shard(number)

    def mark_complete(self, n_shards: int) -> None:
        missing = [k for k in range(n_shards) if not self.has_shard(k)]
        if missing:
            raise VsslevalError(f"store {self.root} is missing shards {missing[:10]}; rerun with --resume")
        write_text_atomic(self.root / COMPLETE_FILE, f"{n_shards}\n")

    def is_complete(self) -> bool:
        return (self.root / COMPLETE_FILE).is_file()

    def require_complete(self) -> None:
        """Raise unless the run finished and every shard it wrote is still there."""
        if not self.is_complete():
            raise VsslevalError(f"the run in {self.root} is unfinished; rerun it with --resume before reporting")
        marker = self.root / COMPLETE_FILE
        try:
            n_shards = int(marker.read_text(encoding="utf-8").strip())
        except (OSError, ValueError) as exc:
            raise VsslevalError(f"{marker} does not hold a shard count ({exc}); delete it and rerun the run "
                                "with --resume") from exc
        present = set(self.shard_numbers())
        missing = [k for k in range(n_shards) if k not in present]
        if missing:
            raise VsslevalError(f"{self.root} is marked complete with {n_shards} shards but shards {missing[:10]} "
                                f"are missing (e.g. {self.shard_path(missing[0]).name}); rerun the run with "
                                "--resume to compute them again")

    # -- interchange -----------------------------------------------------------------------------
    #: Per-seed members (seed axis first, samples on axis 1); every other member has samples on axis 0.
    PER_SEED = ("noise", "offscreen", "offscreen_ids")

    def _shards(self) -> list[dict[str, np.ndarray]]:
        self.require_complete()
        shards = [self.read_shard(k) for k in self.shard_numbers()]
        if not shards:
            raise VsslevalError(f"store {self.root} has no shards")
        return shards

    def _member(self, shards: list[dict[str, np.ndarray]], member: str) -> np.ndarray:
        if not all(member in s for s in shards):
            raise VsslevalError(f"the run in {self.root} has no {member!r} maps (negatives computed: "
                                f"{', '.join(self.config.get('negatives') or []) or 'none'})")
        value = np.concatenate([s[member] for s in shards], axis=1 if member in self.PER_SEED else 0)
        return value.astype(np.float32) if value.dtype.kind == "f" else value

    def maps(self, member: str) -> np.ndarray:
        """One member of every shard, concatenated over samples (float maps as float32).

        ``positive``/``silence`` ``[N,h,w]``, ``noise``/``offscreen`` ``[S,N,h,w]``,
        ``offscreen_ids`` ``[S,N]``, ``ids`` ``[N]``, ``ogl`` ``[N,7,7]``. A member the run did
        not compute (``--neg``, no object prior) is a :class:`VsslevalError`.
        """
        return self._member(self._shards(), member)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every member of the run as plain arrays (what :meth:`export_npz` writes)."""
        shards = self._shards()
        arrays = {m: self._member(shards, m)
                  for m in ("ids", "positive", "silence", "noise", "offscreen", "offscreen_ids")
                  if all(m in s for s in shards)}
        arrays["seeds"] = np.asarray(self.config.get("seeds", []), dtype=np.int64)
        arrays["config"] = np.asarray(json.dumps(self.config))
        if all("ogl" in s for s in shards):
            arrays["ogl"] = self._member(shards, "ogl")
        return arrays

    def export_npz(self, out: str | Path) -> Path:
        """Write the whole run as one plain NumPy archive (documented in the README).

        Members: ``ids`` [N] str, ``positive`` [N,h,w] float32, ``silence`` [N,h,w] float32,
        ``noise``/``offscreen`` [S,N,h,w] float32, ``offscreen_ids`` [S,N] str, ``seeds`` [S] int64,
        ``config`` (JSON string), and ``ogl`` [N,7,7] float32 when the run has it; a negative the
        run did not compute (``--neg``) has no member.
        """
        out = Path(out)
        if out.is_dir():
            raise VsslevalError(f"{out} is a directory; give the path of the .npz file to write, e.g. {out / 'maps.npz'}")
        arrays = self.arrays()
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return out
