"""The store's records of itself and their verification: the ``store_format`` version, the ``COMPLETE``
manifest, and the checks that the shards are the ones the run wrote.

One job: decide whether the shards of a store can be trusted. ``config.json`` and ``COMPLETE`` both
record ``store_format`` (:data:`STORE_FORMAT`); a store of any other format (or of none) is refused in
one line naming the vssleval that wrote it (:func:`check_format`). ``COMPLETE`` is written last and
lists every shard's name, byte size, sha256 and arrays (dtype and shape). Before a complete store is
read it is verified (:func:`verify_complete`): exactly the listed shards exist, each still has the
listed arrays, shapes and sha256, the shapes agree with each other and with the run (rows per batch,
seeds, one ``h, w``), and no sample id or position appears twice. The first mismatch is a
:class:`VsslevalError` naming the shard (docs/report.md, "Run folders and heatmap stores").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import vssleval
from vssleval.engine.store.shards import (
    ALWAYS,
    MAP_MEMBERS,
    PER_SEED,
    SHARD_FIX,
    SHARD_RE,
    Headers,
    read_ids,
    shard_headers,
    shard_name,
    shard_numbers_in,
)
from vssleval.errors import VsslevalError
from vssleval.fingerprint import file_sha256
from vssleval.io_utils import write_text_atomic

CONFIG_FILE = "config.json"
COMPLETE_FILE = "COMPLETE"
#: The layout of the store this vssleval writes and reads (shards, ``config.json``, ``COMPLETE``); any
#: change to it takes a new number, and a store of another number is refused, never converted.
#: 2: encoded map members (``<name>~float12``) and raw extremes (``<map>_extremes``) of ``map.store``.
STORE_FORMAT = 2
#: The ``config.json`` key holding ``{"version": STORE_FORMAT, "vssleval": <version that wrote it>}``.
FORMAT_KEY = "store_format"

#: A store's shards as ``[(shard number, headers), ...]``.
Items = list[tuple[int, Headers]]
#: Store root -> signature of the files when they were last verified (verification is then skipped).
_VERIFIED: dict[str, tuple] = {}


def format_record() -> dict[str, Any]:
    """What a store records of its format: this layout's number and the vssleval writing it."""
    return {"version": STORE_FORMAT, "vssleval": vssleval.__version__}


def check_format(record: Any, path: Path, versions: Any = None) -> None:
    """Refuse, in one line, a store whose ``store_format`` record (from ``path``) is not this
    vssleval's :data:`STORE_FORMAT`. ``versions``: the run's recorded package versions, which name
    the writer when the record does not."""
    if isinstance(record, dict) and type(record.get("version")) is int and record["version"] == STORE_FORMAT:
        return  # exactly the int: True and 1.0 are not this format's record
    writer = record.get("vssleval") if isinstance(record, dict) else None
    writer = writer or (versions.get("vssleval") if isinstance(versions, dict) else None)
    made = f"vssleval {writer}" if isinstance(writer, str) else "an earlier vssleval"
    version = record.get("version") if isinstance(record, dict) else record
    found = f"store format {version!r}" if version is not None else "no store format"
    raise VsslevalError(f"{path} was written by {made} ({found}); vssleval {vssleval.__version__} reads store "
                        f"format {STORE_FORMAT} only: evaluate the model again with this version (a new --out, or "
                        "--overwrite to replace that run)")


