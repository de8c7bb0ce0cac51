"""The shard format: what one ``shard-NNNNNN.npz`` of a heatmap store holds, and reading and writing it.

One job: the bytes of one shard. Its members (docs/report.md, "Run folders and heatmap stores")::

    index          int64   [n]          dataset positions of the samples
    ids            str     [n]          sample ids
    positive       float32 [n,h,w]      raw map under the positive audio
    silence        float32 [n,h,w]      raw map under digital silence
    noise          float32 [S,n,h,w]    raw map under the noise draw of each seed
    offscreen      float32 [S,n,h,w]    raw map under the offscreen clip of each seed
    offscreen_ids  str     [S,n]        which clip was used as offscreen audio
    ogl            float32 [n,7,7]      object prior (only when the run computes it)
    gt             uint8   [n,2,6272]   ground-truth maps as two bit planes (:func:`pack_gt`)
    groups         str     [n]          scene of each sample ("" when the dataset has no scenes)
    boxes          float64 [n,K,4]      the annotation's boxes as fractions of the frame, NaN rows after
                                        a sample's last box (:func:`pad_boxes`)
    labels         str     [n]          class label of each sample ("" when the dataset has none)
    confidence     float32 [n]          the model's score of each positive pair (only a model with the
                                        ``confidence`` hook, e.g. ACL-SSL; docs/protocols.md §11.4)

A negative map that is bit-for-bit the positive one for every sample and seed (an audio-agnostic
baseline) is stored once: its member is an empty ``<name>=positive`` array of shape ``[..., 0]``, and
:func:`read_shard_file` gives the full array back (NumPy readers: ``np.broadcast_to(positive, shape)``).

A run whose preset has ``map.store`` (docs/models.md §2.8; :mod:`.reduce`) stores every map at
224 x 224 and adds the raw maps' extremes (``<map>_extremes`` float32 ``[n, 2]`` or ``[S, n, 2]``:
max and min of the map the model returned, so the raw-scale statistics stay exact). With
``negatives: float12`` a negative map member is stored encoded, after the sharing above, as
``<name>~float12``: uint8 ``[..., h, 3 * ceil(w / 2)]``, two 12-bit codes in three bytes
(:mod:`.codec`); :func:`read_shard_file` decodes it to float32 ``[..., h, w]`` (``h, w`` those of
``positive``, which is never encoded).

A shard is written with one atomic rename, so a killed run leaves whole shards only. Whether the
shards of a run fit together is :mod:`vssleval.engine.store.manifest`'s job.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from vssleval.engine.store import codec
from vssleval.errors import VsslevalError
from vssleval.io_utils import atomic_path

SHARD_RE = re.compile(r"^shard-(\d{6})\.npz$")
#: Members holding low-resolution maps: one float ``h, w`` for the whole run.
MAP_MEMBERS = ("positive", "silence", "noise", "offscreen")
#: Member-name suffix of the raw extremes of a map a store keeps resized: ``noise_extremes`` is
#: float32 ``[S, n, 2]``, the (max, min) of each raw noise map (:mod:`.reduce`).
EXTREMES_SUFFIX = "_extremes"
#: Members with the seed axis first (samples on axis 1); every other member has samples on axis 0.
PER_SEED = ("noise", "offscreen", "offscreen_ids", "noise" + EXTREMES_SUFFIX, "offscreen" + EXTREMES_SUFFIX)
#: Members every shard of a run has, whatever its negatives (``runner.py`` writes them all).
ALWAYS = ("index", "ids", "positive", "gt", "groups", "boxes", "labels")
#: The way out of a shard that is not what its run wrote.
SHARD_FIX = "delete it and rerun with --resume (the run computes it again)"
#: Map members that may be stored as "the same as ``positive``" (see :func:`share_with_positive`).
SHAREABLE = ("silence", "noise", "offscreen")
#: Member-name suffix of a shared map: ``noise=positive`` is an empty array whose shape is the
#: logical shape without ``h, w`` (e.g. float32 ``[S, n, 0]``).
SHARED_SUFFIX = "=positive"
#: Member-name separator of an encoded map: ``noise~float12`` is the packed 12-bit code of ``noise``.
ENCODED_SEP = "~"
#: The codes a map member may be stored in (``map.store.negatives``; float32 is stored as is).
CODES = (codec.NAME,)

#: ``{array: (dtype string, shape)}``: a shard's members as its headers describe them.
Headers = dict[str, tuple[str, tuple[int, ...]]]


def shard_name(number: int) -> str:
    """The file name of shard ``number`` (its batch position), e.g. ``shard-000003.npz``."""
    return f"shard-{number:06d}.npz"


def shard_numbers_in(folder: Path) -> list[int]:
    """The numbers of the shard files in ``folder``, in order (temp files never match)."""
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := SHARD_RE.match(p.name)))


def has_shards(folder: Path) -> bool:
    """Whether ``folder`` holds any shard file (False when it cannot be listed)."""
    try:
        return any(SHARD_RE.match(p.name) for p in folder.iterdir())
    except OSError:
        return False


def pack_gt(gt: np.ndarray) -> np.ndarray:
    """``[n,224,224]`` maps with values in {0, 0.5, 1} -> uint8 bit planes ``[n, 2, 6272]`` (the
    shard's ``gt``): plane 0 marks pixels >= 0.5, plane 1 pixels == 1."""
    half = np.packbits((gt >= 0.5).reshape(len(gt), -1), axis=1)
    full = np.packbits((gt >= 1.0).reshape(len(gt), -1), axis=1)
    return np.stack([half, full], axis=1)


def unpack_gt(packed: np.ndarray, size: int = 224) -> np.ndarray:
    """Inverse of :func:`pack_gt`: float32 ``[n, size, size]``, ``0.5 * half + 0.5 * full`` (0, 0.5
    or 1; read from a table by ``half + full``: the same values without float64 intermediates)."""
    n = len(packed)
    level = np.unpackbits(packed[:, 0], axis=1, count=size * size)
    level += np.unpackbits(packed[:, 1], axis=1, count=size * size)
    return _GT_LEVELS[level].reshape(n, size, size)


#: :func:`unpack_gt`'s value of each ``half + full`` count.
_GT_LEVELS = np.array([0.0, 0.5, 1.0], np.float32)


def pad_boxes(boxes: list[np.ndarray], k: int) -> np.ndarray:
    """Box lists (float64 ``[K_i, 4]`` each) -> the shard's ``boxes`` ``[n, k, 4]``, NaN-padded."""
    out = np.full((len(boxes), max(int(k), 1), 4), np.nan, dtype=np.float64)
    for i, b in enumerate(boxes):
        out[i, :len(b)] = b
    return out


def _npz_headers(path: Path) -> Headers:
    """The members of an ``.npz`` file as stored, from the array headers only (no data read)."""
    arrays: Headers = {}
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


def _bits(a: np.ndarray) -> np.ndarray:
    """The array's bytes as unsigned integers of the same width (bitwise comparison: -0.0 is not
    0.0 and a NaN equals the same NaN)."""
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _views_of(a: np.ndarray, positive: np.ndarray) -> bool:
    """Whether ``a`` ``[..., n, h, w]`` reads ``positive`` ``[n, h, w]`` itself for every leading index
    (the same memory, strides 0 in front: ``positive`` or a ``broadcast_to`` of it, as the engine
    gives an audio-agnostic model's negatives), hence equals it bit for bit without a comparison
    (which would first copy the broadcast S x n maps)."""
    return (a.__array_interface__["data"][0] == positive.__array_interface__["data"][0]
            and a.strides[-3:] == positive.strides and all(st == 0 for st in a.strides[:-3]))


def share_with_positive(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Replace each negative map member that is bit-for-bit the positive map of its sample (for
    every seed) by an empty placeholder ``<name>=positive`` of shape ``[*prefix, 0]``.

    Audio-agnostic maps (the ``center``/``full``/``random`` baselines, or a model that ignores its
    audio) are the same under every audio, and storing them 2 + 2S times made a 200-clip run of a
    224x224 baseline take 845 MB. :func:`read_shard_file` gives the full array back.
    """
    positive = arrays.get("positive")
    if positive is None or positive.ndim != 3 or positive.dtype.kind != "f":
        return arrays
    out = dict(arrays)
    for name in SHAREABLE:
        a = arrays.get(name)
        if (a is None or a.dtype != positive.dtype or a.ndim < 3 or a.shape[-3:] != positive.shape
                or a.size == 0):
            continue
        if _views_of(a, positive) or np.array_equal(_bits(a), np.broadcast_to(_bits(positive), a.shape)):
            del out[name]
            out[name + SHARED_SUFFIX] = np.zeros(a.shape[:-2] + (0,), dtype=a.dtype)
    return out


def encode_members(arrays: dict[str, np.ndarray], codes: dict[str, str]) -> dict[str, np.ndarray]:
    """Store each map member ``name`` that ``codes`` names (``{name: code}``, a code of
    :data:`CODES`) as ``<name>~<code>``; members already shared with ``positive``, and ``positive``
    itself, are kept as they are."""
    out = dict(arrays)
    for name, code in codes.items():
        if code not in CODES or name not in SHAREABLE:
            raise ValueError(f"cannot store {name!r} as {code!r}: the codes are {CODES}, for {SHAREABLE}")
        a = out.get(name)
        if a is None or a.dtype.kind != "f" or a.ndim < 3:
            continue
        del out[name]
        out[name + ENCODED_SEP + code] = codec.to_bytes(a)
    return out


def _logical(key: str, shape: tuple[int, ...], raw: Headers) -> tuple[str, tuple[str, tuple[int, ...]]]:
    """The array a reader gets for the stored member ``key`` of a shard with headers ``raw``: a
    shared or encoded map takes ``positive``'s ``h, w`` (and an encoded one must fit them)."""
    positive = raw.get("positive")
    if key.endswith(SHARED_SUFFIX):
        name = key[:-len(SHARED_SUFFIX)]
        if name in SHAREABLE and positive is not None and shape and shape[-1] == 0:
            return name, (raw[key][0], shape[:-1] + positive[1][1:])
        raise ValueError(f"member {key!r} is not a shared map this version reads")
    name, _, code = key.partition(ENCODED_SEP)
    if (name in SHAREABLE and code in CODES and positive is not None and len(positive[1]) == 3
            and np.dtype(raw[key][0]) == np.uint8 and len(shape) >= 3
            and shape[-2] == positive[1][1] and shape[-1] == codec.packed_width(positive[1][2])):
        return name, ("<f4", shape[:-1] + positive[1][2:])
    raise ValueError(f"member {key!r} is not an encoded map this version reads (stored {raw[key][0]} "
                     f"{list(shape)}, positive {list(positive[1]) if positive else None})")


def logical_headers(raw: Headers) -> Headers:
    """Headers as stored -> the arrays a reader gets (a shared or encoded member takes ``positive``'s
    ``h, w``; an encoded one is float32)."""
    out: Headers = {}
    for key, (dtype, shape) in raw.items():
        if key.endswith(SHARED_SUFFIX) or ENCODED_SEP in key:
            name, header = _logical(key, shape, raw)
            out[name] = header
        else:
            out[key] = (dtype, shape)
    return out


def _unreadable(path: Path, exc: Exception) -> VsslevalError:
    return VsslevalError(f"cannot read heatmap shard {path}: {exc}; delete it and rerun with --resume")


def shard_headers(path: Path) -> Headers:
    """The arrays a reader of the shard at ``path`` gets, as ``{name: (dtype string, shape)}``,
    from its headers only; a shard that cannot be read is a :class:`VsslevalError` naming it."""
    try:
        return logical_headers(_npz_headers(path))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from exc


def write_shard_file(path: Path, arrays: dict[str, np.ndarray], codes: dict[str, str] | None = None) -> None:
    """Write one shard atomically; a kill leaves either the whole shard or nothing (and a full
    disk a :class:`VsslevalError` naming the shard and the bytes it needs). ``codes``: the map
    members to store encoded (:func:`encode_members`), after those equal to ``positive`` are shared."""
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    pickled = [k for k, v in arrays.items() if v.dtype == object]
    if pickled:  # stores must stay readable with allow_pickle=False
        raise TypeError(f"shard arrays {pickled} have dtype object; store numbers or fixed-width strings")
    arrays = encode_members(share_with_positive(arrays), codes or {})
    size = sum(v.nbytes + 256 for v in arrays.values()) + 22  # .npy headers and zip records
    with atomic_path(path, size_hint=size) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def read_shard_file(path: Path, views: bool = False) -> dict[str, np.ndarray]:
    """The shard's arrays; a map stored as shared with ``positive`` comes back as the array that
    was written (a copy: readers may change what they get, as with any other member), an encoded
    map as its decoded float32 values.

    ``views=True``, for readers that only read: a shared map comes back as a read-only view of
    ``positive`` broadcast to its shape, and ``positive`` itself read-only (no reader can change one
    through the other). An audio-agnostic run's noise and offscreen maps are ``[S, b, h, w]``
    repeats of its positive, about 60 MB a shard at 224 px; the scoring and the report's passes
    read them without copying (docs/performance.md §10)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
        logical_headers({k: (v.dtype.str, v.shape) for k, v in raw.items()})  # refuses what it cannot read
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # corrupted despite atomic writes
        raise _unreadable(path, exc) from exc
    out: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        name, _, code = key.partition(ENCODED_SEP)
        if key.endswith(SHARED_SUFFIX):
            name = key[:-len(SHARED_SUFFIX)]
            full = np.broadcast_to(raw["positive"], value.shape[:-1] + raw["positive"].shape[1:])
            if views:
                raw["positive"].flags.writeable = False
            out[name] = full if views else full.copy()
        elif code:
            out[name] = codec.from_bytes(value, raw["positive"].shape[-1])
        else:
            out[key] = value
    return out


def read_ids(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [n], index [n])`` of the shard at ``path`` (only those two members are read)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["ids"], z["index"]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from exc
