"""Read and check a maps file (docs/maps-format.md) and turn it into a heatmap store.

One job: a file of maps computed anywhere (``vssleval export``, or a NumPy script beside any
framework) becomes a store that the engine's own scoring reads, after the checks the engine's output
contract makes of a model's maps (:func:`vssleval.engine.contract.fits_map`: real floating-point
``[N, h, w]``, ``h, w >= 1``, one map size) and the rule for non-finite maps
(:func:`vssleval.engine.scoring.nonfinite_maps`; docs/protocols.md §8.3). Every refusal is one line
naming the file and, where one sample is at fault, the first such sample id.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vssleval.data import Sample
from vssleval.engine.contract import fits_map
from vssleval.engine.runner import annotation_arrays
from vssleval.engine.scoring import nonfinite_maps
from vssleval.engine.store import HeatmapStore
from vssleval.engine.store.interchange import (DEFAULT_UPSAMPLE, EXTERNAL_PRESET, EXTREMES_SUFFIX, FORMAT_NAME,
                                               FORMAT_VERSION, KNOWN, MAPS, PER_SEED_MAPS, SCALES, producer_of)
from vssleval.errors import VsslevalError
from vssleval.fingerprint import file_sha256
from vssleval.models.maps import UPSAMPLE_OPS

#: Where the format is described (every refusal points there).
DOC = "docs/maps-format.md"


@dataclass
class MapsFile:
    """A checked maps file. ``maps``: variant -> float32 ``[N, h, w]`` or ``[S, N, h, w]`` in the
    file's sample order (``ids``); ``extras``: the other per-sample members (``offscreen_ids``,
    ``ogl``, ``confidence``, ``<map>_extremes``) with their sample axis where the maps have it."""

    path: Path
    sha256: str
    version: int
    producer: dict[str, Any]
    dataset: str
    ids: list[str]
    maps: dict[str, np.ndarray]
    seeds: list[int] | None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    upsample: str = DEFAULT_UPSAMPLE
    preset: str = EXTERNAL_PRESET

    def provenance(self) -> dict[str, Any]:
        """What a run scored from this file records of it (``maps_file`` in its configuration)."""
        return {"file": self.path.name, "sha256": self.sha256, "format": FORMAT_NAME,
                "format_version": self.version, "producer": self.producer}


def _refuse(path: Path, text: str) -> VsslevalError:
    return VsslevalError(f"{path}: {text} ({DOC})")


def _text(path: Path, z: Any, name: str) -> str:
    """A scalar string member."""
    value = z[name]
    if value.shape != () or value.dtype.kind != "U":
        raise _refuse(path, f"{name!r} must be a string (a 0-d str array), got {value.dtype.name} {list(value.shape)}")
    return str(value)


def _json(path: Path, z: Any, name: str) -> dict[str, Any]:
    try:
        value = json.loads(_text(path, z, name))
    except ValueError as exc:
        raise _refuse(path, f"{name!r} is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise _refuse(path, f"{name!r} must be a JSON object, got {type(value).__name__}")
    return value


def _open(path: Path) -> Any:
    """The archive's members, lazily (``allow_pickle=False``: a file never runs code)."""
    if not path.is_file():
        raise VsslevalError(f"maps file not found: {path} (write one with `vssleval export RUN FILE.npz`, or "
                            f"as {DOC} shows)")
    how = "write it with numpy.savez or numpy.savez_compressed"
    if not zipfile.is_zipfile(path):  # an .npz is a zip of .npy members: anything else is refused unread
        raise _refuse(path, f"not a NumPy .npz archive (not a zip file); {how}")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _refuse(path, f"not a readable NumPy .npz archive ({exc}); {how}") from exc


def _header(path: Path, z: Any) -> tuple[int, dict[str, Any] | None]:
    """``(format_version, config)``: the format checked; an export written before the format had a
    version (no ``format``, a ``config``) reads as version 1."""
    config = _json(path, z, "config") if "config" in z.files else None
    if "format" not in z.files:
        if config is not None:
            return FORMAT_VERSION, config
        raise _refuse(path, f"no 'format' member: not a maps file (its members: {', '.join(z.files) or 'none'})")
    name = _text(path, z, "format")
    if name != FORMAT_NAME:
        raise _refuse(path, f"'format' is {name!r}, not {FORMAT_NAME!r}")
    version = z["format_version"] if "format_version" in z.files else None
    if version is None or version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION:
        found = "no format_version" if version is None else f"format_version {version.tolist()!r}"
        raise _refuse(path, f"{found}; this vssleval reads {FORMAT_NAME} version {FORMAT_VERSION} only")
    return FORMAT_VERSION, config