def n_batches(config: dict[str, Any]) -> int | None:
    """The number of shards of the run ``config`` (None when it records no sample count or batch size)."""
    n, bs = config.get("n_samples"), config.get("batch_size")
    if isinstance(n, int) and isinstance(bs, int) and bs > 0:
        return -(-n // bs)
    return None


def headers_of(root: Path, numbers: list[int]) -> Items:
    """``[(number, headers)]`` of the shards ``numbers`` of the store at ``root``."""
    return [(k, shard_headers(root / shard_name(k))) for k in numbers]


def refuse_stray(root: Path, count: int) -> None:
    """Refuse a shard numbered beyond the run's ``count`` batches (a copied or stray file)."""
    stray = [k for k in shard_numbers_in(root) if k >= count]
    if stray:
        raise VsslevalError(f"{root / shard_name(stray[0])} is not a shard of this run ({count} batches); "
                            "move it out of the store and rerun with --resume")


# -- writing the manifest --------------------------------------------------------------------------
def write_manifest(root: Path, items: Items, config_hash: str) -> None:
    """Write ``COMPLETE`` for the checked shards ``items`` (one line per shard)."""
    entries = []
    for k, arrays in items:
        path = root / shard_name(k)
        entries.append({"name": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path),
                        "arrays": {a: [d, list(shape)] for a, (d, shape) in arrays.items()}})
    head = {FORMAT_KEY: STORE_FORMAT, "vssleval": vssleval.__version__, "config_hash": config_hash,
            "n_shards": len(items), "n_samples": sum(a["ids"][1][0] for _, a in items)}
    text = json.dumps(head)[:-1] + ', "shards": [\n' + ",\n".join(json.dumps(e) for e in entries) + "\n]}\n"
    write_text_atomic(root / COMPLETE_FILE, text)


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """The shard entries of ``root/COMPLETE``, after checking its format; a marker that is not a
    manifest of this format is a :class:`VsslevalError` saying what to do."""
    marker = root / COMPLETE_FILE
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        data = exc
    if isinstance(data, dict):
        check_format({"version": data.get(FORMAT_KEY), "vssleval": data.get("vssleval")}, marker)
    shards = data.get("shards") if isinstance(data, dict) else None
    if (isinstance(shards, list) and all(isinstance(e, dict) and isinstance(e.get("arrays"), dict)
                                         and "sha256" in e and "name" in e for e in shards)
            and [e["name"] for e in shards] == [shard_name(k) for k in range(len(shards))]):
        return shards
    why = f" ({data})" if isinstance(data, Exception) else ""
    raise VsslevalError(f"{marker} does not hold a shard manifest{why}; delete it and rerun the run with "
                        "--resume (which checks the shards and writes it again)")


# -- verification ------------------------------------------------------------------------------------
def _signature(root: Path) -> tuple:
    files = sorted(p for p in root.iterdir() if SHARD_RE.match(p.name) or p.name in (COMPLETE_FILE, CONFIG_FILE))
    return tuple((p.name, st.st_size, st.st_mtime_ns) for p in files for st in (p.stat(),))


def verify_complete(root: Path, config: dict[str, Any]) -> int:
    """Check the complete store at ``root`` (run ``config``) before it is read; return its shard count.

    In this order, the first mismatch a :class:`VsslevalError` naming the shard: the manifest lists
    exactly the shard files there are; every shard has the arrays, dtypes and shapes the manifest
    lists; the shapes fit together and fit the run (rows per batch, seeds, one map size); every shard
    has its recorded sha256; no sample id or position appears twice.
    """
    key = str(root.resolve())
    signature = _signature(root)
    entries = read_manifest(root)
    n_shards = len(entries)
    if _VERIFIED.get(key) == signature:
        return n_shards
    missing = sorted(set(range(n_shards)) - set(shard_numbers_in(root)))
    if missing:
        raise VsslevalError(f"{root} is marked complete with {n_shards} shards but shards {missing[:10]} "
                            f"are missing (e.g. {shard_name(missing[0])}); rerun the run with "
                            "--resume to compute them again")
    stray = [k for k in shard_numbers_in(root) if k >= n_shards]
    if stray:
        raise VsslevalError(f"{root} is marked complete with {n_shards} shards, but {shard_name(stray[0])} is not "
                            "one of them (a copied or stray file); move it out of the store: it is never read")
    items = headers_of(root, list(range(n_shards)))
    for (k, arrays), entry in zip(items, entries):
        compare_to_manifest(root, k, arrays, entry)
    check_structure(root, items, config, complete=True)
    for k, entry in enumerate(entries):
        check_hash(root, k, entry)
    check_ids(root, items, config)
    _VERIFIED[key] = signature
    return n_shards


