"""The heatmap store: every raw low-resolution map of a run, resumable and written atomically.

Format (one directory per run, ``RUN/store/``)::

    config.json            the run configuration (model, checkpoint sha256, preset, protocol,
                           dataset, seeds, noise bank, batch size, versions, ...), with the
                           ``fingerprint`` of its inputs (vssleval/fingerprint.py)
    inputs.json            every file the run read (size, modification time, sha256) and every
                           record's digest: what a refused ``--resume`` names when the inputs
                           changed (docs/report.md)
    shard-000000.npz       one per batch of samples, written atomically (temp file + rename):
        index          int64  [n]            dataset positions of the samples
        ids            str    [n]            sample ids
        positive       float32 [n,h,w]       raw map under the positive audio
        silence        float32 [n,h,w]       raw map under digital silence
        noise          float32 [S,n,h,w]     raw map under the noise draw of each seed
        offscreen      float32 [S,n,h,w]     raw map under the offscreen clip of each seed
        offscreen_ids  str    [S,n]          which clip was used as offscreen audio
        ogl            float32 [n,7,7]       object prior (optional, when the run computes it)
        gt             uint8  [n,2,6272]     ground-truth maps as two bit planes (:func:`pack_gt`;
                                             :func:`unpack_gt` gives float32 [n,224,224] in {0, .5, 1})
        groups         str    [n]            scene group of each sample (iIoU/iAUC): the dataset's
                                             group, or the sample id when it has none
        boxes          float64 [n,K,4]       the annotation's boxes as fractions of the frame, unclipped
                                             (``Sample.frame_boxes``), NaN rows after a sample's last box;
                                             K = the most boxes of any sample of the run (at least 1).
                                             The ``native`` protocol converts them by each repository's
                                             rule (docs/protocols.md §11.3); absent in stores written
                                             before vssleval 0.1.1
        labels         str    [n]            class label of each sample ("" when the dataset has none):
                                             the report's per-class and heard/unheard breakdowns;
                                             absent from stores of older runs (their
                                             reports say so). The ground-truth area of the size
                                             breakdown needs no array: it is the sum of ``gt``.
                           A negative map that is bit-for-bit the positive one for every sample
                           and seed (an audio-agnostic baseline) is stored once: its member is an
                           empty ``<name>=positive`` array of shape ``[..., 0]``, and
                           :meth:`HeatmapStore.read_shard` returns the full array (NumPy readers:
                           ``np.broadcast_to(positive, shape)``).
    COMPLETE               written last, when every shard exists: the shard manifest (JSON), i.e.
                           every shard's name, byte size, sha256 and arrays (dtype and shape)

Before a complete store is read (``report``, ``export``, scoring, :meth:`HeatmapStore.maps`) the
manifest is verified: exactly the listed shards exist, each still has the listed arrays, shapes and
sha256, the shapes agree with each other and with the run (rows per batch, seeds, one ``h, w``),
and no sample id or position appears twice. The first mismatch is a :class:`VsslevalError` naming
the shard. A store completed by an older vssleval (``COMPLETE`` holds only the shard count) gets
the same checks except the hashes; ``--resume`` on it writes the manifest (docs/report.md).

The run folder around the store is owned by the run: :func:`check_run_folder` refuses to write a
run's results into a folder holding another run (or into a store), whatever the command.

Why sharded ``.npz`` rather than HDF5 or zarr: it needs nothing beyond NumPy (anyone can read a
store without vssleval), each shard is written with a single atomic rename so a killed run leaves
only complete shards (HDF5 files can be corrupted by a kill mid-write), resuming is "skip the
shards that exist", and under ``torchrun`` every rank writes its own shards without locking.
Shards are numbered by batch position, so the batch size is part of the run's identity.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from vssleval.errors import VsslevalError
from vssleval import fingerprint as fp
from vssleval.fingerprint import file_sha256
from vssleval.io_utils import atomic_path, ensure_output_dir, write_json_atomic, write_text_atomic

CONFIG_FILE = "config.json"
COMPLETE_FILE = "COMPLETE"
#: The marker naming the run whose results a folder holds (written beside ``metrics.json``).
OWNER_FILE = ".vssleval-run.json"
MANIFEST_FORMAT = 2
_SHARD_RE = re.compile(r"^shard-(\d{6})\.npz$")

def pack_gt(gt: np.ndarray) -> np.ndarray:
    """``[n,224,224]`` maps with values in {0, 0.5, 1} -> uint8 bit planes ``[n, 2, 6272]`` (the
    shard's ``gt``): plane 0 marks pixels >= 0.5, plane 1 pixels == 1."""
    half = np.packbits((gt >= 0.5).reshape(len(gt), -1), axis=1)
    full = np.packbits((gt >= 1.0).reshape(len(gt), -1), axis=1)
    return np.stack([half, full], axis=1)


def unpack_gt(packed: np.ndarray, size: int = 224) -> np.ndarray:
    """Inverse of :func:`pack_gt`: float32 ``[n, size, size]``."""
    n = len(packed)
    half = np.unpackbits(packed[:, 0], axis=1, count=size * size).reshape(n, size, size)
    full = np.unpackbits(packed[:, 1], axis=1, count=size * size).reshape(n, size, size)
    return (0.5 * half + 0.5 * full).astype(np.float32)


def pad_boxes(boxes: list[np.ndarray], k: int) -> np.ndarray:
    """Box lists (float64 ``[K_i, 4]`` each) -> the shard's ``boxes`` ``[n, k, 4]``, NaN-padded."""
    out = np.full((len(boxes), max(int(k), 1), 4), np.nan, dtype=np.float64)
    for i, b in enumerate(boxes):
        out[i, :len(b)] = b
    return out


#: Configuration keys that do not change the maps: they are recorded, but a resumed run may differ.
VOLATILE_KEYS = frozenset({"device", "num_workers", "versions", "started", "command", "amp_note", "world_size",
                           "allow_nonfinite"})
#: Keys that follow from the data read (its folder, counts, rates): in a configuration with a
#: fingerprint, the fingerprint's content digests stand for them, so a data folder that is moved or
#: copied with the same content is the same run (docs/report.md, "Fingerprint of the inputs").
DERIVED_FROM_INPUTS = frozenset({"data_dir", "data_root", "n_samples", "skipped", "audio_rates"})
#: Keys that record what a run read, or follow from it (``offscreen_reuse``: whether every offscreen
#: clip drawn is an evaluated positive): compared through the fingerprint, which names what changed.
INPUT_KEYS = DERIVED_FROM_INPUTS | {"fingerprint", "checkpoint_sha256", "weights_sha256", "ogl_weights_sha256",
                                    "offscreen_reuse"}


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    drop = VOLATILE_KEYS | (DERIVED_FROM_INPUTS if isinstance(config.get("fingerprint"), dict) else frozenset())
    return {k: v for k, v in config.items() if k not in drop}


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """What the user asked for (model, preset, protocol, seeds, ...): the identity less the inputs."""
    return {k: v for k, v in json.loads(json.dumps(config)).items() if k not in VOLATILE_KEYS | INPUT_KEYS}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


#: The keys that tell runs apart for a reader, most telling first (the others follow).
_TELLING_KEYS = ("model_name", "model", "dataset", "preset", "protocol", "checkpoint_sha256", "weights_sha256",
                 "seeds", "negatives", "n_samples", "limit", "batch_size", "noise_bank", "data_dir")
#: Keys derived from others (named only when nothing else differs).
_DERIVED_KEYS = ("model_config", "data_root", "testset", "skipped_samples", "model_file", "fingerprint")


def _run_difference(old: dict[str, Any], new: dict[str, Any], limit: int = 4) -> str:
    """The first ``limit`` differences of two run records, most telling first."""
    old, new = _identity(old), _identity(new)
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    rank = {k: i for i, k in enumerate(_TELLING_KEYS)}
    main = sorted((k for k in keys if k not in _DERIVED_KEYS), key=lambda k: (rank.get(k, len(rank)), k))
    shown = main or keys
    text = "; ".join(f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}" for k in shown[:limit])
    return text + (f"; and {len(keys) - limit} more" if len(keys) > limit else "")


# -- run identity and folder ownership -------------------------------------------------------------
def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the run's identity (its configuration less the volatile keys): the run's name.

    Two configurations with the same hash produce the same maps; a folder holding a run is owned
    by this hash.
    """
    identity = _identity(json.loads(json.dumps(config)))
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_label(config: dict[str, Any], digest: str | None = None) -> str:
    """A run in words, e.g. ``center on synthetic-vggss (48 samples, seeds [1, 2], preset
    juanola2025, protocol vssleval; run 3f2a9c01b7de)``."""
    model = config.get("model_name") or config.get("model") or "?"
    parts = [f"{config['n_samples']} samples" if config.get("n_samples") is not None else None,
             f"seeds {config['seeds']}" if config.get("seeds") is not None else None,
             f"preset {config['preset']}" if config.get("preset") else None,
             f"protocol {config['protocol']}" if config.get("protocol") else None]
    text = ", ".join(p for p in parts if p)
    if digest:
        text += f"; run {digest[:12]}"
    return f"{model} on {config.get('dataset', '?')} ({text})"


#: ``metrics.json`` ``run`` keys that tell two runs apart, for folders written before the owner
#: marker existed (the protocol is left out: a store may be rescored under the other protocol).
_LEGACY_KEYS = ("model_name", "checkpoint_sha256", "preset", "dataset", "data_root", "negatives", "seeds",
                "noise_bank", "batch_size", "n_samples")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VsslevalError(f"cannot read {path} ({exc}); it should hold a run's record as JSON: remove the "
                            "folder or choose another one") from exc


def _has_shards(folder: Path) -> bool:
    try:
        return any(_SHARD_RE.match(p.name) for p in folder.iterdir())
    except OSError:
        return False


def is_store_dir(path: str | Path) -> bool:
    """Whether ``path`` is a heatmap store (its ``config.json`` beside shards or ``COMPLETE``, or
    the ``store/`` folder of a run)."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file():
        return False
    return path.name == "store" or (path / COMPLETE_FILE).is_file() or _has_shards(path)


def store_containing(path: str | Path) -> Path | None:
    """The heatmap store that ``path`` is (or lies inside), if any."""
    path = Path(path).absolute()
    for candidate in (path, *path.parents):
        if is_store_dir(candidate):
            return candidate
    return None


def run_folder_owner(folder: str | Path) -> tuple[str | None, dict[str, Any], Path] | None:
    """``(config hash, run record, file saying so)`` of the run whose results ``folder`` holds, or
    ``None`` for a folder holding no run.

    The owner is the run of ``folder/store`` when that store holds anything (an empty store, left
    by a start that failed before its first shard, holds no run), else the run named by the owner
    marker, else (folders written by an older vssleval) the ``run`` block of ``metrics.json``, whose
    hash is unknown (``None``).
    """
    folder = Path(folder)
    store = folder / "store"
    if (store / CONFIG_FILE).is_file() and ((store / COMPLETE_FILE).is_file() or _has_shards(store)):
        config = _read_json(store / CONFIG_FILE)
        if isinstance(config, dict):
            return config_hash(config), config, store / CONFIG_FILE
    marker = folder / OWNER_FILE
    if marker.is_file():
        record = _read_json(marker)
        if isinstance(record, dict) and isinstance(record.get("run"), dict):
            return str(record.get("config_hash") or "") or None, record["run"], marker
    metrics = folder / "metrics.json"
    if metrics.is_file():
        try:
            record = json.loads(metrics.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) and isinstance(record.get("run"), dict):
            return None, record["run"], metrics
    return None


def check_run_folder(folder: str | Path, config: dict[str, Any], *, overwrite: bool = False,
                     source: str | Path | None = None, fix: str = "choose another --out") -> None:
    """Refuse to write the results of the run ``config`` into ``folder`` when ``folder`` lies inside
    a heatmap store or holds another run (``overwrite``: the user asked to replace that run).

    ``source``: where the results come from (a store), named in the message; ``fix``: the way out.
    """
    folder = Path(folder)
    inside = store_containing(folder)
    if inside is not None:
        raise VsslevalError(f"{folder} is inside the heatmap store {inside}, which holds only its run's shards: "
                            f"{fix}, outside any store")
    owner = run_folder_owner(folder)
    if owner is None or overwrite:
        return
    digest, record, evidence = owner
    new_digest = config_hash(config)
    if digest is not None:
        if digest == new_digest:
            return
        differ = _run_difference(record, config)
    else:  # an older folder: compare what its metrics.json records
        keys = [k for k in _LEGACY_KEYS if k in record and k in config]
        if all(json.loads(json.dumps(record[k])) == json.loads(json.dumps(config[k])) for k in keys):
            return
        differ = _run_difference({k: record[k] for k in keys}, {k: config[k] for k in keys})
    what = f"the results of {run_label(config, new_digest)}" + (f" from {source}" if source else "")
    raise VsslevalError(f"{folder} holds another run, {run_label(record, digest)} (see {evidence}); refusing to "
                        f"write {what} there, which would mix the two runs ({differ}): {fix}")


def changed_inputs(store_root: str | Path, config: dict[str, Any], inputs: dict[str, Any] | None = None) -> str | None:
    """Why the run held in ``store_root`` cannot go on with the inputs of ``config``, or None.

    Only a run with the same settings is checked (another run is told apart by
    :func:`check_run_folder`): its recorded fingerprint must equal ``config``'s. The answer names the
    first part that changed (weights, preset, metadata file, records, media, offscreen clips) and,
    from ``inputs`` and the store's ``inputs.json``, the first record or file. A run recorded
    without a fingerprint (an older vssleval), or with one that cannot be read, cannot be checked.
    ``config`` without a fingerprint (a store written directly, not by the engine) is not checked.
    """
    root = Path(store_root)
    new = config.get("fingerprint")
    if new is None or not ((root / CONFIG_FILE).is_file() and HeatmapStore(root).holds_maps()):
        return None
    old_config = _read_json(root / CONFIG_FILE)
    if not isinstance(old_config, dict) or _settings(old_config) != _settings(config):
        return None
    old = old_config.get("fingerprint")
    if old is None:
        return ("it was started by an older vssleval, which recorded no fingerprint of what it read, so it cannot "
                "be checked that its inputs are unchanged")
    if not fp.is_valid(old):
        return f"the fingerprint of its inputs recorded in {root / CONFIG_FILE} is not readable (edited or damaged)"
    return fp.describe_change(old, new, _read_inputs(root), inputs)


def _read_inputs(root: Path) -> dict[str, Any] | None:
    """The store's ``inputs.json`` (the detail of its fingerprint), or None when absent or unreadable."""
    try:
        detail = json.loads((root / fp.INPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return detail if isinstance(detail, dict) else None


def refuse_changed_inputs(store_root: str | Path, config: dict[str, Any], inputs: dict[str, Any] | None = None,
                          overwrite: bool = False, resume: bool = True) -> None:
    """Raise, in one line naming what changed and how to start over, when the run in ``store_root``
    read other inputs than ``config`` describes (:func:`changed_inputs`); ``overwrite`` replaces it."""
    if overwrite:
        return
    reason = changed_inputs(store_root, config, inputs)
    if reason:
        run_dir = Path(store_root).parent if Path(store_root).name == "store" else Path(store_root)
        raise VsslevalError(f"the run in {run_dir} cannot be {'resumed' if resume else 'reused'}: {reason}; its "
                            "maps belong to the old inputs: start over with a new --out, or pass --overwrite to "
                            f"replace the run (or remove {run_dir})")


def claim_run_folder(folder: str | Path, config: dict[str, Any]) -> None:
    """Record in ``folder`` that it holds the results of the run ``config`` (its owner marker)."""
    record = {"config_hash": config_hash(config),
              "run": {k: v for k, v in config.items() if k != "skipped_samples"}}
    write_json_atomic(Path(folder) / OWNER_FILE, record)


#: What a run writes beside its store (``evaluate``, ``infer``, ``report --from-store``); the compat
#: protocol adds ``metrics/<model>_<testset>.txt`` and ``metrics/max_min/*.npy``.
RUN_RESULT_FILES = ("metrics.json", "metrics.csv", "per_sample.csv", "per_class.csv", "report.md", "skipped.csv",
                    "offscreen_draws.csv", "overlays.png", "overlays.pdf")
RUN_RESULT_GLOBS = ("metrics/*.txt", "metrics/max_min/*.npy")


def release_run_folder(folder: str | Path) -> None:
    """Drop the owner marker and the results of the folder's run (a run that replaces it with
    ``--overwrite``): nothing the replaced run wrote may pass for the new run's results."""
    folder = Path(folder)
    (folder / OWNER_FILE).unlink(missing_ok=True)
    for name in RUN_RESULT_FILES:
        (folder / name).unlink(missing_ok=True)
    for pattern in RUN_RESULT_GLOBS:
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


#: Members with the seed axis first (samples on axis 1); every other member has samples on axis 0.
PER_SEED = ("noise", "offscreen", "offscreen_ids")
#: Members holding low-resolution maps: one float ``h, w`` for the whole run.
MAP_MEMBERS = ("positive", "silence", "noise", "offscreen")
#: The way out of a shard that is not what its run wrote.
_SHARD_FIX = "delete it and rerun with --resume (the run computes it again)"

#: Store root -> signature of the files when they were last verified (verification is then skipped).
_VERIFIED: dict[str, tuple] = {}


def _npz_arrays(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{array: (dtype string, shape)}`` of an ``.npz`` file, from the array headers only."""
    arrays: dict[str, tuple[str, tuple[int, ...]]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not a NumPy array")
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"member {info.filename!r} has .npy format {version}, not 1.0 or 2.0")
            arrays[info.filename[:-4]] = (dtype.str, tuple(int(d) for d in shape))
    return arrays


#: Map members that may be stored as "the same as ``positive``" (see :func:`_share_with_positive`).
_SHAREABLE = ("silence", "noise", "offscreen")
#: Member-name suffix of a shared map: ``noise=positive`` is an empty array whose shape is the
#: logical shape without ``h, w`` (e.g. float32 ``[S, n, 0]``).
_SHARED_SUFFIX = "=positive"


def _bits(a: np.ndarray) -> np.ndarray:
    """The array's bytes as unsigned integers of the same width (bitwise comparison: -0.0 is not
    0.0 and a NaN equals the same NaN)."""
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _share_with_positive(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Replace each negative map member that is bit-for-bit the positive map of its sample (for
    every seed) by an empty placeholder ``<name>=positive`` of shape ``[*prefix, 0]``.

    Audio-agnostic maps (the ``center``/``full``/``random`` baselines, or a model that ignores its
    audio) are the same under every audio, and storing them 2 + 2S times made a 200-clip run of a
    224x224 baseline take 845 MB. :meth:`HeatmapStore.read_shard` gives the full array back.
    """
    positive = arrays.get("positive")
    if positive is None or positive.ndim != 3 or positive.dtype.kind != "f":
        return arrays
    out = dict(arrays)
    for name in _SHAREABLE:
        a = arrays.get(name)
        if (a is None or a.dtype != positive.dtype or a.ndim < 3 or a.shape[-3:] != positive.shape
                or a.size == 0):
            continue
        if np.array_equal(_bits(a), np.broadcast_to(_bits(positive), a.shape)):
            del out[name]
            out[name + _SHARED_SUFFIX] = np.zeros(a.shape[:-2] + (0,), dtype=a.dtype)
    return out


def _logical_arrays(raw: dict[str, tuple[str, tuple[int, ...]]]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Headers as stored -> the arrays a reader gets (a shared member takes ``positive``'s ``h, w``)."""
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for key, (dtype, shape) in raw.items():
        name = key[:-len(_SHARED_SUFFIX)] if key.endswith(_SHARED_SUFFIX) else None
        if name is None:
            out[key] = (dtype, shape)
        elif name in _SHAREABLE and "positive" in raw and shape and shape[-1] == 0:
            out[name] = (dtype, shape[:-1] + raw["positive"][1][1:])
        else:
            raise ValueError(f"member {key!r} is not a shared map this version reads")
    return out


def _sha256(path: Path) -> str:
    return file_sha256(path)


def _n_batches(config: dict[str, Any]) -> int | None:
    n, bs = config.get("n_samples"), config.get("batch_size")
    if isinstance(n, int) and isinstance(bs, int) and bs > 0:
        return -(-n // bs)
    return None


class HeatmapStore:
    """A run's raw maps on disk (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def create_in_run(cls, run_dir: str | Path, config: dict[str, Any], resume: bool = False,
                      overwrite: bool = False, inputs: dict[str, Any] | None = None) -> "HeatmapStore":
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
               overwrite: bool = False, inputs: dict[str, Any] | None = None) -> "HeatmapStore":
        """Open ``root`` for writing a run with ``config`` (``inputs``: its fingerprint's detail).

        An existing store with the same configuration is resumed only with ``resume=True`` (after
        checking that the shards already there are this run's); with another configuration it is
        refused unless ``overwrite=True`` (which deletes its shards). Both flags together mean
        "make this folder hold this run": resume it when the configuration is the same, replace it
        when not (what a re-run of a whole job wants). A store holding no shard (a start that
        failed before its first batch) holds no run: it is started afresh. A run with the same
        settings whose inputs changed (its fingerprint) is refused unless ``overwrite``.
        """
        store = cls(root)
        cfg_path = store.root / CONFIG_FILE
        refuse_changed_inputs(store.root, config, inputs, overwrite, resume)
        if cfg_path.exists() and store.holds_maps():
            old = store.config
            same = _identity(old) == _identity(json.loads(json.dumps(config)))
            if overwrite and not (same and resume):
                store._clear()
            elif not same:
                raise VsslevalError(
                    f"{store.root} holds another run, {run_label(old, config_hash(old))}; refusing to write "
                    f"{run_label(config, config_hash(config))} there ({_run_difference(old, config)}); "
                    "choose another --out, or pass --overwrite to replace it"
                )
            elif not resume:
                state = "a complete" if store.is_complete() else "an unfinished"
                raise VsslevalError(
                    f"{store.root} already holds {state} run with this configuration "
                    f"({len(store.shard_numbers())} shards); pass --resume to continue it or "
                    "--overwrite to start again"
                )
            else:
                store._check_resumable(config)
        ensure_output_dir(store.root, what="run folder")
        store._remove_stale_temp_files()
        write_json_atomic(cfg_path, config)
        if inputs is not None:
            write_json_atomic(store.root / fp.INPUTS_FILE, inputs, indent=None)
        else:  # a run that fingerprints nothing keeps no detail of another
            (store.root / fp.INPUTS_FILE).unlink(missing_ok=True)
        return store

    def holds_maps(self) -> bool:
        """Whether the store holds any shard (or a completion marker)."""
        return self.is_complete() or _has_shards(self.root)

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
        for name in (COMPLETE_FILE, CONFIG_FILE, fp.INPUTS_FILE):
            (self.root / name).unlink(missing_ok=True)

    # -- contents --------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        path = self.root / CONFIG_FILE
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VsslevalError(f"cannot read the run configuration {path} ({exc}); the store is damaged: "
                                "run the command again with --overwrite (or another --out)") from exc
        if not isinstance(config, dict):
            raise VsslevalError(f"{path} does not hold a run configuration (a JSON object); the store is damaged: "
                                "run the command again with --overwrite (or another --out)")
        return config

    def shard_path(self, number: int) -> Path:
        return self.root / f"shard-{number:06d}.npz"

    def has_shard(self, number: int) -> bool:
        return self.shard_path(number).is_file()

    def shard_numbers(self) -> list[int]:
        return sorted(int(m.group(1)) for p in self.root.iterdir() if (m := _SHARD_RE.match(p.name)))

    def write_shard(self, number: int, arrays: dict[str, np.ndarray]) -> None:
        """Write one shard atomically; a kill leaves either the whole shard or nothing (and a full
        disk a :class:`VsslevalError` naming the shard and the bytes it needs)."""
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        pickled = [k for k, v in arrays.items() if v.dtype == object]
        if pickled:  # stores must stay readable with allow_pickle=False
            raise TypeError(f"shard arrays {pickled} have dtype object; store numbers or fixed-width strings")
        arrays = _share_with_positive(arrays)
        size = sum(v.nbytes + 256 for v in arrays.values()) + 22  # .npy headers and zip records
        with atomic_path(self.shard_path(number), size_hint=size) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    def read_shard(self, number: int) -> dict[str, np.ndarray]:
        """The shard's arrays; a map stored as shared with ``positive`` comes back as the array
        that was written (a copy: readers may change what they get, as with any other member)."""
        path = self.shard_path(number)
        try:
            with np.load(path, allow_pickle=False) as z:
                raw = {k: z[k] for k in z.files}
            shapes = _logical_arrays({k: (v.dtype.str, v.shape) for k, v in raw.items()})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # corrupted despite atomic writes
            raise VsslevalError(f"cannot read heatmap shard {path}: {exc}; delete it and rerun with --resume") from exc
        return {k: raw[k] if k in raw else np.broadcast_to(raw["positive"], shape).copy()
                for k, (_, shape) in shapes.items()}

    def iter_shards(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield the shards in dataset order, one at a time (memory stays flat); a complete store
        is verified against its manifest first."""
        numbers = self.verify() if self.is_complete() else self.shard_numbers()
        for number in numbers:
            yield self.read_shard(number)

    def members(self) -> set[str]:
        """The array names of the store's shards (read from the first shard's header; every shard
        of a complete store has the same ones)."""
        numbers = self.shard_numbers()
        return set(self._arrays_of(numbers[0])) if numbers else set()

    # -- the manifest ----------------------------------------------------------------------------
    def _arrays_of(self, number: int) -> dict[str, tuple[str, tuple[int, ...]]]:
        path = self.shard_path(number)
        try:
            return _logical_arrays(_npz_arrays(path))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise VsslevalError(f"cannot read heatmap shard {path}: {exc}; delete it and rerun with --resume") from exc

    def mark_complete(self, n_shards: int) -> None:
        """Write ``COMPLETE``: the manifest of the ``n_shards`` shards, after checking that they are
        all there, nothing else is, and their arrays fit together (names, shapes, unique ids)."""
        missing = [k for k in range(n_shards) if not self.has_shard(k)]
        if missing:
            raise VsslevalError(f"store {self.root} is missing shards {missing[:10]}; rerun with --resume")
        stray = [k for k in self.shard_numbers() if k >= n_shards]
        if stray:
            raise VsslevalError(f"{self.shard_path(stray[0])} is not a shard of this run ({n_shards} batches); "
                                "move it out of the store and rerun with --resume")
        config = self.config
        items = [(k, self._arrays_of(k)) for k in range(n_shards)]
        self._check_structure(items, config, complete=True)
        self._check_ids(items, config)
        entries = []
        for k, arrays in items:
            path = self.shard_path(k)
            entries.append({"name": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path),
                            "arrays": {a: [d, list(shape)] for a, (d, shape) in arrays.items()}})
        head = {"format": MANIFEST_FORMAT, "config_hash": config_hash(config), "n_shards": n_shards,
                "n_samples": sum(a["ids"][1][0] for _, a in items)}
        text = json.dumps(head)[:-1] + ', "shards": [\n' + ",\n".join(json.dumps(e) for e in entries) + "\n]}\n"
        write_text_atomic(self.root / COMPLETE_FILE, text)  # one line per shard

    def is_complete(self) -> bool:
        return (self.root / COMPLETE_FILE).is_file()

    def _read_manifest(self) -> tuple[int, list[dict[str, Any]] | None]:
        """``(number of shards, manifest entries)``; entries are ``None`` for a store completed by
        an older vssleval, whose ``COMPLETE`` holds only the shard count."""
        marker = self.root / COMPLETE_FILE
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            data = exc
        if isinstance(data, int) and not isinstance(data, bool) and data >= 0:
            return data, None
        shards = data.get("shards") if isinstance(data, dict) else None
        if (isinstance(shards, list) and all(isinstance(e, dict) and isinstance(e.get("arrays"), dict)
                                             and "sha256" in e and "name" in e for e in shards)
                and [e["name"] for e in shards] == [self.shard_path(k).name for k in range(len(shards))]):
            return len(shards), shards
        why = f" ({data})" if isinstance(data, Exception) else ""
        raise VsslevalError(f"{marker} does not hold a shard manifest{why}; delete it and rerun the run with "
                            "--resume (which checks the shards and writes it again)")

    def _signature(self) -> tuple:
        files = sorted(p for p in self.root.iterdir() if _SHARD_RE.match(p.name)
                       or p.name in (COMPLETE_FILE, CONFIG_FILE))
        return tuple((p.name, st.st_size, st.st_mtime_ns) for p in files for st in (p.stat(),))

    def verify(self) -> list[int]:
        """Check a complete store before it is read; return its shard numbers in order.

        In this order, the first mismatch a :class:`VsslevalError` naming the shard: the manifest
        lists exactly the shard files there are; every shard has the arrays, dtypes and shapes the
        manifest lists; the shapes fit together and fit the run (rows per batch, seeds, one map
        size); every shard has its recorded sha256; no sample id or position appears twice. An
        older store (no manifest) gets every check but the hashes.
        """
        if not self.is_complete():
            raise VsslevalError(f"the run in {self.root} is unfinished; rerun it with --resume before reporting")
        key = str(self.root.resolve())
        signature = self._signature()
        n_shards, entries = self._read_manifest()
        if _VERIFIED.get(key) == signature:
            return list(range(n_shards))
        present = self.shard_numbers()
        missing = sorted(set(range(n_shards)) - set(present))
        if missing:
            raise VsslevalError(f"{self.root} is marked complete with {n_shards} shards but shards {missing[:10]} "
                                f"are missing (e.g. {self.shard_path(missing[0]).name}); rerun the run with "
                                "--resume to compute them again")
        stray = [k for k in present if k >= n_shards]
        if stray:
            raise VsslevalError(f"{self.root} is marked complete with {n_shards} shards, but "
                                f"{self.shard_path(stray[0]).name} is not one of them (a copied or stray file); "
                                "move it out of the store: it is never read")
        items = [(k, self._arrays_of(k)) for k in range(n_shards)]
        if entries is not None:
            for (k, arrays), entry in zip(items, entries):
                self._compare_to_manifest(k, arrays, entry)
        config = self.config
        self._check_structure(items, config, complete=True)
        if entries is not None:
            for k, entry in enumerate(entries):
                digest = _sha256(self.shard_path(k))
                if digest != entry["sha256"]:
                    raise VsslevalError(f"{self.shard_path(k)} has changed since its run completed (sha256 "
                                        f"{digest[:12]}..., the manifest in {COMPLETE_FILE} records "
                                        f"{str(entry['sha256'])[:12]}...); {_SHARD_FIX}")
        self._check_ids(items, config)
        _VERIFIED[key] = signature
        return list(range(n_shards))

    def require_complete(self) -> None:
        """Raise unless the run finished and its shards are the ones it wrote (:meth:`verify`)."""
        self.verify()

    def _check_resumable(self, config: dict[str, Any]) -> None:
        """Before a resumed run adds shards: every shard already there must be one of this run's
        (in range, and as the manifest recorded it when the store was complete)."""
        numbers = self.shard_numbers()
        n_batches = _n_batches(config)
        stray = [k for k in numbers if n_batches is not None and k >= n_batches]
        if stray:
            raise VsslevalError(f"{self.shard_path(stray[0])} is not a shard of this run ({n_batches} batches); "
                                "move it out of the store and rerun with --resume")
        entries = self._read_manifest()[1] if self.is_complete() else None
        items = [(k, self._arrays_of(k)) for k in numbers]
        if entries is not None:
            for k, arrays in items:
                if k < len(entries):
                    self._compare_to_manifest(k, arrays, entries[k])
                    if _sha256(self.shard_path(k)) != entries[k]["sha256"]:
                        raise VsslevalError(f"{self.shard_path(k)} has changed since its run completed (its sha256 "
                                            f"differs from the manifest in {COMPLETE_FILE}); {_SHARD_FIX}")
        self._check_structure(items, config, complete=False)
        self._check_ids(items, config)
        if self.is_complete() and (n_batches is None or len(numbers) < n_batches):
            (self.root / COMPLETE_FILE).unlink()  # complete again only when the missing shards are back

    def _compare_to_manifest(self, number: int, arrays: dict[str, tuple[str, tuple[int, ...]]],
                             entry: dict[str, Any]) -> None:
        path = self.shard_path(number)
        listed = {a: (str(v[0]), tuple(v[1])) for a, v in entry["arrays"].items()}
        for a in listed:
            if a not in arrays:
                raise VsslevalError(f"{path} has no {a!r} array, which the manifest in {COMPLETE_FILE} lists "
                                    f"({', '.join(listed)}); the shard was changed after its run: {_SHARD_FIX}")
        for a, (dtype, shape) in arrays.items():
            if a not in listed:
                raise VsslevalError(f"{path} has an array {a!r} that the manifest in {COMPLETE_FILE} does not list; "
                                    f"the shard was changed after its run: {_SHARD_FIX}")
            if (dtype, shape) != listed[a]:
                raise VsslevalError(f"{path}: {a!r} is {np.dtype(dtype).name} {list(shape)}, the manifest in "
                                    f"{COMPLETE_FILE} records {np.dtype(listed[a][0]).name} {list(listed[a][1])}; "
                                    f"the shard was changed after its run: {_SHARD_FIX}")

    def _check_structure(self, items: list[tuple[int, dict[str, tuple[str, tuple[int, ...]]]]],
                         config: dict[str, Any], complete: bool) -> None:
        """The shards' arrays fit together and fit the run: every shard has every member; each
        member has the run's seeds and the shard's rows; one map size; rows per batch; total."""
        negatives = [v for v in (config.get("negatives") or []) if v in MAP_MEMBERS]
        want = {"ids", "positive", *negatives} | ({"offscreen_ids"} if "offscreen" in negatives else set())
        for _, arrays in items:
            want |= set(arrays)
        seeds = config.get("seeds")
        n_seeds = len(seeds) if isinstance(seeds, list) else None
        bs, n_total = config.get("batch_size"), config.get("n_samples")
        seen: dict[str, tuple[tuple[int, ...], str]] = {}
        map_size: tuple[tuple[int, ...], str, str] | None = None
        total = 0
        for k, arrays in items:
            path = self.shard_path(k)
            lacking = sorted(want - set(arrays))
            if lacking:
                raise VsslevalError(f"{path} has no {lacking[0]!r} array (the run's shards hold "
                                    f"{', '.join(sorted(want))}); {_SHARD_FIX}")
            ids_shape = arrays["ids"][1]
            if len(ids_shape) != 1:
                raise VsslevalError(f"{path}: 'ids' has shape {list(ids_shape)}, expected [samples]; {_SHARD_FIX}")
            rows = ids_shape[0]
            if isinstance(bs, int) and isinstance(n_total, int) and bs > 0:
                expected = min(bs, n_total - k * bs)
                if rows != expected:
                    raise VsslevalError(f"{path} holds {rows} samples; batch {k} of this run holds {expected} "
                                        f"(batch size {bs}, {n_total} samples); {_SHARD_FIX}")
            for a, (dtype, shape) in sorted(arrays.items()):
                per_seed = a in PER_SEED
                lead = 2 if per_seed else 1
                if np.dtype(dtype).kind == "O":
                    raise VsslevalError(f"{path}: {a!r} holds Python objects, which a store never does; {_SHARD_FIX}")
                if len(shape) < lead:
                    raise VsslevalError(f"{path}: {a!r} has shape {list(shape)}, expected "
                                        f"{'[seeds, samples, ...]' if per_seed else '[samples, ...]'}; {_SHARD_FIX}")
                if per_seed and n_seeds is not None and shape[0] != n_seeds:
                    raise VsslevalError(f"{path}: {a!r} holds {shape[0]} seeds, the run has {n_seeds} (seeds "
                                        f"{seeds}); {_SHARD_FIX}")
                if shape[lead - 1] != rows:
                    raise VsslevalError(f"{path}: {a!r} holds {shape[lead - 1]} samples, 'ids' holds {rows}; "
                                        f"{_SHARD_FIX}")
                tail = shape[lead:]
                if a in MAP_MEMBERS:
                    if len(tail) != 2 or np.dtype(dtype).kind != "f":
                        raise VsslevalError(f"{path}: {a!r} is {np.dtype(dtype).name} {list(shape)}, expected float "
                                            f"maps [{'seeds, ' if per_seed else ''}samples, h, w]; {_SHARD_FIX}")
                    if map_size is None:
                        map_size = (tail, path.name, a)
                    elif tail != map_size[0]:
                        raise VsslevalError(f"{path}: {a!r} maps are {tail[0]}x{tail[1]}, but {map_size[2]!r} maps in "
                                            f"{map_size[1]} are {map_size[0][0]}x{map_size[0][1]} (a run has one map "
                                            f"size); {_SHARD_FIX}")
                key = (shape[0], *tail) if per_seed else tail
                if a in seen and seen[a][0] != key:
                    raise VsslevalError(f"{path}: {a!r} has shape {list(shape)}, which does not fit its shape in "
                                        f"{seen[a][1]}; {_SHARD_FIX}")
                seen.setdefault(a, (key, path.name))
            total += rows
        if complete and isinstance(n_total, int) and total != n_total:
            raise VsslevalError(f"the shards of {self.root} hold {total} samples, its run has {n_total}; a shard was "
                                "replaced: rerun the run with --overwrite")

    def _check_ids(self, items: list[tuple[int, Any]], config: dict[str, Any]) -> None:
        """No sample id appears twice, and each shard holds the dataset positions of its batch."""
        bs = config.get("batch_size")
        first: dict[str, str] = {}
        for k, _ in items:
            path = self.shard_path(k)
            try:
                with np.load(path, allow_pickle=False) as z:
                    ids = z["ids"]
                    index = z["index"] if "index" in z.files else None
            except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
                raise VsslevalError(f"cannot read heatmap shard {path}: {exc}; delete it and rerun with --resume") from exc
            for sid in ids.tolist():
                sid = str(sid)
                if sid in first:
                    where = "twice in it" if first[sid] == path.name else f"in {first[sid]} too"
                    raise VsslevalError(f"{path} holds sample {sid!r}, which appears {where} (a copied shard?); "
                                        f"{_SHARD_FIX}")
                first[sid] = path.name
            if index is not None and isinstance(bs, int) and bs > 0:
                expected = np.arange(k * bs, k * bs + len(index))
                if index.shape != expected.shape or not np.array_equal(index, expected):
                    raise VsslevalError(f"{path} holds the samples at dataset positions {index[:4].tolist()}..., "
                                        f"batch {k} of this run is positions {k * bs}..{k * bs + len(index) - 1} "
                                        f"(a shard of another batch?); {_SHARD_FIX}")

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
        arrays = {m: self._member(shards, m)
                  for m in ("ids", "positive", "silence", "noise", "offscreen", "offscreen_ids")
                  if all(m in s for s in shards)}
        arrays["seeds"] = np.asarray(self.config.get("seeds", []), dtype=np.int64)
        arrays["config"] = np.asarray(json.dumps(self.config))
        if all("ogl" in s for s in shards):
            arrays["ogl"] = self._member(shards, "ogl")
        return arrays

    def check_export_target(self, out: str | Path) -> None:
        """Refuse an export path that is a folder, lies inside a store (this one or another), or
        lies in the folder of another run."""
        out = Path(out)
        if out.is_dir():
            raise VsslevalError(f"{out} is a directory; give the path of the .npz file to write, e.g. {out / 'maps.npz'}")
        check_run_folder(out.parent, self.config, source=self.root,
                         fix="choose another file for the export (e.g. in this run's folder or a new one)")

    def export_npz(self, out: str | Path) -> Path:
        """Write the whole run as one plain NumPy archive (documented in the README).

        Members: ``ids`` [N] str, ``positive`` [N,h,w] float32, ``silence`` [N,h,w] float32,
        ``noise``/``offscreen`` [S,N,h,w] float32, ``offscreen_ids`` [S,N] str, ``seeds`` [S] int64,
        ``config`` (JSON string), and ``ogl`` [N,7,7] float32 when the run has it; a negative the
        run did not compute (``--neg``) has no member.
        """
        out = Path(out)
        self.check_export_target(out)
        arrays = self.arrays()
        with atomic_path(out, size_hint=sum(v.nbytes for v in arrays.values())) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return out
