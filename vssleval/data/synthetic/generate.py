"""Writes the embedded synthetic benchmark in the exact VGG-SS or IS3 on-disk layout.

Determinism: every sample (VGG-SS) or scene (IS3) draws from its own generator seeded by
``SeedSequence([seed, layout, split, index])``, so the same arguments give byte-identical files
(given the same numpy/Pillow/libjpeg build) regardless of generation order.

Splits: ``split="test"`` (the evaluation data, default seed 0) and ``split="train"`` enter the seed
sequence as different words, so no training seed — whatever its value — reproduces a test draw.

Fairness (IS3 layout): both records of a scene carry byte-identical pictures; each object is the
sounding one in exactly one of them. Any audio-agnostic predictor therefore localises the same object
for both records and is right on exactly half of them; position and size are drawn before (and
independently of) which object sounds.

Version 2 (``GENERATOR_VERSION``): IS3-layout objects are large (see ``IS3_AREA_FRACTION``); the
VGG-SS layout is unchanged. The cache directory names carry the version, so no old data is reused.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from vssleval import limits
from vssleval.data.encode import jpeg_bytes, pcm16_wav_bytes
from vssleval.data.synthetic.classes import CLASSES, SynthClass
from vssleval.data.synthetic.render import SIZE, background, paint
from vssleval.data.synthetic.sound import SR, clip_audio
from vssleval.errors import VsslevalError
from vssleval.io_utils import os_error_text

GENERATOR_VERSION = 2
LAYOUT_CODES = {"vggss": 1, "is3": 2}
SPLIT_CODES = {"test": 0, "train": 1}
# Target box areas (px²) per size bin, kept away from the bin edges (32², 96², 144²).
AREA_RANGES = {"small": (250, 850), "medium": (1500, 8000), "large": (10500, 19000), "huge": (23000, 42000)}
BIN_ORDER = ("small", "medium", "large", "huge")
# IS3 layout: each object's target box area as a fraction of the 224x224 picture. The headline IS3
# metric is cIoU under the median rule, whose mask is always half the picture: a box under a quarter
# of the picture can never reach IoU 0.5, so small objects could only cap every model near chance.
# The two objects therefore lean large/huge (few medium, after fitting), side by side or stacked.
IS3_AREA_FRACTION = (0.2, 0.45)
IS3_SCENE_BASE = 10000  # IS3 names carry scene id IS3_SCENE_BASE + scene index (docs/datasets.md §6)
IS3_GAP = 4  # px between the two halves of an IS3 picture
JPEG_QUALITY = 92
ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


def _rng(seed: int, layout: str, split: str, index: int, purpose: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed), LAYOUT_CODES[layout], SPLIT_CODES[split], int(index), purpose]))


def box_size(rng: np.random.Generator, size_bin: str, aspect: float) -> tuple[int, int]:
    """(w, h) in px for a box of the given bin and class aspect (with ±15 % aspect jitter)."""
    lo, hi = AREA_RANGES[size_bin]
    area = rng.uniform(lo, hi)
    a = aspect * rng.uniform(0.87, 1.15)
    w = int(np.clip(np.sqrt(area * a), 8, SIZE))
    h = int(np.clip(area / w, 8, SIZE))
    return w, h


def _disjoint(a, b, gap: int = 3) -> bool:
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def place(rng: np.random.Generator, w: int, h: int, avoid=None, tries: int = 60):
    """A box of w×h inside the picture, disjoint from ``avoid``; shrinks the object when it cannot fit."""
    while True:
        for _ in range(tries):
            x0, y0 = int(rng.integers(0, SIZE - w + 1)), int(rng.integers(0, SIZE - h + 1))
            box = (x0, y0, x0 + w, y0 + h)
            if avoid is None or _disjoint(box, avoid):
                return box
        w, h = max(8, int(w * 0.85)), max(8, int(h * 0.85))


def _halves(rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Two disjoint cells (x0, y0, x1, y1) for the IS3 layout's two objects: the picture cut at a random
    position near the middle, vertically (side by side) or horizontally (stacked), in random order."""
    cut = int(rng.integers(SIZE // 2 - 16, SIZE // 2 + 17))
    lo, hi = cut - IS3_GAP // 2, cut + IS3_GAP - IS3_GAP // 2
    if rng.random() < 0.5:
        cells = [(0, 0, lo, SIZE), (hi, 0, SIZE, SIZE)]
    else:
        cells = [(0, 0, SIZE, lo), (0, hi, SIZE, SIZE)]
    return cells[::-1] if rng.random() < 0.5 else cells


def _box(rng: np.random.Generator, cls: SynthClass, cell) -> tuple[int, int, int, int]:
    """A box covering about ``IS3_AREA_FRACTION`` of the picture inside ``cell``, at a random position;
    the class aspect (±15 %) gives way where the cell is too narrow for the area."""
    cx0, cy0, cx1, cy1 = cell
    area = rng.uniform(*IS3_AREA_FRACTION) * SIZE * SIZE
    a = cls.aspect * rng.uniform(0.87, 1.15)
    w = int(min(np.sqrt(area * a), cx1 - cx0))
    h = int(min(area / w, cy1 - cy0))
    x0, y0 = cx0 + int(rng.integers(0, cx1 - cx0 - w + 1)), cy0 + int(rng.integers(0, cy1 - cy0 - h + 1))
    return x0, y0, x0 + w, y0 + h


def _norm(px: int) -> float:
    """A normalised coordinate c with ``int(c * 224) == px`` exactly (the reader's truncation rule)."""
    c = px / SIZE
    while int(c * SIZE) < px:
        c = float(np.nextafter(c, 2.0))
    return c


def _jpeg(arr: np.ndarray) -> bytes:
    return jpeg_bytes(arr, JPEG_QUALITY)


def _wav(path: Path, x: np.ndarray) -> None:
    path.write_bytes(pcm16_wav_bytes(x, SR, scale=32767.0))  # our own rounding: no library dither


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")


def _schedule(n: int, k: int, seed: int, layout: str, split: str, purpose: int) -> np.ndarray:
    """``n`` draws from range(k), balanced: consecutive blocks of k are random permutations."""
    rng = _rng(seed, layout, split, 0, purpose)
    blocks = [rng.permutation(k) for _ in range((n + k - 1) // k)]
    return np.concatenate(blocks)[:n] if blocks else np.zeros(0, dtype=np.int64)


def _write_vggss(out: Path, n: int, seed: int, split: str) -> None:
    (out / "audio").mkdir(parents=True)
    (out / "frames").mkdir()
    classes = _schedule(n, len(CLASSES), seed, "vggss", split, 101)
    bins = _schedule(n, 4, seed, "vggss", split, 102)
    records, used = [], set()
    for i in range(n):
        cls = CLASSES[int(classes[i])]
        img_rng, aud_rng = _rng(seed, "vggss", split, i, 1), _rng(seed, "vggss", split, i, 2)
        sid = "".join(img_rng.choice(ID_ALPHABET, 11)) + f"_{int(img_rng.integers(0, 300)):06d}"
        if sid in used:  # 64^11 ids: never in practice, but never silently overwrite a file
            raise VsslevalError(f"synthetic id collision {sid}; choose another seed")
        used.add(sid)
        canvas = background(img_rng)
        w, h = box_size(img_rng, BIN_ORDER[int(bins[i])], cls.aspect)
        box = paint(canvas, cls, place(img_rng, w, h), img_rng)
        (out / "frames" / f"{sid}.jpg").write_bytes(_jpeg(canvas))
        _wav(out / "audio" / f"{sid}.wav", clip_audio(cls, aud_rng))
        records.append({"file": sid, "class": cls.name, "bbox": [[_norm(v) for v in box]]})
    class_files: dict[str, list[str]] = {c.name: [] for c in CLASSES}
    for r in records:
        class_files[r["class"]].append(r["file"])
    _dump(out / "vggss_annotations.json", records)
    _dump(out / "vggss.json", records)  # SSL-TIE's file name, same content
    _dump(out / "vggss_class_files_dict.json", {k: v for k, v in class_files.items() if v})


def _write_is3(out: Path, n: int, seed: int, split: str) -> None:
    if n % 2:
        raise VsslevalError(f"the IS3 layout has two records per scene: --n must be even, got {n}")
    (out / "audio_wav").mkdir(parents=True)
    (out / "images").mkdir()
    k = len(CLASSES)
    pairs = [(a, b) for a in range(k) for b in range(k) if a != b]
    order = _schedule(n // 2, len(pairs), seed, "is3", split, 201)
    annotation, boxes_json, class_files = [], [], {c.name: [] for c in CLASSES}
    for s in range(n // 2):
        objs: list[SynthClass] = [CLASSES[i] for i in pairs[int(order[s])]]
        img_rng = _rng(seed, "is3", split, s, 1)
        canvas = background(img_rng)
        drawn = [_box(img_rng, cls, cell) for cls, cell in zip(objs, _halves(img_rng))]
        final = [paint(canvas, cls, b, img_rng) for cls, b in zip(objs, drawn)]
        jpg = _jpeg(canvas)
        prefix = f"{objs[0].name}_{objs[1].name}_{IS3_SCENE_BASE + s}"
        for j, cls in enumerate(objs):
            name = f"{prefix}_{cls.name}"
            (out / "images" / f"{name}.jpg").write_bytes(jpg)  # same picture for both records
            _wav(out / "audio_wav" / f"{name}.wav", clip_audio(cls, _rng(seed, "is3", split, s, 2 + j)))
            gt = [float(v) for v in final[j]]
            annotation.append({"image": f"images/{name}.jpg", "audio": f"audio_wav/{name}.wav", "gt_box": gt,
                               "class": cls.name, "object": cls.name})
            boxes_json.append({"image": f"/synthetic3240/visual_frames/{name}.jpg",
                               "audio": f"/synthetic3240/audio_wav/{name}.wav", "gt_box": gt})
            class_files[cls.name].append(name)
    _dump(out / "IS3_annotation.json", annotation)
    _dump(out / "synthetic3240_bbox.json", boxes_json)
    _dump(out / "IS3_class_files_dict.json", {k: v for k, v in class_files.items() if v})


def synth(layout: str, n: int, seed: int, out: str | os.PathLike, split: str = "test",
          max_memory: int | str | None = None, as_videos: bool = False, container: str = "mp4") -> Path:
    """Generate ``n`` samples (records) of ``layout`` into the new directory ``out``.

    The data is written into a temporary sibling folder and renamed onto ``out`` at the end, so an
    interrupted run never leaves a half-written dataset.

    Args:
        layout: ``"vggss"`` or ``"is3"`` (IS3: ``n`` records = ``n/2`` scenes, ``n`` even).
        n: number of samples (records), ≥ 1.
        seed: any integer ≥ 0.
        split: ``"test"`` or ``"train"`` (disjoint random streams for the same seed).
        max_memory: bytes (or ``"4G"``) the generator may use (default: the memory available);
            an ``n`` whose estimate exceeds it, or the free disk space, is refused before any work.
        as_videos: VGG-SS layout only: write each record as a 10-s video clip ``<id>.<container>``
            beside the annotation files instead of ``frames/`` and ``audio/``, the input of
            ``vssleval prepare vggss`` (:mod:`vssleval.data.synthetic.video`; needs PyAV).
        container: ``"mp4"`` (H.264 + AAC) or ``"mkv"`` (H.264 + FLAC) with ``as_videos``.

    Returns:
        ``out`` as a Path.
    """
    if layout not in LAYOUT_CODES:
        raise VsslevalError(f"unknown synthetic layout {layout!r}; choose one of {', '.join(LAYOUT_CODES)}")
    if split not in SPLIT_CODES:
        raise VsslevalError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_CODES)}")
    if as_videos and layout != "vggss":
        raise VsslevalError(f"--as-videos writes VGG-Sound-style clips: it needs --layout vggss, not {layout!r}")
    if as_videos:
        from vssleval.data.synthetic.video import FORMATS, write_videos  # needs PyAV: imported on demand

        if container not in FORMATS:
            raise VsslevalError(f"unknown video container {container!r}; choose one of {', '.join(FORMATS)}")
    checked = limits.validate("synth", n=n, seed=seed, max_memory=max_memory)
    n, seed = checked["n"], checked["seed"]
    out = Path(out)
    if (out.is_dir() and any(out.iterdir())) or (out.exists() and not out.is_dir()):
        raise VsslevalError(f"{out} already exists and is not empty; remove it or choose another --out")
    limits.check_synth_resources(n, out, checked["max_memory"])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:  # e.g. a file where the parent folder should be
        raise VsslevalError(f"cannot create {out}: {os_error_text(exc)}; "
                            "choose another --out in a writable folder") from exc
    try:
        writer = _write_vggss if layout == "vggss" else _write_is3
        writer(tmp / "data", int(n), int(seed), split)
        _dump(tmp / "data" / "synthetic_info.json", {
            "generator_version": GENERATOR_VERSION, "layout": layout, "n": int(n), "seed": int(seed),
            "split": split, "sample_rate": SR, "image_size": SIZE,
            "classes": [{"name": c.name, "shape": c.shape, "texture": c.texture, "sound": c.sound,
                         "pitch_hz": c.pitch} for c in CLASSES]})
        result = tmp / "data"
        if as_videos:
            write_videos(result, tmp / "videos", container)
            result = tmp / "videos"
        if out.is_dir():
            out.rmdir()  # empty (checked above)
        os.replace(result, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