def check_hash(root: Path, number: int, entry: dict[str, Any]) -> None:
    """Refuse shard ``number`` when its sha256 is not the one its manifest ``entry`` records."""
    path = root / shard_name(number)
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise VsslevalError(f"{path} has changed since its run completed (sha256 {digest[:12]}..., the manifest in "
                            f"{COMPLETE_FILE} records {str(entry['sha256'])[:12]}...); {SHARD_FIX}")


def compare_to_manifest(root: Path, number: int, arrays: Headers, entry: dict[str, Any]) -> None:
    """Refuse shard ``number`` when its arrays are not the ones its manifest ``entry`` lists."""
    path = root / shard_name(number)
    listed = {a: (str(v[0]), tuple(v[1])) for a, v in entry["arrays"].items()}
    for a in listed:
        if a not in arrays:
            raise VsslevalError(f"{path} has no {a!r} array, which the manifest in {COMPLETE_FILE} lists "
                                f"({', '.join(listed)}); the shard was changed after its run: {SHARD_FIX}")
    for a, (dtype, shape) in arrays.items():
        if a not in listed:
            raise VsslevalError(f"{path} has an array {a!r} that the manifest in {COMPLETE_FILE} does not list; "
                                f"the shard was changed after its run: {SHARD_FIX}")
        if (dtype, shape) != listed[a]:
            raise VsslevalError(f"{path}: {a!r} is {np.dtype(dtype).name} {list(shape)}, the manifest in "
                                f"{COMPLETE_FILE} records {np.dtype(listed[a][0]).name} {list(listed[a][1])}; "
                                f"the shard was changed after its run: {SHARD_FIX}")


def _required(config: dict[str, Any], items: Items) -> set[str]:
    """The members every shard must have: the format's, the run's negatives, and any one shard has."""
    negatives = [v for v in (config.get("negatives") or []) if v in MAP_MEMBERS]
    want = {*ALWAYS, *negatives} | ({"offscreen_ids"} if "offscreen" in negatives else set())
    for _, arrays in items:
        want |= set(arrays)
    return want


