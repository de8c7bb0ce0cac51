"""The heatmap store of one run: opening it for writing or reading, its shards, its completion.

One job: the :class:`HeatmapStore` object, which ties the three parts of the store together: the
shard format (:mod:`.shards`), the manifest and its verification (:mod:`.manifest`), and the run
folder's ownership (:mod:`.ownership`). A store is ``RUN/store/``::

    config.json            the run configuration (model, checkpoint sha256, preset, protocol, dataset,
                           seeds, noise bank, batch size, versions, ...), its ``store_format`` and the
                           ``fingerprint`` of its inputs (vssleval/fingerprint.py)
    inputs.json            every file the run read (size, modification time, sha256) and every
                           record's digest: what a refused ``--resume`` names when the inputs changed
    shard-000000.npz       one per batch of samples, written atomically (members: :mod:`.shards`)
    COMPLETE               written last, when every shard exists: the shard manifest (:mod:`.manifest`)

Why sharded ``.npz`` rather than HDF5 or zarr: it needs nothing beyond NumPy (anyone can read a
store without vssleval), each shard is written with a single atomic rename so a killed run leaves
only complete shards (HDF5 files can be corrupted by a kill mid-write), resuming is "skip the
shards that exist", and under ``torchrun`` every rank writes its own shards without locking.
Shards are numbered by batch position, so the batch size is part of the run's identity.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vssleval import fingerprint as fp
from vssleval.engine.store import manifest
from vssleval.engine.store.interchange import header_members
from vssleval.engine.store.manifest import COMPLETE_FILE, CONFIG_FILE, FORMAT_KEY
from vssleval.engine.store.ownership import (
    check_run_folder,
    config_hash,
    holds_maps,
    identity,
    read_json,
    refuse_changed_inputs,
    release_run_folder,
    run_difference,
    run_folder_owner,
    run_label,
)
from vssleval.engine.store.shards import (
    EXTREMES_SUFFIX,
    MAP_MEMBERS,
    PER_SEED,
    read_shard_file,
    shard_headers,
    shard_name,
    shard_numbers_in,
    write_shard_file,
)
from vssleval.errors import VsslevalError
from vssleval.io_utils import atomic_path, ensure_output_dir, write_json_atomic


class HeatmapStore:
    """A run's raw maps on disk (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def create_in_run(cls, run_dir: str | Path, config: dict[str, Any], resume: bool = False,
                      overwrite: bool = False, inputs: dict[str, Any] | None = None) -> HeatmapStore:
        """Open ``run_dir/store`` for writing a run with ``config``, after checking that ``run_dir``
        holds no other run (:func:`check_run_folder`; ``overwrite`` replaces that run) and that a
        run with these settings there read the same inputs (:func:`refuse_changed_inputs`).
        ``inputs``: the detail of ``config``'s fingerprint, written to ``store/inputs.json``."""
        run_dir = Path(run_dir)
        refuse_changed_inputs(run_dir / "store", config, inputs, overwrite, resume)  # the data changed: say so first
        check_run_folder(run_dir, config, overwrite=overwrite,
                         fix="choose another --out, or pass --overwrite to replace that run")
        owner = run_folder_owner(run_dir)  # before create() clears a replaced store
        store = cls.create(run_dir / "store", config, resume=resume, overwrite=overwrite, inputs=inputs)
        if overwrite and owner is not None and owner[0] != config_hash(config):
            release_run_folder(run_dir)  # the marker of the replaced run
        return store

    @classmethod
    def create(cls, root: str | Path, config: dict[str, Any], resume: bool = False,
               overwrite: bool = False, inputs: dict[str, Any] | None = None) -> HeatmapStore:
        """Open ``root`` for writing a run with ``config`` (``inputs``: its fingerprint's detail).

        An existing store with the same configuration is resumed only with ``resume=True`` (after
        checking its format and that the shards already there are this run's); with another
        configuration it is refused unless ``overwrite=True`` (which deletes its shards). Both flags
        together mean "make this folder hold this run": resume it when the configuration is the
        same, replace it when not (what a re-run of a whole job wants). A store holding no shard (a
        start that failed before its first batch) holds no run: it is started afresh. A run with the
        same settings whose inputs changed (its fingerprint) is refused unless ``overwrite``. The
        configuration written records this vssleval's ``store_format``.
        """
        store = cls(root)
        cfg_path = store.root / CONFIG_FILE
        config = {**config, FORMAT_KEY: manifest.format_record()}
        refuse_changed_inputs(store.root, config, inputs, overwrite, resume)
        if cfg_path.exists() and store.holds_maps():
            store._check_replaceable(config, resume, overwrite)
        ensure_output_dir(store.root, what="run folder")
        store._remove_stale_temp_files()
        write_json_atomic(cfg_path, config)
        if inputs is not None:
            write_json_atomic(store.root / fp.INPUTS_FILE, inputs, indent=None)
        else:  # a run that fingerprints nothing keeps no detail of another
            (store.root / fp.INPUTS_FILE).unlink(missing_ok=True)
        return store

    def _check_replaceable(self, config: dict[str, Any], resume: bool, overwrite: bool) -> None:
        """The rules of :meth:`create` for a store that already holds a run: clear it, refuse, or
        check that it can be resumed."""
        old = read_json(self.root / CONFIG_FILE)
        if not isinstance(old, dict):
            old = {}
        same = identity(old) == identity(config)
        if overwrite and not (same and resume):
            self._clear()
            return
        if not same:
            raise VsslevalError(
                f"{self.root} holds another run, {run_label(old, config_hash(old))}; refusing to write "
                f"{run_label(config, config_hash(config))} there ({run_difference(old, config)}); "
                "choose another --out, or pass --overwrite to replace it")
        if not overwrite:  # a store of another format is never resumed, only replaced
            manifest.check_format(old.get(FORMAT_KEY), self.root / CONFIG_FILE, old.get("versions"))
        if not resume:
            state = "a complete" if self.is_complete() else "an unfinished"
            raise VsslevalError(
                f"{self.root} already holds {state} run with this configuration "
                f"({len(self.shard_numbers())} shards); pass --resume to continue it or "
                "--overwrite to start again")
        manifest.check_resumable(self.root, config, self.is_complete())

    def holds_maps(self) -> bool:
        """Whether the store holds any shard (or a completion marker)."""
        return holds_maps(self.root)

    def _remove_stale_temp_files(self) -> None:
        """Delete the temp files of writes that a SIGKILL interrupted before their rename.

        They never count as shards (the name pattern excludes them) but would litter the store;
        only the process opening the store for writing runs this, before any rank writes.
        """
        for path in self.root.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    @classmethod
    def open(cls, root: str | Path) -> HeatmapStore:
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
        for name in (COMPLETE_FILE, CONFIG_FILE, fp.INPUTS_FILE):
            (self.root / name).unlink(missing_ok=True)

    # -- contents --------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The run configuration, after checking that the store is of this vssleval's format."""
        path = self.root / CONFIG_FILE
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VsslevalError(f"cannot read the run configuration {path} ({exc}); the store is damaged: "
                                "run the command again with --overwrite (or another --out)") from exc
        if not isinstance(config, dict):
            raise VsslevalError(f"{path} does not hold a run configuration (a JSON object); the store is damaged: "
                                "run the command again with --overwrite (or another --out)")
        manifest.check_format(config.get(FORMAT_KEY), path, config.get("versions"))
        return config

    def shard_path(self, number: int) -> Path:
        return self.root / shard_name(number)

    def has_shard(self, number: int) -> bool:
        return self.shard_path(number).is_file()

    def shard_numbers(self) -> list[int]:
        return shard_numbers_in(self.root)

    def members(self) -> set[str]:
        """The array names of the store's shards (the first shard's header; every shard of a
        complete store has the same ones, :func:`.manifest.check_structure`)."""
        numbers = self.shard_numbers()
        return set(shard_headers(self.shard_path(numbers[0]))) if numbers else set()

    def write_shard(self, number: int, arrays: dict[str, np.ndarray], codes: dict[str, str] | None = None) -> None:
        """Write one shard atomically (:func:`.shards.write_shard_file`; ``codes``: the map members
        stored encoded, :meth:`.reduce.StoreMaps.codes`)."""
        write_shard_file(self.shard_path(number), arrays, codes)

    #: True: :meth:`read_shard` gives a map shared with ``positive`` as a read-only view, for
    #: readers that only read (:func:`.shards.read_shard_file`); see :meth:`read_only`.
    views = False

    @contextlib.contextmanager
    def read_only(self) -> Iterator[HeatmapStore]:
        """Within the block, shards are read with :attr:`views` (the scoring reads, never writes)."""
        before, self.views = self.views, True
        try:
            yield self
        finally:
            self.views = before

    def read_shard(self, number: int) -> dict[str, np.ndarray]:
        """The shard's arrays, a map shared with ``positive`` as the full array (a read-only view with
        :attr:`views`; :func:`.shards.read_shard_file`)."""
        return read_shard_file(self.shard_path(number), self.views)

    def iter_shards(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield the shards in dataset order, one at a time (memory stays flat); a complete store
        is verified against its manifest first."""
        numbers = self.verify() if self.is_complete() else self.shard_numbers()
        for number in numbers:
            yield self.read_shard(number)

    # -- completion and verification ---------------------------------------------------------------
    def mark_complete(self, n_shards: int) -> None:
        """Write ``COMPLETE``: the manifest of the ``n_shards`` shards, after checking that they are
        all there, nothing else is, and their arrays fit together (names, shapes, unique ids)."""
        missing = [k for k in range(n_shards) if not self.has_shard(k)]
        if missing:
            raise VsslevalError(f"store {self.root} is missing shards {missing[:10]}; rerun with --resume")
        manifest.refuse_stray(self.root, n_shards)
        config = self.config
        items = manifest.headers_of(self.root, list(range(n_shards)))
        manifest.check_structure(self.root, items, config, complete=True)
        manifest.check_ids(self.root, items, config)
        manifest.write_manifest(self.root, items, config_hash(config))

    def is_complete(self) -> bool:
        return (self.root / COMPLETE_FILE).is_file()

    def verify(self) -> list[int]:
        """Check a complete store before it is read (:func:`.manifest.verify_complete`); return its
        shard numbers in order."""
        if not self.is_complete():
            raise VsslevalError(f"the run in {self.root} is unfinished; rerun it with --resume before reporting")
        return list(range(manifest.verify_complete(self.root, self.config)))

    def require_complete(self) -> None:
        """Raise unless the run finished and its shards are the ones it wrote (:meth:`verify`)."""
        self.verify()

    # -- interchange -----------------------------------------------------------------------------
    def _shards(self) -> list[dict[str, np.ndarray]]:
        shards = [self.read_shard(k) for k in self.verify()]
        if not shards:
            raise VsslevalError(f"store {self.root} has no shards")
        return shards

    def _member(self, shards: list[dict[str, np.ndarray]], member: str) -> np.ndarray:
        if not all(member in s for s in shards):
            raise VsslevalError(f"the run in {self.root} has no {member!r} maps (negatives computed: "
                                f"{', '.join(self.config.get('negatives') or []) or 'none'})")
        value = np.concatenate([s[member] for s in shards], axis=1 if member in PER_SEED else 0)
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
        names = ("ids", *MAP_MEMBERS, "offscreen_ids", *(m + EXTREMES_SUFFIX for m in MAP_MEMBERS))
        arrays = {m: self._member(shards, m) for m in names if all(m in s for s in shards)}
        arrays["seeds"] = np.asarray(self.config.get("seeds", []), dtype=np.int64)
        arrays["config"] = np.asarray(json.dumps(self.config))
        for member in ("ogl", "confidence"):
            if all(member in s for s in shards):
                arrays[member] = self._member(shards, member)
        return {**header_members(self.config), **arrays}

    def check_export_target(self, out: str | Path) -> None:
        """Refuse an export path that is a folder, lies inside a store (this one or another), or
        lies in the folder of another run."""
        out = Path(out)
        if out.is_dir():
            raise VsslevalError(f"{out} is a directory; give the path of the .npz file to write, e.g. {out / 'maps.npz'}")
        check_run_folder(out.parent, self.config, source=self.root,
                         fix="choose another file for the export (e.g. in this run's folder or a new one)")

    def export_npz(self, out: str | Path) -> Path:
        """Write the whole run as one maps file, a plain NumPy archive (docs/maps-format.md, which
        ``vssleval score`` reads back).

        Members: the header (``format``, ``format_version``, ``producer``, ``dataset``, ``scale``:
        :mod:`.interchange`), ``ids`` [N] str, ``positive`` [N,h,w] float32, ``silence`` [N,h,w] float32,
        ``noise``/``offscreen`` [S,N,h,w] float32, ``offscreen_ids`` [S,N] str, ``seeds`` [S] int64,
        ``config`` (JSON string), ``ogl`` [N,7,7] float32 and ``confidence`` [N] float32 when the run
        has them; a negative the run did not compute (``--neg``) has no member. A run whose preset stores resized maps
        (``map.store``, docs/models.md §2.8) gives them at 224 x 224 (negatives decoded) and adds
        ``<map>_extremes`` ([N,2] or [S,N,2] float32: max and min of each raw map).
        """
        out = Path(out)
        self.check_export_target(out)
        arrays = self.arrays()
        with atomic_path(out, size_hint=sum(v.nbytes for v in arrays.values())) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return out