def _ids(path: Path, z: Any) -> list[str]:
    if "ids" not in z.files:
        raise _refuse(path, "no 'ids' member (the sample ids, str [N])")
    ids = z["ids"]
    if ids.ndim != 1 or ids.dtype.kind != "U" or len(ids) == 0:
        raise _refuse(path, f"'ids' must be a non-empty str array [N], got {ids.dtype.name} {list(ids.shape)}")
    out = ids.tolist()
    seen: set[str] = set()
    for sid in out:
        if sid in seen:
            raise _refuse(path, f"sample {sid!r} appears twice in 'ids'")
        seen.add(sid)
    return out


def _maps(path: Path, z: Any, n: int) -> tuple[dict[str, np.ndarray], int | None]:
    """Every map member, checked against the contract's map rule; ``(maps, S)``."""
    if "positive" not in z.files:
        raise _refuse(path, "no 'positive' member (the maps under each sample's own audio, float [N, h, w])")
    maps: dict[str, np.ndarray] = {}
    size: tuple[int, int] | None = None
    n_seeds: int | None = None
    for name in (m for m in MAPS if m in z.files):
        value = z[name]
        per_seed = name in PER_SEED_MAPS
        rows = list(value) if per_seed and value.ndim == 4 else [value]
        floating = value.dtype.kind == "f"
        if (per_seed and value.ndim != 4) or not all(fits_map(r.shape, floating, n, size) for r in rows) \
                or (per_seed and n_seeds is not None and len(rows) != n_seeds):
            lead = f"S{f' = {n_seeds}' if n_seeds is not None else ''}, " if per_seed else ""
            hw = f"{size[0]}, {size[1]}" if size else "h, w"
            raise _refuse(path, f"{name!r} is {value.dtype.name} {list(value.shape)}; expected float [{lead}N = {n}, "
                                f"{hw}] (N: the samples of 'ids'; one map size h, w >= 1 for every map)")
        size = size or tuple(value.shape[-2:])
        if per_seed:
            n_seeds = len(rows)
        maps[name] = value.astype(np.float32, copy=False)
    return maps, n_seeds


def _seeds(path: Path, z: Any, n_seeds: int | None) -> list[int] | None:
    if "seeds" not in z.files:
        if n_seeds is not None:
            raise _refuse(path, f"no 'seeds' member: the noise / offscreen maps need their {n_seeds} seed values "
                                "(int [S])")
        return None
    seeds = z["seeds"]
    if seeds.ndim != 1 or seeds.dtype.kind not in "iu" or (n_seeds is not None and len(seeds) != n_seeds) \
            or len(set(seeds.tolist())) != len(seeds) or len(seeds) == 0:
        want = f"{n_seeds} distinct" if n_seeds is not None else "distinct"
        raise _refuse(path, f"'seeds' is {seeds.dtype.name} {seeds.tolist()[:10]}; expected {want} integers [S]")
    return [int(s) for s in seeds]


def _extras(path: Path, z: Any, maps: dict[str, np.ndarray], n: int, n_seeds: int | None) -> dict[str, np.ndarray]:
    """``offscreen_ids``, ``ogl``, ``confidence`` and ``<map>_extremes``, shapes checked."""
    want: dict[str, tuple[tuple[int | None, ...], str]] = {"ogl": ((n, None, None), "f"), "confidence": ((n,), "f")}
    if "offscreen" in maps:
        want["offscreen_ids"] = ((n_seeds, n), "U")
    for name in maps:
        want[name + EXTREMES_SUFFIX] = ((n_seeds, n, 2) if name in PER_SEED_MAPS else (n, 2), "f")
    out: dict[str, np.ndarray] = {}
    for name in z.files:
        if name in ("offscreen_ids", "ogl", "confidence") or name.endswith(EXTREMES_SUFFIX):
            if name not in want:
                raise _refuse(path, f"{name!r} describes maps the file does not hold")
            shape, kind = want[name]
            value = z[name]
            if value.dtype.kind != kind or len(value.shape) != len(shape) \
                    or any(w is not None and w != s for w, s in zip(shape, value.shape)):
                shown = ", ".join("*" if w is None else str(w) for w in shape)
                raise _refuse(path, f"{name!r} is {value.dtype.name} {list(value.shape)}; expected "
                                    f"{'str' if kind == 'U' else 'float'} [{shown}]")
            out[name] = value.astype(np.float32, copy=False) if kind == "f" else value
    return out


def _check_finite(path: Path, ids: Sequence[str], maps: dict[str, np.ndarray], seeds: list[int] | None) -> None:
    """Refuse the first map holding NaN or inf, naming its sample (and seed)."""
    for name, value in maps.items():
        bad = nonfinite_maps(value)
        if bad.any():
            where = np.argwhere(bad)[0]
            seed = f" (seed {seeds[where[0]]})" if name in PER_SEED_MAPS and seeds else ""
            raise _refuse(path, f"the {name} map of sample {ids[where[-1]]!r}{seed} holds NaN or inf ({int(bad.sum())} "
                                f"{name} maps in all); no metric was written: pass --allow-nonfinite to score them "
                                "under the protocol's rule (docs/protocols.md §8.3)")