def check_structure(root: Path, items: Items, config: dict[str, Any], complete: bool) -> None:
    """The shards' arrays fit together and fit the run: every shard has every member; each member
    has the run's seeds and the shard's rows; one map size; rows per batch; total (``complete``)."""
    want = _required(config, items)
    seeds = config.get("seeds")
    n_seeds = len(seeds) if isinstance(seeds, list) else None
    bs, n_total = config.get("batch_size"), config.get("n_samples")
    seen: dict[str, tuple[tuple[int, ...], str]] = {}
    map_size: tuple[tuple[int, ...], str, str] | None = None
    total = 0
    for k, arrays in items:
        path = root / shard_name(k)
        lacking = sorted(want - set(arrays))
        if lacking:
            raise VsslevalError(f"{path} has no {lacking[0]!r} array (the run's shards hold "
                                f"{', '.join(sorted(want))}); {SHARD_FIX}")
        ids_shape = arrays["ids"][1]
        if len(ids_shape) != 1:
            raise VsslevalError(f"{path}: 'ids' has shape {list(ids_shape)}, expected [samples]; {SHARD_FIX}")
        rows = ids_shape[0]
        if isinstance(bs, int) and isinstance(n_total, int) and bs > 0:
            expected = min(bs, n_total - k * bs)
            if rows != expected:
                raise VsslevalError(f"{path} holds {rows} samples; batch {k} of this run holds {expected} "
                                    f"(batch size {bs}, {n_total} samples); {SHARD_FIX}")
        for a, (dtype, shape) in sorted(arrays.items()):
            per_seed = a in PER_SEED
            lead = 2 if per_seed else 1
            if np.dtype(dtype).kind == "O":
                raise VsslevalError(f"{path}: {a!r} holds Python objects, which a store never does; {SHARD_FIX}")
            if len(shape) < lead:
                raise VsslevalError(f"{path}: {a!r} has shape {list(shape)}, expected "
                                    f"{'[seeds, samples, ...]' if per_seed else '[samples, ...]'}; {SHARD_FIX}")
            if per_seed and n_seeds is not None and shape[0] != n_seeds:
                raise VsslevalError(f"{path}: {a!r} holds {shape[0]} seeds, the run has {n_seeds} (seeds "
                                    f"{seeds}); {SHARD_FIX}")
            if shape[lead - 1] != rows:
                raise VsslevalError(f"{path}: {a!r} holds {shape[lead - 1]} samples, 'ids' holds {rows}; "
                                    f"{SHARD_FIX}")
            tail = shape[lead:]
            if a in MAP_MEMBERS:
                if len(tail) != 2 or np.dtype(dtype).kind != "f":
                    raise VsslevalError(f"{path}: {a!r} is {np.dtype(dtype).name} {list(shape)}, expected float "
                                        f"maps [{'seeds, ' if per_seed else ''}samples, h, w]; {SHARD_FIX}")
                if map_size is None:
                    map_size = (tail, path.name, a)
                elif tail != map_size[0]:
                    raise VsslevalError(f"{path}: {a!r} maps are {tail[0]}x{tail[1]}, but {map_size[2]!r} maps in "
                                        f"{map_size[1]} are {map_size[0][0]}x{map_size[0][1]} (a run has one map "
                                        f"size); {SHARD_FIX}")
            key = (shape[0], *tail) if per_seed else tail
            if a in seen and seen[a][0] != key:
                raise VsslevalError(f"{path}: {a!r} has shape {list(shape)}, which does not fit its shape in "
                                    f"{seen[a][1]}; {SHARD_FIX}")
            seen.setdefault(a, (key, path.name))
        total += rows
    if complete and isinstance(n_total, int) and total != n_total:
        raise VsslevalError(f"the shards of {root} hold {total} samples, its run has {n_total}; a shard was "
                            "replaced: rerun the run with --overwrite")


def check_ids(root: Path, items: Items, config: dict[str, Any]) -> None:
    """No sample id appears twice, and each shard holds the dataset positions of its batch."""
    bs = config.get("batch_size")
    first: dict[str, str] = {}
    for k, _ in items:
        path = root / shard_name(k)
        ids, index = read_ids(path)
        for sid in ids.tolist():
            sid = str(sid)
            if sid in first:
                where = "twice in it" if first[sid] == path.name else f"in {first[sid]} too"
                raise VsslevalError(f"{path} holds sample {sid!r}, which appears {where} (a copied shard?); "
                                    f"{SHARD_FIX}")
            first[sid] = path.name
        if isinstance(bs, int) and bs > 0:
            expected = np.arange(k * bs, k * bs + len(index))
            if index.shape != expected.shape or not np.array_equal(index, expected):
                raise VsslevalError(f"{path} holds the samples at dataset positions {index[:4].tolist()}..., "
                                    f"batch {k} of this run is positions {k * bs}..{k * bs + len(index) - 1} "
                                    f"(a shard of another batch?); {SHARD_FIX}")


def check_resumable(root: Path, config: dict[str, Any], complete: bool) -> None:
    """Before a resumed run adds shards: every shard already in ``root`` must be one of this run's
    (in range, and as the manifest recorded it when the store was ``complete``); a complete store
    missing shards loses its ``COMPLETE`` (complete again only when they are back)."""
    numbers = shard_numbers_in(root)
    count = n_batches(config)
    if count is not None:
        refuse_stray(root, count)
    entries = read_manifest(root) if complete else []
    items = headers_of(root, numbers)
    for k, arrays in items:
        if k < len(entries):
            compare_to_manifest(root, k, arrays, entries[k])
            check_hash(root, k, entries[k])
    check_structure(root, items, config, complete=False)
    check_ids(root, items, config)
    if complete and (count is None or len(numbers) < count):
        (root / COMPLETE_FILE).unlink()