def read_maps_file(path: str | Path, allow_nonfinite: bool = False) -> MapsFile:
    """The checked maps file at ``path`` (docs/maps-format.md); a :class:`VsslevalError` naming the
    file, and the first offending sample id where there is one, for anything the format does not allow."""
    path = Path(path)
    with _open(path) as z:
        version, config = _header(path, z)
        unknown = sorted(set(z.files) - KNOWN - {m + EXTREMES_SUFFIX for m in MAPS})
        if unknown:
            raise _refuse(path, f"unknown member {unknown[0]!r} (the members are {', '.join(sorted(KNOWN))} and "
                                "<map>_extremes)")
        producer = _json(path, z, "producer") if "producer" in z.files else (producer_of(config) if config else {})
        if not isinstance(producer.get("name"), str) or not producer["name"].strip():
            raise _refuse(path, "'producer' must name the model that made the maps: a JSON object with a "
                                "non-empty \"name\"")
        dataset = _text(path, z, "dataset") if "dataset" in z.files else str((config or {}).get("dataset") or "")
        if not dataset:
            raise _refuse(path, "no 'dataset' member (the registered dataset the maps are of)")
        scale = _text(path, z, "scale") if "scale" in z.files else (SCALES[0] if config else None)
        if scale not in SCALES:
            raise _refuse(path, f"'scale' is {scale!r}; the maps must be {SCALES[0]!r}: one scale for every map, "
                                "no per-map normalisation (the metrics comparing maps across audio read it)")
        rules = {k: _text(path, z, k) for k in ("upsample", "preset") if k in z.files}
        if rules and config is not None:
            raise _refuse(path, f"holds both 'config' and {', '.join(map(repr, rules))}: a vssleval run's maps are "
                                "scored with its configuration's rules; drop one")
        if rules.get("upsample", DEFAULT_UPSAMPLE) not in UPSAMPLE_OPS:
            raise _refuse(path, f"'upsample' is {rules['upsample']!r}; one of {', '.join(sorted(UPSAMPLE_OPS))}")
        if not rules.get("preset", EXTERNAL_PRESET).strip():
            raise _refuse(path, "'preset' is empty")
        ids = _ids(path, z)
        maps, n_seeds = _maps(path, z, len(ids))
        seeds = _seeds(path, z, n_seeds)
        extras = _extras(path, z, maps, len(ids), n_seeds)
    if not allow_nonfinite:
        _check_finite(path, ids, maps, seeds)
    return MapsFile(path=path, sha256=file_sha256(path), version=version, producer=producer, dataset=dataset,
                    ids=ids, maps=maps, seeds=seeds, extras=extras, config=config,
                    upsample=rules.get("upsample", DEFAULT_UPSAMPLE), preset=rules.get("preset", EXTERNAL_PRESET))


def positions_in(maps: MapsFile, samples: Sequence[Sample], where: str) -> np.ndarray:
    """Each dataset sample the file holds, in dataset order, as its row in the file: ``[n]`` int.
    A file id that is not a sample of ``samples`` (the dataset ``where``) is refused, naming it."""
    row = {sid: i for i, sid in enumerate(maps.ids)}
    known = {s.id for s in samples}
    for sid in maps.ids:
        if sid not in known:
            raise _refuse(maps.path, f"sample {sid!r} is not in {where} ({len(samples)} samples); the maps must be "
                                     "of this dataset's samples: check --dataset and --data-dir")
    return np.array([row[s.id] for s in samples if s.id in row], dtype=np.int64)


def write_store(store: HeatmapStore, maps: MapsFile, samples: Sequence[Sample], rows: np.ndarray,
                batch_size: int) -> None:
    """Fill ``store`` (opened for this run) with the file's maps of ``samples`` (the file's ``rows``,
    dataset order), one shard per ``batch_size`` samples as the engine writes them, then mark it complete."""
    max_boxes = max(len(s.frame_boxes()) for s in samples)
    n = len(samples)
    count = -(-n // batch_size)
    for k in range(count):
        if store.has_shard(k):  # a scoring of this file that stopped: its shards are checked on opening
            continue
        pos = slice(k * batch_size, min(n, (k + 1) * batch_size))
        take = rows[pos]
        arrays: dict[str, np.ndarray] = {"index": np.arange(pos.start, pos.stop, dtype=np.int64),
                                         "ids": np.array([s.id for s in samples[pos]])}
        for name, value in (*maps.maps.items(), *maps.extras.items()):
            per_seed = name in PER_SEED_MAPS or name.split(EXTREMES_SUFFIX)[0] in PER_SEED_MAPS \
                or name == "offscreen_ids"
            arrays[name] = value[:, take] if per_seed else value[take]
        if "offscreen" in maps.maps and "offscreen_ids" not in arrays:  # not given: recorded as unknown
            arrays["offscreen_ids"] = np.full(arrays["offscreen"].shape[:2], "", dtype=str)
        arrays.update(annotation_arrays(list(samples[pos]), max_boxes))
        store.write_shard(k, arrays)
    store.mark_complete(count)
